"""The ledger of a period that has ended, read the same way everywhere:

- ``GET /disputes/ledger/summary`` (and ``GET /disputes/cases``) take the ledger page's period of
  reception (``received_from`` / ``received_to``) and read an ended period as of its end, as the
  page's summary does; a malformed day is 422 naming the field, a reversed period 400
  ``disputes.period_empty``; scoped like the list;
- the organisation and mediator columns (page rows and workbook) show those the case had at the
  period's end, an assignment after it following, marked "after the period", as a later closing
  or extension is.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from zhiwang.disputes.models import CaseEvent, DisputeCase
from zhiwang.disputes.selectors import ledger_rows, period_assignments_attach
from zhiwang.disputes.services import case_assign, case_close, case_update

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"


@pytest.fixture
def end():
    """A local midnight 10 days ago: the end of a past "month" (like 1 November)."""
    day = timezone.localdate() - timedelta(days=10)
    return day, timezone.make_aware(datetime.combine(day, time.min))


def _backdate(case, at):
    """Move the case's rows but its registration to ``at`` (the fixtures backdate the reception)."""
    QuerySet.update(CaseEvent.objects.filter(case=case).exclude(action="receive"), at=at)


def _period(day) -> dict:
    return {"received_from": (day - timedelta(days=31)).isoformat(), "received_to": day.isoformat()}


def _login(client, user, language="en"):
    client.force_login(user)
    client.cookies["django_language"] = language


# --- 1. the summary through the API ---------------------------------------------------------------


@pytest.fixture
def month(make_case, mediating_case, world, end):
    """Two cases received in the month: ``later`` blue and 3,500 at the end, closed (successfully)
    and raised to red / 90,000 after it; ``within`` closed (failed) before the end."""
    day, as_of = end
    later = make_case(received_at=as_of - timedelta(days=12), amount="3500")
    case_assign(case=later, actor=world.sub_dispatcher, mediator=world.mediator)
    _backdate(later, as_of - timedelta(days=11))
    case_update(case=later, actor=world.sub_dispatcher, risk="red", amount="90000", note="升级")
    within = mediating_case(received_at=as_of - timedelta(days=20), amount="1000")
    case_close(case=within, actor=world.mediator, outcome="failed")
    DisputeCase.objects.filter(pk=within.pk).update(closed_at=as_of - timedelta(days=2))
    _backdate(within, as_of - timedelta(days=2))
    return later, within, _period(day)


def _by_key(answer) -> dict:
    assert answer.status_code == 200, answer.content
    return {row["key"]: row for row in answer.json()}


def test_the_summary_of_an_ended_period_is_as_of_its_end(client, world, month):
    later, within, dates = month
    client.force_login(world.sub_dispatcher)
    rows = _by_key(client.get(API + "/ledger/summary", {"by": "status", **dates}))
    assert set(rows) == {"assigned", "closed"}  # not "closed" twice: ``later`` was assigned then
    assert rows["assigned"]["open"] == 1 and rows["assigned"]["red"] == 0
    assert rows["assigned"]["amount"] in ("3500.00", "3500", 3500)
    assert rows["closed"]["total"] == 1 and rows["closed"]["open"] == 0
    # the same figures as the ledger page's summary over the same days
    _login(client, world.sub_dispatcher)
    page = client.get(reverse("disputes:ledger"), {"by": "status", **dates}).context["summary"]
    api = client.get(API + "/ledger/summary", {"by": "status", **dates}).json()
    assert [(r["key"], r["total"], r["open"], r["red"]) for r in page] == [
        (r["key"], r["total"], r["open"], r["red"]) for r in api
    ]
    # without dates (or a period still running): today's values, as before
    today = _by_key(client.get(API + "/ledger/summary", {"by": "status"}))
    assert set(today) == {"assigned", "closed"} and today["assigned"]["red"] == 1
    running = {"received_from": dates["received_from"]}
    assert _by_key(client.get(API + "/ledger/summary", {"by": "status", **running}))["assigned"]["red"] == 1


