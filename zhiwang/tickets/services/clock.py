"""The ticket clock: deadlines in working time, and the sweep that warns, urges and supervises.

Thresholds (DOMAIN.md "Tickets"; each a setting read with a default, docs/clock.md):

| threshold | when | setting |
|---|---|---|
| accept deadline missed | the unit has not signed ``accept_due_at`` after dispatch | ``Category.accept_hours`` |
| warning (预警) | 80 % of the working time from dispatch to the deadline is used | ``ZHIWANG_WARNING_RATIO`` (0.8) |
| overdue (超期) | the deadline has passed (strictly after ``due_at``) | — |
| urge notice (催办通知) | the day after expiry: the first working window of the next working day | ``ZHIWANG_URGE_AFTER_DAYS`` (1; 0 = at expiry) |
| supervision (督办) | still overdue N working days after the urge notice | ``ZHIWANG_SUPERVISE_AFTER_DAYS`` (5) |

Only tickets whose work is with the handling unit are swept (``dispatched``, ``accepted``):
a suspended ticket's clock stands still, and a replied one waits for the dispatcher, not the unit.

Exactly once per threshold, however often and on however many workers the sweep runs: each
step re-reads its candidates under a row lock (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's IMMEDIATE transactions serialize writers) with the threshold condition
repeated, moves the ticket's clock column (``clock_stage`` / ``accept_warned``) so the condition
no longer holds, and records a ``ClockAlert`` (unique per ticket, kind and deadline) in the same
transaction. Each step works in batches of ticket ids, set-wise (one UPDATE and three bulk
INSERTs per batch), so a storm of 100,000 warnings costs seconds, not an hour of single saves.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import due, work_calendar
from zhiwang.tickets.explanations import (
    NOTE_ACCEPT_OVERDUE,
    NOTE_DEADLINE_NEAR,
    NOTE_OVERDUE,
    NOTE_SUPERVISED,
    NOTE_URGED,
    system_note,
)
from zhiwang.tickets.models import ClockAlert, Notification, Ticket, TicketEvent, TicketStatus
from zhiwang.tickets.notify import city_language
from zhiwang.tickets.workflow import TicketAction

logger = logging.getLogger(__name__)

#: The states in which the handling unit holds the work, so its clock runs and the sweep acts.
SWEPT_STATUSES = (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED)

#: ``clock_stage`` values (Ticket.clock_stage): running → warned → urged → supervised.
RUNNING, WARNED, URGED, SUPERVISED = 0, 1, 2, 3

#: An urge (催办) row's payload key: whether the ticket's deadline had passed when it was urged.
#: The dashboards count only such an urge as overdue (a dispatcher may urge before the deadline);
#: an urge row without the key, written before urges recorded it, counts as it always did.
URGE_OVERDUE_KEY = "overdue"


# --- settings ---------------------------------------------------------------


def warning_ratio() -> Decimal:
    """``ZHIWANG_WARNING_RATIO``: the share of the time limit used when the warning goes out (0 < r ≤ 1)."""
    ratio = Decimal(str(getattr(settings, "ZHIWANG_WARNING_RATIO", "0.8")))
    if not Decimal(0) < ratio <= Decimal(1):
        raise ValueError(f"ZHIWANG_WARNING_RATIO={ratio} must be above 0 and at most 1")
    return ratio


def warning_percent() -> int:
    """The warning share of the time limit, in per cent (80)."""
    return int(warning_ratio() * 100)


def urge_after_days() -> int:
    """``ZHIWANG_URGE_AFTER_DAYS``: working days after the day of expiry when the urge notice goes out."""
    days = int(getattr(settings, "ZHIWANG_URGE_AFTER_DAYS", 1))
    if days < 0:
        raise ValueError(f"ZHIWANG_URGE_AFTER_DAYS={days} must be 0 or more")
    return days


def supervise_after_days() -> int:
    """``ZHIWANG_SUPERVISE_AFTER_DAYS``: working days after the urge notice when supervision starts."""
    days = int(getattr(settings, "ZHIWANG_SUPERVISE_AFTER_DAYS", 5))
    if days < 1:
        raise ValueError(f"ZHIWANG_SUPERVISE_AFTER_DAYS={days} must be at least 1")
    return days


# --- deadlines --------------------------------------------------------------


def dispatch_deadlines(*, ticket: Ticket, at: datetime) -> tuple[datetime, datetime]:
    """(accept by, handle by) for a ticket dispatched at ``at``."""
    accept_hours = ticket.category.accept_hours or Decimal(2)
    accept_due = due(start=at, amount=accept_hours, unit=LimitUnit.WORKING_HOURS)
    handle_due = due(start=at, amount=ticket.deadline_amount, unit=ticket.deadline_unit)
    return accept_due, handle_due


def warning_point(
    *, start: datetime, deadline: datetime, ratio: Decimal | float | None = None, calendar=None
) -> datetime:
    """The moment ``ratio`` (``ZHIWANG_WARNING_RATIO``) of the working time from start to deadline is used.

    A deadline with no working time before it (or before the start) warns at the deadline itself.
    """
    ratio = warning_ratio() if ratio is None else Decimal(str(ratio))
    calendar = calendar or work_calendar()
    total = calendar.working_seconds_between(start, deadline)
    if total <= 0:
        return deadline
    return min(calendar.add_working_hours(start, Decimal(str(total)) * ratio / Decimal(3600)), deadline)


def set_deadlines(*, ticket: Ticket, start: datetime, due_at: datetime) -> list[str]:
    """Point the clock at a new deadline: warning point recomputed, stage back to running.

    Returns the changed field names for ``save(update_fields=…)``. A new deadline is a new
    set of thresholds: ``ClockAlert`` rows are keyed by the deadline, so it warns again. A
    deadline that only moves (``ticket_resume``) keeps its stage and ``carry_alerts``.
    """
    ticket.due_at = due_at
    ticket.warn_at = warning_point(start=start, deadline=due_at)
    ticket.supervise_at = None
    ticket.clock_stage = RUNNING
    return ["due_at", "warn_at", "supervise_at", "clock_stage"]


def carry_alerts(*, ticket_id: int, old_due: datetime | None, new_due: datetime | None) -> int:
    """Key the thresholds already acted on for ``old_due`` by ``new_due`` too; return the rows added.

    For a deadline that moves without a new time limit (a resumed suspension shifts it by the
    time the clock stood still): the thresholds crossed before the move stay done. The clock
    stage carries the warning, urge and supervision steps; the overdue notice has no stage of
    its own and is guarded by its ``ClockAlert`` row, keyed by the deadline, so without this a
    ticket overdue before its suspension would be reported overdue again after the resume.
    """
    if old_due is None or new_due is None or old_due == new_due:
        return 0
    kinds = (
        ClockAlert.Kind.WARNING,
        ClockAlert.Kind.OVERDUE,
        ClockAlert.Kind.URGE,
        ClockAlert.Kind.SUPERVISE,
    )
    done = ClockAlert.objects.filter(ticket_id=ticket_id, deadline=old_due, kind__in=kinds).values_list(
        "kind", flat=True
    )
    rows = [ClockAlert(ticket_id=ticket_id, kind=kind, deadline=new_due) for kind in done]
    ClockAlert.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def urge_cutoff(*, now: datetime, days: int | None = None) -> tuple[str, datetime]:
    """The urge threshold at ``now`` as a lookup on ``due_at``: ``("lt", now)`` or ``("lte", midnight)``.

    "Urge notice the day after expiry" (DOMAIN.md): a ticket is urged once the first working
    window of the ``days``-th working day after its day of expiry has opened. The day of
    expiry of a deadline at exactly midnight is the day that midnight ends. With D the latest
    working day whose first window opened at or before ``now`` and C the working day ``days − 1``
    working days before D, a ticket is urged when ``due_at <= C 00:00`` (its day of expiry is
    before C). ``days == 0`` urges as soon as the deadline has passed (``due_at < now``).
    """
    days = urge_after_days() if days is None else days
    if days == 0:
        return "lt", now
    calendar = work_calendar()
    local = timezone.localtime(now, calendar.tz)
    day = local.date()
    windows = calendar.working_windows(day)
    if not windows or local < windows[0][0]:
        day = previous_working_day(day)
    for _step in range(days - 1):
        day = previous_working_day(day)
    return "lte", datetime.combine(day, datetime.min.time(), tzinfo=calendar.tz)


def previous_working_day(day: date) -> date:
    """The last working day strictly before ``day``."""
    calendar = work_calendar()
    for _step in range(3660):
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            return day
    raise ValueError("the work calendar has no working day in ten years")


def supervision_point(*, urged_at: datetime, calendar=None) -> datetime:
    """When a ticket urged at ``urged_at`` is supervised if still overdue: end of the N-th working day after."""
    return (calendar or work_calendar()).add_working_days(urged_at, supervise_after_days())


# --- the sweep ---------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did. ``scanned`` counts candidate rows read; ``skipped`` the ones another
    worker or a user held (locked) or changed first — they are looked at again next time."""

    scanned: int = 0
    accept_warned: int = 0
    warned: int = 0
    overdue: int = 0
    urged: int = 0
    supervised: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Step:
    """One threshold: which tickets cross it (``condition``), what changes, what is written."""

    kind: str  # ClockAlert.Kind
    report_field: str
    condition: Q  # the whole threshold condition, repeated under the row lock
    deadline_field: str  # the deadline the alert is keyed by
    changes: dict  # Ticket columns set when the threshold is acted on
    note: str  # the timeline note's code (tickets.explanations), the same for every ticket
    notification_kind: str
    message: Callable[[dict, str], str]
    notify_dispatcher: bool = False
    payload: Callable[[dict], dict] | None = None
    note_params: dict = field(default_factory=dict)


