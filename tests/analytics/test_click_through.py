"""Every dashboard figure links to exactly the tickets it counts (issue 5: click-through).

Each test builds a small history through the services, reads a figure from the rollups and
opens its link as the viewer (a Nanshan dispatcher: the list applies their jurisdiction), and
asserts the list holds as many tickets as the figure says. Tickets in Luohu, outside the
viewer's place, are made alongside so a link that loses its place shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.tickets.conftest import in_follow_up  # noqa: F401  (fixture)
from zhiwang.analytics import selectors
from zhiwang.analytics.models import Dimension

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
WED = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
NANSHAN = "440305000000"

pytestmark = pytest.mark.django_db


def listed(client, link) -> int:
    """How many tickets the web list shows under ``link`` (no filter error allowed)."""
    assert link, "the figure has no link"
    response = client.get(link)
    assert response.status_code == 200, response.status_code
    assert not response.context["form"].errors, response.context["form"].errors
    return response.context["page"].paginator.count


def some_of(count: int, figure: int, where) -> None:
    """A figure counting rows (urges, dispatches, episodes …): its link lists each ticket once."""
    assert count <= figure and (count > 0) == (figure > 0), (where, count, figure)


def day(moment: datetime):
    return moment.date()


def nanshan(user):
    return selectors.place_for(user=user, code=NANSHAN)


def past_due(ticket) -> datetime:
    """A moment after the ticket's deadline: an urge then is overdue (one before it is not)."""
    return ticket.due_at + timedelta(minutes=1)


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


@pytest.fixture
def luohu(make_ticket, luohu_building):
    """``luohu()``: a ticket in Luohu (outside the viewer's place and jurisdiction)."""

    def make(**overrides):
        return make_ticket(address_code=luohu_building.code, **overrides)

    return make


@pytest.fixture
def closed_on_wed(frozen_now, in_follow_up, nanshan_dispatcher):  # noqa: F811
    """A ticket received Monday, closed after its follow-up on Wednesday."""
    from zhiwang.tickets.services import ticket_follow_up

    frozen_now(MON)
    ticket = in_follow_up()
    frozen_now(WED)
    ticket_follow_up(ticket=ticket, actor=nanshan_dispatcher, resolved=True, satisfaction="satisfied")
    return ticket


# --- bug 1: "overdue now" ---------------------------------------------------------------------


def test_overdue_now_lists_the_tickets_in_an_overdue_episode(
    frozen_now, make_ticket, dispatched, accepted, luohu, nanshan_dispatcher, sub_handler, viewer
):
    """Was the viewer's whole list (``overdue=true``, which the form refused, dropped every filter).
    The urges are made past the deadline (``now``): one before it is not overdue
    (test_urge_before_deadline.py)."""
    from zhiwang.tickets.services import ticket_reply, ticket_urge

    frozen_now(MON)
    make_ticket(), make_ticket()  # open, never overdue
    urged = dispatched()
    ticket_urge(ticket_id=urged.pk, actor=nanshan_dispatcher, now=past_due(urged))
    answered = accepted()
    ticket_urge(ticket_id=answered.pk, actor=nanshan_dispatcher, now=past_due(answered))
    answered.refresh_from_db()
    ticket_reply(ticket=answered, actor=sub_handler, reply="已处理完毕。")  # the reply ends the episode
    elsewhere = luohu()
    from zhiwang.tickets.services import ticket_dispatch

    ticket_dispatch(ticket=elsewhere, unit=sub_handler.org_unit, actor=None)
    elsewhere.refresh_from_db()
    ticket_urge(ticket_id=elsewhere.pk, actor=None, now=past_due(elsewhere))
    s = selectors.summary(place=nanshan(nanshan_dispatcher), start=day(MON), end=day(MON) + timedelta(1))
    assert s.is_current and s.stocks["overdue_open"] == 1
    assert listed(viewer, s.links["overdue_open"]) == 1
    assert viewer.get(s.links["overdue_open"]).context["page"].object_list[0] == urged


