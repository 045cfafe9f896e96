"""Every workflow action and side path of DOMAIN.md: effect, permission, illegal transitions, one timeline row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.tickets.conftest import MONDAY_10, RUBBISH, SANITATION, last_event
from zhiwang.accounts.models import User
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets import services
from zhiwang.tickets.models import (
    Category,
    Notification,
    OutboundMessage,
    RequestStatus,
    Ticket,
    TicketEvent,
    TicketRequest,
    TicketStatus,
)

pytestmark = pytest.mark.django_db
S = TicketStatus


def _one_new_event(ticket, before: int, *, action, actor, from_state, to_state):
    """Exactly one timeline row was appended, and it says who did what from which state to which."""
    assert ticket.events.count() == before + 1
    event = last_event(ticket)
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        action,
        actor,
        from_state,
        to_state,
    )
    return event


# --- dispatch ------------------------------------------------------------------------


def test_dispatch_starts_both_clocks_and_tells_the_unit(
    frozen_now, make_ticket, nanshan_dispatcher, sub_handler
):
    ticket = make_ticket()
    before = ticket.events.count()
    services.ticket_dispatch(
        ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher, note="请尽快处理"
    )
    ticket.refresh_from_db()
    assert ticket.status == S.DISPATCHED and ticket.version == 2
    assert ticket.handling_unit == sub_handler.org_unit
    assert ticket.dispatched_at == MONDAY_10
    assert ticket.accept_due_at == MONDAY_10.replace(hour=12)  # two working hours to sign for it
    assert ticket.due_at == due(start=MONDAY_10, amount=15, unit="working_days")
    event = _one_new_event(
        ticket,
        before,
        action="dispatch",
        actor=nanshan_dispatcher,
        from_state=S.PENDING_DISPATCH,
        to_state=S.DISPATCHED,
    )
    assert event.note == "请尽快处理"
    assert event.unit == sub_handler.org_unit
    assert event.payload["as_suggested"] is True
    assert Notification.objects.filter(unit=sub_handler.org_unit, ticket=ticket, kind="dispatched").exists()


def test_dispatch_needs_an_active_unit(make_ticket, nanshan_dispatcher):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(suggested_unit=None)
    ticket.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        services.ticket_dispatch(ticket=ticket, unit=None, actor=nanshan_dispatcher)
    assert (caught.value.code, caught.value.field) == ("tickets.unit_required", "unit")


@pytest.mark.parametrize("persona", ["luohu_dispatcher", "citizen", "handler", "grid_worker", "city_leader"])
def test_only_a_dispatcher_of_the_place_dispatches(request, make_ticket, sub_handler, persona):
    ticket = make_ticket()
    actor = request.getfixturevalue(persona)
    with pytest.raises(PermissionDeniedError) as caught:
        services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=actor)
    assert caught.value.code == "workflow.permission_denied"
    ticket.refresh_from_db()
    assert ticket.status == S.PENDING_DISPATCH and ticket.events.count() == 1


def test_a_subdistrict_dispatcher_dispatches_in_the_subdistrict(
    make_ticket, subdistrict_dispatcher, sub_handler
):
    ticket = services.ticket_dispatch(
        ticket=make_ticket(), unit=sub_handler.org_unit, actor=subdistrict_dispatcher
    )
    assert ticket.status == S.DISPATCHED


def test_an_inactive_user_may_not_act(make_ticket, nanshan_dispatcher, sub_handler):
    nanshan_dispatcher.is_active = False
    with pytest.raises(PermissionDeniedError):
        services.ticket_dispatch(ticket=make_ticket(), unit=sub_handler.org_unit, actor=nanshan_dispatcher)


# --- illegal transitions ---------------------------------------------------------------


def _accept(t, who):
    return services.ticket_accept(ticket=t, actor=who["sub_handler"])


def _reply(t, who):
    return services.ticket_reply(ticket=t, actor=who["sub_handler"], reply="好了")


def _dispatch(t, who):
    return services.ticket_dispatch(
        ticket=t, unit=who["sub_handler"].org_unit, actor=who["nanshan_dispatcher"]
    )


def _follow(t, who):
    return services.ticket_follow_up(
        ticket=t, actor=who["nanshan_dispatcher"], resolved=True, satisfaction="satisfied"
    )


def _reject(t, who):
    return services.ticket_reject(ticket=t, actor=who["nanshan_dispatcher"], reason="不属于受理范围")


def _review(t, who):
    return services.ticket_review(ticket=t, actor=who["nanshan_dispatcher"], approve=True)


def _suspend(t, who):
    return services.ticket_request(ticket=t, kind="suspension", actor=who["sub_handler"], reason="等待鉴定")


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        ("make_ticket", _accept),
        ("make_ticket", _reply),
        ("make_ticket", _review),
        ("make_ticket", _follow),
        ("dispatched", _dispatch),
        ("dispatched", _reply),
        ("dispatched", _reject),
        ("dispatched", _suspend),
        ("accepted", _accept),
        ("accepted", _follow),
        ("in_follow_up", _reply),
        ("in_follow_up", _dispatch),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_code(
    request, nanshan_dispatcher, sub_handler, stage, action
):
    ticket = request.getfixturevalue(stage)()
    who = {"nanshan_dispatcher": nanshan_dispatcher, "sub_handler": sub_handler}
    state, count = ticket.status, ticket.events.count()
    with pytest.raises(ServiceError) as caught:
        action(ticket, who)
    assert caught.value.code == "workflow.illegal_transition"
    assert str(S(state).label) in caught.value.message
    ticket.refresh_from_db()
    assert ticket.status == state and ticket.events.count() == count


def test_a_final_ticket_takes_no_more_actions(in_follow_up, nanshan_dispatcher, hotline):
    ticket = services.ticket_follow_up(
        ticket=in_follow_up(), actor=hotline, resolved=True, satisfaction="satisfied"
    )
    with pytest.raises(ServiceError) as caught:
        services.ticket_note(ticket=ticket, actor=nanshan_dispatcher, note="还有事")
    assert caught.value.code == "workflow.illegal_transition"


# --- accept ------------------------------------------------------------------------------


def test_the_unit_accepts(frozen_now, dispatched, sub_handler):
    ticket = dispatched()
    before = ticket.events.count()
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    assert ticket.status == S.ACCEPTED and ticket.accepted_at == MONDAY_10
    _one_new_event(
        ticket, before, action="accept", actor=sub_handler, from_state=S.DISPATCHED, to_state=S.ACCEPTED
    )


@pytest.mark.parametrize("persona", ["handler", "citizen", "nanshan_dispatcher"])
def test_nobody_else_accepts_or_replies(request, dispatched, sub_handler, persona):
    ticket = dispatched()
    actor = request.getfixturevalue(persona)
    with pytest.raises(PermissionDeniedError):
        services.ticket_accept(ticket=ticket, actor=actor)
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    with pytest.raises(PermissionDeniedError):
        services.ticket_reply(ticket=ticket, actor=actor, reply="不是我的单")


# --- reassign ------------------------------------------------------------------------------


def test_reassign_moves_the_ticket_but_not_the_citizens_deadline(
    frozen_now, accepted, nanshan_dispatcher, handler, sub_handler
):
    ticket = accepted()
    due_at, before = ticket.due_at, ticket.events.count()
    frozen_now(MONDAY_10 + timedelta(hours=1))
    services.ticket_reassign(
        ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher, note="属城管职责"
    )
    ticket.refresh_from_db()
    assert ticket.status == S.DISPATCHED and ticket.handling_unit == handler.org_unit
    assert ticket.accepted_at is None and ticket.due_at == due_at
    assert ticket.accept_due_at == MONDAY_10.replace(hour=15)  # 11:00 + 2 working hours, lunch skipped
    event = _one_new_event(
        ticket,
        before,
        action="reassign",
        actor=nanshan_dispatcher,
        from_state=S.ACCEPTED,
        to_state=S.DISPATCHED,
    )
    assert event.payload["from_unit_id"] == sub_handler.org_unit_id
    assert event.payload["wrong_dispatch"] is True


def test_reassign_needs_a_reason_and_another_unit(dispatched, nanshan_dispatcher, sub_handler, handler):
    ticket = dispatched()
    with pytest.raises(ServiceError) as caught:
        services.ticket_reassign(ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher, note=" ")
    assert (caught.value.code, caught.value.field) == ("tickets.note_required", "note")
    with pytest.raises(ServiceError) as caught:
        services.ticket_reassign(
            ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher, note="改派"
        )
    assert caught.value.code == "tickets.same_unit"


# --- return ---------------------------------------------------------------------------------


def test_a_return_needs_a_legal_basis_unless_wrongly_dispatched(accepted, sub_handler):
    ticket = accepted()
    with pytest.raises(ServiceError) as caught:
        services.ticket_request(ticket=ticket, kind="return", actor=sub_handler, reason="不归我们管")
    assert (caught.value.code, caught.value.field) == ("tickets.legal_basis_required", "legal_basis")
    request = services.ticket_request(
        ticket=ticket, kind="return", actor=sub_handler, reason="不归我们管", wrong_dispatch=True
    )
    assert request.status == RequestStatus.PENDING and request.wrong_dispatch


def test_an_approved_return_goes_back_to_the_queue(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    before = ticket.events.count()
    request = services.ticket_request(
        ticket=ticket,
        kind="return",
        actor=sub_handler,
        reason="属市场监管职责",
        legal_basis="《深圳经济特区市容和环境卫生管理条例》第X条",
    )
    event = _one_new_event(
        ticket, before, action="request_return", actor=sub_handler, from_state=S.ACCEPTED, to_state=S.ACCEPTED
    )
    assert event.note == "属市场监管职责"
    assert event.payload["legal_basis"].startswith("《深圳")
    assert Notification.objects.filter(unit=ticket.dispatch_center, kind="request_return").exists()

    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher, note="同意退回")
    ticket.refresh_from_db()
    assert ticket.status == S.PENDING_DISPATCH
    assert ticket.handling_unit is None and ticket.due_at is None and ticket.accept_due_at is None
    event = _one_new_event(
        ticket,
        before + 1,
        action="approve_return",
        actor=nanshan_dispatcher,
        from_state=S.ACCEPTED,
        to_state=S.PENDING_DISPATCH,
    )
    assert event.unit == sub_handler.org_unit  # indicators count the return against that unit
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (RequestStatus.APPROVED, nanshan_dispatcher)


def test_a_refusal_needs_a_reason_and_keeps_the_ticket(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    request = services.ticket_request(
        ticket=ticket, kind="return", actor=sub_handler, reason="人手不足", legal_basis="无"
    )
    with pytest.raises(ServiceError) as caught:
        services.ticket_decide(request=request, approve=False, actor=nanshan_dispatcher)
    assert caught.value.code == "tickets.note_required"
    services.ticket_decide(request=request, approve=False, actor=nanshan_dispatcher, note="属本单位职责")
    ticket.refresh_from_db()
    assert ticket.status == S.ACCEPTED and ticket.handling_unit == sub_handler.org_unit
    assert last_event(ticket).action == "refuse_return"
    with pytest.raises(ServiceError) as caught:
        services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    assert caught.value.code == "tickets.request_decided"


def test_only_a_dispatcher_of_the_place_decides(accepted, sub_handler, luohu_dispatcher):
    request = services.ticket_request(
        ticket=accepted(), kind="return", actor=sub_handler, reason="x", wrong_dispatch=True
    )
    for actor in (luohu_dispatcher, sub_handler):
        with pytest.raises(PermissionDeniedError):
            services.ticket_decide(request=request, approve=True, actor=actor)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


def test_one_request_at_a_time(accepted, sub_handler):
    ticket = accepted()
    services.ticket_request(ticket=ticket, kind="extension", actor=sub_handler, reason="需勘察", extra_days=3)
    with pytest.raises(ServiceError) as caught:
        services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待")
    assert caught.value.code == "tickets.request_pending"


def test_a_reply_withdraws_a_pending_request(accepted, sub_handler):
    ticket = accepted()
    request = services.ticket_request(
        ticket=ticket, kind="extension", actor=sub_handler, reason="慢", extra_days=2
    )
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已经办好了")
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN


# --- extension ---------------------------------------------------------------------------------


def test_an_approved_extension_moves_the_deadline_by_working_days_and_tells_the_citizen(
    frozen_now, accepted, sub_handler, nanshan_dispatcher, django_capture_on_commit_callbacks
):
    ticket = accepted()
    old_due = ticket.due_at
    request = services.ticket_request(
        ticket=ticket, kind="extension", actor=sub_handler, reason="需要协调多个部门", extra_days=5
    )
    assert request.extra_days == 5
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.due_at == work_calendar().add_working_days(old_due, 5)
    assert ticket.status == S.ACCEPTED and ticket.clock_stage == 0
    assert last_event(ticket).action == "approve_extension"
    sms = OutboundMessage.objects.get(ticket=ticket)
    assert sms.to == "13800138000" and ticket.number in sms.body


@pytest.mark.parametrize("days", [None, 0, 61])
def test_an_extension_asks_for_1_to_60_days(accepted, sub_handler, days):
    with pytest.raises(ServiceError) as caught:
        services.ticket_request(
            ticket=accepted(), kind="extension", actor=sub_handler, reason="慢", extra_days=days
        )
    assert (caught.value.code, caught.value.field) == ("tickets.extra_days_invalid", "extra_days")


def test_an_extension_is_asked_before_the_deadline(frozen_now, accepted, sub_handler):
    ticket = accepted()
    frozen_now(ticket.due_at + timedelta(minutes=1))
    with pytest.raises(ServiceError) as caught:
        services.ticket_request(
            ticket=ticket, kind="extension", actor=sub_handler, reason="来不及", extra_days=3
        )
    assert caught.value.code == "tickets.extension_too_late"
    assert not TicketRequest.objects.filter(ticket=ticket).exists()


# --- suspension ------------------------------------------------------------------------------------


def test_suspension_stops_the_clock_and_resume_shifts_every_threshold(
    frozen_now, accepted, sub_handler, nanshan_dispatcher
):
    ticket = accepted()
    due_at, warn_at = ticket.due_at, ticket.warn_at
    request = services.ticket_request(
        ticket=ticket, kind="suspension", actor=sub_handler, reason="等待司法鉴定"
    )
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.status == S.SUSPENDED and ticket.suspended_at == MONDAY_10
    # Two days later (Wednesday 10:00): 14 working hours stood still.
    frozen_now(MONDAY_10 + timedelta(days=2))
    before = ticket.events.count()
    services.ticket_resume(ticket=ticket, actor=nanshan_dispatcher, note="鉴定结果已出")
    ticket.refresh_from_db()
    calendar = work_calendar()
    assert ticket.status == S.ACCEPTED and ticket.suspended_at is None
    assert ticket.due_at == calendar.add_working_hours(due_at, 14)
    assert ticket.warn_at == calendar.add_working_hours(warn_at, 14)
    event = _one_new_event(
        ticket, before, action="resume", actor=nanshan_dispatcher, from_state=S.SUSPENDED, to_state=S.ACCEPTED
    )
    assert event.payload["stopped_working_seconds"] == 14 * 3600


def test_a_suspended_ticket_is_left_alone_by_the_sweep(frozen_now, accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    request = services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待")
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    count = ticket.events.count()
    services.clock_sweep(now=ticket.due_at + timedelta(days=10))
    ticket.refresh_from_db()
    assert (ticket.clock_stage, ticket.escalation_level) == (0, 0)
    assert ticket.events.count() == count


def test_the_handler_may_resume_but_not_approve_suspensions(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    request = services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待")
    with pytest.raises(PermissionDeniedError):
        services.ticket_decide(request=request, approve=True, actor=sub_handler)
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    services.ticket_resume(ticket=ticket, actor=sub_handler)
    assert ticket.status == S.ACCEPTED


def test_a_suspended_ticket_cannot_be_replied(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    request = services.ticket_request(ticket=ticket, kind="suspension", actor=sub_handler, reason="等待")
    services.ticket_decide(request=request, approve=True, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        services.ticket_reply(ticket=ticket, actor=sub_handler, reply="好了")
    assert caught.value.code == "workflow.illegal_transition"


# --- reply, review, verification --------------------------------------------------------------------


def test_reply_then_review_leads_to_follow_up(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    before = ticket.events.count()
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清运。")
    _one_new_event(
        ticket, before, action="reply", actor=sub_handler, from_state=S.ACCEPTED, to_state=S.REPLIED
    )
    assert ticket.reply == "已清运。" and ticket.replied_at is not None
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    _one_new_event(
        ticket,
        before + 1,
        action="approve_reply",
        actor=nanshan_dispatcher,
        from_state=S.REPLIED,
        to_state=S.FOLLOW_UP,
    )


def test_reply_and_send_back_need_text(accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    with pytest.raises(ServiceError) as caught:
        services.ticket_reply(ticket=ticket, actor=sub_handler, reply="  ")
    assert caught.value.code == "tickets.reply_required"
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="好了")
    with pytest.raises(ServiceError) as caught:
        services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=False)
    assert caught.value.code == "tickets.note_required"
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=False, note="缺少现场照片")
    assert ticket.status == S.ACCEPTED and ticket.rework_count == 0
    assert Notification.objects.filter(ticket=ticket, kind="sent_back").exists()


def test_categories_that_need_it_are_verified_on_site_by_the_grid(
    frozen_now, nanshan_building, grid_worker, nanshan_dispatcher, sub_handler
):
    ticket = services.ticket_submit(
        channel="patrol",
        kind="incident",
        category=RUBBISH,
        description="路边暴露垃圾一堆",
        address_code=nanshan_building.code,
    ).ticket
    assert Category.objects.get(code=RUBBISH).requires_verification
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    assert ticket.status == S.VERIFYING
    before = ticket.events.count()
    services.ticket_verify(ticket=ticket, actor=grid_worker, passed=False, note="还有残留")
    _one_new_event(
        ticket, before, action="verify_fail", actor=grid_worker, from_state=S.VERIFYING, to_state=S.ACCEPTED
    )
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已彻底清理")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    services.ticket_verify(ticket=ticket, actor=grid_worker, passed=True)
    assert ticket.status == S.FOLLOW_UP


def test_a_grid_worker_of_another_grid_may_not_verify(
    frozen_now, nanshan_building, nanshan_dispatcher, sub_handler
):
    from zhiwang.accounts.models import GridAssignment
    from zhiwang.geo.models import Grid

    ticket = services.ticket_submit(
        channel="patrol",
        kind="incident",
        category=RUBBISH,
        description="路边暴露垃圾一堆",
        address_code=nanshan_building.code,
    ).ticket
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    stranger = User.objects.create(username="other_grid_worker", role="grid_worker")
    GridAssignment.objects.create(
        grid=Grid.objects.exclude(pk=ticket.grid_id).order_by("code").first(), user=stranger
    )
    with pytest.raises(PermissionDeniedError):
        services.ticket_verify(ticket=ticket, actor=stranger, passed=True)


# --- follow-up, reopen ----------------------------------------------------------------------------------


def test_a_satisfied_follow_up_closes(in_follow_up, hotline):
    ticket = in_follow_up()
    before = ticket.events.count()
    services.ticket_follow_up(ticket=ticket, actor=hotline, resolved=True, satisfaction="basically_satisfied")
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED and ticket.closed_at is not None
    assert (ticket.resolved, ticket.satisfaction, ticket.unreachable) == (True, "basically_satisfied", False)
    event = _one_new_event(
        ticket, before, action="close", actor=hotline, from_state=S.FOLLOW_UP, to_state=S.CLOSED
    )
    assert event.payload["satisfaction"] == "basically_satisfied"


def test_an_unreachable_citizen_closes_without_a_rating(in_follow_up, hotline):
    ticket = services.ticket_follow_up(ticket=in_follow_up(), actor=hotline, resolved=None, unreachable=True)
    assert ticket.status == S.CLOSED and ticket.resolved is None and ticket.unreachable


@pytest.mark.parametrize(
    ("resolved", "satisfaction", "code"),
    [(None, "satisfied", "tickets.resolved_required"), (True, "", "tickets.satisfaction_required")],
)
def test_a_follow_up_records_both_answers(in_follow_up, hotline, resolved, satisfaction, code):
    with pytest.raises(ServiceError) as caught:
        services.ticket_follow_up(
            ticket=in_follow_up(), actor=hotline, resolved=resolved, satisfaction=satisfaction
        )
    assert caught.value.code == code


@pytest.mark.parametrize(("resolved", "satisfaction"), [(False, "satisfied"), (True, "unsatisfied")])
def test_an_unresolved_or_unsatisfied_follow_up_reopens_with_the_same_unit(
    frozen_now, in_follow_up, hotline, sub_handler, resolved, satisfaction
):
    ticket = in_follow_up()
    later = frozen_now(MONDAY_10 + timedelta(days=1))
    before = ticket.events.count()
    services.ticket_follow_up(
        ticket=ticket, actor=hotline, resolved=resolved, satisfaction=satisfaction, note="还是很脏"
    )
    ticket.refresh_from_db()
    assert ticket.status == S.DISPATCHED and ticket.rework_count == 1
    assert ticket.handling_unit == sub_handler.org_unit
    assert ticket.dispatched_at == later and ticket.accepted_at is None and ticket.replied_at is None
    assert ticket.due_at == due(start=later, amount=15, unit="working_days")
    assert ticket.closed_at is None
    event = _one_new_event(
        ticket, before, action="reopen", actor=hotline, from_state=S.FOLLOW_UP, to_state=S.DISPATCHED
    )
    assert event.payload["rework_count"] == 1
    assert Notification.objects.filter(unit=sub_handler.org_unit, ticket=ticket, kind="reopened").exists()


def test_the_reporter_rates_their_own_ticket_and_nobody_elses(in_follow_up, citizen):
    mine = in_follow_up(reporter=citizen)
    services.ticket_follow_up(
        ticket=mine, actor=citizen, resolved=True, satisfaction="satisfied", by_citizen=True
    )
    assert mine.status == S.CLOSED and last_event(mine).payload["by_citizen"]
    other = in_follow_up()
    with pytest.raises(PermissionDeniedError):
        services.ticket_follow_up(ticket=other, actor=citizen, resolved=True, satisfaction="satisfied")


def test_the_public_rating_checks_number_and_phone(in_follow_up):
    ticket = in_follow_up()
    with pytest.raises(ServiceError) as caught:
        services.ticket_rate_by_citizen(
            number=ticket.number, phone="13900000000", resolved=True, satisfaction="satisfied"
        )
    assert caught.value.code == "tickets.not_found"
    services.ticket_rate_by_citizen(
        number=ticket.number.lower(), phone="138 0013 8000", resolved=True, satisfaction="satisfied"
    )
    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED
    event = last_event(ticket)
    assert event.actor is None and event.payload["by_citizen"]


# --- urge, supervise --------------------------------------------------------------------------------------


def test_urge_before_the_deadline_raises_the_level_only(frozen_now, accepted, nanshan_dispatcher):
    ticket = accepted()
    before = ticket.events.count()
    services.ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="市民再次来电")
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1 and ticket.clock_stage == 0
    _one_new_event(
        ticket, before, action="urge", actor=nanshan_dispatcher, from_state=S.ACCEPTED, to_state=S.ACCEPTED
    )
    assert Notification.objects.filter(ticket=ticket, kind="urged").exists()


def test_urge_after_the_deadline_starts_the_supervision_countdown(frozen_now, accepted, city_leader):
    ticket = accepted()
    late = frozen_now(ticket.due_at + timedelta(hours=1))
    services.ticket_urge(ticket_id=ticket.pk, actor=city_leader)  # leaders urge too
    ticket.refresh_from_db()
    assert ticket.clock_stage == 2
    assert ticket.supervise_at == work_calendar().add_working_days(late, 5)


def test_supervision_is_for_overdue_tickets(frozen_now, accepted, nanshan_dispatcher, handler):
    ticket = accepted()
    with pytest.raises(ServiceError) as caught:
        services.ticket_supervise(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="督办")
    assert caught.value.code == "tickets.not_overdue"
    frozen_now(ticket.due_at + timedelta(days=1))
    with pytest.raises(ServiceError) as caught:
        services.ticket_supervise(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="")
    assert caught.value.code == "tickets.note_required"
    with pytest.raises(PermissionDeniedError):
        services.ticket_supervise(ticket_id=ticket.pk, actor=handler, note="督办")
    before = ticket.events.count()
    services.ticket_supervise(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="请于明日前办结")
    ticket.refresh_from_db()
    assert (ticket.escalation_level, ticket.clock_stage) == (2, 3)
    event = _one_new_event(
        ticket,
        before,
        action="supervise",
        actor=nanshan_dispatcher,
        from_state=S.ACCEPTED,
        to_state=S.ACCEPTED,
    )
    assert event.payload["level"] == 2


def test_the_sweep_skips_a_ticket_that_left_the_clock(frozen_now, accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="好了")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    count = ticket.events.count()
    services.ticket_urge(ticket_id=ticket.pk, actor=None)  # its batch was read before the reply
    assert ticket.events.count() == count


# --- merge, reject, answer directly --------------------------------------------------------------------------


def test_merge_keeps_one_master_and_tells_the_duplicates_citizens(
    make_ticket, nanshan_dispatcher, hotline, sub_handler, django_capture_on_commit_callbacks
):
    master = make_ticket()
    duplicate = make_ticket(reporter_phone="13912345678")
    before = duplicate.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_merge(
            ticket=duplicate, master=master, actor=nanshan_dispatcher, note="同一地点同一问题"
        )
    duplicate.refresh_from_db()
    assert duplicate.status == S.MERGED and duplicate.merged_into == master and duplicate.closed_at
    _one_new_event(
        duplicate,
        before,
        action="merge",
        actor=nanshan_dispatcher,
        from_state=S.PENDING_DISPATCH,
        to_state=S.MERGED,
    )
    told = OutboundMessage.objects.get(ticket=duplicate)
    assert told.to == "13912345678" and master.number in told.body
    master.refresh_from_db()
    assert master.status == S.PENDING_DISPATCH  # the master goes on
    # When the master closes, the duplicate's citizen hears the outcome.
    services.ticket_dispatch(ticket=master, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    services.ticket_accept(ticket=master, actor=sub_handler)
    services.ticket_reply(ticket=master, actor=sub_handler, reply="垃圾已清运完毕")
    services.ticket_review(ticket=master, actor=nanshan_dispatcher, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_follow_up(ticket=master, actor=hotline, resolved=True, satisfaction="satisfied")
    outcome = OutboundMessage.objects.filter(ticket=duplicate).order_by("-pk").first()
    assert "垃圾已清运完毕" in outcome.body


def test_merge_needs_an_open_master_of_the_same_category(make_ticket, nanshan_dispatcher, luohu_building):
    ticket = make_ticket()
    with pytest.raises(ServiceError) as caught:
        services.ticket_merge(ticket=ticket, master=ticket, actor=nanshan_dispatcher)
    assert (caught.value.code, caught.value.field) == ("tickets.master_invalid", "master")
    other = make_ticket(kind="incident", category=RUBBISH)
    with pytest.raises(ServiceError) as caught:
        services.ticket_merge(ticket=ticket, master=other, actor=nanshan_dispatcher)
    assert caught.value.code == "tickets.master_other_category"
    elsewhere = make_ticket(address_code=luohu_building.code)  # not visible to the Nanshan dispatcher
    with pytest.raises(ServiceError) as caught:
        services.ticket_merge(ticket=ticket, master=elsewhere, actor=nanshan_dispatcher)
    assert caught.value.code == "tickets.master_invalid"


def test_merging_a_master_carries_its_duplicates(make_ticket, nanshan_dispatcher):
    a, b, c = make_ticket(), make_ticket(), make_ticket()
    services.ticket_merge(ticket=c, master=b, actor=nanshan_dispatcher)
    b.refresh_from_db()
    services.ticket_merge(ticket=b, master=a, actor=nanshan_dispatcher)
    assert set(a.duplicates.values_list("pk", flat=True)) == {b.pk, c.pk}


def test_reject_needs_a_reason_and_tells_the_citizen(
    make_ticket, hotline, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    with pytest.raises(ServiceError) as caught:
        services.ticket_reject(ticket=ticket, actor=hotline, reason="")
    assert (caught.value.code, caught.value.field) == ("tickets.reason_required", "reason")
    before = ticket.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reject(ticket=ticket, actor=hotline, reason="该事项已进入诉讼程序")
    assert ticket.status == S.REJECTED and ticket.reply == "该事项已进入诉讼程序"
    _one_new_event(
        ticket, before, action="reject", actor=hotline, from_state=S.PENDING_DISPATCH, to_state=S.REJECTED
    )
    assert "诉讼" in OutboundMessage.objects.get(ticket=ticket).body


def test_an_inquiry_is_answered_directly_and_closes(make_ticket, hotline):
    ticket = make_ticket(kind="inquiry", description="请问垃圾分类投放时间是几点？")
    before = ticket.events.count()
    services.ticket_answer_directly(ticket=ticket, actor=hotline, reply="每天早7点至9点、晚7点至9点。")
    assert ticket.status == S.CLOSED and ticket.closed_at and ticket.replied_at
    _one_new_event(
        ticket,
        before,
        action="answer_directly",
        actor=hotline,
        from_state=S.PENDING_DISPATCH,
        to_state=S.CLOSED,
    )


def test_only_inquiries_are_answered_directly(make_ticket, hotline, sub_handler):
    with pytest.raises(ServiceError) as caught:
        services.ticket_answer_directly(ticket=make_ticket(), actor=hotline, reply="自己解决")
    assert caught.value.code == "tickets.answer_directly_kind"
    inquiry = make_ticket(kind="inquiry")
    with pytest.raises(PermissionDeniedError):
        services.ticket_answer_directly(ticket=inquiry, actor=sub_handler, reply="答复")


# --- notes and the contact ------------------------------------------------------------------------------------


def test_a_note_is_one_row_without_a_change_of_state(dispatched, sub_handler, citizen):
    ticket = dispatched()
    before = ticket.events.count()
    services.ticket_note(ticket=ticket, actor=sub_handler, note="已电话联系市民")
    _one_new_event(
        ticket, before, action="note", actor=sub_handler, from_state=S.DISPATCHED, to_state=S.DISPATCHED
    )
    with pytest.raises(PermissionDeniedError):
        services.ticket_note(ticket=ticket, actor=citizen, note="我也想说")


def test_revealing_the_contact_needs_a_reason_and_is_logged_without_a_new_version(
    dispatched, sub_handler, nanshan_dispatcher, grid_worker, luohu_dispatcher
):
    ticket = dispatched()
    version, before = ticket.version, ticket.events.count()
    with pytest.raises(ServiceError) as caught:
        services.ticket_reveal_contact(ticket=ticket, actor=sub_handler, reason=" ")
    assert caught.value.code == "tickets.reason_required"
    contact = services.ticket_reveal_contact(ticket=ticket, actor=sub_handler, reason="回电核实地址")
    assert contact == {"reporter_name": "林晓", "reporter_phone": "13800138000"}
    event = _one_new_event(
        ticket,
        before,
        action="reveal_contact",
        actor=sub_handler,
        from_state=S.DISPATCHED,
        to_state=S.DISPATCHED,
    )
    assert event.note == "回电核实地址"
    assert Ticket.objects.get(pk=ticket.pk).version == version
    services.ticket_reveal_contact(ticket=ticket, actor=nanshan_dispatcher, reason="回访")
    for outsider in (grid_worker, luohu_dispatcher):
        with pytest.raises(PermissionDeniedError):
            services.ticket_reveal_contact(ticket=ticket, actor=outsider, reason="好奇")


def test_history_is_never_edited(dispatched):
    from zhiwang.core.workflow import AppendOnlyError

    ticket = dispatched()
    with pytest.raises(AppendOnlyError):
        TicketEvent.objects.filter(ticket=ticket).update(note="改写历史")


def test_deadline_amount_is_kept_on_the_ticket(make_ticket):
    assert make_ticket().deadline_amount == Decimal(15)


def test_a_whole_loop_writes_one_row_per_step(in_follow_up, hotline):
    ticket = services.ticket_follow_up(
        ticket=in_follow_up(), actor=hotline, resolved=True, satisfaction="satisfied"
    )
    assert [e.action for e in ticket.events.order_by("at", "pk")] == [
        "receive",
        "dispatch",
        "accept",
        "reply",
        "approve_reply",
        "close",
    ]
    assert ticket.version == 6
    assert SANITATION == ticket.category.code
