"""Every workflow action on a ticket: one function each, one transaction, one timeline row.

All go through ``_apply``: it checks the version the caller saw (two dispatchers
acting at once: the second gets ``Conflict``), then ``TICKET_WORKFLOW.apply``
locks the row, checks the transition and the actor's role and jurisdiction,
saves and appends the event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets.models import (
    FINAL_STATUSES,
    RequestKind,
    RequestStatus,
    Satisfaction,
    Ticket,
    TicketEvent,
    TicketRequest,
    TicketStatus,
)
from zhiwang.tickets.notify import notify_citizen, notify_unit
from zhiwang.tickets.services.clock import dispatch_deadlines, set_deadlines
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction

A = TicketAction


def _apply(
    ticket: Ticket,
    action: str,
    *,
    actor,
    note: str = "",
    payload: dict | None = None,
    fields: list[str] | tuple[str, ...] = (),
    expected_version: int | None = None,
) -> TicketEvent:
    with transaction.atomic():
        if expected_version is not None:
            current = (
                Ticket.objects.select_for_update()
                .filter(pk=ticket.pk)
                .values_list("version", flat=True)
                .first()
            )
            if current != expected_version:
                raise Conflict(
                    "tickets.version_conflict",
                    _("Ticket %(number)s was changed by somebody else a moment ago. Reload it and try again.")
                    % {"number": ticket.number},
                )
        ticket.version += 1
        return TICKET_WORKFLOW.apply(
            ticket,
            action,
            actor=actor,
            timeline_model=TicketEvent,
            note=note,
            payload=payload,
            update_fields=[*fields, "version"],
            timeline_fields={"unit_id": ticket.handling_unit_id},
        )


def _require(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ServiceError(f"tickets.{field}_required", message, field=field)
    return text


def _unit(unit: OrgUnit | None) -> OrgUnit:
    if unit is None or not unit.is_active:
        raise ServiceError("tickets.unit_required", _("Choose an active handling unit."), field="unit")
    return unit


@transaction.atomic
def ticket_dispatch(
    *, ticket: Ticket, unit: OrgUnit, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Send the ticket to a handling unit; the accept and handle clocks start now."""
    unit = _unit(unit)
    now = timezone.now()
    ticket.handling_unit = unit
    ticket.dispatched_at = now
    ticket.accept_due_at, handle_due = dispatch_deadlines(ticket=ticket, at=now)
    fields = [
        "handling_unit",
        "dispatched_at",
        "accept_due_at",
        "accept_warned",
        *set_deadlines(ticket=ticket, start=now, due_at=handle_due),
    ]
    ticket.accept_warned = False
    _apply(
        ticket,
        A.DISPATCH,
        actor=actor,
        note=note,
        payload={"unit": unit.name},
        fields=fields,
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=unit.pk,
        ticket=ticket,
        kind="dispatched",
        message=_("New ticket %(number)s: %(title)s") % {"number": ticket.number, "title": ticket.title},
    )
    return ticket


@transaction.atomic
def ticket_reassign(
    *, ticket: Ticket, unit: OrgUnit, actor, note: str, expected_version: int | None = None
) -> Ticket:
    """Give the ticket to another unit (改派). The citizen's deadline does not restart."""
    unit = _unit(unit)
    note = _require(note, "note", _("Say why the ticket is reassigned."))
    if unit.pk == ticket.handling_unit_id:
        raise ServiceError(
            "tickets.same_unit", _("The ticket is already with %(unit)s.") % {"unit": unit.name}, field="unit"
        )
    previous = ticket.handling_unit
    now = timezone.now()
    ticket.handling_unit = unit
    ticket.dispatched_at = now
    ticket.accepted_at = None
    ticket.accept_due_at, _handle = dispatch_deadlines(ticket=ticket, at=now)
    ticket.accept_warned = False
    _apply(
        ticket,
        A.REASSIGN,
        actor=actor,
        note=note,
        payload={"from_unit": previous.name if previous else "", "unit": unit.name, "wrong_dispatch": True},
        fields=["handling_unit", "dispatched_at", "accepted_at", "accept_due_at", "accept_warned"],
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=unit.pk,
        ticket=ticket,
        kind="dispatched",
        message=_("Ticket %(number)s reassigned to you.") % {"number": ticket.number},
    )
    return ticket


