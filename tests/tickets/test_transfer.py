"""Transfer to another procedure (移交, e.g. 转调解): the ticket closes here and points to where it went."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import last_event
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets import services
from zhiwang.tickets.models import Notification, OutboundMessage, RequestStatus, TicketRequest
from zhiwang.tickets.models import TicketStatus as S


def test_an_accepted_ticket_is_transferred_to_mediation_and_closes(
    accepted, nanshan_dispatcher, sub_handler, django_capture_on_commit_callbacks
):
    ticket = accepted(description="楼上漏水多次协商不成，双方争执不下，要求调解。")
    services.ticket_request(ticket=ticket, actor=sub_handler, kind="extension", reason="需协调", extra_days=3)
    before = ticket.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_transfer(
            ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-2026-0001"
        )
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED and ticket.closed_at and "TJ-2026-0001" in ticket.reply
    assert ticket.events.count() == before + 1
    event = last_event(ticket)
    assert (event.action, event.from_state, event.to_state) == ("transfer", S.ACCEPTED, S.CLOSED)
    assert event.payload == {"to": "调解", "reference": "TJ-2026-0001"}
    # The unit is told the ticket left; its pending request lapses; the citizen learns the new number.
    assert Notification.objects.filter(ticket=ticket, unit=sub_handler.org_unit, kind="transferred").exists()
    assert not TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).exists()
    assert "TJ-2026-0001" in OutboundMessage.objects.filter(ticket=ticket).latest("pk").body


def test_transfer_needs_target_and_reference_and_writes_nothing_without(make_ticket, hotline):
    ticket = make_ticket()
    before = ticket.events.count()
    for target, reference, field in (("", "TJ-1", "target"), ("调解", " ", "reference")):
        with pytest.raises(ServiceError) as caught:
            services.ticket_transfer(ticket=ticket, actor=hotline, target=target, reference=reference)
        assert caught.value.field == field
    ticket.refresh_from_db()
    assert ticket.status == S.PENDING_DISPATCH and ticket.events.count() == before


def test_only_staff_of_the_place_may_transfer_and_not_after_the_reply(
    accepted, luohu_dispatcher, sub_handler, nanshan_dispatcher
):
    ticket = accepted()
    with pytest.raises(PermissionDeniedError):
        services.ticket_transfer(ticket=ticket, actor=luohu_dispatcher, target="调解", reference="TJ-2")
    with pytest.raises(PermissionDeniedError):
        services.ticket_transfer(ticket=ticket, actor=sub_handler, target="调解", reference="TJ-2")
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已到现场协调，双方同意书面调解。")
    with pytest.raises(ServiceError) as caught:
        services.ticket_transfer(ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-2")
    assert caught.value.code.startswith("workflow.")


def test_the_default_answer_is_written_in_the_citys_language_whatever_the_actors(
    accepted, nanshan_dispatcher
):
    """The reply is what the citizen reads: an English-browsing dispatcher's transfer without a
    note still answers in the city's language (LANGUAGE_CODE, zh-hans here)."""
    from django.utils import translation

    ticket = accepted()
    with translation.override("en"):
        services.ticket_transfer(
            ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-2026-0002"
        )
    ticket.refresh_from_db()
    with translation.override("zh-hans"):
        from django.utils.translation import gettext

        expected = gettext("Transferred to %(target)s as %(reference)s.") % {
            "target": "调解",
            "reference": "TJ-2026-0002",
        }
    assert ticket.reply == expected and expected != "Transferred to 调解 as TJ-2026-0002."


def test_a_lapsed_request_says_why_in_the_citys_language(accepted, nanshan_dispatcher, sub_handler):
    """The unit reads why its pending request lapsed: an English-browsing dispatcher's transfer
    stores it in the city's language, as the answer itself."""
    from django.utils import translation

    ticket = accepted()
    services.ticket_request(ticket=ticket, actor=sub_handler, kind="extension", reason="需协调", extra_days=3)
    with translation.override("en"):
        services.ticket_transfer(
            ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-2026-0003"
        )
    lapsed = TicketRequest.objects.get(ticket=ticket)
    assert lapsed.status == RequestStatus.WITHDRAWN
    with translation.override("zh-hans"):
        expected = translation.gettext("Transferred to %(target)s as %(reference)s.") % {
            "target": "调解",
            "reference": "TJ-2026-0003",
        }
    assert lapsed.decision_note == expected


def test_a_request_lapsed_by_a_reassignment_says_why_in_the_citys_language(
    accepted, nanshan_dispatcher, sub_handler, handler
):
    from django.utils import translation

    ticket = accepted()
    services.ticket_request(ticket=ticket, actor=sub_handler, kind="extension", reason="需协调", extra_days=3)
    with translation.override("en"):
        services.ticket_reassign(
            ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher, note="城管职责"
        )
    with translation.override("zh-hans"):
        expected = translation.gettext("The ticket was reassigned.")
    assert expected != "The ticket was reassigned."
    assert TicketRequest.objects.get(ticket=ticket).decision_note == expected
