"""One name per figure, tables that add up, honest labels (review of issue 5, "does the same figure
agree everywhere?"): the dashboard's window share of closures on time is not the governance index's
assessed on-time closure rate; an ended report's stock is the stock at the end of the period; the
per-division table has a row for the tickets located in no child; a week cut by the window is named
by its first day counted; the report's index sheet names each row's level and ranks within it."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from zhiwang.analytics import reports, selectors, services
from zhiwang.analytics.index import INDICATOR_LABELS
from zhiwang.analytics.models import GovernanceIndex, Report
from zhiwang.analytics.selectors.dashboard import RATE_EVENTS
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db
NANSHAN = "440305000000"


def _window():
    today = timezone.localdate()
    return today - timedelta(days=6), today + timedelta(days=1)


def _last_month() -> tuple[str, date]:
    first = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}", first


def _make(user, period, key, division=NANSHAN):
    report, _created = services.report_request(
        user=user, division_code=division, period=period, idempotency_key=key
    )
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "done", report.error
    return report


def _book(report):
    from openpyxl import load_workbook

    with report.xlsx.open("rb") as f:
        return load_workbook(BytesIO(f.read()))


def _cells(sheet) -> list:
    return [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]


def _zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


@pytest.fixture
def unlocated(make_ticket):
    """Two Nanshan complaints and an inquiry with no place at all (no district): today."""
    located = [make_ticket(), make_ticket()]
    nowhere = make_ticket(kind="inquiry", address_code="", external_id="nowhere-1")
    assert nowhere.division_id is None
    return located, nowhere


# --- 1. "On time among closures" is not the assessed 按期办结率 --------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_window_share_on_time_has_its_own_name(language, city_leader, client):
    client.force_login(city_leader)
    with translation.override(language):
        assessed = str(INDICATOR_LABELS["on_time_closure_rate"])
        ours = gettext("On time among closures")
        assert ours != assessed
        assert reports._labels()["on_time_rate"] == ours
        assert reports._labels(ended=False)["on_time_rate"] == ours
        client.cookies["django_language"] = language
        html = client.get(reverse("analytics:dashboard")).content.decode()
    page = html[html.index('data-testid="kpis"') :]
    hint = page[page.index('data-testid="on-time-hint"') :].split("</p>")[0]
    assert (
        reverse("analytics:index") in hint and reverse("analytics:indicators") in hint
    )  # the assessed figure
    # the definitions (the hint line, the hover titles) name the assessed figure to tell them apart
    page = re.sub(r'title="[^"]*"', "", page.replace(hint, ""))
    if 'data-testid="disputes-panel"' in page:  # its "Closed on time" is the dispute cases' own
        panel = page.index('data-testid="disputes-panel"')
        page = page[:panel] + page[page.index("</section>", panel) :]
    assert assessed not in page  # neither the KPI nor the division and unit tables
    assert page.count(ours) >= 3  # KPI, the per-division and the per-unit column


def test_the_report_names_it_and_says_what_it_counts(city_leader, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    period, _first = _last_month()
    book = _book(_make(city_leader, period, "on-time"))
    assessed = _zh("On-time closure rate")
    for name in ("概况", "分区统计", "承办单位"):
        if name in book.sheetnames:
            assert assessed not in _cells(book[name]), name
    summary = _cells(book.worksheets[0])
    assert _zh("On time among closures") in summary
    assert any(isinstance(c, str) and c.startswith(_zh("On time among closures") + ":") for c in summary)


# --- 2. an ended report's stock is the stock at the end of the period --------------------------


def test_an_ended_report_says_open_at_the_end_and_a_running_one_now(city_leader, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    period, _first = _last_month()
    ended = _cells(_book(_make(city_leader, period, "ended")).worksheets[0])
    assert _zh("Open at the end of the window") in ended and _zh("Overdue at the end of the window") in ended
    assert _zh("Open now") not in ended and _zh("Overdue now") not in ended
    running = _cells(_book(_make(city_leader, f"{timezone.localdate():%Y-%m}", "running")).worksheets[0])
    assert _zh("Open now") in running and _zh("Overdue now") in running
    assert _zh("Open at the end of the window") not in running


# --- 3. the per-division table adds up -------------------------------------------------------


@pytest.mark.parametrize("window", ["current", "past"])
def test_the_children_add_up_with_the_unlocated_row(window, unlocated, city_leader):
    start, end = _window()
    if window == "past":  # the stock at today's midnight: the later flows are taken off
        end = timezone.localdate()
    place = selectors.place_for(user=city_leader)
    s = selectors.summary(place=place, start=start, end=end)
    rows = selectors.children(place=place, start=start, end=end)
    for figure in ("received", "closed"):
        assert sum(r[figure] for r in rows) == s.flows[figure], figure
    for figure in ("open", "overdue_open"):
        assert sum(r[figure] for r in rows) == s.stocks[figure], figure
    row = rows[-1]
    if window == "current":
        assert row["unlocated"] is True and row["code"] == "" and row["drill"] is None
        assert (row["received"], row["open"]) == (1, 1)
        assert set(row["links"]) == {"received", "closed", "open", "overdue_open", *RATE_EVENTS}
        assert row["link"] == row["links"]["received"] and "unlocated=true" in row["link"]
        assert not any(r.get("unlocated") for r in rows[:-1])
        assert set(rows[0]) <= set(row)  # the other rows keep their shape
    else:  # nothing in the window: no row of zeros
        assert not any(r.get("unlocated") for r in rows)
    # a district whose tickets are all located has no such row
    district = selectors.place_for(user=city_leader, code=NANSHAN)
    assert not any(r.get("unlocated") for r in selectors.children(place=district, start=start, end=end))


def test_the_page_api_and_report_show_the_unlocated_row(unlocated, city_leader, client, settings, tmp_path):
    client.force_login(city_leader)
    html = client.get(reverse("analytics:dashboard")).content.decode()
    table = html[html.index('data-testid="children-table"') :].split("</table>")[0]
    row = table[table.index('data-testid="unlocated"') :].split("</tr>")[0]
    assert gettext("Unlocated") in row
    # what the row holds is said under the table, not only in a tooltip (phones have none)
    hint = html[html.index('data-testid="unlocated-hint"') :].split("</p>")[0]
    assert gettext("Unlocated") in hint and "</table>" not in hint
    rows = client.get("/api/v1/analytics/children").json()["rows"]
    assert [r["received"] for r in rows if r.get("unlocated")] == [1]
    assert (
        sum(r["received"] for r in rows)
        == client.get("/api/v1/analytics/summary").json()["flows"]["received"]
    )
    # the report's by-division sheet (the city's report of this month)
    settings.MEDIA_ROOT = tmp_path
    city = Division.objects.get(level="city").code
    book = _book(_make(city_leader, f"{timezone.localdate():%Y-%m}", "kids", division=city))
    sheet = book["分区统计"]
    lines = list(sheet.iter_rows(values_only=True))
    assert [line[1] for line in lines if line[0] == _zh("Unlocated")] == [1]
    assert sum(line[1] for line in lines[1:] if line and isinstance(line[1], int)) == 3


# --- 4. a week cut by the window -------------------------------------------------------------


def test_a_week_cut_by_the_window_is_named_by_its_first_day(city_leader):
    place = selectors.place_for(user=city_leader)
    start, end = date(2026, 10, 1), date(2026, 11, 1)  # a Thursday to a Sunday
    weeks = selectors.trend(place=place, start=start, end=end, by="week")
    assert [w["period"] for w in weeks] == [
        date(2026, 10, 1),
        *(date(2026, 10, 5) + timedelta(7 * i) for i in range(4)),
    ]
    assert "received_from=2026-10-01" in weeks[0]["links"]["received"]
    assert "received_to=2026-10-05" in weeks[0]["links"]["received"]
    assert "received_to=2026-11-01" in weeks[-1]["links"]["received"]


# --- 5. the report's index sheet --------------------------------------------------------------


def test_the_reports_index_sheet_names_the_level_and_ranks_within_it(
    city_leader, nanshan_community, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    period, month = _last_month()
    subdistrict = nanshan_community.parent
    communities = list(Division.objects.filter(parent=subdistrict).order_by("code")[:2])
    assert len(communities) == 2
    GovernanceIndex.objects.create(
        month=month, division=communities[0], level="community", score=90.0, rank=2, standing=""
    )
    GovernanceIndex.objects.create(
        month=month, division=communities[1], level="community", score=95.0, rank=1, standing="red"
    )
    GovernanceIndex.objects.create(
        month=month, division=subdistrict, level="subdistrict", score=80.0, rank=34, standing=""
    )
    report = _make(city_leader, period, "index", division=subdistrict.code)
    sheet = _book(report)["治理指数"]
    lines = [line for line in sheet.iter_rows(values_only=True) if any(c is not None for c in line)]
    head = list(lines[0])
    assert head[:3] == [_zh("Month"), _zh("Level"), _zh("Place")], head
    level, place, rank = head.index(_zh("Level")), head.index(_zh("Place")), head.index(_zh("Rank"))
    body = [line for line in lines[1:] if line[place] is not None]
    assert [(line[level], line[place], line[rank]) for line in body] == [
        (_zh("Subdistrict"), subdistrict.name, 34),
        (_zh("Community"), communities[1].name, 1),
        (_zh("Community"), communities[0].name, 2),
    ]
    assert Report.objects.filter(pk=report.pk, status="done").exists()


# --- the unlocated row's links list exactly its tickets -------------------------------------


def test_the_unlocated_rows_links_list_exactly_its_tickets(unlocated, city_leader, client):
    located, nowhere = unlocated
    client.force_login(city_leader)
    start, end = _window()
    place = selectors.place_for(user=city_leader)
    row = selectors.children(place=place, start=start, end=end)[-1]
    assert row["unlocated"]
    for figure in ("received", "open"):
        response = client.get(row["links"][figure])
        assert response.status_code == 200
        page = response.content.decode()
        assert nowhere.number in page, figure
        assert not any(t.number in page for t in located), figure
    # the REST list takes the same filter; under a district it keeps that district's tickets in no subdistrict
    api = client.get("/api/v1/tickets/", {"unlocated": "true"}).json()
    assert [t["number"] for t in api["items"]] == [nowhere.number]
    api = client.get("/api/v1/tickets/", {"unlocated": "true", "division": NANSHAN}).json()
    assert api["count"] == 0
    assert client.get("/api/v1/tickets/", {"division": NANSHAN}).json()["count"] == len(located)


def test_the_unlocated_filter_keeps_the_viewers_scope(unlocated, nanshan_dispatcher, client):
    """A district dispatcher's "unlocated" list holds only what their list holds: the inquiry with
    no place at all is not in their district, so it is not theirs (nor is any other district's)."""
    located, nowhere = unlocated
    client.force_login(nanshan_dispatcher)
    listed = client.get("/api/v1/tickets/", {"unlocated": "true"}).json()
    assert nowhere.number not in {t["number"] for t in listed["items"]}
    # under their district: its tickets in no subdistrict (none here), never another district's
    assert client.get("/api/v1/tickets/", {"unlocated": "true", "division": NANSHAN}).json()["count"] == 0
    page = client.get(reverse("web:ticket_list"), {"unlocated": "on"}).content.decode()
    assert nowhere.number not in page