def test_overdue_now_counts_a_ticket_warned_past_its_deadline(
    frozen_now, dispatched, nanshan_dispatcher, viewer
):
    """The sweep's overdue warning (a bulk row, counted by the catch-up) starts an episode too."""
    from zhiwang.analytics.rollups import rollup_catch_up
    from zhiwang.tickets.services.clock import clock_sweep

    frozen_now(MON)
    late = dispatched(kind="inquiry")  # 2 working days
    dispatched()  # a complaint: 15 working days, still in time
    later = frozen_now(MON + timedelta(days=7))
    clock_sweep(now=later)
    rollup_catch_up()
    assert late.events.filter(action="warn", payload__kind="overdue").exists()
    s = selectors.summary(place=nanshan(nanshan_dispatcher), start=day(MON), end=day(later) + timedelta(1))
    assert s.stocks["overdue_open"] >= 1
    assert listed(viewer, s.links["overdue_open"]) == s.stocks["overdue_open"]


def test_overdue_at_the_end_of_a_past_window(frozen_now, accepted, nanshan_dispatcher, sub_handler, viewer):
    """Urged Monday (past the deadline), replied Wednesday: overdue at the end of Monday, not now."""
    from zhiwang.tickets.services import ticket_reply, ticket_urge

    frozen_now(MON)
    ticket = accepted()
    ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher, now=past_due(ticket))
    frozen_now(WED)
    ticket.refresh_from_db()
    ticket_reply(ticket=ticket, actor=sub_handler, reply="已处理完毕。")
    place = nanshan(nanshan_dispatcher)
    monday = selectors.summary(place=place, start=day(MON), end=day(MON) + timedelta(1))
    assert not monday.is_current and monday.stocks["overdue_open"] == 1
    assert listed(viewer, monday.links["overdue_open"]) == 1
    now = selectors.summary(place=place, start=day(MON), end=day(WED) + timedelta(1))
    assert now.stocks["overdue_open"] == 0
    assert listed(viewer, now.links["overdue_open"]) == 0


# --- bug 2: "closed" ----------------------------------------------------------------------------


def test_closed_lists_the_tickets_closed_in_the_window(
    closed_on_wed, make_ticket, nanshan_dispatcher, viewer
):
    """Was the tickets *received* in the window that are closed now: 0 for Wednesday."""
    make_ticket()  # received Wednesday, open
    place = nanshan(nanshan_dispatcher)
    wednesday = selectors.summary(place=place, start=day(WED), end=day(WED) + timedelta(1))
    assert wednesday.flows["closed"] == 1
    assert listed(viewer, wednesday.links["closed"]) == 1
    monday = selectors.summary(place=place, start=day(MON), end=day(MON) + timedelta(1))
    assert monday.flows["closed"] == 0
    assert listed(viewer, monday.links["closed"]) == 0


def test_a_transferred_ticket_is_not_in_the_closed_link(
    frozen_now, accepted, make_ticket, hotline, nanshan_dispatcher, viewer
):
    """A transfer (移交) sets the status to closed but is not counted as closed; a direct answer is."""
    from zhiwang.tickets.services import ticket_answer_directly, ticket_transfer

    frozen_now(MON)
    ticket_transfer(ticket=accepted(), actor=nanshan_dispatcher, target="调解", reference="TJ-1")
    ticket_answer_directly(ticket=make_ticket(kind="inquiry"), actor=hotline, reply="已电话解答。")
    s = selectors.summary(place=nanshan(nanshan_dispatcher), start=day(MON), end=day(MON) + timedelta(1))
    assert s.flows["closed"] == 1 and s.flows["transferred"] == 1
    assert listed(viewer, s.links["closed"]) == 1


# --- bug 3: "open" of a past window -------------------------------------------------------------


def test_open_at_the_end_of_a_past_window(closed_on_wed, make_ticket, frozen_now, nanshan_dispatcher, viewer):
    """Was the tickets open today (0 here): the stock at Monday's end is the ticket closed Wednesday."""
    frozen_now(WED + timedelta(hours=1))
    make_ticket()  # received after the window: open now, not at Monday's end
    place = nanshan(nanshan_dispatcher)
    monday = selectors.summary(place=place, start=day(MON), end=day(MON) + timedelta(1))
    assert monday.stocks["open"] == 1
    assert listed(viewer, monday.links["open"]) == 1
    assert "open_at=" in monday.links["open"]
    now = selectors.summary(place=place, start=day(MON), end=day(WED) + timedelta(1))
    assert now.stocks["open"] == 1
    assert listed(viewer, now.links["open"]) == 1