def test_the_summary_counts_success_by_the_end_and_groups_by_the_end(client, world, month):
    later, _within, dates = month
    case_close(case=later, actor=world.mediator, outcome="failed")  # closed today: after the end
    client.force_login(world.sub_dispatcher)
    ended = _by_key(client.get(API + "/ledger/summary", {"by": "status", **dates}))
    assert ended["assigned"]["total"] == 1 and ended["closed"]["total"] == 1
    by_category = _by_key(client.get(API + "/ledger/summary", {"by": "category", **dates}))
    assert by_category["neighbours"]["open"] == 1  # open at the end, closed today
    assert _by_key(client.get(API + "/ledger/summary", {"by": "category"}))["neighbours"]["open"] == 0


def test_a_date_time_with_an_offset_is_the_same_moment(client, world, month):
    _later, _within, dates = month
    client.force_login(world.sub_dispatcher)
    as_day = client.get(API + "/ledger/summary", {"by": "status", **dates}).json()
    moments = {key: f"{value}T00:00:00+08:00" for key, value in dates.items()}
    assert client.get(API + "/ledger/summary", {"by": "status", **moments}).json() == as_day
    naive = {key: f"{value}T00:00:00" for key, value in dates.items()}  # local time
    assert client.get(API + "/ledger/summary", {"by": "status", **naive}).json() == as_day


def test_a_malformed_day_is_422_naming_the_field(client, world):
    client.force_login(world.sub_dispatcher)
    for name in ("received_from", "received_to"):
        answer = client.get(API + "/ledger/summary", {name: "2026-13-40"})
        assert answer.status_code == 422, answer.content
        error = answer.json()["error"]
        assert error["code"] == "request.invalid" and error["field"] == name
        assert error["fields"][0]["code"] == "field.not_a_datetime"
        assert client.get(API + "/cases", {name: "yesterday"}).status_code == 422


def test_a_year_the_database_cannot_hold_is_refused_on_its_field(client, world):
    """Was a 500: 0001-01-01 at +08:00 is before year 1 in UTC (found in review)."""
    client.force_login(world.sub_dispatcher)
    for path in ("/ledger/summary", "/cases"):
        for name in ("received_from", "received_to"):
            for value in ("0001-01-01", "0001-01-01T00:00:00", "9999-12-31"):
                answer = client.get(API + path, {name: value})
                assert answer.status_code == 400, (path, name, value, answer.content)
                error = answer.json()["error"]
                assert error["code"] == "disputes.date_out_of_range" and error["field"] == name
    # the ledger page too (an older 500 of the same cause)
    _login(client, world.sub_dispatcher)
    for name in ("received_from", "received_to"):
        page = client.get(reverse("disputes:ledger"), {name: "0001-01-01"})
        assert page.status_code == 400, page.content[:300]
        assert "1900" in page.content.decode()


def test_a_reversed_period_is_refused_as_on_the_page(client, world, make_case):
    make_case()
    client.force_login(world.sub_dispatcher)
    reversed_ = {"received_from": "2026-11-20", "received_to": "2026-11-01"}
    for url in ("/ledger/summary", "/cases"):
        answer = client.get(API + url, reversed_)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "disputes.period_empty" and error["field"] == "received_from"


def test_the_summary_of_a_period_is_scoped(client, world, month):
    _later, _within, dates = month
    client.force_login(world.lh_dispatcher)  # Luohu: none of these cases
    assert client.get(API + "/ledger/summary", {"by": "status", **dates}).json() == []
    client.force_login(world.lh_mediator)
    assert client.get(API + "/ledger/summary", dates).json() == []
    client.force_login(world.window)  # the centre's cases: none registered there
    assert client.get(API + "/ledger/summary", dates).json() == []
    client.force_login(world.mediator)  # their organisation's cases
    rows = client.get(API + "/ledger/summary", {"by": "status", **dates}).json()
    assert [(r["key"], r["total"]) for r in rows] == [("assigned", 1), ("closed", 1)]


def test_the_api_list_reads_the_period_too(client, world, month):
    later, within, dates = month
    client.force_login(world.sub_dispatcher)
    listed = client.get(API + "/cases", {"status": "open", **dates}).json()
    assert [c["number"] for c in listed["items"]] == [later.number]
    red = client.get(API + "/cases", {"risk": "red", **dates}).json()
    assert red["count"] == 0  # raised after the end
    outside = {"received_from": "2000-01-01", "received_to": "2000-02-01"}
    assert client.get(API + "/cases", outside).json()["count"] == 0


