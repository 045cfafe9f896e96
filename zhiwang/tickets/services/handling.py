"""The handling unit's side: accept (签收), ask to return / extend / suspend and the decisions on them, resume, reply."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets.models import (
    RequestKind,
    RequestStatus,
    Ticket,
    TicketRequest,
)
from zhiwang.tickets.notify import notify_citizen, notify_unit
from zhiwang.tickets.services.clock import carry_alerts, set_deadlines
from zhiwang.tickets.services.transition import (
    A,
    apply_transition,
    locked_ticket,
    permission_first,
    require_text,
    withdraw_pending_requests,
)
from zhiwang.tickets.workflow import TICKET_WORKFLOW


@transaction.atomic
def ticket_accept(*, ticket: Ticket, actor, expected_version: int | None = None) -> Ticket:
    """The handling unit signs for the ticket (签收).

    The row keeps whether the sign-for came after the accept deadline (``payload.late``): the
    ticket's ``accept_due_at`` is cleared by an approved return and replaced by the next
    hand-over, so the on-time acceptance rate could not tell a late sign-for from the ticket
    afterwards.
    """
    ticket.accepted_at = timezone.now()
    payload = None
    if ticket.accept_due_at is not None:
        payload = {"late": ticket.accepted_at > ticket.accept_due_at}
    apply_transition(
        ticket,
        A.ACCEPT,
        actor=actor,
        fields=["accepted_at"],
        payload=payload,
        expected_version=expected_version,
    )
    return ticket


_REQUEST_ACTIONS = {
    RequestKind.RETURN: A.REQUEST_RETURN,
    RequestKind.EXTENSION: A.REQUEST_EXTENSION,
    RequestKind.SUSPENSION: A.REQUEST_SUSPENSION,
}


@transaction.atomic
def ticket_request(
    *,
    ticket: Ticket,
    kind: str,
    actor,
    reason: str,
    legal_basis: str = "",
    wrong_dispatch: bool = False,
    extra_days: int | None = None,
    expected_version: int | None = None,
) -> TicketRequest:
    """A handler asks to return (退单), extend (延期) or suspend (挂起); a dispatcher decides (``ticket_decide``).

    A return needs its legal basis unless it is marked as wrongly dispatched; an
    extension is asked before the deadline, for 1–60 working days; one request at a
    time.
    """
    action = _REQUEST_ACTIONS.get(kind)
    if action is None:
        raise ServiceError(
            "tickets.request_kind_unknown", _("Unknown request %(kind)s.") % {"kind": kind}, field="kind"
        )
    # permission before the request's own checks: "another request is pending" would tell
    # somebody who may not ask (the reporter) that the unit asked for something
    TICKET_WORKFLOW.require_permission(action, actor=actor, obj=ticket)
    reason = require_text(reason, "reason", _("Give a reason."))
    legal_basis = (legal_basis or "").strip()
    limit = TicketRequest._meta.get_field("legal_basis").max_length
    if len(legal_basis) > limit:
        raise ServiceError(
            "tickets.legal_basis_long",
            _("At most %(limit)s characters, please (%(length)s given).")
            % {"limit": f"{limit:,}", "length": f"{len(legal_basis):,}"},
            field="legal_basis",
        )
    if kind == RequestKind.RETURN and not wrong_dispatch:
        require_text(
            legal_basis,
            "legal_basis",
            _("A return needs its legal basis (or mark it as wrongly dispatched)."),
        )
    if kind == RequestKind.EXTENSION:
        if not extra_days or extra_days < 1 or extra_days > 60:
            raise ServiceError(
                "tickets.extra_days_invalid", _("Ask for 1 to 60 extra working days."), field="extra_days"
            )
        if ticket.due_at and timezone.now() >= ticket.due_at:
            raise ServiceError(
                "tickets.extension_too_late",
                _("An extension must be asked before the deadline."),
                field="extra_days",
            )
    else:
        extra_days = None
    if TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).exists():
        raise ServiceError("tickets.request_pending", _("Another request on this ticket awaits a decision."))
    apply_transition(
        ticket,
        action,
        actor=actor,
        note=reason,
        payload={"legal_basis": legal_basis, "extra_days": extra_days, "wrong_dispatch": wrong_dispatch},
        expected_version=expected_version,
    )
    request = TicketRequest.objects.create(
        ticket=ticket,
        kind=kind,
        reason=reason,
        legal_basis=legal_basis,
        wrong_dispatch=wrong_dispatch,
        extra_days=extra_days,
        requested_by=actor,
    )
    notify_unit(
        unit_id=ticket.dispatch_center_id,
        ticket=ticket,
        kind=f"request_{kind}",
        message=lambda: (
            _("%(unit)s asks: %(kind)s on %(number)s")
            % {"unit": ticket.handling_unit, "kind": request.get_kind_display(), "number": ticket.number}
        ),
    )
    return request


#: The action deciding a request of each kind: ``_DECISIONS[kind][approve]``.
_DECISIONS = {
    RequestKind.RETURN: {True: A.APPROVE_RETURN, False: A.REFUSE_RETURN},
    RequestKind.EXTENSION: {True: A.APPROVE_EXTENSION, False: A.REFUSE_EXTENSION},
    RequestKind.SUSPENSION: {True: A.APPROVE_SUSPENSION, False: A.REFUSE_SUSPENSION},
}


@transaction.atomic
def ticket_decide(
    *, request: TicketRequest, approve: bool, actor, note: str = "", expected_version: int | None = None
) -> TicketRequest:
    """Approve or refuse a handler's request, with its effect on the ticket and the clock.

    Return approved: back to the dispatcher queue, the unit, the clocks and the escalation level cleared.
    Extension approved: the deadline moves by the working days asked, the citizen is told.
    Suspension approved: the clock stops until ``ticket_resume``. A refusal needs a note.
    """
    request = TicketRequest.objects.select_for_update().get(pk=request.pk)
    # permission first: "already decided (refused)" would tell anybody the request's fate
    TICKET_WORKFLOW.require_permission(_DECISIONS[request.kind][approve], actor=actor, obj=request.ticket)
    if request.status != RequestStatus.PENDING:
        raise ServiceError(
            "tickets.request_decided",
            _("This request has already been decided (%(status)s).")
            % {"status": request.get_status_display()},
        )
    if not approve:
        note = require_text(note, "note", _("Say why the request is refused."))
    ticket = locked_ticket(request.ticket_id)
    now = timezone.now()
    kind = request.kind
    unit_id = ticket.handling_unit_id
    fields: list[str] = []
    if kind == RequestKind.RETURN:
        action = A.APPROVE_RETURN if approve else A.REFUSE_RETURN
        if approve:
            ticket.handling_unit = None
            ticket.accepted_at = ticket.dispatched_at = None
            ticket.due_at = ticket.warn_at = ticket.accept_due_at = ticket.supervise_at = None
            ticket.clock_stage = 0
            ticket.accept_warned = False
            # The escalation was of the unit that returned it: the next unit starts unescalated.
            ticket.escalation_level = 0
            fields = [
                "handling_unit",
                "accepted_at",
                "dispatched_at",
                "due_at",
                "warn_at",
                "accept_due_at",
                "supervise_at",
                "clock_stage",
                "accept_warned",
                "escalation_level",
            ]
    elif kind == RequestKind.EXTENSION:
        action = A.APPROVE_EXTENSION if approve else A.REFUSE_EXTENSION
        if approve:
            # "次日起算": the extra days count from the day after the old deadline, to the end of work.
            new_due = due(start=ticket.due_at or now, amount=request.extra_days, unit=LimitUnit.WORKING_DAYS)
            fields = set_deadlines(ticket=ticket, start=ticket.dispatched_at or now, due_at=new_due)
    else:
        action = A.APPROVE_SUSPENSION if approve else A.REFUSE_SUSPENSION
        if approve:
            ticket.suspended_at = now
            fields = ["suspended_at"]
    event = apply_transition(
        ticket,
        action,
        actor=actor,
        note=note or request.reason,
        payload={
            "request": request.pk,
            "wrong_dispatch": request.wrong_dispatch,
            "extra_days": request.extra_days,
            "due_at": ticket.due_at if approve and kind == RequestKind.EXTENSION else None,
        },
        fields=fields,
        expected_version=expected_version,
        unit_id=unit_id,
    )
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.decided_by = actor
    request.decided_at = event.at
    request.decision_note = note
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    notify_unit(
        unit_id=unit_id,
        ticket=ticket,
        kind="request_decided",
        message=lambda: (
            _("%(kind)s on %(number)s: %(decision)s")
            % {
                "kind": request.get_kind_display(),
                "number": ticket.number,
                "decision": request.get_status_display(),
            }
        ),
    )
    if approve and kind == RequestKind.EXTENSION:
        notify_citizen(
            ticket=ticket,
            body=lambda: (
                _("Your request %(number)s needs more time; the new deadline is %(due)s.")
                % {
                    "number": ticket.number,
                    "due": timezone.localtime(ticket.due_at).strftime("%Y-%m-%d %H:%M"),
                }
            ),
        )
    return request


@transaction.atomic
def ticket_resume(*, ticket: Ticket, actor, note: str = "", expected_version: int | None = None) -> Ticket:
    """End a suspension (解挂): every threshold of the clock moves by the working time it stood still.

    The deadline, the 80 % warning point and a pending supervision date all shift by
    the same working time, and the clock stage is kept: a warning already given is
    not given again (nor an overdue notice: its alert moves with the deadline), and the
    time the handler had left is exactly what they get back.
    """
    now = timezone.now()
    calendar = work_calendar()
    stopped = calendar.working_seconds_between(ticket.suspended_at or now, now)
    hours = Decimal(str(stopped)) / Decimal(3600)

    def shift(moment):
        return calendar.add_working_hours(moment, hours) if moment is not None and hours else moment

    old_due = ticket.due_at
    ticket.due_at = shift(ticket.due_at)
    ticket.warn_at = shift(ticket.warn_at)
    ticket.supervise_at = shift(ticket.supervise_at)
    suspended_since = ticket.suspended_at
    ticket.suspended_at = None
    apply_transition(
        ticket,
        A.RESUME,
        actor=actor,
        note=note,
        payload={
            "stopped_working_seconds": stopped,
            "suspended_at": suspended_since,
            "due_at": ticket.due_at,
        },
        fields=["suspended_at", "due_at", "warn_at", "supervise_at"],
        expected_version=expected_version,
    )
    # The overdue notice given before the suspension is not given again for the shifted deadline.
    carry_alerts(ticket_id=ticket.pk, old_due=old_due, new_due=ticket.due_at)
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, actor, reply: str, expected_version: int | None = None) -> Ticket:
    """The handling unit's answer (办结答复); it goes to the dispatcher for review."""
    permission_first(ticket, A.REPLY, actor=actor)
    ticket.reply = require_text(reply, "reply", _("Write the reply to the citizen."))
    ticket.replied_at = timezone.now()
    apply_transition(
        ticket,
        A.REPLY,
        actor=actor,
        note=ticket.reply,
        fields=["reply", "replied_at"],
        expected_version=expected_version,
    )
    withdraw_pending_requests(ticket, why=lambda: _("The unit replied."))
    notify_unit(
        unit_id=ticket.dispatch_center_id,
        ticket=ticket,
        kind="replied",
        message=lambda: _("%(number)s replied, awaiting review.") % {"number": ticket.number},
    )
    return ticket
