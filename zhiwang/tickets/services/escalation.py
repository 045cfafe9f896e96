"""The clock's actions: deadline warnings, urge (催办) and supervise (督办); the sweep calls them with actor=None."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.tickets.explanations import NOTE_ACCEPT_OVERDUE, NOTE_DEADLINE_NEAR, NOTE_SPEED_UP, system_note
from zhiwang.tickets.models import (
    Ticket,
)
from zhiwang.tickets.notify import notify_unit
from zhiwang.tickets.services.clock import URGE_OVERDUE_KEY, supervision_point, warning_percent
from zhiwang.tickets.services.transition import (
    A,
    apply_transition,
    locked_ticket,
    permission_first,
    require_text,
)
from zhiwang.tickets.workflow import TICKET_WORKFLOW

# --- the clock (also called by the sweep, with actor=None) -------------------


def _moved_on(ticket: Ticket, action: str, actor) -> bool:
    """The sweep read its batch a moment ago: a ticket that has since left the clock is skipped, not an error."""
    return actor is None and TICKET_WORKFLOW.target(ticket.status, action) is None


@transaction.atomic
def ticket_warn(*, ticket_id: int, kind: str, now: datetime | None = None) -> Ticket:
    """System warning: the accept deadline passed, or the warning share (80 %) of the handling time is used."""
    ticket = locked_ticket(ticket_id)
    if _moved_on(ticket, A.WARN, None):
        return ticket
    # Stored as a code (worded for each reader, tickets.explanations) and in the city's language.
    if kind == "accept_overdue":
        ticket.accept_warned = True
        fields, (note, note_keys) = ["accept_warned"], system_note(NOTE_ACCEPT_OVERDUE)
    else:
        ticket.clock_stage = max(ticket.clock_stage, 1)
        fields, (note, note_keys) = (
            ["clock_stage"],
            system_note(NOTE_DEADLINE_NEAR, percent=warning_percent()),
        )
    apply_transition(
        ticket, A.WARN, actor=None, note=note, payload={"kind": kind, **note_keys}, fields=fields
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind=kind,
        # worded like the other notices ("ZW… 已答复，等待审核。"); the note is already the city's
        message=lambda: _("%(number)s: %(note)s") % {"number": ticket.number, "note": note},
    )
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
    (``ZHIWANG_SUPERVISE_AFTER_DAYS`` working days). The row's ``payload["overdue"]`` says whether
    the deadline had passed (strictly): only then does the urge count as overdue on the
    dashboards (an urge before the deadline is a reminder, not a breach).
    """
    ticket = locked_ticket(ticket_id)
    if _moved_on(ticket, A.URGE, actor):
        return ticket
    now = now or timezone.now()
    overdue = ticket.due_at is not None and now > ticket.due_at
    ticket.escalation_level = max(ticket.escalation_level, 1)
    fields = ["escalation_level"]
    if overdue and ticket.clock_stage < 2:
        ticket.clock_stage = 2
        ticket.supervise_at = supervision_point(urged_at=now)
        fields += ["clock_stage", "supervise_at"]
    default_note, default_keys = system_note(NOTE_SPEED_UP)  # no words given: worded for each reader
    apply_transition(
        ticket,
        A.URGE,
        actor=actor,
        note=note or default_note,
        payload={URGE_OVERDUE_KEY: overdue, **({} if note else default_keys)},
        fields=fields,
        expected_version=expected_version,
    )
    notify_unit(
        unit_id=ticket.handling_unit_id,
        ticket=ticket,
        kind="urged",
        message=lambda: _("Urge notice for %(number)s.") % {"number": ticket.number},
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
    ticket = locked_ticket(ticket_id)
    if _moved_on(ticket, A.SUPERVISE, actor):
        return ticket
    permission_first(ticket, A.SUPERVISE, actor=actor)
    note = require_text(note, "note", _("Write the supervision notice."))
    now = now or timezone.now()
    if actor is not None and (ticket.due_at is None or now <= ticket.due_at):
        raise ServiceError(
            "tickets.not_overdue",
            _("Supervision is for overdue tickets; urge the unit before the deadline."),
        )
    ticket.escalation_level = max(ticket.escalation_level, 1) + 1
    ticket.clock_stage = 3
    apply_transition(
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
        message=lambda: (
            _("Supervision notice (level %(level)s) for %(number)s: %(note)s")
            % {"level": ticket.escalation_level, "number": ticket.number, "note": note}
        ),
    )
    return ticket
