"""The ledger of a period that has ended reads the rest of its figures as of the period's end too:
the summary grouped by the status at the end (as the rows show it), the summary's and the tiles'
as-of-end figures labelled so, the Excel export's agreement, judicial confirmation and performance
at the end (a later value marked "(after the period)", like a later closing), and the target date's
overdue mark judged at the end, by the target the case had then.
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
from django.utils import timezone, translation

from zhiwang.disputes.models import Agreement, CaseEvent, DisputeCase, PerformanceFollowUp
from zhiwang.disputes.selectors import ledger_export_rows, ledger_rows, ledger_summary, period_overdue
from zhiwang.disputes.services import (
    case_close,
    case_extend,
    confirmation_apply,
    confirmation_result,
    performance_follow_up,
)

pytestmark = pytest.mark.django_db

GREY, RED = "FF808080", "FFC62828"


@pytest.fixture
def period():
    """A past "month" ending at a local midnight 10 days ago: (as_of, the ledger's dates)."""
    end_day = timezone.localdate() - timedelta(days=10)
    as_of = timezone.make_aware(datetime.combine(end_day, time.min))
    dates = {"received_from": (end_day - timedelta(days=60)).isoformat(), "received_to": end_day.isoformat()}
    return as_of, dates


def _lived_then(case, at):
    """Move the case's rows that kept it open (assignment, sessions…) to ``at``: the fixtures
    backdate its reception, and the timeline says which open status it was in at a period's end."""
    QuerySet.update(
        CaseEvent.objects.filter(case=case).exclude(action__in=("receive", "close", "refer")), at=at
    )
    return case


def _close(case, actor, at, outcome="failed"):
    case_close(case=case, actor=actor, outcome=outcome)
    DisputeCase.objects.filter(pk=case.pk).update(closed_at=at)
    case.refresh_from_db()
    return case


def _login(client, user, language="en"):
    client.force_login(user)
    client.cookies["django_language"] = language


def _row(html: str, number: str) -> str:
    for row in html.split('data-testid="case-row"')[1:]:
        if number in row:
            return row[: row.index("</tr>")]
    raise AssertionError(f"{number} not listed")


def _cell_html(row: str, testid: str) -> str:
    start = row.index(f'data-testid="{testid}"')
    return row[row.index(">", start) + 1 : row.index("</td>", start)]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _summary(html: str) -> tuple[list[str], dict[str, list[str]]]:
    """The summary table: its header cells, and each row's cells by the row's name."""
    table = html[html.index('data-testid="summary"') :]
    table = table[: table.index("</table>")]
    head = [_text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table[: table.index("</thead>")])]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>") :], re.S):
        cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        rows[cells[0]] = cells[1:]
    return head, rows


def _tile_labels(html: str) -> list[str]:
    tiles = html[html.index('data-testid="indicators"') :]
    tiles = tiles[: tiles.index('<p class="tabs">')]
    return [_text(label) for label in re.findall(r"<span>(.*?)</span>", tiles)]


def _sheet(response):
    """(the line under the title, {case number: ({header: value}, {header: font colour})})."""
    from openpyxl import load_workbook

    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows())
    header = [cell.value for cell in rows[2]]
    found = {}
    for row in rows[3:]:
        values = dict(zip(header, (cell.value for cell in row), strict=True))
        fonts = dict(
            zip(header, (cell.font.color.rgb if cell.font.color else None for cell in row), strict=True)
        )
        found[row[1].value] = (values, fonts)
    return rows[1][0].value, found


# --- 1. the summary by status ------------------------------------------------------------------------


@pytest.fixture
def closings(mediating_case, world, period):
    """Two cases received in the period: ``later`` closed the morning after its end, ``within``
    two days before it."""
    as_of, dates = period
    later = _close(
        _lived_then(mediating_case(received_at=as_of - timedelta(days=12)), as_of - timedelta(days=11)),
        world.mediator,
        as_of + timedelta(hours=9),
    )
    within = _close(
        mediating_case(received_at=as_of - timedelta(days=20)), world.mediator, as_of - timedelta(days=2)
    )
    return later, within


