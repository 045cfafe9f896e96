"""The one way a workflow action changes a ticket: lock, version check, transition, timeline row.

Every workflow action (``dispatching``, ``handling``, ``closing``, ``triage``, ``escalation``)
is one function, one transaction, one timeline row.

All go through ``apply_transition``: it locks the ticket row and checks that nobody changed
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

from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import Conflict, NotFound, ServiceError
from zhiwang.core.masking import mask_text
from zhiwang.tickets.disclosure import is_confidential
from zhiwang.tickets.models import (
    RequestStatus,
    Ticket,
    TicketEvent,
    TicketRequest,
    TicketStatus,
)
from zhiwang.tickets.notify import notify_citizen, written
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction

A = TicketAction


def status_label(value: str) -> str:
    return str(TicketStatus(value).label) if value in TicketStatus.values else value


def apply_transition(
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
                    "status": status_label(current_status),
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


def permission_first(ticket: Ticket, action: str, *, actor) -> None:
    """``PermissionDeniedError`` (403) unless ``actor`` may do ``action`` on ``ticket``.

    A service calls it before it looks at the caller's input: somebody who may not act at all
    is told that, whatever they sent, not what their request lacks (a 400 for a missing note) or
    what the ticket's neighbours look like (a master ticket, a unit). An action the ticket's
    state does not take is left to ``apply_transition``, which says so before it checks the
    permission (``workflow.illegal_transition`` first, as always); it checks both again under
    the row lock.
    """
    if TICKET_WORKFLOW.target(ticket.status, action) is None:
        return
    TICKET_WORKFLOW.require_permission(action, actor=actor, obj=ticket)


def permitted_now(ticket: Ticket, action: str, *, actor) -> None:
    """What ``apply_transition`` would refuse first, asked before anything else: ``ServiceError``
    ``workflow.illegal_transition`` unless the ticket's state takes ``action``, then
    ``PermissionDeniedError`` ``workflow.permission_denied`` unless ``actor`` may do it.

    For actions on many tickets at once (bulk dispatch): each ticket is asked this before the
    request's other input (a unit by code) is looked up, so somebody who may act on none of them
    learns nothing about that input. Unlike ``permission_first`` it also refuses a ticket whose
    state does not take the action: such a ticket is never acted on, so it must not open the
    look-up either (its viewer sees its state anyway).
    """
    if TICKET_WORKFLOW.target(ticket.status, action) is None:
        raise ServiceError(
            "workflow.illegal_transition",
            _("The action “%(action)s” is not allowed in the state “%(state)s”.")
            % {"action": str(TicketAction(action).label), "state": status_label(ticket.status)},
        )
    TICKET_WORKFLOW.require_permission(action, actor=actor, obj=ticket)


def require_text(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ServiceError(f"tickets.{field}_required", message, field=field)
    return text


def active_unit(unit: OrgUnit | None) -> OrgUnit:
    if unit is None or not unit.is_active:
        raise ServiceError("tickets.unit_required", _("Choose an active handling unit."), field="unit")
    return unit


def locked_ticket(ticket_id: int) -> Ticket:
    """The current ticket, locked (the sweep and the id-based services read it fresh, not from a list)."""
    try:
        return Ticket.objects.select_for_update(of=("self",)).select_related("category").get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise NotFound("tickets.not_found", _("The ticket no longer exists.")) from None


def withdraw_pending_requests(ticket: Ticket, *, why) -> None:
    """A pending request no longer makes sense once the ticket left the unit's hands; it cannot block.

    ``why`` (a text, or a callable giving one) is stored in the city's language (``notify.written``):
    the unit reads it whatever language the actor's page was in."""
    TicketRequest.objects.filter(ticket=ticket, status=RequestStatus.PENDING).update(
        status=RequestStatus.WITHDRAWN, decided_at=timezone.now(), decision_note=written(why)
    )


def tell_duplicates(master: Ticket) -> None:
    """The citizens of merged duplicates hear the master's outcome (after commit).

    They are other people than the master's reporter, so they get the answer as the city publishes
    it (docs/open311.md): masked (a phone, an ID number, an e-mail in it is not texted to a
    stranger), and only that the request was answered when the master is confidential
    (``tickets.disclosure``: a 举报 report, a petition, a matter about officials).
    """
    duplicates = list(master.duplicates.all())
    if not duplicates:
        return
    # masked before it is cut: a phone number cut in two would no longer be recognised
    confidential = is_confidential(master)
    reply = mask_text(master.reply)[:200] if master.reply and not confidential else ""

    def text(duplicate: Ticket) -> str:
        if confidential:  # neither its answer nor its number: a handle on somebody's report
            return _(
                "Your request %(number)s was handled together with another request on the same matter, "
                "which has been answered."
            ) % {"number": duplicate.number}
        return _("Your request %(number)s was handled together with %(master)s: %(reply)s") % {
            "number": duplicate.number,
            "master": master.number,
            "reply": reply or _("The request has been answered."),
        }

    for duplicate in duplicates:
        notify_citizen(ticket=duplicate, body=partial(text, duplicate))
