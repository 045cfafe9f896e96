"""Every workflow action on a ticket: one function each, one transaction, one timeline row.

All go through ``_apply``: it locks the ticket row and checks that nobody changed
the ticket since the caller read it (the caller's ``expected_version`` when given,
else the version of the ticket object it passes in). Two dispatchers acting at
once: the second one waits for the lock, then gets ``Conflict``
``tickets.version_conflict`` naming what the ticket is now. Then
``TICKET_WORKFLOW.apply`` checks the transition, the actor's role and
jurisdiction, saves and appends the event.

Every write to a ticket goes through here and bumps ``version``, so "same version"
means "same data": the values a service computed from the object it was given are
never written over somebody else's change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import Conflict, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets.models import (
    FINAL_STATUSES,
    RequestKind,
    RequestStatus,
    Satisfaction,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketRequest,
    TicketStatus,
)
from zhiwang.tickets.notify import notify_citizen, notify_unit
from zhiwang.tickets.services.clock import dispatch_deadlines, set_deadlines
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction

A = TicketAction


def _status_label(value: str) -> str:
    return str(TicketStatus(value).label) if value in TicketStatus.values else value


def _apply(
    ticket: Ticket,
    action: str,
    *,
    actor,
    note: str = "",
    payload: dict | None = None,
    fields: list[str] | tuple[str, ...] = (),
    expected_version: int | None = None,
    unit_id: int | None | bool = False,
) -> TicketEvent:
    """Lock, check the version, apply the transition, append the event (``unit_id``: the unit concerned).

    The event's unit defaults to the ticket's handling unit after the action; actions
    that take the ticket away from a unit (an approved return) name that unit instead,
    so indicators per unit see whom the event was about.
    """
    seen_version = ticket.version
    try:
        return _apply_locked(
            ticket,
            action,
            actor=actor,
            note=note,
            payload=payload,
            fields=fields,
            expected_version=expected_version,
            unit_id=unit_id,
        )
    except Conflict:
        # Keep the caller's (stale) view: retrying with the same object must conflict again.
        ticket.version = seen_version
        raise
    except Exception:
        # Refused (illegal, not permitted, …): the row holds exactly what the caller saw, so
        # the values the service had already put on the object are taken back from it.
        ticket.version = seen_version
        try:
            ticket.refresh_from_db(fields=sorted({*fields, "status", "version"}))
        except Ticket.DoesNotExist:
            pass
        raise


def _apply_locked(
    ticket: Ticket,
    action: str,
    *,
    actor,
    note: str,
    payload: dict | None,
    fields,
    expected_version: int | None,
    unit_id,
) -> TicketEvent:
    with transaction.atomic():
        # Row lock on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the write lock.
        row = Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("version", "status").first()
        if row is None:
            raise NotFound("tickets.not_found", _("The ticket no longer exists."))
        current_version, current_status = row
        if current_version != ticket.version or (
            expected_version is not None and current_version != expected_version
        ):
            raise Conflict(
                "tickets.version_conflict",
                _(
                    "Ticket %(number)s was changed by somebody else a moment ago (it is now “%(status)s”, "
                    "version %(version)s). Reload it and try again."
                )
                % {
                    "number": ticket.number,
                    "status": _status_label(current_status),
                    "version": current_version,
                },
            )
        ticket.version = current_version + 1
        return TICKET_WORKFLOW.apply(
            ticket,
            action,
            actor=actor,
            timeline_model=TicketEvent,
            note=note,
            payload=payload,
            update_fields=[*fields, "version"],
            timeline_fields={
                "unit_id": ticket.handling_unit_id if unit_id is False else unit_id,
                # The services' clock (``timezone.now``), read once more here: the row's time.
                "at": timezone.now(),
            },
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


def _locked(ticket_id: int) -> Ticket:
    """The current ticket, locked (the sweep and the id-based services read it fresh, not from a list)."""
    try:
        return Ticket.objects.select_for_update(of=("self",)).select_related("category").get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise NotFound("tickets.not_found", _("The ticket no longer exists.")) from None


def _withdraw_pending_requests(ticket: Ticket, *, why: str) -> None:
    """A pending request no longer makes sense once the ticket left the unit's hands; it cannot block."""
    TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).update(
        status=RequestStatus.WITHDRAWN, decided_at=timezone.now(), decision_note=why
    )


# --- dispatch ---------------------------------------------------------------