_ROW_FIELDS = ("pk", "number", "status", "handling_unit_id", "dispatch_center_id", "due_at", "accept_due_at")


def _steps(now: datetime) -> list[_Step]:
    swept = Q(status__in=SWEPT_STATUSES)
    supervise_days = supervise_after_days()
    lookup, cutoff = urge_cutoff(now=now)
    urge_due = Q(**{f"due_at__{lookup}": cutoff})
    overdue_recorded = Exists(
        ClockAlert.objects.filter(
            ticket=OuterRef("pk"), kind=ClockAlert.Kind.OVERDUE, deadline=OuterRef("due_at")
        )
    )
    steps = [
        _Step(
            kind=ClockAlert.Kind.ACCEPT_WARNING,
            report_field="accept_warned",
            condition=Q(status=TicketStatus.DISPATCHED, accept_warned=False, accept_due_at__lt=now),
            deadline_field="accept_due_at",
            changes={"accept_warned": True},
            note=NOTE_ACCEPT_OVERDUE,
            notification_kind="accept_overdue",
            message=lambda row, note: f"{row['number']}: {note}",
            payload=lambda row: {"kind": "accept_overdue"},
        ),
        _Step(
            kind=ClockAlert.Kind.WARNING,
            report_field="warned",
            condition=swept & Q(clock_stage=RUNNING, warn_at__lte=now, due_at__gte=now),
            deadline_field="due_at",
            changes={"clock_stage": WARNED},
            note=NOTE_DEADLINE_NEAR,
            note_params={"percent": warning_percent()},
            notification_kind="deadline_near",
            message=lambda row, note: f"{row['number']}: {note}",
            payload=lambda row: {"kind": "deadline_near"},
        ),
    ]
    if lookup != "lt":  # with an urge at expiry the urge notice itself says it is overdue
        steps.append(
            _Step(
                kind=ClockAlert.Kind.OVERDUE,
                report_field="overdue",
                condition=swept & Q(clock_stage__lt=URGED, due_at__lt=now) & ~overdue_recorded,
                deadline_field="due_at",
                changes={},
                note=NOTE_OVERDUE,
                notification_kind="overdue",
                message=lambda row, note: f"{row['number']}: {note}",
                notify_dispatcher=True,
                payload=lambda row: {"kind": "overdue"},
            )
        )
    steps += [
        _Step(
            kind=ClockAlert.Kind.URGE,
            report_field="urged",
            condition=swept & Q(clock_stage__lt=URGED, due_at__lt=now) & urge_due,
            deadline_field="due_at",
            changes={
                "clock_stage": URGED,
                "escalation_level": Greatest(F("escalation_level"), 1),
                "supervise_at": supervision_point(urged_at=now),
            },
            note=NOTE_URGED,
            notification_kind="urged",
            message=lambda row, note: _("Urge notice for %(number)s.") % {"number": row["number"]},
            payload=lambda row: {URGE_OVERDUE_KEY: True},  # only ever after the deadline
        ),
        _Step(
            kind=ClockAlert.Kind.SUPERVISE,
            report_field="supervised",
            condition=swept & Q(clock_stage=URGED, supervise_at__lte=now, due_at__lt=now),
            deadline_field="due_at",
            changes={"clock_stage": SUPERVISED, "escalation_level": Greatest(F("escalation_level"), 1) + 1},
            note=NOTE_SUPERVISED,
            note_params={"days": supervise_days},
            notification_kind="supervised",
            message=lambda row, note: (
                _("Supervision notice (level %(level)s) for %(number)s: %(note)s")
                % {"level": max(row["escalation_level"], 1) + 1, "number": row["number"], "note": note}
            ),
            payload=lambda row: {"level": max(row["escalation_level"], 1) + 1},
        ),
    ]
    return steps