@transaction.atomic
def ticket_accept(*, ticket: Ticket, actor, expected_version: int | None = None) -> Ticket:
    """The handling unit signs for the ticket (签收)."""
    ticket.accepted_at = timezone.now()
    _apply(ticket, A.ACCEPT, actor=actor, fields=["accepted_at"], expected_version=expected_version)
    return ticket


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
) -> TicketRequest:
    """A handler asks to return, extend or suspend; a dispatcher decides (``ticket_decide``)."""
    reason = _require(reason, "reason", _("Give a reason."))
    action = {
        RequestKind.RETURN: A.REQUEST_RETURN,
        RequestKind.EXTENSION: A.REQUEST_EXTENSION,
        RequestKind.SUSPENSION: A.REQUEST_SUSPENSION,
    }.get(kind)
    if action is None:
        raise ServiceError(
            "tickets.request_kind_unknown", _("Unknown request %(kind)s.") % {"kind": kind}, field="kind"
        )
    if kind == RequestKind.RETURN and not wrong_dispatch:
        _require(
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
    if TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).exists():
        raise ServiceError("tickets.request_pending", _("Another request on this ticket awaits a decision."))
    _apply(
        ticket,
        action,
        actor=actor,
        note=reason,
        payload={"legal_basis": legal_basis, "extra_days": extra_days},
    )
    request = TicketRequest.objects.create(
        ticket=ticket,
        kind=kind,
        reason=reason,
        legal_basis=legal_basis.strip(),
        wrong_dispatch=wrong_dispatch,
        extra_days=extra_days,
        requested_by=actor,
    )
    notify_unit(
        unit_id=ticket.dispatch_center_id,
        ticket=ticket,
        kind=f"request_{kind}",
        message=_("%(unit)s asks: %(kind)s on %(number)s")
        % {"unit": ticket.handling_unit, "kind": request.get_kind_display(), "number": ticket.number},
    )
    return request


@transaction.atomic
def ticket_decide(*, request: TicketRequest, approve: bool, actor, note: str = "") -> TicketRequest:
    """Approve or refuse a handler's request, with the effect on the ticket and the clock."""
    if request.status != RequestStatus.PENDING:
        raise ServiceError("tickets.request_decided", _("This request has already been decided."))
    if not approve:
        _require(note, "note", _("Say why the request is refused."))
    ticket = Ticket.objects.select_for_update().get(pk=request.ticket_id)
    now = timezone.now()
    kind = request.kind
    fields: list[str] = []
    if kind == RequestKind.RETURN:
        action = A.APPROVE_RETURN if approve else A.REFUSE_RETURN
        if approve:
            ticket.handling_unit = None
            ticket.accepted_at = None
            ticket.dispatched_at = None
            ticket.due_at = ticket.warn_at = ticket.accept_due_at = ticket.supervise_at = None
            ticket.clock_stage = 0
            fields = [
                "handling_unit",
                "accepted_at",
                "dispatched_at",
                "due_at",
                "warn_at",
                "accept_due_at",
                "supervise_at",
                "clock_stage",
            ]
    elif kind == RequestKind.EXTENSION:
        action = A.APPROVE_EXTENSION if approve else A.REFUSE_EXTENSION
        if approve:
            new_due = due(start=ticket.due_at, amount=request.extra_days, unit=LimitUnit.WORKING_DAYS)
            fields = set_deadlines(ticket=ticket, start=ticket.dispatched_at or now, due_at=new_due)
    else:
        action = A.APPROVE_SUSPENSION if approve else A.REFUSE_SUSPENSION
        if approve:
            ticket.suspended_at = now
            fields = ["suspended_at"]
    event = _apply(
        ticket,
        action,
        actor=actor,
        note=note or request.reason,
        payload={"request": request.pk, "wrong_dispatch": request.wrong_dispatch},
        fields=fields,
    )
    unit_id = request.ticket.handling_unit_id
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.decided_by = actor
    request.decided_at = event.at
    request.decision_note = note
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    notify_unit(
        unit_id=unit_id,
        ticket=ticket,
        kind="request_decided",
        message=_("%(kind)s on %(number)s: %(decision)s")
        % {
            "kind": request.get_kind_display(),
            "number": ticket.number,
            "decision": request.get_status_display(),
        },
    )
    if approve and kind == RequestKind.EXTENSION:
        notify_citizen(
            ticket=ticket,
            body=_("Your request %(number)s needs more time; the new deadline is %(due)s.")
            % {"number": ticket.number, "due": timezone.localtime(ticket.due_at).strftime("%Y-%m-%d %H:%M")},
        )
    return request