@transaction.atomic
def ticket_dispatch(
    *, ticket: Ticket, unit: OrgUnit | None, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Send the ticket to a handling unit (派遣); the accept and handle clocks start now.

    ``unit=None`` takes the unit the routing rules suggested.
    """
    unit = _unit(unit if unit is not None else ticket.suggested_unit)
    now = timezone.now()
    ticket.handling_unit = unit
    ticket.dispatched_at = now
    ticket.accept_due_at, handle_due = dispatch_deadlines(ticket=ticket, at=now)
    ticket.accept_warned = False
    fields = [
        "handling_unit",
        "dispatched_at",
        "accept_due_at",
        "accept_warned",
        *set_deadlines(ticket=ticket, start=now, due_at=handle_due),
    ]
    _apply(
        ticket,
        A.DISPATCH,
        actor=actor,
        note=note,
        payload={
            "unit_id": unit.pk,
            "unit": unit.name,
            "suggested_unit_id": ticket.suggested_unit_id,
            "as_suggested": unit.pk == ticket.suggested_unit_id,
        },
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
    *,
    ticket: Ticket,
    unit: OrgUnit,
    actor,
    note: str,
    wrong_dispatch: bool = True,
    expected_version: int | None = None,
) -> Ticket:
    """Give the ticket to another unit (改派). The citizen's deadline does not restart.

    ``wrong_dispatch`` (the default: a reassignment usually corrects a dispatch)
    counts against the accurate-dispatch rate of the first dispatch.
    """
    unit = _unit(unit)
    note = _require(note, "note", _("Say why the ticket is reassigned."))
    if unit.pk == ticket.handling_unit_id:
        raise ServiceError(
            "tickets.same_unit", _("The ticket is already with %(unit)s.") % {"unit": unit.name}, field="unit"
        )
    previous_id = ticket.handling_unit_id
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
        payload={
            "from_unit_id": previous_id,
            "from_unit": previous.name if previous else "",
            "unit_id": unit.pk,
            "unit": unit.name,
            "wrong_dispatch": bool(wrong_dispatch),
        },
        fields=["handling_unit", "dispatched_at", "accepted_at", "accept_due_at", "accept_warned"],
        expected_version=expected_version,
    )
    _withdraw_pending_requests(ticket, why=_("The ticket was reassigned."))
    notify_unit(
        unit_id=unit.pk,
        ticket=ticket,
        kind="dispatched",
        message=_("Ticket %(number)s reassigned to you.") % {"number": ticket.number},
    )
    notify_unit(
        unit_id=previous_id,
        ticket=ticket,
        kind="reassigned",
        message=_("Ticket %(number)s was given to another unit.") % {"number": ticket.number},
    )
    return ticket


# --- handling ---------------------------------------------------------------


@transaction.atomic
def ticket_accept(*, ticket: Ticket, actor, expected_version: int | None = None) -> Ticket:
    """The handling unit signs for the ticket (签收)."""
    ticket.accepted_at = timezone.now()
    _apply(ticket, A.ACCEPT, actor=actor, fields=["accepted_at"], expected_version=expected_version)
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
    reason = _require(reason, "reason", _("Give a reason."))
    legal_basis = (legal_basis or "").strip()
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
    else:
        extra_days = None
    if TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).exists():
        raise ServiceError("tickets.request_pending", _("Another request on this ticket awaits a decision."))
    _apply(
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
        message=_("%(unit)s asks: %(kind)s on %(number)s")
        % {"unit": ticket.handling_unit, "kind": request.get_kind_display(), "number": ticket.number},
    )
    return request


@transaction.atomic
def ticket_decide(
    *, request: TicketRequest, approve: bool, actor, note: str = "", expected_version: int | None = None
) -> TicketRequest:
    """Approve or refuse a handler's request, with its effect on the ticket and the clock.

    Return approved: back to the dispatcher queue, the unit and the clocks cleared.
    Extension approved: the deadline moves by the working days asked, the citizen is told.
    Suspension approved: the clock stops until ``ticket_resume``. A refusal needs a note.
    """
    request = TicketRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.PENDING:
        raise ServiceError(
            "tickets.request_decided",
            _("This request has already been decided (%(status)s).")
            % {"status": request.get_status_display()},
        )
    if not approve:
        note = _require(note, "note", _("Say why the request is refused."))
    ticket = _locked(request.ticket_id)
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
    event = _apply(
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
def ticket_resume(*, ticket: Ticket, actor, note: str = "", expected_version: int | None = None) -> Ticket:
    """End a suspension (解挂): every threshold of the clock moves by the working time it stood still.

    The deadline, the 80 % warning point and a pending supervision date all shift by
    the same working time, and the clock stage is kept: a warning already given is
    not given again, and the time the handler had left is exactly what they get back.
    """
    now = timezone.now()
    calendar = work_calendar()
    stopped = calendar.working_seconds_between(ticket.suspended_at or now, now)
    hours = Decimal(str(stopped)) / Decimal(3600)

    def shift(moment):
        return calendar.add_working_hours(moment, hours) if moment is not None and hours else moment

    ticket.due_at = shift(ticket.due_at)
    ticket.warn_at = shift(ticket.warn_at)
    ticket.supervise_at = shift(ticket.supervise_at)
    suspended_since = ticket.suspended_at
    ticket.suspended_at = None
    _apply(
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
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, actor, reply: str, expected_version: int | None = None) -> Ticket:
    """The handling unit's answer (办结答复); it goes to the dispatcher for review."""
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
    _withdraw_pending_requests(ticket, why=_("The unit replied."))
    notify_unit(
        unit_id=ticket.dispatch_center_id,
        ticket=ticket,
        kind="replied",
        message=_("%(number)s replied, awaiting review.") % {"number": ticket.number},
    )
    return ticket


@transaction.atomic
def ticket_review(
    *, ticket: Ticket, actor, approve: bool, note: str = "", expected_version: int | None = None
) -> Ticket:
    """The dispatcher reviews the reply (审核): on to on-site verification or follow-up, or back to the handler.

    Verification comes first when the category requires it and the ticket has a
    grid whose members can go and look.
    """
    if not approve:
        note = _require(note, "note", _("Say what is missing in the reply."))
        _apply(ticket, A.SEND_BACK, actor=actor, note=note, expected_version=expected_version)
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="sent_back",
            message=_("The reply to %(number)s was sent back: %(note)s")
            % {"number": ticket.number, "note": note},
        )
        return ticket
    action = A.SEND_TO_VERIFY if ticket.category.requires_verification and ticket.grid_id else A.APPROVE_REPLY
    _apply(ticket, action, actor=actor, note=note, expected_version=expected_version)
    return ticket


