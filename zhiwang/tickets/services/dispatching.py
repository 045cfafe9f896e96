"""Dispatch (派遣) and reassignment (改派): a ticket goes to a handling unit and its clocks start."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import (
    Ticket,
)
from zhiwang.tickets.notify import city_language, notify_unit
from zhiwang.tickets.services.clock import dispatch_deadlines, set_deadlines
from zhiwang.tickets.services.corrections import confirm_category_fields, confirm_category_record
from zhiwang.tickets.services.transition import (
    A,
    active_unit,
    apply_transition,
    permission_first,
    require_text,
    withdraw_pending_requests,
)


def dispatch_fields(ticket: Ticket, *, unit: OrgUnit, now: datetime) -> list[str]:
    """Put ``ticket`` in ``unit``'s hands from ``now``: unit, accept and handle deadlines (not saved).

    Returns the changed field names. Shared by ``ticket_dispatch`` and the submit pipeline,
    which writes an automatically dispatched ticket once, already dispatched.
    """
    ticket.handling_unit = unit
    ticket.dispatched_at = now
    ticket.accept_due_at, handle_due = dispatch_deadlines(ticket=ticket, at=now)
    ticket.accept_warned = False
    # A dispatch starts a new unit's round: urges and supervisions of an earlier unit do not carry.
    ticket.escalation_level = 0
    return [
        "handling_unit",
        "dispatched_at",
        "accept_due_at",
        "accept_warned",
        "escalation_level",
        *set_deadlines(ticket=ticket, start=now, due_at=handle_due),
    ]


def dispatch_payload(ticket: Ticket, unit: OrgUnit) -> dict:
    """The dispatch row's payload (``as_suggested`` feeds the accurate-dispatch rate)."""
    return {
        "unit_id": unit.pk,
        "unit": unit.name,
        "suggested_unit_id": ticket.suggested_unit_id,
        "as_suggested": unit.pk == ticket.suggested_unit_id,
    }


def notify_dispatched(ticket: Ticket, unit: OrgUnit) -> None:
    """The unit's inbox message for a newly dispatched ticket."""
    notify_unit(unit_id=unit.pk, ticket=ticket, kind="dispatched", message=dispatched_message(ticket))


def dispatched_message(ticket: Ticket) -> str:
    """The text of the unit's inbox message for a newly dispatched ticket (also written in batches),
    in the city's language, as every notification (``tickets.notify``)."""
    with city_language():
        return _("New ticket %(number)s: %(title)s") % {"number": ticket.number, "title": ticket.title}


@transaction.atomic
def ticket_dispatch(
    *, ticket: Ticket, unit: OrgUnit | None, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Send the ticket to a handling unit (派遣); the accept and handle clocks start now.

    ``unit=None`` takes the unit the routing rules suggested.
    """
    permission_first(ticket, A.DISPATCH, actor=actor)
    unit = active_unit(unit if unit is not None else ticket.suggested_unit)
    fields = dispatch_fields(ticket, unit=unit, now=timezone.now())
    fields += confirm_category_fields(ticket, actor=actor)
    apply_transition(
        ticket,
        A.DISPATCH,
        actor=actor,
        note=note,
        payload=dispatch_payload(ticket, unit),
        fields=fields,
        expected_version=expected_version,
    )
    confirm_category_record(ticket, actor=actor)
    notify_dispatched(ticket, unit)
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
    permission_first(ticket, A.REASSIGN, actor=actor)
    unit = active_unit(unit)
    note = require_text(note, "note", _("Say why the ticket is reassigned."))
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
    apply_transition(
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
    withdraw_pending_requests(ticket, why=lambda: _("The ticket was reassigned."))
    notify_unit(
        unit_id=unit.pk,
        ticket=ticket,
        kind="dispatched",
        message=lambda: _("Ticket %(number)s reassigned to you.") % {"number": ticket.number},
    )
    notify_unit(
        unit_id=previous_id,
        ticket=ticket,
        kind="reassigned",
        message=lambda: _("Ticket %(number)s was given to another unit.") % {"number": ticket.number},
    )
    return ticket
