"""The rows behind a list's ``event`` filter (``selectors.ticket_list_event_rows``): the list shows
each ticket once, the dashboards count each row, so the list says how many rows its tickets have
in the window: the rows ``_event_rows`` names, of the tickets the list shows (the viewer's scope
and the list's other filters), and no other."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.models import TicketEvent

pytestmark = pytest.mark.django_db

UNSATISFIED = {"satisfaction": "unsatisfied", "resolved": False}


def row(ticket, at, action="reopen", payload=UNSATISFIED, unit=None) -> TicketEvent:
    """A follow-up row written as the service writes it (rows are appended, never edited)."""
    return TicketEvent.objects.create(
        ticket=ticket,
        action=action,
        from_state=ticket.status,
        to_state=ticket.status,
        payload=payload,
        at=at,
        unit=unit,
    )


@pytest.fixture
def window():
    """A whole local day three days ago, as the web list's dates name it: ``[midnight, midnight)``."""
    day = timezone.localdate() - timedelta(days=3)
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


@pytest.fixture
def rated_twice(make_ticket, luohu_building, window, sub_handler):
    """Nanshan's ``twice`` rated unsatisfied twice in the window; ``once`` once in it and once the
    day before; Luohu's ``elsewhere`` once in it; ``twice`` also rated satisfied (another event)."""
    start, _end = window
    twice, once = make_ticket(), make_ticket()
    elsewhere = make_ticket(address_code=luohu_building.code)
    row(twice, start + timedelta(hours=1), unit=sub_handler.org_unit)
    row(twice, start + timedelta(hours=5))
    row(twice, start + timedelta(hours=6), action="close", payload={"satisfaction": "satisfied"})
    row(once, start + timedelta(hours=2))
    row(once, start - timedelta(hours=1))  # the day before: outside the window
    row(elsewhere, start + timedelta(hours=3))
    return {"twice": twice, "once": once, "elsewhere": elsewhere}


def counted(user, window, **filters) -> tuple[set[str], int]:
    start, end = window
    filters = {"event": "unsatisfied", "event_from": start, "event_to": end, **filters}
    tickets = selectors.ticket_list(user=user, filters=filters)
    rows = selectors.ticket_list_event_rows(user=user, filters=filters, tickets=tickets)
    return set(tickets.values_list("number", flat=True)), rows.count()


def test_the_rows_of_the_listed_tickets_in_the_window(rated_twice, window, nanshan_dispatcher, city_leader):
    twice, once, elsewhere = rated_twice["twice"], rated_twice["once"], rated_twice["elsewhere"]
    # a ticket rated twice is listed once and counted twice; Luohu's row is outside Nanshan's sight
    assert counted(nanshan_dispatcher, window) == ({twice.number, once.number}, 3)
    # the city sees all three districts' rows
    assert counted(city_leader, window) == ({twice.number, once.number, elsewhere.number}, 4)


def test_the_rows_follow_the_list_s_other_filters(rated_twice, window, nanshan_dispatcher, sub_handler):
    twice = rated_twice["twice"]
    # the list narrowed to one ticket: only its rows
    assert counted(nanshan_dispatcher, window, q=twice.number) == ({twice.number}, 2)
    # at a unit: the rows naming that unit
    assert counted(nanshan_dispatcher, window, event_unit=sub_handler.org_unit.code) == ({twice.number}, 1)


def test_computed_from_the_filters_alone_and_none_without_an_event(rated_twice, window, nanshan_dispatcher):
    start, end = window
    # without the list's queryset it lists them itself; a plain date is the city's local midnight
    filters = {"event": "unsatisfied", "event_from": start, "event_to": end}
    assert selectors.ticket_list_event_rows(user=nanshan_dispatcher, filters=filters).count() == 3
    naive = {
        "event": "unsatisfied",
        "event_from": timezone.make_naive(start),
        "event_to": timezone.make_naive(end),
    }
    assert selectors.ticket_list_event_rows(user=nanshan_dispatcher, filters=naive).count() == 3
    assert selectors.ticket_list_event_rows(user=nanshan_dispatcher, filters={"kind": "complaint"}) is None


def test_an_unknown_unit_is_the_list_s_error(rated_twice, window, luohu_dispatcher):
    start, end = window
    filters = {"event": "unsatisfied", "event_from": start, "event_to": end, "event_unit": "NO-SUCH-UNIT"}
    with pytest.raises(ServiceError) as caught:
        selectors.ticket_list_event_rows(user=luohu_dispatcher, filters=filters)
    assert caught.value.code == "tickets.unit_unknown" and caught.value.field == "event_unit"
