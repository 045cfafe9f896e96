"""Regressions from the review of the ticket clock, escalation and indicators.

- a resumed suspension does not report a ticket overdue a second time;
- a transfer (移交) is not the unit's on-time closure and invents no ``replied_at``;
- the escalation level does not follow the ticket to the next unit after an approved return;
- a duplicate merged (or a ticket transferred) before the unit could respond is out of the
  response rate;
- manual urge and supervision treat "overdue" strictly (``now > due_at``), like the sweep.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.tickets.conftest import MONDAY_10
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import indicators, services
from zhiwang.tickets.models import ClockAlert, Notification, Ticket, TicketEvent
from zhiwang.tickets.services.clock import URGED, clock_sweep

pytestmark = pytest.mark.django_db


def _denominator(rates: dict) -> int:
    rate = rates.get(None)
    return rate.denominator if rate else 0


def _overdue_rows(ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket, action="warn", payload__kind="overdue").count()


def _suspend(ticket, sub_handler, dispatcher):
    request = services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待鉴定")
    services.ticket_decide(request=request, approve=True, actor=dispatcher)
    ticket.refresh_from_db()
    return ticket


# --- 1. overdue once across a resume -------------------------------------------------------------


def test_overdue_is_not_reported_again_after_a_resume(frozen_now, accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    t1 = frozen_now(ticket.due_at + timedelta(minutes=30))
    assert clock_sweep(now=t1).overdue == 1
    notices = Notification.objects.filter(ticket=ticket, kind="overdue").count()
    _suspend(ticket, sub_handler, nanshan_dispatcher)
    t2 = frozen_now(t1 + timedelta(days=2))
    services.ticket_resume(ticket=ticket, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.due_at < t2  # still overdue by the same working time
    first = clock_sweep(now=t2 + timedelta(minutes=5))
    again = clock_sweep(now=t2 + timedelta(minutes=10))
    assert (first.overdue, again.overdue) == (0, 0)
    assert _overdue_rows(ticket) == 1
    assert Notification.objects.filter(ticket=ticket, kind="overdue").count() == notices
    # the threshold stays done for the shifted deadline
    assert ClockAlert.objects.filter(ticket=ticket, kind="overdue", deadline=ticket.due_at).exists()


def test_a_ticket_suspended_before_its_deadline_is_reported_overdue_after_the_resume(
    frozen_now, accepted, sub_handler, nanshan_dispatcher
):
    ticket = accepted()
    _suspend(ticket, sub_handler, nanshan_dispatcher)
    frozen_now(MONDAY_10 + timedelta(days=1))
    services.ticket_resume(ticket=ticket, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert clock_sweep(now=ticket.due_at + timedelta(minutes=5)).overdue == 1
    assert clock_sweep(now=ticket.due_at + timedelta(minutes=10)).overdue == 0
    assert _overdue_rows(ticket) == 1


# --- 2. a transfer is not the unit's closure ----------------------------------------------------


def test_transfer_is_not_an_on_time_closure(frozen_now, accepted, nanshan_dispatcher, city_leader):
    ticket = accepted()
    frozen_now(MONDAY_10 + timedelta(hours=1))
    services.ticket_transfer(ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-1")
    ticket.refresh_from_db()
    assert ticket.replied_at is None and ticket.closed_at is not None and "TJ-1" in ticket.reply
    start, end = ticket.due_at - timedelta(days=1), ticket.due_at + timedelta(days=1)
    rates = indicators.on_time_closure_rate(user=city_leader, start=start, end=end, as_of=end)
    assert _denominator(rates) == 0


def test_a_transfer_recorded_with_replied_at_is_still_left_out(
    frozen_now, accepted, nanshan_dispatcher, city_leader
):
    """Transfers made before this rule carry an invented ``replied_at``; they stay out all the same."""
    ticket = accepted()
    frozen_now(MONDAY_10 + timedelta(hours=1))
    services.ticket_transfer(ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-2")
    Ticket.objects.filter(pk=ticket.pk).update(replied_at=MONDAY_10 + timedelta(hours=1))
    ticket.refresh_from_db()
    start, end = ticket.due_at - timedelta(days=1), ticket.due_at + timedelta(days=1)
    assert (
        _denominator(indicators.on_time_closure_rate(user=city_leader, start=start, end=end, as_of=end)) == 0
    )


# --- 3. escalation level per unit ---------------------------------------------------------------


def test_escalation_level_does_not_follow_the_ticket_to_the_next_unit(
    frozen_now, accepted, sub_handler, nanshan_dispatcher
):
    ticket = accepted()
    clock_sweep(now=ticket.due_at + timedelta(days=1, hours=16))
    ticket.refresh_from_db()
    clock_sweep(now=ticket.supervise_at + timedelta(minutes=1))
    ticket.refresh_from_db()
    assert ticket.escalation_level == 2
    frozen_now(ticket.supervise_at + timedelta(hours=16))
    request = services.ticket_request(
        ticket=ticket, kind="return", actor=sub_handler, reason="非本单位职责", wrong_dispatch=True
    )
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.escalation_level == 0
    other = OrgUnit.objects.get(code="DEMO-NS-URBAN")
    services.ticket_dispatch(ticket=ticket, unit=other, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    clock_sweep(now=ticket.due_at + timedelta(days=1, hours=16))
    ticket.refresh_from_db()
    clock_sweep(now=ticket.supervise_at + timedelta(minutes=1))
    last = TicketEvent.objects.filter(ticket=ticket, action="supervise").order_by("-pk").first()
    assert last.unit_id == other.pk and last.payload["level"] == 2


def test_dispatch_starts_unescalated(make_ticket, nanshan_dispatcher, sub_handler):
    """A ticket left escalated by an older return (before this rule) starts at 0 with its new unit."""
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(escalation_level=3)
    ticket.refresh_from_db()
    services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.escalation_level == 0


def test_reopening_with_the_same_unit_keeps_the_escalation_level(in_follow_up, hotline):
    ticket = in_follow_up()
    Ticket.objects.filter(pk=ticket.pk).update(escalation_level=2)
    ticket.refresh_from_db()
    services.ticket_follow_up(ticket=ticket, actor=hotline, resolved=False, satisfaction="unsatisfied")
    ticket.refresh_from_db()
    assert ticket.status == "dispatched" and ticket.escalation_level == 2


# --- 4. withdrawn hand-overs and the response rate ---------------------------------------------


def _response(user, as_of):
    return indicators.response_rate(
        user=user, start=MONDAY_10 - timedelta(hours=1), end=MONDAY_10 + timedelta(hours=1), as_of=as_of
    )


def test_a_duplicate_merged_before_a_response_is_out_of_the_response_rate(
    frozen_now, dispatched, nanshan_dispatcher, sub_handler, city_leader
):
    master, dup = dispatched(), dispatched()
    frozen_now(MONDAY_10 + timedelta(minutes=10))
    services.ticket_merge(ticket=dup, master=master, actor=nanshan_dispatcher)
    services.ticket_accept(ticket=master, actor=sub_handler)
    rate = _response(city_leader, MONDAY_10 + timedelta(days=3))[None]
    assert (rate.numerator, rate.denominator) == (1, 1)


def test_a_ticket_transferred_before_a_response_is_out_of_the_response_rate(
    frozen_now, dispatched, nanshan_dispatcher, city_leader
):
    ticket = dispatched()
    frozen_now(MONDAY_10 + timedelta(hours=2))
    services.ticket_transfer(ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-3")
    assert _denominator(_response(city_leader, MONDAY_10 + timedelta(days=3))) == 0


def test_a_merge_after_the_missed_window_does_not_erase_the_miss(
    frozen_now, dispatched, nanshan_dispatcher, sub_handler, city_leader
):
    master, dup = dispatched(), dispatched()
    services.ticket_accept(ticket=master, actor=sub_handler)
    frozen_now(MONDAY_10 + timedelta(days=2))
    services.ticket_merge(ticket=dup, master=master, actor=nanshan_dispatcher)
    rate = _response(city_leader, MONDAY_10 + timedelta(days=3))[None]
    assert (rate.numerator, rate.denominator) == (1, 2)


def test_a_duplicate_merged_before_the_accept_deadline_is_out_of_on_time_acceptance(
    frozen_now, dispatched, nanshan_dispatcher, sub_handler, city_leader
):
    master, dup = dispatched(), dispatched()
    frozen_now(MONDAY_10 + timedelta(minutes=10))
    services.ticket_merge(ticket=dup, master=master, actor=nanshan_dispatcher)
    services.ticket_accept(ticket=master, actor=sub_handler)
    clock_sweep(now=MONDAY_10 + timedelta(days=1))
    rates = indicators.on_time_acceptance_rate(
        user=city_leader,
        start=MONDAY_10 - timedelta(hours=1),
        end=MONDAY_10 + timedelta(hours=1),
        as_of=MONDAY_10 + timedelta(days=1),  # the accept deadline has passed
    )
    assert (rates[None].numerator, rates[None].denominator) == (1, 1)


# --- 5. strictly overdue for the manual steps ----------------------------------------------------


def test_manual_supervision_at_the_exact_deadline_is_refused(frozen_now, accepted, nanshan_dispatcher):
    ticket = accepted()
    frozen_now(ticket.due_at)
    with pytest.raises(ServiceError) as caught:
        services.ticket_supervise(
            ticket_id=ticket.pk, actor=nanshan_dispatcher, note="督办", now=ticket.due_at
        )
    assert caught.value.code == "tickets.not_overdue"
    after = ticket.due_at + timedelta(seconds=1)
    frozen_now(after)
    services.ticket_supervise(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="督办", now=after)


def test_manual_urge_at_the_exact_deadline_does_not_start_the_supervision_countdown(
    frozen_now, accepted, nanshan_dispatcher
):
    ticket = accepted()
    frozen_now(ticket.due_at)
    services.ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher, now=ticket.due_at)
    ticket.refresh_from_db()
    assert ticket.clock_stage < URGED and ticket.supervise_at is None and ticket.escalation_level == 1