def test_the_summary_by_status_groups_by_the_status_at_the_end(world, period, closings):
    as_of, _dates = period
    filters = {"received_from": as_of - timedelta(days=60), "received_to": as_of}
    with translation.override("en"):
        summary = {
            row["key"]: row for row in ledger_summary(user=world.sub_dispatcher, by="status", filters=filters)
        }
    # the case closed after the end is open at the end, under the open status it was in then (调解中)
    # with its row, not "closed"
    assert {key: row["total"] for key, row in summary.items()} == {"closed": 1, "mediating": 1}
    assert summary["mediating"]["open"] == 1 and summary["closed"]["open"] == 0
    assert summary["mediating"]["name"] == "Being mediated" and summary["closed"]["name"] == "Closed"
    rows = ledger_rows(user=world.sub_dispatcher, filters=filters)
    by_row = {}
    for case in rows:
        by_row[case.period_status] = by_row.get(case.period_status, 0) + 1
    assert by_row == {key: row["total"] for key, row in summary.items()}  # summary and rows agree
    # a period still running (or none): the statuses today
    today = ledger_summary(
        user=world.sub_dispatcher, by="status", filters={"received_from": filters["received_from"]}
    )
    assert [(row["key"], row["total"]) for row in today] == [("closed", 2)]


def test_the_page_summary_by_status_names_the_status_at_the_end(client, world, period, closings):
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), {**dates, "by": "status"}).content.decode()
    _head, rows = _summary(html)
    assert set(rows) == {"Being mediated", "Closed"}
    assert rows["Being mediated"][:2] == ["1", "1"] and rows["Closed"][:2] == ["1", "0"]
    running = {"received_from": dates["received_from"], "by": "status"}
    _head, rows = _summary(client.get(reverse("disputes:ledger"), running).content.decode())
    assert set(rows) == {"Closed"} and rows["Closed"][0] == "2"


# --- 2. the as-of-end figures are labelled -----------------------------------------------------------


def test_every_as_of_end_figure_is_labelled(client, world, period, closings):
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    head, _rows = _summary(html)
    assert head[1:] == [
        "Cases",
        "Open at the end of the period",
        "Mediated successfully by the end of the period",
        "Red at the end of the period",
        "Amount involved at the end of the period (yuan)",
    ]
    assert _tile_labels(html) == [
        "Received",
        "Open at the end of the period",
        "Closed by the end of the period",
        "Success rate by the end of the period",
        "Prevented escalation by the end of the period",
        "Amount involved at the end of the period (yuan)",
        "Amount resolved by the end of the period (yuan)",
    ]
    # a period still running: the usual words
    html = client.get(reverse("disputes:ledger"), {"received_from": dates["received_from"]}).content.decode()
    head, _rows = _summary(html)
    assert head[1:] == ["Cases", "Open", "Mediated successfully", "Red", "Amount involved (yuan)"]
    assert "Success rate" in _tile_labels(html) and "Amount resolved (yuan)" in _tile_labels(html)


# --- 3. the export's agreement columns at the end ----------------------------------------------------


def _backdate_agreement(case, at):
    Agreement.objects.filter(case=case).update(created_at=at)
    QuerySet.update(CaseEvent.objects.filter(case=case, action="reach_agreement"), at=at)


@pytest.fixture
def agreements(agreed_case, world, period):
    """Three agreed cases received in the period:

    - ``recorded_later``: its agreement recorded today (after the end);
    - ``applied_later``: agreement before the end, judicial confirmation applied for and the
      performance followed up (performed) after it;
    - ``ruled_later``: applied for before the end, confirmed by the court after it; followed up
      before the end (partly performed), not since.
    """
    as_of, _dates = period
    end_day = timezone.localdate(as_of)
    recorded_later = agreed_case(received_at=as_of - timedelta(days=5))
    applied_later = agreed_case(signed_on=end_day - timedelta(days=5))
    _backdate_agreement(applied_later, as_of - timedelta(days=5))
    applied_later.refresh_from_db()
    confirmation_apply(
        case=applied_later,
        actor=world.mediator,
        applied_on=end_day + timedelta(days=2),
        court="南山区人民法院",
    )
    performance_follow_up(case=applied_later, actor=world.mediator, status="performed")
    ruled_later = agreed_case(signed_on=end_day - timedelta(days=6))
    _backdate_agreement(ruled_later, as_of - timedelta(days=6))
    ruled_later.refresh_from_db()
    confirmation_apply(
        case=ruled_later, actor=world.mediator, applied_on=end_day - timedelta(days=3), court="南山区人民法院"
    )
    # the timeline is append-only: moved back as if the application had been recorded then
    QuerySet.update(
        CaseEvent.objects.filter(case=ruled_later, action="apply_confirmation"), at=as_of - timedelta(days=3)
    )
    performance_follow_up(case=ruled_later, actor=world.mediator, status="partly")
    PerformanceFollowUp.objects.filter(case=ruled_later).update(at=as_of - timedelta(days=1))
    confirmation_result(case=ruled_later, actor=world.mediator, confirmed=True)
    return recorded_later, applied_later, ruled_later


