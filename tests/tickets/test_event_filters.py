"""The ticket list's ``event`` filters behind the parts of the dashboards' rates (issue 5): closures
on time and late, the ratings (rated, resolved, not resolved, each satisfaction value).

Each names the timeline rows the rollups count (``analytics.rollups.rules.event_deltas``, the
rebuild's SQL): a small history through the services shows which tickets each lists, and rows
written by hand show that the list's SQL, the rebuild's SQL and the pure rule pick the same rows on
this backend's JSON (a missing key compares as NULL). ``tests/analytics/test_click_through_rates.py``
compares the lists with the rollups' figures and follows the dashboard's links.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.models import TicketEvent

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
#: A week later: an inquiry received on Monday (2 working days) is past its deadline.
NEXT_MON = MON + timedelta(days=7)
REPLY = "已安排清运，现场已清理干净。"

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated_history(frozen_now, make_ticket, accepted, in_follow_up, hotline, nanshan_dispatcher, sub_handler):
    """Tickets received on Monday, each ending its story a week later (``NEXT_MON``):

    ``late``: an inquiry replied after its deadline, closed satisfied and resolved;
    ``on_time``: replied at once, closed basically satisfied, resolved;
    ``direct``: an inquiry answered directly by the hotline (on time, no follow-up);
    ``unreachable``: replied at once, the follow-up could not reach the reporter (closed, on time,
    not rated);
    ``reopened``: rated unsatisfied and not resolved at the follow-up, so reopened (still open);
    ``open``: dispatched, nothing else.
    """
    from zhiwang.tickets.services import (
        ticket_answer_directly,
        ticket_follow_up,
        ticket_reply,
        ticket_review,
    )

    frozen_now(MON)
    late = accepted(kind="inquiry")
    on_time, unreachable, reopened = in_follow_up(), in_follow_up(), in_follow_up()
    direct = make_ticket(kind="inquiry")
    opened = accepted()
    frozen_now(NEXT_MON)
    assert late.due_at < NEXT_MON
    ticket_reply(ticket=late, actor=sub_handler, reply=REPLY)
    ticket_review(ticket=late, actor=nanshan_dispatcher, approve=True)
    ticket_follow_up(ticket=late, actor=nanshan_dispatcher, resolved=True, satisfaction="satisfied")
    ticket_follow_up(
        ticket=on_time, actor=nanshan_dispatcher, resolved=True, satisfaction="basically_satisfied"
    )
    ticket_follow_up(ticket=unreachable, actor=nanshan_dispatcher, resolved=None, unreachable=True)
    ticket_follow_up(ticket=reopened, actor=nanshan_dispatcher, resolved=False, satisfaction="unsatisfied")
    ticket_answer_directly(ticket=direct, actor=hotline, reply="已电话解答。")
    tickets = {
        "late": late,
        "on_time": on_time,
        "direct": direct,
        "unreachable": unreachable,
        "reopened": reopened,
        "open": opened,
    }
    for ticket in tickets.values():
        ticket.refresh_from_db()
    assert late.replied_at > late.due_at and on_time.replied_at <= on_time.due_at
    assert reopened.events.filter(action="reopen").exists() and reopened.is_open
    return tickets


def listed(user, event: str, start: datetime = NEXT_MON, end: datetime | None = None, **filters) -> set[str]:
    """The numbers of the tickets the list gives ``user`` for ``event`` in ``[start, end)``."""
    end = end or start + timedelta(days=1)
    qs = selectors.ticket_list(
        user=user, filters={"event": event, "event_from": start, "event_to": end, **filters}
    )
    return set(qs.values_list("number", flat=True))


def numbers(history, *names) -> set[str]:
    return {history[name].number for name in names}


EXPECTED = {
    "closed": ("late", "on_time", "direct", "unreachable"),
    "closed_on_time": ("on_time", "direct", "unreachable"),
    "closed_late": ("late",),
    "follow_ups": ("late", "on_time", "unreachable", "reopened"),
    "rated": ("late", "on_time", "reopened"),
    "resolved": ("late", "on_time"),
    "unresolved": ("reopened",),
    "satisfied": ("late",),
    "basically_satisfied": ("on_time",),
    "unsatisfied": ("reopened",),
}


@pytest.mark.parametrize("event", list(EXPECTED))
def test_each_event_lists_the_tickets_whose_rows_count(event, rated_history, city_leader):
    assert listed(city_leader, event) == numbers(rated_history, *EXPECTED[event])
    # the window is the rows' day: nothing of these happened on Monday
    assert listed(city_leader, event, start=MON) == set()


def test_the_events_answer_within_the_viewers_jurisdiction(
    rated_history, luohu_dispatcher, nanshan_dispatcher, sub_handler
):
    assert listed(nanshan_dispatcher, "closed_late") == numbers(rated_history, "late")
    assert listed(luohu_dispatcher, "closed_late") == set()
    assert listed(luohu_dispatcher, "unsatisfied") == set()
    # per unit: the follow-up rows name the handling unit
    unit = sub_handler.org_unit.code
    assert listed(nanshan_dispatcher, "unsatisfied", event_unit=unit) == numbers(rated_history, "reopened")


def test_an_unknown_event_is_the_stable_error(city_leader):
    with pytest.raises(ServiceError) as caught:
        selectors.ticket_list(user=city_leader, filters={"event": "late_closures"})
    assert caught.value.code == "tickets.event_unknown" and caught.value.field == "event"
    for name in ("closed_late", "closed_on_time", "unsatisfied", "rated"):
        assert name in str(caught.value.message)


def test_the_list_page_names_every_event(client, city_leader):
    """The web list's choice offers every event the selector knows, each with its label."""
    from django.utils.translation import override

    from zhiwang.web.tickets.forms import EVENT_CHOICES

    assert EVENT_CHOICES[0][0] == ""
    assert [value for value, _label in EVENT_CHOICES[1:]] == list(selectors.EVENT_NAMES)
    client.force_login(city_leader)
    response = client.get("/tickets/", {"event": "closed_late", "event_from": "2026-11-30"})
    assert response.status_code == 200 and not response.context["form"].errors
    with override("en"):
        shown = dict(response.context["form"].active_filters())
    assert "Closed late" in str(next(v for k, v in shown.items() if "happened" in k.lower()))
    response = client.get("/tickets/", {"event": "late_closures"})
    assert response.context["form"].errors["event"]


