"""``POST /api/v1/tickets/bulk-dispatch`` checks the tickets before it reads the unit.

Permission before input (``services.transition.permitted_now``, ``scope_checks``): a caller who
may dispatch none of the tickets — a handler, the 12345 operator, a citizen, another district's
dispatcher — gets each ticket's own refusal, whatever unit code they send: an active unit, a code
that is none, nothing. Only once a ticket passed is the unit looked up.

Personas: the Nanshan dispatcher (may dispatch), the handler of the first Nanshan subdistrict office
and the 12345 operator (see the tickets, may not dispatch), the Luohu dispatcher (sees none),
the citizen who reported the ticket.
"""

from __future__ import annotations

import pytest

from zhiwang.tickets.api import actions as api_actions
from zhiwang.tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"
#: An active unit of another district, a code that is no unit, none at all.
UNIT_CODES = ("DEMO-GOV-440303", "NO-SUCH-UNIT", None)


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The API's rate limits live in the cache."""


def bulk(client, numbers, unit=None):
    body = {"numbers": numbers, **({"unit": unit} if unit is not None else {})}
    return client.post(f"{URL}/bulk-dispatch", body, content_type="application/json")


@pytest.fixture
def unit_never_read(monkeypatch):
    """Fail the test if the handler looks the unit up."""

    def refuse(*args, **kwargs):
        raise AssertionError("the unit was looked up before any ticket passed")

    monkeypatch.setattr(api_actions, "active_unit_by_code", refuse)


def answers_for_every_unit(client, numbers) -> list:
    """The answers (status, body) to the same tickets with each of ``UNIT_CODES``."""
    return [(r.status_code, r.json()) for r in (bulk(client, numbers, unit) for unit in UNIT_CODES)]


def test_a_handler_is_refused_per_ticket_whatever_the_unit(
    as_user, make_ticket, sub_handler, unit_never_read
):
    ticket = make_ticket()
    answers = answers_for_every_unit(as_user(sub_handler), [ticket.number])
    assert answers[0] == answers[1] == answers[2]  # nothing tells the codes apart
    status, [result] = answers[0]
    assert status == 200 and result["ok"] is False
    assert result["error"]["code"] == "workflow.permission_denied"
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.PENDING_DISPATCH


def test_the_operator_and_the_reporting_citizen_learn_nothing_about_units(
    as_user, make_ticket, hotline, citizen, unit_never_read
):
    ticket = make_ticket(reporter=citizen)
    for user in (hotline, citizen):
        answers = answers_for_every_unit(as_user(user), [ticket.number])
        assert answers[0] == answers[1] == answers[2]
        assert answers[0][1][0]["error"]["code"] == "workflow.permission_denied"


def test_another_districts_dispatcher_gets_not_found_whatever_the_unit(
    as_user, make_ticket, luohu_dispatcher, unit_never_read
):
    ticket = make_ticket()
    answers = answers_for_every_unit(as_user(luohu_dispatcher), [ticket.number, "ZW00000000000000"])
    assert answers[0] == answers[1] == answers[2]
    assert [r["error"]["code"] for r in answers[0][1]] == ["not_found", "not_found"]


def test_a_ticket_no_longer_pending_does_not_open_the_unit_look_up(
    as_user, dispatched, sub_handler, unit_never_read
):
    """Its state takes no dispatch: refused for that (as a single dispatch would be), the unit unread."""
    ticket = dispatched()
    answers = answers_for_every_unit(as_user(sub_handler), [ticket.number])
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1][0]["error"]["code"] == "workflow.illegal_transition"


def test_a_dispatcher_who_may_dispatch_hears_about_an_unknown_unit(as_user, make_ticket, nanshan_dispatcher):
    ticket = make_ticket()
    answer = bulk(as_user(nanshan_dispatcher), [ticket.number], "NO-SUCH-UNIT")
    assert answer.status_code == 400
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        "tickets.unit_unknown",
        "unit",
    )
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.PENDING_DISPATCH


def test_results_keep_the_order_of_the_numbers(
    as_user, make_ticket, dispatched, luohu_building, nanshan_dispatcher
):
    pending, elsewhere, done = make_ticket(), make_ticket(address_code=luohu_building.code), dispatched()
    numbers = [elsewhere.number, pending.number, done.number, pending.number]
    results = bulk(as_user(nanshan_dispatcher), numbers).json()
    assert [r["number"] for r in results] == numbers
    assert [r["ok"] for r in results] == [False, True, False, False]
    assert [r["error"]["code"] if r["error"] else None for r in results] == [
        "not_found",
        None,
        "workflow.illegal_transition",
        "workflow.illegal_transition",  # named twice: the second finds it dispatched
    ]
    assert Ticket.objects.get(pk=pending.pk).handling_unit.code == "DEMO-SUB-OFFICE"