def test_the_export_writes_the_agreement_columns_as_at_the_end(client, world, period, agreements):
    recorded_later, applied_later, ruled_later = agreements
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    note, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert "“(after the period)”: recorded after that day." in note
    # an agreement recorded after the end did not exist at the end: marked, in grey, as a closing is
    row, fonts = found[recorded_later.number]
    assert row["Agreement"] == "Written agreement (after the period)" and fonts["Agreement"] == GREY
    assert row["Judicial confirmation"] in ("", None)
    assert row["Performance"] == "Not yet due (after the period)" and fonts["Performance"] == GREY
    # applied for after the end: not applied for at the end; performed since, not yet due then
    row, fonts = found[applied_later.number]
    assert row["Agreement"] == "Written agreement" and fonts["Agreement"] != GREY
    assert row["Judicial confirmation"] == "Applied for (after the period)"
    assert fonts["Judicial confirmation"] == GREY
    assert row["Performance"] == "Not yet due; Performed (after the period)"
    # applied for before the end, ruled on after it; the follow-up before the end stands
    row, fonts = found[ruled_later.number]
    assert row["Judicial confirmation"] == "Applied for; Confirmed by the court (after the period)"
    assert fonts["Judicial confirmation"] != GREY
    assert row["Performance"] == "Partly performed"


def test_without_an_ended_period_the_export_writes_them_as_they_are(client, world, period, agreements):
    recorded_later, applied_later, ruled_later = agreements
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    note, found = _sheet(
        client.get(reverse("disputes:ledger_export"), {"received_from": dates["received_from"]})
    )
    assert "after the period" not in note
    assert found[recorded_later.number][0]["Agreement"] == "Written agreement"
    assert found[applied_later.number][0]["Judicial confirmation"] == "Applied for"
    assert found[applied_later.number][0]["Performance"] == "Performed"
    assert found[ruled_later.number][0]["Judicial confirmation"] == "Confirmed by the court"


def test_the_full_export_writes_them_as_at_the_end_too(client, world, period, agreements):
    _recorded_later, applied_later, _ruled_later = agreements
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    url = reverse("disputes:ledger_export") + "?" + "&".join(f"{k}={v}" for k, v in dates.items())
    _note, found = _sheet(client.post(url, {"reason": "月度台账"}))
    assert found[applied_later.number][0]["Judicial confirmation"] == "Applied for (after the period)"


def test_the_chinese_export_marks_them_as_closings_are_marked(client, world, period, agreements):
    recorded_later, _applied_later, ruled_later = agreements
    _as_of, dates = period
    _login(client, world.sub_dispatcher, "zh-hans")
    _note, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert found[recorded_later.number][0]["调解协议"].endswith("（期后）")
    assert found[ruled_later.number][0]["司法确认"].endswith("（期后）")


def test_the_export_rows_come_from_one_query(world, period, agreements, agreed_case):
    as_of, _dates = period
    filters = {"received_from": as_of - timedelta(days=60), "received_to": as_of}
    with CaptureQueriesContext(connection) as one:
        rows = list(ledger_export_rows(user=world.sub_dispatcher, filters=filters))
    assert len(rows) == 3 and all(hasattr(r, "period_confirmation") for r in rows)
    for _ in range(3):
        agreed_case(received_at=as_of - timedelta(days=4))
    with CaptureQueriesContext(connection) as more:
        rows = list(ledger_export_rows(user=world.sub_dispatcher, filters=filters))
    assert len(rows) == 6 and len(more) == len(one)  # no query per row