_ACTIONS = {
    ClockAlert.Kind.ACCEPT_WARNING: TicketAction.WARN,
    ClockAlert.Kind.WARNING: TicketAction.WARN,
    ClockAlert.Kind.OVERDUE: TicketAction.WARN,
    ClockAlert.Kind.URGE: TicketAction.URGE,
    ClockAlert.Kind.SUPERVISE: TicketAction.SUPERVISE,
}


def _act(step: _Step, ids: list[int], *, now: datetime) -> int:
    """Act on the tickets of ``ids`` that still cross ``step``'s threshold; return how many."""
    with transaction.atomic():
        rows = list(
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(step.condition, pk__in=ids)
            .order_by("pk")
            .values(*_ROW_FIELDS, "escalation_level")
        )
        if not rows:
            return 0
        if not step.changes:
            # Nothing on the ticket row marks this step done, so a worker that locked the row just
            # after another one committed the step still matched it (its snapshot was older); a
            # new statement sees the other one's alert.
            done = set(
                ClockAlert.objects.filter(
                    ticket_id__in=[row["pk"] for row in rows], kind=step.kind
                ).values_list("ticket_id", "deadline")
            )
            rows = [row for row in rows if (row["pk"], row[step.deadline_field]) not in done]
            if not rows:
                return 0
        pks = [row["pk"] for row in rows]
        if step.changes:
            Ticket.objects.filter(pk__in=pks).update(**step.changes, updated_at=now)
        ClockAlert.objects.bulk_create(
            [
                ClockAlert(ticket_id=row["pk"], kind=step.kind, deadline=row[step.deadline_field])
                for row in rows
            ],
            ignore_conflicts=True,
        )
        events, notifications = [], []
        # The note as a code for each reader, and as a sentence in the city's language (the inbox
        # message quotes it), whoever ran the sweep.
        note, note_keys = system_note(step.note, **step.note_params)
        for row in rows:
            deadline = row[step.deadline_field]
            payload = {
                **(step.payload(row) if step.payload else {}),
                "deadline": timezone.localtime(deadline).isoformat(),
                **note_keys,
            }
            events.append(
                TicketEvent(
                    ticket_id=row["pk"],
                    actor=None,
                    action=_ACTIONS[step.kind],
                    from_state=row["status"],
                    to_state=row["status"],
                    note=note,
                    payload=payload,
                    unit_id=row["handling_unit_id"],
                    at=now,
                )
            )
            with city_language():  # the inbox is in the city's language, whoever ran the sweep
                message = step.message(row, note)[:500]
            recipients = {row["handling_unit_id"]}
            if step.notify_dispatcher:
                recipients.add(row["dispatch_center_id"])
            notifications += [
                Notification(
                    unit_id=unit_id, ticket_id=row["pk"], kind=step.notification_kind, message=message
                )
                for unit_id in sorted(recipients - {None})
            ]
        TicketEvent.objects.bulk_create(events)
        Notification.objects.bulk_create(notifications)
    return len(rows)


