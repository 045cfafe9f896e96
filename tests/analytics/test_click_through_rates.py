"""The rates of the dashboards link the tickets behind them (issue 5): "on time among closures" the
late closures (and the ones on time), the satisfaction rate the unsatisfied ratings (and every
rating), the resolution rate the ratings not resolved, the rework rate the reopenings; in the
totals, per place and per unit, within the viewer's jurisdiction (through the scoped ticket list).

The history (``tests/tickets/test_event_filters.rated_history``): Nanshan tickets received on a
Monday and closed a week later, one late, one on time, one answered directly, one whose follow-up
could not reach the reporter, and one rated unsatisfied at the follow-up and so reopened; a Luohu
ticket closed late and rated is made alongside, outside the Nanshan viewer's sight.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from tests.tickets.conftest import city_dispatcher, in_follow_up  # noqa: F401  (fixtures)
from tests.tickets.test_event_filters import NEXT_MON, REPLY, numbers, rated_history  # noqa: F401
from zhiwang.analytics import selectors
from zhiwang.analytics.rollups import rollup_rebuild, rollup_snapshot
from zhiwang.analytics.selectors.dashboard import RATE_EVENTS, RATE_LINKS, flow_link

NANSHAN = "440305000000"
DAY = NEXT_MON.date()
#: The rollups' figure each event of the list counts (the late closures and the ratings not
#: resolved are differences of two counters).
FIGURES = {
    "closed_on_time": lambda f: f["closed_on_time"],
    "closed_late": lambda f: f["closed"] - f["closed_on_time"],
    "rated": lambda f: f["rated"],
    "resolved": lambda f: f["resolved"],
    "unresolved": lambda f: f["rated"] - f["resolved"],
    "satisfied": lambda f: f["satisfied"],
    "basically_satisfied": lambda f: f["basically_satisfied"],
    "unsatisfied": lambda f: f["unsatisfied"],
}

pytestmark = pytest.mark.django_db


def listed(client, link) -> set[str]:
    """The numbers of the tickets the web list shows under ``link`` (no filter error allowed)."""
    assert link, "the figure has no link"
    response = client.get(unescape(link))
    assert response.status_code == 200, response.status_code
    assert not response.context["form"].errors, response.context["form"].errors
    return {ticket.number for ticket in response.context["page"].paginator.object_list}


@pytest.fixture
def luohu_late(frozen_now, make_ticket, luohu_building, sub_handler, city_dispatcher):  # noqa: F811
    """A Luohu inquiry received on Monday, replied a week later (late), rated basically satisfied,
    closed: counted in the city's figures, never in Nanshan's lists. Handled by the
    Nanshan office (the city has no Luohu handler), so a link that lost its place would show it."""
    from zhiwang.tickets.services import (
        ticket_accept,
        ticket_dispatch,
        ticket_follow_up,
        ticket_reply,
        ticket_review,
    )

    frozen_now(NEXT_MON - timedelta(days=7))
    ticket = make_ticket(kind="inquiry", address_code=luohu_building.code, external_id="luohu-late")
    ticket = ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=None)
    ticket = ticket_accept(ticket=ticket, actor=sub_handler)
    frozen_now(NEXT_MON)
    ticket = ticket_reply(ticket=ticket, actor=sub_handler, reply=REPLY)
    ticket = ticket_review(ticket=ticket, actor=city_dispatcher, approve=True)
    ticket_follow_up(ticket=ticket, actor=city_dispatcher, resolved=True, satisfaction="basically_satisfied")
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.replied_at > ticket.due_at
    return ticket


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


def test_each_part_lists_as_many_tickets_as_the_rollups_count(rated_history, luohu_late, city_leader, client):  # noqa: F811
    """The city's figures of the day, counted incrementally and by a rebuild, against the lists."""
    client.force_login(city_leader)
    place = selectors.place_for(user=city_leader)
    for counted_by in ("incremental", "rebuild"):
        if counted_by == "rebuild":
            before = rollup_snapshot()
            rollup_rebuild()
            assert rollup_snapshot() == before
        s = selectors.summary(place=place, start=DAY, end=DAY + timedelta(1))
        assert (s.flows["closed"], s.flows["closed_on_time"], s.flows["rated"]) == (5, 3, 4), counted_by
        assert s.parts["closed_late"] == 2 and s.parts["unresolved"] == 1
        for event, figure in FIGURES.items():
            assert len(
                listed(client, s.links.get(event) or flow_link(place, DAY, DAY + timedelta(1), event))
            ) == (figure(s.flows)), (counted_by, event)
        # the day before the closures: no figure, no ticket
        monday = selectors.summary(place=place, start=DAY - timedelta(7), end=DAY - timedelta(6))
        for event in RATE_EVENTS:
            assert listed(client, monday.links[event]) == set(), event
    assert listed(client, s.links["closed_late"]) == numbers(rated_history, "late") | {luohu_late.number}
    assert listed(client, s.links["rated"]) == numbers(rated_history, "late", "on_time", "reopened") | {
        luohu_late.number
    }