def test_the_page_names_the_stock_of_a_past_window(closed_on_wed, nanshan_dispatcher, viewer):
    from django.utils.translation import gettext, override

    past = viewer.get("/analytics/", {"division": NANSHAN, "start": "2026-11-23", "end": "2026-11-24"})
    current = viewer.get("/analytics/", {"division": NANSHAN, "start": "2026-11-23", "end": "2026-11-26"})

    def kpis(response):  # the ticket figures and table (the disputes panel has its own "open now")
        html = response.content.decode()
        start = html.index('data-testid="kpis"')
        return (
            html[start : html.index('data-testid="children-table"', start)]
            + html[html.index("<thead>", html.index('data-testid="children-table"')) :].split("</thead>")[0]
        )

    past_html, current_html = kpis(past), kpis(current)
    with override("zh-hans"):  # the page's language (the words as translated, or the msgids until then)
        now, at_end = gettext("Open now"), gettext("Open at the end of the window")
        overdue_at_end = gettext("Overdue at the end of the window")
    assert at_end in past_html and overdue_at_end in past_html and now not in past_html
    assert now in current_html and at_end not in current_html


# --- bug 4: the trend's series ------------------------------------------------------------------


def test_each_trend_series_links_its_own_tickets(
    closed_on_wed, frozen_now, dispatched, nanshan_dispatcher, viewer
):
    """Was one link per day (the arrivals) for all three series."""
    from zhiwang.tickets.services import ticket_urge

    frozen_now(WED + timedelta(hours=1))
    urged = dispatched()
    ticket_urge(ticket_id=urged.pk, actor=nanshan_dispatcher, now=past_due(urged))
    ticket_urge(ticket_id=urged.pk, actor=nanshan_dispatcher, now=past_due(urged))  # no new episode
    rows = selectors.trend(place=nanshan(nanshan_dispatcher), start=day(MON), end=day(WED) + timedelta(1))
    wednesday = rows[-1]
    assert (wednesday["received"], wednesday["closed"], wednesday["overdue"]) == (1, 1, 1)
    for series in ("received", "closed", "overdue"):
        for row in rows:
            assert listed(viewer, row["links"][series]) == row[series], (row["period"], series)
    assert wednesday["link"] == wednesday["links"]["received"]


def test_weekly_trend_links_cover_the_window_part_of_the_week(closed_on_wed, nanshan_dispatcher, viewer):
    rows = selectors.trend(
        place=nanshan(nanshan_dispatcher), start=day(WED), end=day(WED) + timedelta(1), by="week"
    )
    assert len(rows) == 1 and rows[0]["closed"] == 1 and rows[0]["received"] == 0
    assert listed(viewer, rows[0]["links"]["closed"]) == 1
    assert listed(viewer, rows[0]["links"]["received"]) == 0


def test_the_page_gives_the_chart_one_link_per_series(closed_on_wed, viewer):
    import json
    import re

    html = viewer.get(
        "/analytics/", {"division": NANSHAN, "start": "2026-11-25", "end": "2026-11-26"}
    ).content
    rows = json.loads(
        re.search(rb'id="analytics-trend" type="application/json">(.*?)</script>', html).group(1)
    )
    assert listed(viewer, rows[0]["links"]["closed"]) == rows[0]["closed"] == 1


# --- bug 5: unit rows and breakdowns ------------------------------------------------------------


