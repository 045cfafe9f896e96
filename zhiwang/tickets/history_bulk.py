"""Bulk ticket histories for benchmarks: ``Ticket``, ``TicketEvent`` and ``ClockAlert`` rows written directly.

Mode (b) of ``tickets.history`` (which imports every name from here): ``bulk_tickets_create``
writes the rows with ``bulk_create``, in batches (memory bounded whatever the count), e.g.
1,000,000 open tickets whose clocks are exactly as the sweep would have left them at ``as_of``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.geo.models import Division, DivisionLevel, Grid
from zhiwang.tickets.explanations import (
    NOTE_DEADLINE_NEAR,
    NOTE_RECEIVED,
    NOTE_SUPERVISED,
    NOTE_URGED,
    system_note,
)
from zhiwang.tickets.models import (
    Category,
    Channel,
    ClockAlert,
    KindDeadline,
    Satisfaction,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketKind,
    TicketStatus,
    Urgency,
)
from zhiwang.tickets.services.clock import (
    RUNNING,
    SUPERVISED,
    URGED,
    WARNED,
    supervise_after_days,
    supervision_point,
    urge_after_days,
    warning_percent,
    warning_point,
)
from zhiwang.tickets.workflow import TicketAction as A

#: Free-text endings of descriptions (shared with the simulation in ``tickets.history``).
PHRASES = (
    "已经持续好几天了，影响居民正常生活，请尽快处理。",
    "多次反映仍未解决，希望相关部门重视。",
    "晚上特别严重，老人小孩都休息不好。",
    "存在安全隐患，担心出事故。",
    "请相关部门到现场查看并给予答复。",
    "附近居民意见很大，希望尽快整改。",
    "想咨询一下具体的办理流程和需要的材料。",
    "建议在此处增设相关设施，方便群众。",
)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


@dataclass
class BulkResult:
    tickets: int = 0
    events: int = 0
    alerts: int = 0
    statuses: Counter = field(default_factory=Counter)
    stages: Counter = field(default_factory=Counter)


@dataclass
class _Place:
    community: int
    subdistrict: int
    district: int
    grids: list[int]
    unit: int | None
    center: int | None


class _Deadlines:
    """Deadline arithmetic with caches: bulk tickets share dispatch moments on a 5-minute grid.

    It also keeps the system's timeline notes (``note``): a handful of texts, written once a run.
    """

    def __init__(self):
        self.calendar = work_calendar()
        self.cache: dict = {}
        self.urge_days = urge_after_days()
        self.notes: dict = {}
        self.note_params = {
            NOTE_DEADLINE_NEAR: {"percent": warning_percent()},
            NOTE_SUPERVISED: {"days": supervise_after_days()},
        }

    def note(self, code: str, **params) -> tuple[str, dict]:
        """``explanations.system_note`` as the sweep writes it, from a cache."""
        params = params or self.note_params.get(code, {})
        key = (code, *sorted(params.items()))
        found = self.notes.get(key)
        if found is None:
            found = self.notes[key] = system_note(code, **params)
        return found

    def __call__(self, at: datetime, amount: Decimal, unit: str, accept_hours: Decimal):
        key = (at, amount, unit, accept_hours)
        found = self.cache.get(key)
        if found is None:
            calendar = self.calendar
            accept_due = calendar.add_working_hours(at, accept_hours)
            if unit == LimitUnit.WORKING_HOURS:
                handle_due = calendar.add_working_hours(at, amount)
            elif unit == LimitUnit.WORKING_DAYS:
                handle_due = calendar.add_working_days(at, int(amount))
            else:
                handle_due = calendar.add_natural_days(at, int(amount))
            warn = warning_point(start=at, deadline=handle_due, calendar=calendar)
            urge = self.urge_point(handle_due)
            supervise = supervision_point(urged_at=urge, calendar=calendar)
            found = self.cache[key] = (accept_due, handle_due, warn, urge, supervise)
        return found

    def urge_point(self, deadline: datetime) -> datetime:
        """When the sweep urges a ticket due at ``deadline`` (see ``clock.urge_cutoff``)."""
        if self.urge_days == 0:
            return deadline + timedelta(minutes=5)
        day = timezone.localtime(deadline - timedelta(microseconds=1), self.calendar.tz).date()
        for _step in range(self.urge_days):
            day = self.calendar.next_working_day(day)
        return self.calendar.working_windows(day)[0][0]

    def working_moment(self, rng: random.Random, start: datetime, end: datetime) -> datetime:
        """A random moment inside working hours between start and end, on a 5-minute grid."""
        for _try in range(50):
            moment = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
            local = timezone.localtime(moment, self.calendar.tz)
            local = local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)
            if any(a <= local < b for a, b in self.calendar.working_windows(local.date())):
                return local
        return timezone.localtime(start, self.calendar.tz)


def _places() -> list[_Place]:
    grids: dict[int, list[int]] = defaultdict(list)
    for pk, community in Grid.objects.order_by("pk").values_list("pk", "community_id"):
        grids[community].append(pk)
    offices = dict(
        OrgUnit.objects.filter(kind=OrgUnitKind.DIVISION_OFFICE, is_active=True).values_list(
            "division_id", "pk"
        )
    )
    centers = dict(
        OrgUnit.objects.filter(kind=OrgUnitKind.COMMAND_CENTER, is_active=True).values_list(
            "division_id", "pk"
        )
    )
    places = []
    for community, subdistrict, district in (
        Division.objects.filter(level=DivisionLevel.COMMUNITY, parent__level=DivisionLevel.SUBDISTRICT)
        .order_by("code")
        .values_list("pk", "parent_id", "parent__parent_id")
    ):
        unit = offices.get(subdistrict) or offices.get(district)
        places.append(
            _Place(community, subdistrict, district, grids.get(community, []), unit, centers.get(district))
        )
    if not places:
        raise ValueError("The demo city is missing: run `zhiwang demo` first.")
    return places


def bulk_tickets_create(
    *,
    count: int,
    seed: int = 1,
    as_of: datetime | None = None,
    open_fraction: float = 0.3,
    days: int = 30,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> BulkResult:
    """Write ``count`` tickets with their timelines straight to the tables, ``batch_size`` at a time.

    Closed tickets (``1 − open_fraction``) carry a full history (receive → dispatch → accept →
    reply → approve → close with a rating). Open ones were dispatched in the ``days`` before
    ``as_of`` and are dispatched, accepted or replied; their clock columns, ``ClockAlert`` rows and
    warning/urge/supervision events are those the sweep would have written by ``as_of``.
    Deterministic for (``count``, ``seed``, ``as_of``) on the same demo city. Memory stays
    bounded: one batch of rows at a time.
    """
    as_of = as_of or timezone.now()
    key_prefix = f"bulk:{seed}:"
    if Ticket.objects.filter(idempotency_key=f"{key_prefix}0").exists():
        raise ValueError(f"bulk tickets of seed {seed} already exist; use another seed")
    places = _places()
    leaves = [
        c
        for c in Category.objects.filter(is_active=True).prefetch_related("children")
        if not any(child.is_active for child in c.children.all())
    ]
    leaves.sort(key=lambda c: c.code)
    defaults = {(k.kind, k.urgency): (k.amount, k.unit) for k in KindDeadline.objects.all()}
    deadlines = _Deadlines()
    counters = dict(TicketCounter.objects.values_list("day", "value"))
    used: dict = {}
    result = BulkResult()
    tz = deadlines.calendar.tz
    for first in range(0, count, batch_size):
        rng = random.Random(f"{seed}:{first}")
        size = min(batch_size, count - first)
        plans = [
            _plan(
                rng,
                index=first + i,
                key_prefix=key_prefix,
                as_of=as_of,
                open_=rng.random() < open_fraction,
                days=days,
                places=places,
                leaves=leaves,
                defaults=defaults,
                deadlines=deadlines,
            )
            for i in range(size)
        ]
        for plan in sorted(plans, key=lambda p: p.ticket.received_at):
            day = timezone.localtime(plan.ticket.received_at, tz).date()
            value = used.get(day, counters.get(day, 0)) + 1
            used[day] = value
            plan.ticket.number = f"ZW{day:%Y%m%d}{value:06d}"
        with transaction.atomic():
            Ticket.objects.bulk_create([p.ticket for p in plans], batch_size=1000)
            events, alerts = [], []
            for plan in plans:
                for event in plan.events:
                    event.ticket_id = plan.ticket.pk
                    events.append(event)
                for alert in plan.alerts:
                    alert.ticket_id = plan.ticket.pk
                    alerts.append(alert)
                result.statuses[plan.ticket.status] += 1
                if plan.ticket.status in (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED):
                    result.stages[plan.ticket.clock_stage] += 1
            TicketEvent.objects.bulk_create(events, batch_size=2000)
            ClockAlert.objects.bulk_create(alerts, batch_size=2000)
        result.tickets += size
        result.events += len(events)
        result.alerts += len(alerts)
        del plans, events, alerts
        if progress is not None:
            progress(result.tickets, count)
    with transaction.atomic():
        for day, value in used.items():
            row, _created = TicketCounter.objects.select_for_update().get_or_create(day=day)
            if row.value < value:
                row.value = value
                row.save(update_fields=["value"])
    return result


@dataclass
class _Plan:
    ticket: Ticket
    events: list[TicketEvent]
    alerts: list[ClockAlert]


def _event(action, at, status_from, status_to, unit, **payload) -> TicketEvent:
    return TicketEvent(
        action=action, at=at, from_state=status_from, to_state=status_to, unit_id=unit, payload=payload
    )


def _plan(rng, *, index, key_prefix, as_of, open_, days, places, leaves, defaults, deadlines) -> _Plan:
    """One ticket, its timeline and its clock alerts, consistent with the sweep at ``as_of``."""
    S = TicketStatus
    place = rng.choice(places)
    category = rng.choice(leaves)
    kind = rng.choice(category.kinds or [TicketKind.COMPLAINT])
    amount, unit_name = (
        (category.deadline_amount, category.deadline_unit)
        if category.deadline_amount and category.deadline_unit
        else defaults.get((kind, Urgency.NORMAL), (Decimal(10), LimitUnit.WORKING_DAYS))
    )
    if open_:
        dispatched = deadlines.working_moment(rng, as_of - timedelta(days=days), as_of - timedelta(minutes=5))
    else:  # closed ones were dispatched long enough ago to have run their course
        dispatched = deadlines.working_moment(
            rng, as_of - timedelta(days=4 * days), as_of - timedelta(days=days)
        )
    received = dispatched - timedelta(minutes=rng.randint(1, 90))
    accept_due, handle_due, warn_at, urge_at, supervise_at = deadlines(
        dispatched, amount, unit_name, category.accept_hours or Decimal(2)
    )
    unit = place.unit
    ticket = Ticket(
        kind=kind,
        category_id=category.pk,
        channel=Channel.PATROL if kind == TicketKind.INCIDENT else Channel.HOTLINE,
        idempotency_key=f"{key_prefix}{index}",
        urgency=Urgency.NORMAL,
        title=category.name,
        description=f"{category.name}：{PHRASES[index % len(PHRASES)]}",
        reporter_phone="" if kind == TicketKind.INCIDENT else _phone(rng),
        grid_id=rng.choice(place.grids) if place.grids else None,
        community_id=place.community,
        subdistrict_id=place.subdistrict,
        district_id=place.district,
        division_id=place.community,
        handling_unit_id=unit,
        dispatch_center_id=place.center,
        suggested_unit_id=unit,
        received_at=received,
        dispatched_at=dispatched,
        accept_due_at=accept_due,
        due_at=handle_due,
        warn_at=warn_at,
        deadline_amount=amount,
        deadline_unit=unit_name,
        clock_stage=RUNNING,
    )
    events = [
        _event(A.RECEIVE, received, "", S.PENDING_DISPATCH, None, located_by="address"),
        _event(A.DISPATCH, dispatched, S.PENDING_DISPATCH, S.DISPATCHED, unit, unit_id=unit),
    ]
    alerts: list[ClockAlert] = []
    if not open_:
        ticket.status = S.CLOSED
        accepted = dispatched + timedelta(minutes=rng.randint(10, 100))
        span = (handle_due - dispatched).total_seconds()
        late = rng.random() < 0.1
        replied = dispatched + timedelta(
            seconds=span * (rng.uniform(1.01, 1.3) if late else rng.uniform(0.2, 0.95))
        )
        replied = min(replied, as_of - timedelta(hours=3))
        approved = min(replied + timedelta(hours=rng.uniform(1, 6)), as_of - timedelta(hours=2))
        closed = min(approved + timedelta(hours=rng.uniform(16, 30)), as_of - timedelta(hours=1))
        ticket.accepted_at, ticket.replied_at, ticket.closed_at = accepted, replied, closed
        ticket.resolved = True
        ticket.satisfaction = Satisfaction.SATISFIED if rng.random() < 0.8 else Satisfaction.BASICALLY
        events += [
            _event(A.ACCEPT, accepted, S.DISPATCHED, S.ACCEPTED, unit),
            _event(A.REPLY, replied, S.ACCEPTED, S.REPLIED, unit),
            _event(A.APPROVE_REPLY, approved, S.REPLIED, S.FOLLOW_UP, unit),
            _event(
                A.CLOSE,
                closed,
                S.FOLLOW_UP,
                S.CLOSED,
                unit,
                resolved=True,
                satisfaction=ticket.satisfaction,
                unreachable=False,
                by_citizen=False,
            ),
        ]
        _system_notes(events, ticket, deadlines)
        return _Plan(ticket, events, alerts)
    roll = rng.random()
    status = S.DISPATCHED if roll < 0.2 else S.ACCEPTED if roll < 0.9 else S.REPLIED
    ticket.status = status
    end_of_clock = as_of
    if status != S.DISPATCHED:
        accepted = min(dispatched + timedelta(minutes=rng.randint(5, 100)), as_of - timedelta(minutes=1))
        ticket.accepted_at = accepted
        if accepted > accept_due:  # the sweep noticed before the unit signed
            _crossed(
                events,
                alerts,
                ticket,
                ClockAlert.Kind.ACCEPT_WARNING,
                accept_due,
                accept_due + timedelta(minutes=1),
                S.DISPATCHED,
                unit,
            )
            ticket.accept_warned = True
        events.append(_event(A.ACCEPT, accepted, S.DISPATCHED, S.ACCEPTED, unit))
    elif accept_due < as_of:
        _crossed(
            events,
            alerts,
            ticket,
            ClockAlert.Kind.ACCEPT_WARNING,
            accept_due,
            accept_due + timedelta(minutes=1),
            S.DISPATCHED,
            unit,
        )
        ticket.accept_warned = True
    if status == S.REPLIED:
        replied = min(
            dispatched + (min(handle_due, as_of) - dispatched) * rng.uniform(0.3, 0.99),
            as_of - timedelta(minutes=1),
        )
        ticket.replied_at = replied
        end_of_clock = max(replied, ticket.accepted_at)
    held = S.ACCEPTED if status != S.DISPATCHED else S.DISPATCHED
    # the thresholds the sweep acted on before the clock stopped (or before as_of)
    if warn_at <= end_of_clock and warn_at <= handle_due:
        _crossed(
            events, alerts, ticket, ClockAlert.Kind.WARNING, handle_due, warn_at, held, unit, stage=WARNED
        )
    if handle_due < end_of_clock:
        _crossed(
            events,
            alerts,
            ticket,
            ClockAlert.Kind.OVERDUE,
            handle_due,
            handle_due + timedelta(minutes=1),
            held,
            unit,
        )
    if urge_at <= end_of_clock:
        _crossed(events, alerts, ticket, ClockAlert.Kind.URGE, handle_due, urge_at, held, unit, stage=URGED)
        ticket.supervise_at = supervise_at
        ticket.escalation_level = 1
        if supervise_at <= end_of_clock:
            _crossed(
                events,
                alerts,
                ticket,
                ClockAlert.Kind.SUPERVISE,
                handle_due,
                supervise_at,
                held,
                unit,
                stage=SUPERVISED,
            )
            ticket.escalation_level = 2
    if status == S.REPLIED:
        events.append(_event(A.REPLY, ticket.replied_at, S.ACCEPTED, S.REPLIED, unit))
    events.sort(key=lambda e: e.at)
    _system_notes(events, ticket, deadlines)
    return _Plan(ticket, events, alerts)


def _system_notes(events: list[TicketEvent], ticket: Ticket, deadlines: _Deadlines) -> None:
    """The notes the submit pipeline and the sweep write on their rows: codes and sentences alike."""
    for event in events:
        if event.action == A.RECEIVE:
            code, params = NOTE_RECEIVED, {"channel": ticket.channel}
        elif event.action == A.WARN:
            code, params = event.payload["kind"], {}
        elif event.action == A.URGE:
            code, params = NOTE_URGED, {}
        elif event.action == A.SUPERVISE:
            code, params = NOTE_SUPERVISED, {}
        else:
            continue
        event.note, keys = deadlines.note(code, **params)
        event.payload.update(keys)


_CROSSED_ACTIONS = {
    ClockAlert.Kind.ACCEPT_WARNING: (A.WARN, "accept_overdue"),
    ClockAlert.Kind.WARNING: (A.WARN, "deadline_near"),
    ClockAlert.Kind.OVERDUE: (A.WARN, "overdue"),
    ClockAlert.Kind.URGE: (A.URGE, ""),
    ClockAlert.Kind.SUPERVISE: (A.SUPERVISE, ""),
}


def _crossed(events, alerts, ticket, kind, deadline, at, status, unit, *, stage=None) -> None:
    action, payload_kind = _CROSSED_ACTIONS[kind]
    payload = {"kind": payload_kind} if payload_kind else {}
    payload["deadline"] = timezone.localtime(deadline).isoformat()
    if action == A.URGE:
        payload["overdue"] = True  # the sweep urges after expiry, as services.clock marks it
    events.append(_event(action, at, status, status, unit, **payload))
    alerts.append(ClockAlert(kind=kind, deadline=deadline))
    if stage is not None:
        ticket.clock_stage = stage