def clock_sweep(
    *, now: datetime | None = None, batch_size: int = 2000, progress: Callable[[int], None] | None = None
) -> SweepReport:
    """Act on every deadline threshold crossed by ``now``, exactly once per ticket and threshold.

    Each threshold is one filter on a deadline column and the clock stage, so with the sweep's
    indexes a run reads only the tickets that need an action, never the whole open stock. The
    candidate ids are kept as a compact array (8 bytes each: memory grows with the tickets
    crossing a threshold, not with the open stock) and acted on in ascending batches of
    ``batch_size``; ``progress(scanned)`` is called after each batch. Safe to run twice, or on
    two workers at once.
    """
    now = now or timezone.now()
    report = SweepReport()
    for step in _steps(now):
        # All candidate ids first, compactly (8 bytes each), then act in sorted batches. No
        # ORDER BY … LIMIT: with it PostgreSQL tends to walk the primary key and filter the whole
        # table, because it cannot see how few open tickets cross a threshold at once.
        ids = array(
            "q",
            Ticket.objects.filter(step.condition)
            .order_by()
            .values_list("pk", flat=True)
            .iterator(batch_size),
        )
        ids = array("q", sorted(ids))
        for first in range(0, len(ids), batch_size):
            batch = ids[first : first + batch_size].tolist()
            acted = _act(step, batch, now=now)
            setattr(report, step.report_field, getattr(report, step.report_field) + acted)
            report.skipped += len(batch) - acted
            report.scanned += len(batch)
            if progress is not None:
                progress(report.scanned)
        del ids
    logger.info("clock sweep at %s: %s", now.isoformat(), report)
    return report