def test_the_indicators_take_a_date_without_an_offset(client, world, month):
    _later, _within, dates = month
    client.force_login(world.sub_dispatcher)
    answer = client.get(API + "/indicators", {"since": dates["received_from"], "until": dates["received_to"]})
    assert answer.status_code == 200, answer.content
    assert answer.json()["open"] == 1 and answer.json()["as_of"] is not None


# --- 2. the organisation and mediator at the end --------------------------------------------------


@pytest.fixture
def other_org(world):
    """A second organisation serving the first Nanshan subdistrict, with its own mediator."""
    from zhiwang.accounts.models import OrgUnit, OrgUnitKind
    from zhiwang.accounts.services import user_create
    from zhiwang.disputes.services import mediator_enrol, organisation_create

    unit = OrgUnit.objects.create(
        code="T-NS-LABOUR", name="南山劳动争议调解中心", kind=OrgUnitKind.MEDIATION_ORG, division=world.sub
    )
    org = organisation_create(
        code="t-ns-labour", name="南山劳动争议调解中心", division=world.sub, org_unit=unit
    )
    mediator = user_create(
        username="t_labour_mediator",
        password="pw",
        role="mediator",
        full_name="劳动调解员",
        org_unit=unit,
        jurisdictions=[world.sub],
    )
    mediator_enrol(user=mediator, organisation=org)
    return org, mediator


@pytest.fixture
def reassigned(make_case, world, end, other_org):
    """Three cases of the month: ``moved`` assigned to the committee's mediator before the end and
    to the other organisation after it; ``swapped`` to the second mediator of the same committee
    after it; ``late`` unassigned at the end, assigned after it; ``kept`` never reassigned."""
    day, as_of = end
    org, labour_mediator = other_org
    moved = make_case(received_at=as_of - timedelta(days=12))
    case_assign(case=moved, actor=world.sub_dispatcher, organisation=world.org, mediator=world.mediator)
    _backdate(moved, as_of - timedelta(days=11))
    case_assign(case=moved, actor=world.sub_dispatcher, organisation=org, mediator=labour_mediator)
    swapped = make_case(received_at=as_of - timedelta(days=12))
    case_assign(case=swapped, actor=world.sub_dispatcher, organisation=world.org, mediator=world.mediator)
    _backdate(swapped, as_of - timedelta(days=11))
    case_assign(case=swapped, actor=world.sub_dispatcher, organisation=world.org, mediator=world.mediator2)
    late = make_case(received_at=as_of - timedelta(days=5))
    case_assign(case=late, actor=world.sub_dispatcher, organisation=world.org, mediator=world.mediator2)
    kept = make_case(received_at=as_of - timedelta(days=6))
    case_assign(case=kept, actor=world.sub_dispatcher, organisation=world.org, mediator=world.mediator)
    _backdate(kept, as_of - timedelta(days=5))
    cases = {"moved": moved, "swapped": swapped, "late": late, "kept": kept}
    for case in cases.values():
        case.refresh_from_db()
    return cases, _period(day), as_of


def test_the_rows_carry_the_assignment_at_the_end_from_the_one_query(world, reassigned, other_org):
    cases, _dates, as_of = reassigned
    filters = {"received_from": as_of - timedelta(days=31), "received_to": as_of}
    with CaptureQueriesContext(connection) as queries:
        rows = {r.pk: r for r in ledger_rows(user=world.sub_dispatcher, filters=filters)}
    assert len(queries) == 1
    then = {
        name: (rows[c.pk].period_organisation_id, rows[c.pk].period_mediator_id) for name, c in cases.items()
    }
    assert then == {
        "moved": (world.org.pk, world.mediator.pk),
        "swapped": (world.org.pk, world.mediator.pk),
        "late": (None, None),  # registered by the dispatcher: unassigned at the end
        "kept": (world.org.pk, world.mediator.pk),
    }
    # the case rows keep today's
    assert rows[cases["moved"].pk].organisation_id == other_org[0].pk
    listed = list(rows.values())
    with CaptureQueriesContext(connection) as attach:
        period_assignments_attach(listed)
    assert len(attach) == 2  # one per model, whatever the number of rows
    unchanged = [rows[cases["kept"].pk]]
    with CaptureQueriesContext(connection) as none:
        period_assignments_attach(unchanged)
    assert len(none) == 0  # the case's own, already loaded
    moved = rows[cases["moved"].pk]
    assert moved.period_organisation == world.org and moved.period_mediator == world.mediator
    assert rows[cases["kept"].pk].period_mediator is rows[cases["kept"].pk].mediator  # no query
    # a period still running: today's
    running = {"received_from": as_of - timedelta(days=31)}
    row = ledger_rows(user=world.sub_dispatcher, filters=running).get(pk=cases["moved"].pk)
    assert row.period_organisation_id == other_org[0].pk


