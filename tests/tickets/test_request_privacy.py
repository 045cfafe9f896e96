"""A handler's requests (return, extension, suspension) are internal: the reporter learns nothing
of them, not even through the errors of the request endpoints (permission comes first)."""

from __future__ import annotations

import pytest

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets import services
from zhiwang.tickets.models import RequestStatus

from .test_api import post

URL = "/api/v1/tickets"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(fresh_cache):
    """Rate limits live in the cache."""


def test_asking_while_a_request_is_pending_is_refused_as_not_permitted(
    accepted, as_user, citizen, sub_handler
):
    ticket = accepted(reporter=citizen)
    services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待业主配合")
    api = as_user(citizen)
    assert api.get(f"{URL}/{ticket.number}").json()["requests"] == []
    answer = post(
        api, f"/{ticket.number}/requests", {"kind": "return", "reason": "x", "wrong_dispatch": True}
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "workflow.permission_denied"
    # the handler still hears why they cannot ask again
    with pytest.raises(ServiceError) as pending:
        services.ticket_request(
            ticket=ticket, kind="return", actor=sub_handler, reason="x", wrong_dispatch=True
        )
    assert pending.value.code == "tickets.request_pending"


def test_a_decided_request_is_not_there_for_the_reporter(
    accepted, as_user, citizen, sub_handler, nanshan_dispatcher
):
    ticket = accepted(reporter=citizen)
    request = services.ticket_request(
        ticket=ticket, kind="suspension", actor=sub_handler, reason="等待业主配合"
    )
    services.ticket_decide(request=request, approve=False, actor=nanshan_dispatcher, note="内部原因")
    answer = post(as_user(citizen), f"/{ticket.number}/requests/{request.pk}/decide", {"approve": True})
    assert answer.status_code == 404 and "驳回" not in answer.content.decode()


def test_deciding_is_checked_before_the_requests_state(accepted, sub_handler, nanshan_dispatcher):
    """The handler who asked may not decide, pending or decided: the refusal never says which."""
    ticket = accepted()
    request = services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待")
    with pytest.raises(PermissionDeniedError):
        services.ticket_decide(request=request, approve=True, actor=sub_handler)
    services.ticket_decide(request=request, approve=False, actor=nanshan_dispatcher, note="不予挂起")
    with pytest.raises(PermissionDeniedError):
        services.ticket_decide(request=request, approve=True, actor=sub_handler)
    request.refresh_from_db()
    assert request.status == RequestStatus.REFUSED


def test_the_handling_unit_may_not_unmask_a_whistle_blower(dispatched, sub_handler, nanshan_dispatcher):
    """A 举报 report may be about the very unit handling it: its reporter's phone stays with the
    centre (the dispatcher may still call back)."""
    report = dispatched(kind="report")
    with pytest.raises(PermissionDeniedError):
        services.ticket_reveal_contact(ticket=report, actor=sub_handler, reason="回电")
    assert services.ticket_reveal_contact(ticket=report, actor=nanshan_dispatcher, reason="回电")
    complaint = dispatched()
    assert services.ticket_reveal_contact(ticket=complaint, actor=sub_handler, reason="回电")


def test_a_deactivated_units_handler_acts_no_more(dispatched, sub_handler):
    from zhiwang.accounts.models import OrgUnit, User

    ticket = dispatched()
    OrgUnit.objects.filter(pk=sub_handler.org_unit_id).update(is_active=False)
    with pytest.raises(PermissionDeniedError):
        services.ticket_accept(ticket=ticket, actor=User.objects.get(pk=sub_handler.pk))