@transaction.atomic
def ticket_resume(*, ticket: Ticket, actor, note: str = "") -> Ticket:
    """End a suspension: the deadline moves by the working time the clock stood still."""
    now = timezone.now()
    stopped = work_calendar().working_seconds_between(ticket.suspended_at or now, now)
    fields = ["suspended_at"]
    if ticket.due_at:
        new_due = work_calendar().add_working_hours(ticket.due_at, Decimal(stopped) / Decimal(3600))
        fields += set_deadlines(ticket=ticket, start=ticket.dispatched_at or now, due_at=new_due)
    ticket.suspended_at = None
    _apply(
        ticket, A.RESUME, actor=actor, note=note, payload={"stopped_working_seconds": stopped}, fields=fields
    )
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, actor, reply: str, expected_version: int | None = None) -> Ticket:
    """The handling unit's answer (办结答复)."""
    ticket.reply = _require(reply, "reply", _("Write the reply to the citizen."))
    ticket.replied_at = timezone.now()
    _apply(
        ticket,
        A.REPLY,
        actor=actor,
        note=ticket.reply,
        fields=["reply", "replied_at"],
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=ticket.dispatch_center_id,
        ticket=ticket,
        kind="replied",
        message=_("%(number)s replied, awaiting review.") % {"number": ticket.number},
    )
    return ticket


@transaction.atomic
def ticket_review(*, ticket: Ticket, actor, approve: bool, note: str = "") -> Ticket:
    """The dispatcher reviews the reply: on to verification or follow-up, or back to the handler."""
    if not approve:
        _require(note, "note", _("Say what is missing in the reply."))
        ticket.rework_count += 1
        _apply(ticket, A.SEND_BACK, actor=actor, note=note, fields=["rework_count"])
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="sent_back",
            message=_("The reply to %(number)s was sent back: %(note)s")
            % {"number": ticket.number, "note": note},
        )
        return ticket
    action = A.SEND_TO_VERIFY if ticket.category.requires_verification and ticket.grid_id else A.APPROVE_REPLY
    _apply(ticket, action, actor=actor, note=note)
    return ticket


@transaction.atomic
def ticket_verify(*, ticket: Ticket, actor, passed: bool, note: str = "") -> Ticket:
    """A grid worker checks the fix on site (核查)."""
    if not passed:
        _require(note, "note", _("Describe what is still wrong on site."))
        ticket.rework_count += 1
        _apply(ticket, A.VERIFY_FAIL, actor=actor, note=note, fields=["rework_count"])
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="verify_failed",
            message=_("On-site check of %(number)s failed: %(note)s")
            % {"number": ticket.number, "note": note},
        )
        return ticket
    _apply(ticket, A.VERIFY_PASS, actor=actor, note=note)
    return ticket