def test_unit_rows_link_the_window_and_the_units_events(
    frozen_now, dispatched, accepted, nanshan_dispatcher, sub_handler, handler, viewer
):
    """Was every ticket whose handling unit is the unit now, whenever dispatched."""
    from zhiwang.tickets.services import ticket_reassign, ticket_urge

    frozen_now(MON)
    dispatched()
    frozen_now(WED)
    dispatched()
    moved = accepted()
    ticket_urge(ticket_id=moved.pk, actor=nanshan_dispatcher, now=past_due(moved))
    moved.refresh_from_db()
    # now the bureau's: the office's dispatch and urge stay the office's
    ticket_reassign(ticket=moved, unit=handler.org_unit, actor=nanshan_dispatcher, note="不属本单位")
    rows = selectors.unit_table(
        place=nanshan(nanshan_dispatcher), start=day(WED), end=day(WED) + timedelta(1)
    )
    row = next(r for r in rows if r["code"] == sub_handler.org_unit.code)
    assert (row["dispatched"], row["overdue"]) == (2, 1)
    assert listed(viewer, row["link"]) == listed(viewer, row["links"]["dispatched"]) == 2
    assert listed(viewer, row["links"]["overdue"]) == 1
    assert listed(viewer, row["links"]["closed"]) == row["closed"] == 0
    assert listed(viewer, row["links"]["rated"]) == row["rated"] == 0  # the ratings have their filter


def test_breakdown_of_closures_links_the_window(closed_on_wed, make_ticket, nanshan_dispatcher, viewer):
    """Was the whole category, any status, any time."""
    make_ticket()  # the same category, received Wednesday, open
    place = nanshan(nanshan_dispatcher)
    for dim in (Dimension.CATEGORY, Dimension.CHANNEL, Dimension.KIND, Dimension.UNIT):
        rows = selectors.breakdown(
            place=place, start=day(WED), end=day(WED) + timedelta(1), dim=dim, metric="closed"
        )
        assert [r["value"] for r in rows] == [1], dim
        assert listed(viewer, rows[0]["link"]) == 1, dim


def test_breakdown_by_unit_follows_the_events_unit(
    frozen_now, accepted, nanshan_dispatcher, sub_handler, handler, viewer
):
    """Dispatched to the office, then reassigned: the office's dispatch stays the office's."""
    from zhiwang.tickets.services import ticket_reassign

    frozen_now(MON)
    ticket = accepted()
    ticket_reassign(ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher, note="不属本单位")
    rows = selectors.breakdown(
        place=nanshan(nanshan_dispatcher),
        start=day(MON),
        end=day(MON) + timedelta(1),
        dim="unit",
        metric="dispatched",
    )
    assert [(r["code"], r["value"]) for r in rows] == [(sub_handler.org_unit.code, 1)]
    assert listed(viewer, rows[0]["link"]) == 1


def test_breakdown_of_the_ratings_links_them(closed_on_wed, nanshan_dispatcher, viewer):
    """Were linkless (the list had no filter for them): test_click_through_rates.py."""
    for metric in ("rated", "resolved", "satisfied", "closed_on_time"):
        rows = selectors.breakdown(
            place=nanshan(nanshan_dispatcher),
            start=day(WED),
            end=day(WED) + timedelta(1),
            dim="kind",
            metric=metric,
        )
        assert [r["value"] for r in rows] == [1], metric
        assert listed(viewer, rows[0]["link"]) == 1, metric


def test_children_link_each_figure(closed_on_wed, make_ticket, nanshan_dispatcher, viewer):
    from zhiwang.geo.models import Division

    make_ticket()
    place = selectors.place_for(user=nanshan_dispatcher, code=closed_on_wed.community.code)
    for window in ((day(WED), day(WED) + timedelta(1)), (day(MON), day(MON) + timedelta(1))):
        for row in selectors.children(place=place, start=window[0], end=window[1]):
            for figure in ("received", "closed", "open", "overdue_open"):
                assert listed(viewer, row["links"][figure]) == row[figure], (row["code"], figure, window)
    sub = Division.objects.get(pk=closed_on_wed.subdistrict_id)
    place = selectors.place_for(user=nanshan_dispatcher, code=sub.code)
    rows = selectors.children(place=place, start=day(MON), end=day(WED) + timedelta(1))
    assert sum(r["closed"] for r in rows) == 1
    for row in rows:
        for figure in ("received", "closed", "open", "overdue_open"):
            assert listed(viewer, row["links"][figure]) == row[figure], (row["code"], figure)


# --- the list and the dashboards agree on what an episode and an end are -----------------------