@transaction.atomic
def ticket_verify(
    *, ticket: Ticket, actor, passed: bool, note: str = "", expected_version: int | None = None
) -> Ticket:
    """A member of the ticket's grid checks the fix on site (核查); a failure goes back to the handler."""
    if not passed:
        note = _require(note, "note", _("Describe what is still wrong on site."))
        _apply(ticket, A.VERIFY_FAIL, actor=actor, note=note, expected_version=expected_version)
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="verify_failed",
            message=_("On-site check of %(number)s failed: %(note)s")
            % {"number": ticket.number, "note": note},
        )
        return ticket
    _apply(ticket, A.VERIFY_PASS, actor=actor, note=note, expected_version=expected_version)
    return ticket


# --- closure ----------------------------------------------------------------


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
    expected_version: int | None = None,
) -> Ticket:
    """Record the follow-up (回访): close, or reopen when unresolved or unsatisfied.

    Reopening (重办) adds one to the rework count and restarts the accept and handle
    clocks with the same unit. ``by_citizen``: the reporter rated it themselves (signed
    in as the reporter, or ``actor=None`` after the page checked number + phone).
    """
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
        _apply(
            ticket,
            A.CLOSE,
            actor=actor,
            note=note,
            payload=payload,
            fields=[*fields, "closed_at"],
            expected_version=expected_version,
        )
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
        payload={**payload, "rework_count": ticket.rework_count},
        fields=fields,
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="reopened",
        message=_("%(number)s reopened after follow-up (rework %(n)s).")
        % {"number": ticket.number, "n": ticket.rework_count},
    )
    return ticket


@transaction.atomic
def ticket_rate_by_citizen(
    *, number: str, phone: str, resolved: bool | None, satisfaction: str, note: str = ""
) -> Ticket:
    """The citizen rates the answer on the public page (number + phone prove it is theirs).

    A wrong number or phone answers ``NotFound`` ``tickets.not_found``, the same for
    both, so the page reveals nothing about tickets that are not the caller's.
    """
    from zhiwang.tickets.selectors import phone_matches

    ticket = Ticket.objects.select_related("category").filter(number=(number or "").strip().upper()).first()
    if ticket is None or not phone_matches(ticket, phone):
        raise NotFound("tickets.not_found", _("No ticket with this number and phone."))
    if ticket.status != TicketStatus.FOLLOW_UP:
        raise ServiceError("tickets.not_ratable", _("This ticket is not waiting for your rating."))
    return ticket_follow_up(
        ticket=ticket,
        actor=None,
        resolved=resolved,
        satisfaction=satisfaction,
        note=note,
        by_citizen=True,
    )