@transaction.atomic
def ticket_follow_up(
    *,
    ticket: Ticket,
    actor,
    resolved: bool | None,
    satisfaction: str = "",
    unreachable: bool = False,
    note: str = "",
    by_citizen: bool = False,
) -> Ticket:
    """Record the follow-up (回访): close, or reopen when unresolved or unsatisfied (rework + 1)."""
    if not unreachable:
        if resolved is None:
            raise ServiceError(
                "tickets.resolved_required", _("Say whether the problem was resolved."), field="resolved"
            )
        if satisfaction not in Satisfaction.values:
            raise ServiceError(
                "tickets.satisfaction_required",
                _("Choose how satisfied the citizen is."),
                field="satisfaction",
            )
    ticket.resolved = None if unreachable else resolved
    ticket.satisfaction = "" if unreachable else satisfaction
    ticket.unreachable = unreachable
    payload = {
        "resolved": ticket.resolved,
        "satisfaction": ticket.satisfaction,
        "unreachable": unreachable,
        "by_citizen": by_citizen,
    }
    fields = ["resolved", "satisfaction", "unreachable"]
    if unreachable or (resolved and satisfaction != Satisfaction.UNSATISFIED):
        ticket.closed_at = timezone.now()
        _apply(ticket, A.CLOSE, actor=actor, note=note, payload=payload, fields=[*fields, "closed_at"])
        _tell_duplicates(ticket)
        return ticket
    now = timezone.now()
    ticket.rework_count += 1
    ticket.dispatched_at = now
    ticket.accepted_at = None
    ticket.replied_at = None
    ticket.accept_due_at, handle_due = dispatch_deadlines(ticket=ticket, at=now)
    ticket.accept_warned = False
    fields += [
        "rework_count",
        "dispatched_at",
        "accepted_at",
        "replied_at",
        "accept_due_at",
        "accept_warned",
        *set_deadlines(ticket=ticket, start=now, due_at=handle_due),
    ]
    _apply(
        ticket,
        A.REOPEN,
        actor=actor,
        note=note or _("Reopened after the follow-up."),
        payload=payload,
        fields=fields,
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="reopened",
        message=_("%(number)s reopened after follow-up (rework %(n)s).")
        % {"number": ticket.number, "n": ticket.rework_count},
    )
    return ticket


def _tell_duplicates(master: Ticket) -> None:
    for duplicate in master.duplicates.all():
        notify_citizen(
            ticket=duplicate,
            body=_("Your request %(number)s was handled together with %(master)s: %(reply)s")
            % {"number": duplicate.number, "master": master.number, "reply": master.reply[:200]},
        )


def _locked(ticket_id: int) -> Ticket:
    return Ticket.objects.select_related("category").get(pk=ticket_id)


@transaction.atomic
def ticket_warn(*, ticket_id: int, kind: str, now: datetime | None = None) -> Ticket:
    """System warning: the accept deadline passed, or 80 % of the handling time is used."""
    ticket = _locked(ticket_id)
    if kind == "accept_overdue":
        ticket.accept_warned = True
        fields, note = ["accept_warned"], _("Not accepted in time.")
    else:
        ticket.clock_stage = max(ticket.clock_stage, 1)
        fields, note = ["clock_stage"], _("80 % of the time limit has been used.")
    _apply(ticket, A.WARN, actor=None, note=note, payload={"kind": kind}, fields=fields)
    notify_unit(unit_id=ticket.handling_unit_id, ticket=ticket, kind=kind, message=f"{ticket.number}: {note}")
    return ticket


@transaction.atomic
def ticket_urge(*, ticket_id: int, actor, note: str = "", now: datetime | None = None) -> Ticket:
    """催办: by a dispatcher at any time, or by the sweep once the deadline has passed."""
    ticket = _locked(ticket_id)
    now = now or timezone.now()
    ticket.escalation_level = max(ticket.escalation_level, 1)
    fields = ["escalation_level"]
    if ticket.due_at and now >= ticket.due_at and ticket.clock_stage < 2:
        from django.conf import settings

        ticket.clock_stage = 2
        ticket.supervise_at = work_calendar().add_working_days(
            now, getattr(settings, "ZHIWANG_SUPERVISE_AFTER_DAYS", 5)
        )
        fields += ["clock_stage", "supervise_at"]
    _apply(ticket, A.URGE, actor=actor, note=note or _("Please speed up."), fields=fields)
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="urged",
        message=_("Urge notice for %(number)s.") % {"number": ticket.number},
    )
    return ticket