# --- the three statements of the rules pick the same rows -----------------------------------------


#: Follow-up rows as written by the services and by hand: the flags the rules read, present,
#: false, JSON null and missing (a missing key is NULL in SQL on both backends).
PAYLOADS = [
    {"resolved": True, "satisfaction": "satisfied", "unreachable": False},
    {"resolved": False, "satisfaction": "unsatisfied", "unreachable": False},
    {"resolved": True, "satisfaction": "basically_satisfied"},  # no "unreachable" key (older rows)
    {"satisfaction": "unsatisfied"},  # no "resolved" either
    {"resolved": None, "satisfaction": "", "unreachable": True},  # the service's unreachable row
    {"resolved": True, "satisfaction": "unsatisfied", "unreachable": True},  # unreachable wins
    {"resolved": True, "satisfaction": "satisfied", "unreachable": None},
    {"resolved": True, "satisfaction": "other"},  # not a satisfaction value
    {"resolved": True},
    {},
]


def test_the_list_the_rebuild_and_the_rule_pick_the_same_rows(dispatched):
    """For every payload on a close and a reopen row (and on a reply row, which no rating counts),
    and for closures of a ticket replied late, on time, never (with a deadline) and of one
    without a deadline: ``rules.event_deltas``,
    the rebuild's flags and the list's conditions name the same rows."""
    from django.db.models import Q

    from zhiwang.analytics.rollups import rebuild, rules
    from zhiwang.tickets.models import Satisfaction, Ticket

    now = MON
    late, on_time, no_deadline, never_replied = dispatched(), dispatched(), dispatched(), dispatched()
    Ticket.objects.filter(pk=late.pk).update(replied_at=late.due_at + timedelta(hours=1))
    Ticket.objects.filter(pk=on_time.pk).update(replied_at=on_time.due_at)
    Ticket.objects.filter(pk=no_deadline.pk).update(due_at=None, replied_at=now)
    rows = [(late, action, payload) for action in ("close", "reopen", "reply") for payload in PAYLOADS]
    rows += [(t, "close", {}) for t in (late, on_time, no_deadline, never_replied)]
    rows += [(late, "answer_directly", {})]
    expected: dict[str, set[int]] = {name: set() for name in selectors.CONDITIONAL_EVENTS}
    for ticket, action, payload in rows:
        ticket.refresh_from_db()
        event = TicketEvent.objects.create(
            ticket=ticket, action=action, from_state=ticket.status, to_state=ticket.status, payload=payload
        )
        plus, _minus, _overdue = rules.event_deltas(action, payload, rules.TicketFacts.of(ticket), False)
        for name in expected:
            if name == "closed_late":
                counts = "closed" in plus and "closed_on_time" not in plus
            elif name == "unresolved":
                counts = "rated" in plus and "resolved" not in plus
            else:
                counts = name in plus
            if counts:
                expected[name].add(event.pk)
    mine = TicketEvent.objects.filter(ticket__in=[late, on_time, no_deadline, never_replied])
    assert expected["rated"] and expected["closed_late"] and expected["closed_on_time"]
    for name, actions in selectors.CONDITIONAL_EVENTS.items():
        found = set(
            mine.filter(selectors._event_condition(name), action__in=actions).values_list("pk", flat=True)
        )
        assert found == expected[name], name
    # the rebuild's own flags, the same rows
    flags = dict.fromkeys(("closed_on_time", "rated", "resolved", *Satisfaction.values))
    rebuilt = rebuild._event_rows(mine.order_by("-pk").values_list("pk", flat=True).first())
    by_pk = {}
    for row in rebuilt.filter(Q(ticket__in=[late, on_time, no_deadline, never_replied])).values("pk", *flags):
        by_pk[row["pk"]] = row
    for name in flags:
        assert {pk for pk, row in by_pk.items() if row[name]} == expected[name], name
