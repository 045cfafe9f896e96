"""The ticket clock: deadlines in working time, and the sweep that warns, urges and supervises.

Thresholds (settings, DOMAIN.md defaults): a warning at 80 % of the handling limit;
an urge notice once the deadline has passed (the day after expiry); supervision
when the ticket is still overdue ``ZHIWANG_SUPERVISE_AFTER_DAYS`` (5) working days
after the urge. ``ClockAlert`` rows (unique per ticket, kind and deadline) make the
sweep act exactly once per threshold, however often and however many workers run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets.models import ClockAlert, Ticket, TicketStatus

logger = logging.getLogger(__name__)

CLOCK_STATUSES = (
    TicketStatus.DISPATCHED,
    TicketStatus.ACCEPTED,
    TicketStatus.REPLIED,
    TicketStatus.VERIFYING,
)


def dispatch_deadlines(*, ticket: Ticket, at: datetime) -> tuple[datetime, datetime]:
    """(accept by, handle by) for a ticket dispatched at ``at``."""
    accept_hours = ticket.category.accept_hours or Decimal(2)
    accept_due = due(start=at, amount=accept_hours, unit=LimitUnit.WORKING_HOURS)
    handle_due = due(start=at, amount=ticket.deadline_amount, unit=ticket.deadline_unit)
    return accept_due, handle_due


def warning_point(*, start: datetime, deadline: datetime) -> datetime:
    """The moment ``ZHIWANG_WARNING_RATIO`` (80 %) of the working time between start and deadline has passed."""
    ratio = getattr(settings, "ZHIWANG_WARNING_RATIO", 0.8)
    calendar = work_calendar()
    total = calendar.working_seconds_between(start, deadline)
    if total <= 0:
        return deadline
    return calendar.add_working_hours(start, Decimal(total * ratio) / Decimal(3600))


def set_deadlines(*, ticket: Ticket, start: datetime, due_at: datetime) -> list[str]:
    """Point the clock at a new deadline: warning point recomputed, stage back to running."""
    ticket.due_at = due_at
    ticket.warn_at = warning_point(start=start, deadline=due_at)
    ticket.supervise_at = None
    ticket.clock_stage = 0
    return ["due_at", "warn_at", "supervise_at", "clock_stage"]


@dataclass
class SweepReport:
    scanned: int = 0
    warned: int = 0
    urged: int = 0
    supervised: int = 0
    accept_warned: int = 0


def _claim(ticket_id: int, kind: str, deadline: datetime) -> bool:
    """Record that a threshold is being acted on; False if another run already did."""
    try:
        with transaction.atomic():
            ClockAlert.objects.create(ticket_id=ticket_id, kind=kind, deadline=deadline)
        return True
    except IntegrityError:
        return False


def _batches(qs, batch_size: int):
    """Primary keys of ``qs`` in ascending batches: bounded memory whatever the count."""
    last_pk = 0
    while True:
        rows = list(
            qs.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "due_at", "accept_due_at")[:batch_size]
        )
        if not rows:
            return
        last_pk = rows[-1][0]
        yield rows


def clock_sweep(*, now: datetime | None = None, batch_size: int = 2000, progress=None) -> SweepReport:
    """Act on every deadline threshold crossed since the last run, exactly once.

    Each threshold is an indexed SQL filter (``warn_at``, ``due_at``, ``supervise_at``
    with ``clock_stage``), so a run reads only the tickets that need an action, never
    the whole open stock. Safe to run twice or on two workers at once (``ClockAlert``).
    """
    from zhiwang.tickets.services.actions import ticket_supervise, ticket_urge, ticket_warn

    now = now or timezone.now()
    report = SweepReport()
    running = Ticket.objects.filter(status__in=CLOCK_STATUSES)

    def tick(count):
        report.scanned += count
        if progress:
            progress(report.scanned)

    for rows in _batches(
        Ticket.objects.filter(status=TicketStatus.DISPATCHED, accept_warned=False, accept_due_at__lte=now),
        batch_size,
    ):
        tick(len(rows))
        for pk, _due, accept_due in rows:
            if _claim(pk, ClockAlert.Kind.ACCEPT_WARNING, accept_due):
                ticket_warn(ticket_id=pk, kind="accept_overdue", now=now)
                report.accept_warned += 1
    for rows in _batches(running.filter(clock_stage=0, warn_at__lte=now, due_at__gt=now), batch_size):
        tick(len(rows))
        for pk, due_at, _accept in rows:
            if _claim(pk, ClockAlert.Kind.WARNING, due_at):
                ticket_warn(ticket_id=pk, kind="deadline_near", now=now)
                report.warned += 1
    for rows in _batches(running.filter(clock_stage__lt=2, due_at__lte=now), batch_size):
        tick(len(rows))
        for pk, due_at, _accept in rows:
            if _claim(pk, ClockAlert.Kind.URGE, due_at):
                ticket_urge(ticket_id=pk, actor=None, note=_("Overdue: the deadline has passed."), now=now)
                report.urged += 1
    for rows in _batches(running.filter(clock_stage=2, supervise_at__lte=now), batch_size):
        tick(len(rows))
        for pk, due_at, _accept in rows:
            if _claim(pk, ClockAlert.Kind.SUPERVISE, due_at):
                ticket_supervise(
                    ticket_id=pk,
                    actor=None,
                    note=_("Still overdue %(days)s working days after the urge notice.")
                    % {"days": getattr(settings, "ZHIWANG_SUPERVISE_AFTER_DAYS", 5)},
                    now=now,
                )
                report.supervised += 1
    logger.info("clock sweep: %s", report)
    return report