@transaction.atomic
def ticket_supervise(*, ticket_id: int, actor, note: str, now: datetime | None = None) -> Ticket:
    """督办: a written supervision notice; each call raises the level by one."""
    ticket = _locked(ticket_id)
    note = _require(note, "note", _("Write the supervision notice."))
    ticket.escalation_level = max(ticket.escalation_level, 1) + 1
    ticket.clock_stage = 3 if ticket.clock_stage >= 2 else ticket.clock_stage
    _apply(
        ticket,
        A.SUPERVISE,
        actor=actor,
        note=note,
        payload={"level": ticket.escalation_level},
        fields=["escalation_level", "clock_stage"],
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="supervised",
        message=_("Supervision notice (level %(level)s) for %(number)s: %(note)s")
        % {"level": ticket.escalation_level, "number": ticket.number, "note": note},
    )
    return ticket


@transaction.atomic
def ticket_merge(*, ticket: Ticket, master: Ticket, actor, note: str = "") -> Ticket:
    """Merge a duplicate into a master ticket; its citizen hears the master's outcome."""
    if master.pk == ticket.pk or master.status in FINAL_STATUSES or master.merged_into_id:
        raise ServiceError("tickets.master_invalid", _("Merge into another open ticket."), field="master")
    if master.category_id != ticket.category_id:
        raise ServiceError(
            "tickets.master_other_category",
            _("Only tickets of the same category can be merged."),
            field="master",
        )
    ticket.merged_into = master
    ticket.closed_at = timezone.now()
    _apply(
        ticket,
        A.MERGE,
        actor=actor,
        note=note,
        payload={"master": master.number},
        fields=["merged_into", "closed_at"],
    )
    notify_citizen(
        ticket=ticket,
        body=_("Your request %(number)s is handled together with %(master)s.")
        % {"number": ticket.number, "master": master.number},
    )
    return ticket


@transaction.atomic
def ticket_reject(*, ticket: Ticket, actor, reason: str) -> Ticket:
    """不予受理: out of jurisdiction, in litigation/arbitration/petition, or an emergency for 110/119/120/122."""
    reason = _require(reason, "reason", _("Give the reason the ticket is not accepted."))
    ticket.reply = reason
    ticket.closed_at = timezone.now()
    _apply(ticket, A.REJECT, actor=actor, note=reason, fields=["reply", "closed_at"])
    notify_citizen(
        ticket=ticket,
        body=_("Your request %(number)s cannot be accepted: %(reason)s")
        % {"number": ticket.number, "reason": reason},
    )
    return ticket


@transaction.atomic
def ticket_answer_directly(*, ticket: Ticket, actor, reply: str) -> Ticket:
    """The intake operator answers an inquiry on the spot (即时办结)."""
    ticket.reply = _require(reply, "reply", _("Write the answer given to the citizen."))
    now = timezone.now()
    ticket.replied_at = ticket.closed_at = now
    _apply(
        ticket, A.ANSWER_DIRECTLY, actor=actor, note=ticket.reply, fields=["reply", "replied_at", "closed_at"]
    )
    return ticket


@transaction.atomic
def ticket_note(*, ticket: Ticket, actor, note: str) -> TicketEvent:
    """A note on the timeline without a change of state."""
    return _apply(ticket, A.NOTE, actor=actor, note=_require(note, "note", _("Write the note.")))


def ticket_status_for_citizen(ticket: Ticket) -> str:
    """The status a citizen sees (fewer words than the staff's)."""
    if ticket.status == TicketStatus.CLOSED:
        return _("Closed")
    if ticket.status in (TicketStatus.REJECTED, TicketStatus.MERGED):
        return str(ticket.get_status_display())
    if ticket.status == TicketStatus.FOLLOW_UP:
        return _("Answered, awaiting your rating")
    return _("Being handled")
