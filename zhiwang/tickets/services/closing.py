"""From the reply to closure: review, on-site verification, follow-up (回访) and the citizen's rating."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets.models import (
    Satisfaction,
    Ticket,
    TicketStatus,
)
from zhiwang.tickets.notify import notify_unit
from zhiwang.tickets.services.clock import dispatch_deadlines, set_deadlines
from zhiwang.tickets.services.transition import (
    A,
    apply_transition,
    permission_first,
    require_text,
    tell_duplicates,
)


@transaction.atomic
def ticket_review(
    *, ticket: Ticket, actor, approve: bool, note: str = "", expected_version: int | None = None
) -> Ticket:
    """The dispatcher reviews the reply (审核): on to on-site verification or follow-up, or back to the handler.

    Verification comes first when the category requires it and the ticket has a
    grid whose members can go and look.
    """
    # the same permission either way (send back, or on to verification or follow-up)
    permission_first(ticket, A.APPROVE_REPLY if approve else A.SEND_BACK, actor=actor)
    if not approve:
        note = require_text(note, "note", _("Say what is missing in the reply."))
        apply_transition(ticket, A.SEND_BACK, actor=actor, note=note, expected_version=expected_version)
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="sent_back",
            message=lambda: (
                _("The reply to %(number)s was sent back: %(note)s") % {"number": ticket.number, "note": note}
            ),
        )
        return ticket
    action = A.SEND_TO_VERIFY if ticket.category.requires_verification and ticket.grid_id else A.APPROVE_REPLY
    apply_transition(ticket, action, actor=actor, note=note, expected_version=expected_version)
    return ticket


@transaction.atomic
def ticket_verify(
    *, ticket: Ticket, actor, passed: bool, note: str = "", expected_version: int | None = None
) -> Ticket:
    """A member of the ticket's grid checks the fix on site (核查); a failure goes back to the handler."""
    permission_first(ticket, A.VERIFY_PASS if passed else A.VERIFY_FAIL, actor=actor)
    if not passed:
        note = require_text(note, "note", _("Describe what is still wrong on site."))
        apply_transition(ticket, A.VERIFY_FAIL, actor=actor, note=note, expected_version=expected_version)
        notify_unit(
            unit_id=ticket.handling_unit_id,
            ticket=ticket,
            kind="verify_failed",
            message=lambda: (
                _("On-site check of %(number)s failed: %(note)s") % {"number": ticket.number, "note": note}
            ),
        )
        return ticket
    apply_transition(ticket, A.VERIFY_PASS, actor=actor, note=note, expected_version=expected_version)
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
    in as the reporter, or ``actor=None`` after the page checked number + phone). The citizen
    rates; only staff record that the reporter could not be reached (``unreachable``).
    """
    permission_first(ticket, A.CLOSE, actor=actor)  # closing and reopening: the same people
    if unreachable and by_citizen:
        raise ServiceError(
            "tickets.unreachable_not_allowed",
            _("Only staff record that the reporter could not be reached; rate the answer instead."),
            field="unreachable",
        )
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
        apply_transition(
            ticket,
            A.CLOSE,
            actor=actor,
            note=note,
            payload=payload,
            fields=[*fields, "closed_at"],
            expected_version=expected_version,
        )
        tell_duplicates(ticket)
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
    apply_transition(
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
        message=lambda: (
            _("%(number)s reopened after follow-up (rework %(n)s).")
            % {"number": ticket.number, "n": ticket.rework_count}
        ),
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