# --- 4. the overdue mark, judged at the end ----------------------------------------------------------


@pytest.fixture
def targets(mediating_case, world, period):
    """Cases received in the period (one-month targets):

    - ``overdue_then``: received 40 days before the end, past its target at the end, closed after it;
    - ``overdue_since``: received 25 days before the end: its target passed after the end, still open;
    - ``extended_later``: received 40 days before the end, past its target at the end, extended
      after it to a target still ahead.
    """
    as_of, _dates = period
    overdue_then = _close(
        mediating_case(received_at=as_of - timedelta(days=40)), world.mediator, as_of + timedelta(days=1)
    )
    overdue_since = mediating_case(received_at=as_of - timedelta(days=25))
    extended_later = mediating_case(received_at=as_of - timedelta(days=40))
    until = timezone.localdate(extended_later.target_at) + timedelta(days=25)
    case_extend(case=extended_later, actor=world.mediator, until=until, reason="双方同意延期")
    assert (
        overdue_then.target_at < as_of < overdue_since.target_at < timezone.now() < extended_later.target_at
    )
    return overdue_then, overdue_since, extended_later


def _overdue(html: str, number: str) -> bool:
    return re.search(r'class="[^"]*\boverdue\b', _cell_html(_row(html, number), "row-target")) is not None


def test_the_rows_mark_overdue_as_at_the_end(client, world, period, targets):
    overdue_then, overdue_since, extended_later = targets
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert _overdue(html, overdue_then.number)  # open and past its target at the end
    assert not _overdue(html, overdue_since.number)  # its target had not passed by then
    # judged by the target it had at the end, shown with the extension after it
    cell = _cell_html(_row(html, extended_later.number), "row-target")
    assert _overdue(html, extended_later.number)
    day = timezone.localdate(extended_later.target_at).isoformat()
    assert f"Extended to {day}, after the period" in _text(cell)
    assert _text(cell).startswith(
        timezone.localdate(extended_later.target_at - timedelta(days=25)).isoformat()
    )
    # a period still running: overdue today
    html = client.get(reverse("disputes:ledger"), {"received_from": dates["received_from"]}).content.decode()
    assert not _overdue(html, overdue_then.number)  # closed
    assert _overdue(html, overdue_since.number)
    assert not _overdue(html, extended_later.number) and "after the period" not in html


def test_the_export_marks_overdue_as_at_the_end(client, world, period, targets):
    overdue_then, overdue_since, extended_later = targets
    _as_of, dates = period
    _login(client, world.sub_dispatcher)
    note, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert "a target date in red was overdue then" in note
    assert found[overdue_then.number][1]["Target date"] == RED
    assert found[overdue_since.number][1]["Target date"] != RED
    row, fonts = found[extended_later.number]
    before = timezone.localdate(extended_later.target_at - timedelta(days=25)).isoformat()
    after = timezone.localdate(extended_later.target_at).isoformat()
    # the extension in the page's words
    assert row["Target date"] == f"{before}; Extended to {after}, after the period"
    assert fonts["Target date"] == RED
    # a period still running: overdue today, today's target
    _note, found = _sheet(
        client.get(reverse("disputes:ledger_export"), {"received_from": dates["received_from"]})
    )
    assert found[overdue_then.number][1]["Target date"] != RED
    assert found[overdue_since.number][1]["Target date"] == RED
    assert found[extended_later.number][0]["Target date"] == after


def test_period_overdue_reads_the_timestamps_without_the_annotations(world, period, targets):
    overdue_then, overdue_since, _extended_later = targets
    as_of, _dates = period
    assert period_overdue(DisputeCase.objects.get(pk=overdue_then.pk), as_of=as_of)
    assert not period_overdue(DisputeCase.objects.get(pk=overdue_since.pk), as_of=as_of)
    assert period_overdue(DisputeCase.objects.get(pk=overdue_since.pk), as_of=None)