def _row(html: str, number: str) -> str:
    for row in html.split('data-testid="case-row"')[1:]:
        if number in row:
            return row[: row.index("</tr>")]
    raise AssertionError(f"{number} not listed")


def _cell(row: str, testid: str) -> str:
    start = row.index(f'data-testid="{testid}"')
    text = re.sub(r"<[^>]+>", " ", row[row.index(">", start) + 1 : row.index("</td>", start)])
    return " ".join(text.split())


def test_the_page_shows_the_organisation_and_mediator_at_the_end(client, world, reassigned, other_org):
    cases, dates, _as_of = reassigned
    org, labour_mediator = other_org
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    row = _row(html, cases["moved"].number)
    assert _cell(row, "row-organisation") == f"{world.org.name} Assigned to {org.name}, after the period"
    assert _cell(row, "row-mediator") == (
        f"{world.mediator.display_name} Assigned to {labour_mediator.display_name}, after the period"
    )
    row = _row(html, cases["swapped"].number)
    assert _cell(row, "row-organisation") == world.org.name  # the same committee: nothing after
    assert _cell(row, "row-mediator").endswith(
        f"Assigned to {world.mediator2.display_name}, after the period"
    )
    row = _row(html, cases["late"].number)
    assert _cell(row, "row-mediator") == f"— Assigned to {world.mediator2.display_name}, after the period"
    row = _row(html, cases["kept"].number)
    assert "after the period" not in _cell(row, "row-organisation") + _cell(row, "row-mediator")
    # a period still running: today's, nothing marked
    running = client.get(reverse("disputes:ledger"), {"received_from": dates["received_from"]})
    row = _row(running.content.decode(), cases["moved"].number)
    assert _cell(row, "row-organisation") == org.name and "after the period" not in row
    # in Chinese, the page's words for a later change
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert world.org.name in _cell(_row(html, cases["moved"].number), "row-organisation")


def _sheet(response):
    from openpyxl import load_workbook

    assert response.status_code == 200, response.content[:300]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[2]]
    found = {}
    for row in rows[3:]:
        values = dict(zip(header, (cell.value for cell in row), strict=True))
        fonts = dict(
            zip(header, (cell.font.color.rgb if cell.font.color else None for cell in row), strict=True)
        )
        found[row[1].value] = (values, fonts)
    return rows[1][0].value, found


def test_the_workbook_writes_the_organisation_and_mediator_at_the_end(client, world, reassigned, other_org):
    cases, dates, _as_of = reassigned
    org, labour_mediator = other_org
    _login(client, world.sub_dispatcher)
    note, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert "organisation, mediator, target date" in note
    row, fonts = found[cases["moved"].number]
    assert row["Mediation organisation"] == f"{world.org.name}; Assigned to {org.name}, after the period"
    assert row["Mediator"] == (
        f"{world.mediator.display_name}; Assigned to {labour_mediator.display_name}, after the period"
    )
    assert fonts["Mediator"] != "FF808080"  # a value at the end: not wholly after the period
    row, fonts = found[cases["late"].number]
    assert row["Mediator"] == f"Assigned to {world.mediator2.display_name}, after the period"
    assert fonts["Mediator"] == "FF808080"  # nobody at the end: wholly after the period, in grey
    row, _fonts = found[cases["kept"].number]
    assert row["Mediator"] == world.mediator.display_name
    # the full export alike
    url = reverse("disputes:ledger_export") + "?" + "&".join(f"{k}={v}" for k, v in dates.items())
    _note, found = _sheet(client.post(url, {"reason": "月度报表"}))
    assert found[cases["moved"].number][0]["Mediation organisation"].startswith(world.org.name + ";")
    # without an ended period: today's
    _note, found = _sheet(client.get(reverse("disputes:ledger_export")))
    assert found[cases["moved"].number][0]["Mediation organisation"] == org.name
    # in Chinese: the page's words
    _login(client, world.sub_dispatcher, "zh-hans")
    _note, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    cell = found[cases["moved"].number][0]["调解组织"]
    assert cell.startswith(world.org.name)