def test_the_dashboard_links_the_rates_to_the_viewers_tickets(rated_history, luohu_late, viewer):  # noqa: F811
    """A Nanshan dispatcher's page: each rate's links list exactly Nanshan's tickets."""
    html = viewer.get("/analytics/", {"start": DAY.isoformat(), "end": (DAY + timedelta(1)).isoformat()})
    html = html.content.decode()

    def kpi_link(testid: str) -> str:
        return re.search(rf'<a href="([^"]+)" data-testid="{testid}"', html).group(1)

    assert listed(viewer, kpi_link("kpi-closed-late")) == numbers(rated_history, "late")
    assert listed(viewer, kpi_link("kpi-closed-on-time")) == numbers(
        rated_history, "on_time", "direct", "unreachable"
    )
    assert listed(viewer, kpi_link("kpi-unsatisfied")) == numbers(rated_history, "reopened")
    assert listed(viewer, kpi_link("kpi-rated")) == numbers(rated_history, "late", "on_time", "reopened")
    assert listed(viewer, kpi_link("kpi-unresolved")) == numbers(rated_history, "reopened")
    assert listed(viewer, kpi_link("kpi-reopened")) == numbers(rated_history, "reopened")
    # the counts beside the links are Nanshan's figures (the Luohu closure is not among them)
    late_card = html[html.index('data-testid="kpi-on-time"') :].split("</div>")[0]
    # "1 late closure" (逾期办结 1次): a count of closures (test_walkthrough_r5_analytics)
    assert re.search(r'data-testid="kpi-closed-late"[^>]*>[^<]*(?<!\d)1(?!\d)[^<]*</a>', late_card), late_card
    # the rates of the division and unit tables link their late closures and unsatisfied ratings
    cells = re.findall(r'<a href="([^"]+)" title="[^"]*" data-testid="rate-tickets">', html)
    assert cells and all("event=" in unescape(link) for link in cells)
    found = [listed(viewer, link) for link in cells]
    assert numbers(rated_history, "late") in found and numbers(rated_history, "reopened") in found
    assert not any(luohu_late.number in tickets for tickets in found)


def test_children_and_unit_rows_link_their_parts(rated_history, nanshan_dispatcher, sub_handler, viewer):  # noqa: F811
    place = selectors.place_for(user=nanshan_dispatcher, code=NANSHAN)
    start, end = DAY, DAY + timedelta(1)
    rows = selectors.children(place=place, start=start, end=end)
    total: dict[str, set] = {event: set() for event in RATE_EVENTS}
    for row in rows:
        for event in RATE_EVENTS:
            total[event] |= listed(viewer, row["links"][event])
    assert total["closed_late"] == numbers(rated_history, "late")
    assert total["unsatisfied"] == numbers(rated_history, "reopened")
    # the community the tickets are in: its grids (the ticket list's ``grid`` filter)
    community = selectors.place_for(user=nanshan_dispatcher, code=rated_history["late"].community.code)
    grids = selectors.children(place=community, start=start, end=end)
    assert set().union(*(listed(viewer, r["links"]["closed_late"]) for r in grids)) == numbers(
        rated_history, "late"
    )
    (unit,) = [
        r
        for r in selectors.unit_table(place=place, start=start, end=end)
        if r["code"] == sub_handler.org_unit.code
    ]
    assert set(RATE_EVENTS) <= set(unit["links"])
    assert f"event_unit={unit['code']}" in unit["links"]["closed_late"]
    assert listed(viewer, unit["links"]["closed_late"]) == numbers(rated_history, "late")
    assert listed(viewer, unit["links"]["unsatisfied"]) == numbers(rated_history, "reopened")
    assert len(listed(viewer, unit["links"]["rated"])) == unit["rated"] == 3


def test_every_rate_links_a_part_the_list_knows():
    from zhiwang.analytics.selectors.metrics import _rates
    from zhiwang.tickets.selectors import EVENT_NAMES

    assert set(RATE_LINKS) == set(_rates({}))
    assert set(RATE_EVENTS) <= set(EVENT_NAMES)


def test_the_api_carries_the_rates_links(rated_history, nanshan_dispatcher, client):  # noqa: F811
    client.force_login(nanshan_dispatcher)
    window = {"start": DAY.isoformat(), "end": (DAY + timedelta(1)).isoformat()}
    body = client.get("/api/v1/analytics/summary", window).json()
    assert listed(client, body["links"]["closed_late"]) == numbers(rated_history, "late")
    rows = client.get("/api/v1/analytics/units", window).json()["rows"]
    assert any(listed(client, r["links"]["unsatisfied"]) == numbers(rated_history, "reopened") for r in rows)


def test_an_unknown_event_in_the_api_list_is_the_stable_error(nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    response = client.get("/api/v1/tickets/", {"event": "late"})
    assert response.status_code in (400, 422), response.status_code
    assert "tickets.event_unknown" in response.content.decode()
