"""Intake decisions that end a ticket early (merge, reject, answer directly), notes, and the logged unmasking of contacts."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets.disclosure import master_number_for_reporter
from zhiwang.tickets.models import (
    FINAL_STATUSES,
    Ticket,
    TicketEvent,
    TicketKind,
)
from zhiwang.tickets.notify import notify_citizen, notify_unit, written
from zhiwang.tickets.services.transition import (
    A,
    apply_transition,
    permission_first,
    require_text,
    tell_duplicates,
    withdraw_pending_requests,
)
from zhiwang.tickets.workflow import TICKET_WORKFLOW


@transaction.atomic
def ticket_merge(
    *, ticket: Ticket, master: Ticket, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Merge a duplicate into a master ticket (合并); its citizen hears the master's outcome.

    The master must be another open ticket of the same category that the actor can
    see. Duplicates already merged into ``ticket`` move to the master with it, so the
    chain is always one level deep and every citizen is told when the master closes.
    """
    permission_first(ticket, A.MERGE, actor=actor)
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
    apply_transition(
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
    withdraw_pending_requests(
        ticket, why=lambda: _("The ticket was merged into %(master)s.") % {"master": master.number}
    )
    if unit_id:
        notify_unit(
            unit_id=unit_id,
            ticket=ticket,
            kind="merged",
            message=lambda: (
                _("%(number)s was merged into %(master)s; no separate reply is needed.")
                % {"number": ticket.number, "master": master.number}
            ),
        )
    shown_master = master_number_for_reporter(ticket)  # not a confidential master's number
    notify_citizen(
        ticket=ticket,
        body=lambda: (
            _("Your request %(number)s is handled together with %(master)s.")
            % {"number": ticket.number, "master": shown_master}
            if shown_master
            else _("Your request %(number)s is handled together with another request on the same matter.")
            % {"number": ticket.number}
        ),
    )
    return ticket


@transaction.atomic
def ticket_reject(*, ticket: Ticket, actor, reason: str, expected_version: int | None = None) -> Ticket:
    """不予受理: out of jurisdiction, in litigation/arbitration/petition, or an emergency for 110/119/120/122."""
    permission_first(ticket, A.REJECT, actor=actor)
    reason = require_text(reason, "reason", _("Give the reason the ticket is not accepted."))
    ticket.reply = reason
    ticket.closed_at = timezone.now()
    apply_transition(
        ticket,
        A.REJECT,
        actor=actor,
        note=reason,
        fields=["reply", "closed_at"],
        expected_version=expected_version,
    )
    notify_citizen(
        ticket=ticket,
        body=lambda: (
            _("Your request %(number)s cannot be accepted: %(reason)s")
            % {"number": ticket.number, "reason": reason}
        ),
    )
    return ticket


#: Kinds an intake operator may answer on the spot; everything else needs a unit to act.
DIRECT_ANSWER_KINDS = (TicketKind.INQUIRY,)


@transaction.atomic
def ticket_answer_directly(
    *, ticket: Ticket, actor, reply: str, expected_version: int | None = None
) -> Ticket:
    """The intake operator answers an inquiry on the spot (即时办结): the ticket closes at once."""
    permission_first(ticket, A.ANSWER_DIRECTLY, actor=actor)
    if ticket.kind not in DIRECT_ANSWER_KINDS:
        raise ServiceError(
            "tickets.answer_directly_kind",
            _("Only an inquiry can be answered directly; dispatch a %(kind)s to a unit.")
            % {"kind": ticket.get_kind_display()},
            field="kind",
        )
    ticket.reply = require_text(reply, "reply", _("Write the answer given to the citizen."))
    now = timezone.now()
    ticket.replied_at = ticket.closed_at = now
    apply_transition(
        ticket,
        A.ANSWER_DIRECTLY,
        actor=actor,
        note=ticket.reply,
        fields=["reply", "replied_at", "closed_at"],
        expected_version=expected_version,
    )
    tell_duplicates(ticket)
    return ticket


@transaction.atomic
def ticket_transfer(
    *,
    ticket: Ticket,
    actor,
    target: str,
    reference: str,
    note: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Hand the matter to another procedure (移交; e.g. a mediation case, 转调解) and close the ticket.

    ``target`` names the procedure (``"mediation"``, …) and ``reference`` the record that
    now carries it (a case number); both go on the timeline row, so the ticket's history
    points to where the matter went. The handling unit is told, pending requests lapse
    and the citizen is told where to follow it.
    """
    permission_first(ticket, A.TRANSFER, actor=actor)
    target = require_text(target, "target", _("Say which procedure takes the matter over."))
    reference = require_text(reference, "reference", _("Give the number of the record that takes it over."))
    unit_id = ticket.handling_unit_id
    # the citizen's answer, stored in the city's language whatever the actor's page language
    ticket.reply = note.strip() or written(
        lambda: _("Transferred to %(target)s as %(reference)s.") % {"target": target, "reference": reference}
    )
    # Like a rejection: the note is the answer the citizen reads, closed_at says when; no
    # replied_at, which is the handling unit's reply (办结答复) and the indicators' 办结.
    ticket.closed_at = timezone.now()
    apply_transition(
        ticket,
        A.TRANSFER,
        actor=actor,
        note=ticket.reply,
        payload={"to": target, "reference": reference},
        fields=["reply", "closed_at"],
        expected_version=expected_version,
    )
    withdraw_pending_requests(ticket, why=ticket.reply)
    notify_unit(
        unit_id=unit_id,
        ticket=ticket,
        kind="transferred",
        message=lambda: (
            _("Ticket %(number)s was transferred: %(reply)s")
            % {"number": ticket.number, "reply": ticket.reply}
        ),
    )
    notify_citizen(
        ticket=ticket,
        body=lambda: (
            _("Your request %(number)s is now handled as %(reference)s.")
            % {"number": ticket.number, "reference": reference}
        ),
    )
    tell_duplicates(ticket)
    return ticket


@transaction.atomic
def ticket_note(*, ticket: Ticket, actor, note: str, expected_version: int | None = None) -> TicketEvent:
    """A note on the timeline without a change of state (403 before a missing note's 400)."""
    permission_first(ticket, A.NOTE, actor=actor)
    return apply_transition(
        ticket,
        A.NOTE,
        actor=actor,
        note=require_text(note, "note", _("Write the note.")),
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
    permission = TICKET_WORKFLOW.permissions[A.REVEAL_CONTACT]
    if not permission(actor, ticket):
        raise PermissionDeniedError(
            "workflow.permission_denied",
            _("You may not do “%(action)s” here.") % {"action": A.REVEAL_CONTACT.label},
        )
    reason = require_text(reason, "reason", _("Say why you need the reporter's contact."))
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
