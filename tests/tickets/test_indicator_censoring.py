"""The response and on-time acceptance rates count a hand-over only once its outcome is settled.

Counted while its window (or accept deadline) was still open, an answered hand-over was a
success at once while its unanswered neighbour of the same moment was left out, so a rate
counted early read high (100 % for one answered of two) until the window closed: a censoring
bias, in the preliminary monthly figures and in any live count. Now a hand-over counts from the
moment its window closes (the response rate) or its accept deadline passes, its round ends or a
miss is marked (the acceptance rate), answered or not.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.tickets.conftest import MONDAY_10
from zhiwang.tickets import indicators, services
from zhiwang.tickets.services.clock import clock_sweep

pytestmark = pytest.mark.django_db

WINDOW = {"start": MONDAY_10 - timedelta(hours=1), "end": MONDAY_10 + timedelta(hours=1)}


def _counted(rates: dict) -> tuple:
    """(numerator, denominator) of the total; (0, 0) when nothing counted (the rate is undefined)."""
    rate = rates.get(None)
    return (rate.numerator, rate.denominator) if rate else (0, 0)


@pytest.fixture
def pair(frozen_now, dispatched, sub_handler):
    """Two hand-overs to one unit at Monday 10:00: the first signed for five minutes later, the
    second not (yet)."""
    answered, waiting = dispatched(), dispatched()
    frozen_now(MONDAY_10 + timedelta(minutes=5))
    services.ticket_accept(ticket=answered, actor=sub_handler)
    waiting.refresh_from_db()
    return answered, waiting


def test_response_rate_waits_for_the_window_of_every_hand_over(pair, city_leader):
    def response(as_of):
        return _counted(indicators.response_rate(user=city_leader, as_of=as_of, **WINDOW))

    # inside the 24-hour window: neither counts (before: 1 of 1, "100 %")
    assert response(MONDAY_10 + timedelta(hours=1)) == (0, 0)
    # the window closed: one of two responded
    assert response(MONDAY_10 + timedelta(hours=24)) == (1, 2)
    assert response(MONDAY_10 + timedelta(days=3)) == (1, 2)


def test_a_late_response_does_not_count_as_one(pair, frozen_now, sub_handler, city_leader):
    _answered, waiting = pair
    frozen_now(MONDAY_10 + timedelta(hours=30))
    services.ticket_accept(ticket=waiting, actor=sub_handler)
    rates = indicators.response_rate(user=city_leader, as_of=MONDAY_10 + timedelta(days=2), **WINDOW)
    assert _counted(rates) == (1, 2)


def test_on_time_acceptance_waits_for_the_accept_deadline(pair, frozen_now, city_leader):
    _answered, waiting = pair
    deadline = waiting.accept_due_at
    assert MONDAY_10 < deadline < MONDAY_10 + timedelta(days=1)

    def acceptance(as_of):
        return _counted(indicators.on_time_acceptance_rate(user=city_leader, as_of=as_of, **WINDOW))

    # before the deadline: neither counts (before: the signed one alone, "100 %")
    assert acceptance(deadline - timedelta(minutes=1)) == (0, 0)
    # past the deadline, before the sweep marked the miss: the one still waiting is a miss already
    assert acceptance(deadline + timedelta(minutes=1)) == (1, 2)
    # and after the sweep's "not accepted in time" row, the same
    frozen_now(deadline + timedelta(minutes=10))
    clock_sweep(now=deadline + timedelta(minutes=10))
    assert acceptance(deadline + timedelta(minutes=10)) == (1, 2)


def test_on_time_acceptance_defaults_to_now(pair, frozen_now, city_leader):
    _answered, waiting = pair
    assert _counted(indicators.on_time_acceptance_rate(user=city_leader, **WINDOW)) == (0, 0)
    frozen_now(waiting.accept_due_at + timedelta(minutes=1))
    assert _counted(indicators.on_time_acceptance_rate(user=city_leader, **WINDOW)) == (1, 2)


def test_a_round_ended_by_a_reassignment_is_settled(
    frozen_now, dispatched, sub_handler, nanshan_dispatcher, handler, city_leader
):
    """A reassignment ends the first unit's round: its outcome can no longer change, so it counts
    (signed for: on time; not signed for: neither) without waiting for a deadline it no longer has."""
    signed, unsigned = dispatched(), dispatched()
    frozen_now(MONDAY_10 + timedelta(minutes=5))
    services.ticket_accept(ticket=signed, actor=sub_handler)
    frozen_now(MONDAY_10 + timedelta(minutes=20))
    for ticket in (signed, unsigned):
        ticket.refresh_from_db()
        services.ticket_reassign(ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher, note="改派")
    as_of = MONDAY_10 + timedelta(minutes=30)  # every accept deadline still ahead
    by_unit = indicators.on_time_acceptance_rate(user=city_leader, as_of=as_of, by="unit", **WINDOW)
    assert {key: (r.numerator, r.denominator) for key, r in by_unit.items()} == {
        sub_handler.org_unit_id: (1, 1)
    }


def test_a_late_sign_for_stays_late_after_an_approved_return(
    frozen_now, dispatched, sub_handler, nanshan_dispatcher, city_leader
):
    """The approved return clears the ticket's accept deadline; the sign-for's row keeps that it
    was late (before, the rate read 0 of 1, then 1 of 1 once the return was approved)."""
    ticket = dispatched()
    deadline = ticket.accept_due_at
    frozen_now(deadline + timedelta(minutes=1))  # late, before any sweep marked it
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    as_of = deadline + timedelta(hours=1)
    before = _counted(indicators.on_time_acceptance_rate(user=city_leader, as_of=as_of, **WINDOW))
    assert before == (0, 1)
    ticket.refresh_from_db()
    request = services.ticket_request(
        ticket=ticket, kind="return", actor=sub_handler, reason="不属本单位", wrong_dispatch=True
    )
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    assert _counted(indicators.on_time_acceptance_rate(user=city_leader, as_of=as_of, **WINDOW)) == (0, 1)


def test_a_sign_for_in_time_is_recorded_on_time(frozen_now, dispatched, sub_handler):
    ticket = dispatched()
    frozen_now(ticket.accept_due_at - timedelta(minutes=1))
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    assert ticket.events.get(action="accept").payload == {"late": False}
