"""The one-stop window: register once, queue at a function area, route, open a case; converting tickets."""

from __future__ import annotations

import pytest

from tests.disputes.conftest import APPLICANT_ID, parties
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.disputes.models import CaseStatus, DisputeCase, Visit, Visitor, VisitStatus
from zhiwang.disputes.selectors import area_queues
from zhiwang.disputes.services import (
    case_from_ticket,
    case_register,
    visit_call,
    visit_complete,
    visit_register,
    visit_route,
)

pytestmark = pytest.mark.django_db


def register(world, **overrides):
    data = {
        "actor": world.window,
        "centre": world.centre,
        "area_code": "peoples_mediation",
        "matter": "与邻居因噪音问题发生纠纷，希望调解。",
        "visitor_name": "张三丰",
        "visitor_id_number": APPLICANT_ID,
        "visitor_phone": "13800138001",
        "idempotency_key": "tok-1",
    }
    data.update(overrides)
    return visit_register(**data)


def test_a_visitor_is_registered_once_and_queued(world):
    first = register(world)
    again = register(world, idempotency_key="tok-2", area_code="legal_aid", visitor_phone="13700137000")
    assert first.created and again.created
    assert first.visit.visitor_id == again.visit.visitor_id  # found again by the keyed hash
    # the phone is on the visit it was given at (the visitor row keeps no contact details)
    assert again.visit.visitor_phone == "13700137000" and first.visit.visitor_phone != "13700137000"
    assert Visitor.objects.filter(pk=first.visit.visitor_id).get().phone == ""
    queues = {q["area"].code: q for q in area_queues(user=world.window, centre=world.centre)}
    assert [v.number for v in queues["peoples_mediation"]["visits"]] == [first.visit.number]
    assert queues["legal_aid"]["waiting"] == 1
    assert len(queues) == 8


def test_registration_is_idempotent(world):
    first = register(world)
    retry = register(world)  # other content: tests/disputes/test_review_fixes_disputes.py
    assert not retry.created and retry.visit.pk == first.visit.pk
    assert Visit.objects.count() == 1


def test_bad_input_names_each_field_and_writes_nothing(world):
    with pytest.raises(ServiceError) as caught:
        register(
            world, visitor_name="", matter="", visitor_id_number="123", visitor_phone="abc", area_code="x"
        )
    fields = {f.field for f in caught.value.fields}
    assert fields == {"visitor_name", "matter", "visitor_id_number", "visitor_phone", "area"}
    assert not Visit.objects.exists() and not Visitor.objects.exists()


def test_only_the_centres_operators_register(world):
    with pytest.raises(PermissionDeniedError):
        register(world, actor=world.lh_window)
    with pytest.raises(PermissionDeniedError):
        register(world, actor=world.mediator)


def test_call_route_complete(world):
    visit = register(world).visit
    visit_call(visit=visit, actor=world.window)
    assert visit.status == VisitStatus.SERVING
    visit_route(visit=visit, actor=world.window, area_code="legal_aid")
    assert visit.status == VisitStatus.WAITING and visit.area.code == "legal_aid"
    with pytest.raises(PermissionDeniedError):
        visit_complete(visit=visit, actor=world.lh_window, note="x")
    visit_complete(visit=visit, actor=world.window, note="已提供法律咨询")
    assert visit.status == VisitStatus.DONE
    assert [e.action for e in visit.events.order_by("pk")] == ["register", "call", "route", "complete"]


def test_opening_a_case_from_a_visit(world):
    visit = register(world).visit
    case = case_register(
        actor=world.window,
        title="",
        facts=visit.matter,
        category="neighbours",
        division=None,
        parties=parties(),
        visit=visit,
        source="window",
    ).case
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CASE_OPENED
    assert case.centre == world.centre and case.division == world.sub and case.visit == visit
    with pytest.raises(ServiceError):  # a visit opens one case
        case_register(
            actor=world.window,
            title="",
            facts="again",
            category="neighbours",
            division=None,
            parties=parties(),
            visit=visit,
        )


def test_ticket_becomes_a_case_with_its_history_linked(world, hotline, nanshan_building):
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居长期占用楼道堆放杂物，多次沟通无果。",
        address_code=nanshan_building.code,
        reporter_name="林晓",
        reporter_phone="13800138000",
        external_id="conv-1",
        actor=hotline,
    ).ticket
    result = case_from_ticket(
        actor=hotline,
        ticket_number=ticket.number,
        category="neighbours",
        parties=parties(),
        idempotency_key="conv-1",
    )
    case = result.case
    assert result.created and case.source == "ticket" and case.ticket == ticket
    assert case.division == ticket.division and case.status == CaseStatus.RECEIVED
    note = case.events.get(action="note")
    assert note.payload["ticket"] == ticket.number and note.payload["ticket_history"]
    # The ticket leaves the ticket loop: closed by a transfer that says where it went.
    ticket.refresh_from_db()
    transfer = ticket.events.get(action="transfer")
    assert ticket.status == "closed" and transfer.payload["reference"] == case.number
    assert note.payload["ticket_transferred"] is True
    again = case_from_ticket(
        actor=hotline,
        ticket_number=ticket.number,
        category="neighbours",
        parties=parties(),
        idempotency_key="conv-1",
    )
    assert not again.created and again.case.pk == case.pk
    with pytest.raises(ServiceError) as caught:
        case_from_ticket(actor=hotline, ticket_number=ticket.number, category="neighbours", parties=parties())
    assert caught.value.code == "disputes.ticket_already_converted"


def test_a_ticket_outside_the_jurisdiction_is_not_found(world, hotline, nanshan_building):
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻里之间因楼道杂物发生纠纷。",
        address_code=nanshan_building.code,
        external_id="conv-2",
        actor=hotline,
    ).ticket
    with pytest.raises(NotFound):
        case_from_ticket(
            actor=world.lh_dispatcher, ticket_number=ticket.number, category="neighbours", parties=parties()
        )
    assert not DisputeCase.objects.filter(ticket=ticket).exists()