def test_the_lists_event_rules_are_the_rollups():
    from zhiwang.analytics.rollups import rules
    from zhiwang.analytics.selectors.metrics import FLOW_METRICS
    from zhiwang.tickets import selectors as ticket_selectors

    assert set(ticket_selectors.OVERDUE_ENDS) == set(rules.OVERDUE_ENDS)
    assert set(ticket_selectors.ENDS_OPEN) == set(rules.ENDS_OPEN)
    for action, metric in rules.SIMPLE.items():
        assert action in ticket_selectors.EVENT_ACTIONS[metric], metric
    closing = {a for a, m in rules.FINAL_ACTIONS.items() if m == "closed"}
    assert set(ticket_selectors.EVENT_ACTIONS["closed"]) == closing
    for action, metric in rules.FINAL_ACTIONS.items():
        assert action in ticket_selectors.EVENT_ACTIONS[metric]
    # every flow of the dashboards has a list filter (the rates' parts: test_click_through_rates.py)
    assert set(FLOW_METRICS) <= set(ticket_selectors.EVENT_NAMES)


# --- a whole simulated history: every day's figures against their lists --------------------------


@pytest.fixture
def bulk_history(db):
    """60 generated histories over 20 days (bulk rows: overdue warnings, urges, supervisions …)."""
    from zhiwang.tickets.history import bulk_tickets_create

    from .conftest import HISTORY_END

    bulk_tickets_create(count=60, seed=9, as_of=HISTORY_END, days=20)


@pytest.mark.parametrize("source", ["history", "bulk_history"])
def test_every_days_figures_match_their_lists_over_a_history(request, source, city_leader, client):
    """Histories through the services with clock sweeps, and the bulk generator's: for every day,
    each figure of the city dashboard lists as many tickets as it counts (a flow that counts a
    ticket once per row lists at most that many tickets, and some)."""
    from zhiwang.analytics.rollups import rollup_catch_up
    from zhiwang.tickets.models import Ticket

    from .conftest import HISTORY_END

    request.getfixturevalue(source)
    rollup_catch_up()  # the bulk rows
    client.force_login(city_leader)
    place = selectors.place_for(user=city_leader)
    first = Ticket.objects.order_by("received_at").first().received_at.astimezone(TZ).date()
    last = HISTORY_END.date() + timedelta(days=1)
    for start in (first + timedelta(days=n) for n in range((last - first).days)):
        end = start + timedelta(days=1)
        s = selectors.summary(place=place, start=start, end=end)
        for figure in ("received", "closed"):
            assert listed(client, s.links[figure]) == s.flows[figure], (start, figure)
        for figure in ("open", "overdue_open"):
            assert listed(client, s.links[figure]) == s.stocks[figure], (start, figure)
        # the rates' parts: a ticket closes once; it may be rated twice a day (reopened, closed)
        assert listed(client, s.links["closed_on_time"]) == s.parts["closed_on_time"], start
        assert listed(client, s.links["closed_late"]) == s.parts["closed_late"], start
        for part in ("rated", "unsatisfied", "unresolved"):
            some_of(listed(client, s.links[part]), s.parts[part], (start, part))
        (row,) = selectors.trend(place=place, start=start, end=end)
        some_of(listed(client, row["links"]["overdue"]), row["overdue"], start)
    whole = selectors.summary(place=place, start=first, end=last)
    assert whole.flows["closed"] and whole.stocks["open"]
    assert whole.parts["closed_on_time"] and whole.parts["rated"]
    if source == "bulk_history":
        assert whole.flows["overdue"] and whole.flows["urged"], "overdue episodes expected"
        assert whole.parts["closed_late"], "late closures expected"
    for row in selectors.unit_table(place=place, start=first, end=last):
        assert listed(client, row["links"]["closed"]) == row["closed"], row["code"]
        for figure in ("dispatched", "overdue", "reopened"):
            some_of(listed(client, row["links"][figure]), row[figure], (row["code"], figure))
    for metric in ("dispatched", "urged", "supervised", "reopened", "rejected", "closed"):
        for r in selectors.breakdown(place=place, start=first, end=last, dim="category", metric=metric):
            some_of(listed(client, r["link"]), r["value"], (metric, r["code"]))