def _tell_duplicates(master: Ticket) -> None:
    """The citizens of merged duplicates hear the master's outcome (after commit)."""
    for duplicate in master.duplicates.all():
        notify_citizen(
            ticket=duplicate,
            body=_("Your request %(number)s was handled together with %(master)s: %(reply)s")
            % {"number": duplicate.number, "master": master.number, "reply": master.reply[:200]},
        )


@transaction.atomic
def ticket_merge(
    *, ticket: Ticket, master: Ticket, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Merge a duplicate into a master ticket (合并); its citizen hears the master's outcome.

    The master must be another open ticket of the same category that the actor can
    see. Duplicates already merged into ``ticket`` move to the master with it, so the
    chain is always one level deep and every citizen is told when the master closes.
    """
    master = Ticket.objects.visible_to(actor).filter(pk=master.pk).first() if actor is not None else master
    if master is None or master.pk == ticket.pk or master.status in FINAL_STATUSES or master.merged_into_id:
        raise ServiceError("tickets.master_invalid", _("Merge into another open ticket."), field="master")
    if master.category_id != ticket.category_id:
        raise ServiceError(
            "tickets.master_other_category",
            _("Only tickets of the same category can be merged."),
            field="master",
        )
    unit_id = ticket.handling_unit_id
    ticket.merged_into = master
    ticket.closed_at = timezone.now()
    _apply(
        ticket,
        A.MERGE,
        actor=actor,
        note=note,
        payload={"master": master.number, "master_id": master.pk},
        fields=["merged_into", "closed_at"],
        expected_version=expected_version,
    )
    # Not a change of state for them, so no timeline row; the version still moves.
    Ticket.objects.filter(merged_into=ticket).update(merged_into=master, version=F("version") + 1)
    _withdraw_pending_requests(
        ticket, why=_("The ticket was merged into %(master)s.") % {"master": master.number}
    )
    if unit_id:
        notify_unit(
            unit_id=unit_id,
            ticket=ticket,
            kind="merged",
            message=_("%(number)s was merged into %(master)s; no separate reply is needed.")
            % {"number": ticket.number, "master": master.number},
        )
    notify_citizen(
        ticket=ticket,
        body=_("Your request %(number)s is handled together with %(master)s.")
        % {"number": ticket.number, "master": master.number},
    )
    return ticket


@transaction.atomic
def ticket_reject(*, ticket: Ticket, actor, reason: str, expected_version: int | None = None) -> Ticket:
    """不予受理: out of jurisdiction, in litigation/arbitration/petition, or an emergency for 110/119/120/122."""
    reason = _require(reason, "reason", _("Give the reason the ticket is not accepted."))
    ticket.reply = reason
    ticket.closed_at = timezone.now()
    _apply(
        ticket,
        A.REJECT,
        actor=actor,
        note=reason,
        fields=["reply", "closed_at"],
        expected_version=expected_version,
    )
    notify_citizen(
        ticket=ticket,
        body=_("Your request %(number)s cannot be accepted: %(reason)s")
        % {"number": ticket.number, "reason": reason},
    )
    return ticket


#: Kinds an intake operator may answer on the spot; everything else needs a unit to act.
DIRECT_ANSWER_KINDS = (TicketKind.INQUIRY,)


@transaction.atomic
def ticket_answer_directly(
    *, ticket: Ticket, actor, reply: str, expected_version: int | None = None
) -> Ticket:
    """The intake operator answers an inquiry on the spot (即时办结): the ticket closes at once."""
    if ticket.kind not in DIRECT_ANSWER_KINDS:
        raise ServiceError(
            "tickets.answer_directly_kind",
            _("Only an inquiry can be answered directly; dispatch a %(kind)s to a unit.")
            % {"kind": ticket.get_kind_display()},
            field="kind",
        )
    ticket.reply = _require(reply, "reply", _("Write the answer given to the citizen."))
    now = timezone.now()
    ticket.replied_at = ticket.closed_at = now
    _apply(
        ticket,
        A.ANSWER_DIRECTLY,
        actor=actor,
        note=ticket.reply,
        fields=["reply", "replied_at", "closed_at"],
        expected_version=expected_version,
    )
    _tell_duplicates(ticket)
    return ticket


@transaction.atomic
def ticket_note(*, ticket: Ticket, actor, note: str, expected_version: int | None = None) -> TicketEvent:
    """A note on the timeline without a change of state."""
    return _apply(
        ticket,
        A.NOTE,
        actor=actor,
        note=_require(note, "note", _("Write the note.")),
        expected_version=expected_version,
    )


@transaction.atomic
def ticket_reveal_contact(*, ticket: Ticket, actor, reason: str) -> dict[str, str]:
    """Unmask the reporter's name and phone for somebody who must call back, and log it.

    Phones are masked in every list and detail (DOMAIN.md: personal data masked by
    default, full views permissioned and logged). The log is a ``reveal_contact`` row on
    the ticket's own append-only timeline: it needs no table of its own, everybody who
    reads the ticket's history sees who looked, and issue 4's personal-data access log
    can take these rows over. It is not a change of the ticket, so it does not move the
    version (a look never makes somebody else's action conflict).
    """
    reason = _require(reason, "reason", _("Say why you need the reporter's contact."))
    permission = TICKET_WORKFLOW.permissions[A.REVEAL_CONTACT]
    if not permission(actor, ticket):
        raise PermissionDeniedError(
            "workflow.permission_denied",
            _("You may not do “%(action)s” here.") % {"action": A.REVEAL_CONTACT.label},
        )
    TicketEvent.objects.create(
        ticket=ticket,
        actor=actor,
        action=A.REVEAL_CONTACT,
        from_state=ticket.status,
        to_state=ticket.status,
        note=reason,
        payload={"fields": ["reporter_name", "reporter_phone"]},
        unit_id=ticket.handling_unit_id,
        at=timezone.now(),
    )
    return {"reporter_name": ticket.reporter_name, "reporter_phone": ticket.reporter_phone}


# --- the clock (also called by the sweep, with actor=None) -------------------


def _moved_on(ticket: Ticket, action: str, actor) -> bool:
    """The sweep read its batch a moment ago: a ticket that has since left the clock is skipped, not an error."""
    return actor is None and TICKET_WORKFLOW.target(ticket.status, action) is None


@transaction.atomic
def ticket_warn(*, ticket_id: int, kind: str, now: datetime | None = None) -> Ticket:
    """System warning: the accept deadline passed, or 80 % of the handling time is used."""
    ticket = _locked(ticket_id)
    if _moved_on(ticket, A.WARN, None):
        return ticket
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
def ticket_urge(
    *,
    ticket_id: int,
    actor,
    note: str = "",
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """催办: by a dispatcher or leader at any time, or by the sweep once the deadline has passed.

    Once the deadline has passed, the first urge starts the supervision countdown
    (``ZHIWANG_SUPERVISE_AFTER_DAYS`` working days).
    """
    ticket = _locked(ticket_id)
    if _moved_on(ticket, A.URGE, actor):
        return ticket
    now = now or timezone.now()
    ticket.escalation_level = max(ticket.escalation_level, 1)
    fields = ["escalation_level"]
    if ticket.due_at and now >= ticket.due_at and ticket.clock_stage < 2:
        ticket.clock_stage = 2
        ticket.supervise_at = work_calendar().add_working_days(
            now, getattr(settings, "ZHIWANG_SUPERVISE_AFTER_DAYS", 5)
        )
        fields += ["clock_stage", "supervise_at"]
    _apply(
        ticket,
        A.URGE,
        actor=actor,
        note=note or _("Please speed up."),
        fields=fields,
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="urged",
        message=_("Urge notice for %(number)s.") % {"number": ticket.number},
    )
    return ticket


@transaction.atomic
def ticket_supervise(
    *,
    ticket_id: int,
    actor,
    note: str,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """督办: a written supervision notice once the deadline has passed; each call raises the level by one."""
    ticket = _locked(ticket_id)
    if _moved_on(ticket, A.SUPERVISE, actor):
        return ticket
    note = _require(note, "note", _("Write the supervision notice."))
    now = now or timezone.now()
    if actor is not None and (ticket.due_at is None or now < ticket.due_at):
        raise ServiceError(
            "tickets.not_overdue",
            _("Supervision is for overdue tickets; urge the unit before the deadline."),
        )
    ticket.escalation_level = max(ticket.escalation_level, 1) + 1
    ticket.clock_stage = 3
    _apply(
        ticket,
        A.SUPERVISE,
        actor=actor,
        note=note,
        payload={"level": ticket.escalation_level},
        fields=["escalation_level", "clock_stage"],
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="supervised",
        message=_("Supervision notice (level %(level)s) for %(number)s: %(note)s")
        % {"level": ticket.escalation_level, "number": ticket.number, "note": note},
    )
    return ticket
