"""Ticket indicators (考核指标), each an aggregate query over the timeline and the ticket columns.

Every function takes the asking ``user`` and counts only what ``Ticket.objects.visible_to(user)``
allows, a half-open window ``[start, end)`` and an optional grouping ``by``:

- ``"unit"``: the handling unit (``TicketEvent.unit`` or ``Ticket.handling_unit``; for the
  accurate dispatch rate, the ticket's dispatch center, whose dispatchers decided);
- ``"district"`` / ``"subdistrict"`` / ``"community"``: the ticket's denormalized place columns;
- ``"day"`` / ``"week"`` / ``"month"``: local (Asia/Shanghai) calendar periods;
- ``None``: one total, under the key ``None``.

``division`` limits the count to a subtree (a district, subdistrict or community) and ``unit`` to
one unit. Each function returns ``{key: Rate}`` (``{key: Average}`` for the handling time) with the
numerator and denominator kept, so any weighting can be recomputed; the exact formulas, which
events count, and the edge cases are in docs/indicators.md. Nothing loops over tickets in Python:
each indicator is one to three ``GROUP BY`` queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractHour,
    ExtractMinute,
    ExtractSecond,
    Greatest,
    Least,
    TruncDate,
    TruncDay,
    TruncMonth,
    TruncWeek,
)
from django.utils import timezone

from zhiwang.core.scoping import scope_of
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.tickets.models import Satisfaction, Ticket, TicketEvent, TicketStatus
from zhiwang.tickets.workflow import TicketAction as A

#: A new unit (or the same one again) must act: the start of a handling round.
HANDOVER_ACTIONS = (A.DISPATCH, A.REASSIGN, A.REOPEN)
#: What counts as the unit's response to a hand-over.
RESPONSE_ACTIONS = (A.ACCEPT, A.REQUEST_RETURN, A.REPLY)
#: The citizen's follow-up (回访): closing, or reopening when unresolved or unsatisfied.
FOLLOW_UP_ACTIONS = (A.CLOSE, A.REOPEN)
#: The unit has answered (the reply stands, possibly awaiting review, verification or follow-up).
ANSWERED_STATUSES = (
    TicketStatus.REPLIED,
    TicketStatus.VERIFYING,
    TicketStatus.FOLLOW_UP,
    TicketStatus.CLOSED,
)

#: Beijing's 接诉即办 assessment: 响应率 30 %, 解决率 35 %, 满意率 35 % (an example composite).
BEIJING_WEIGHTS = {"response_rate": 0.30, "resolution_rate": 0.35, "satisfaction_rate": 0.35}

GROUPINGS = ("unit", "district", "subdistrict", "community", "day", "week", "month", None)
_NO_ROUND_END = 2**62


@dataclass(frozen=True)
class Rate:
    """numerator ÷ denominator; ``value`` is None when nothing was due."""

    numerator: float
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Average:
    """A mean of ``count`` samples summing to ``total``; ``value`` is None without samples."""

    total: float
    count: int

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


# --- settings --------------------------------------------------------------------


def basic_satisfaction_weight() -> float:
    """``ZHIWANG_BASIC_SATISFACTION_WEIGHT``: how much a "basically satisfied" counts (default 0.8)."""
    return float(getattr(settings, "ZHIWANG_BASIC_SATISFACTION_WEIGHT", 0.8))


def response_hours() -> float:
    """``ZHIWANG_RESPONSE_HOURS``: natural hours a unit has to respond to a hand-over (default 24)."""
    return float(getattr(settings, "ZHIWANG_RESPONSE_HOURS", 24))


# --- the common frame ------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _visible_tickets(user):
    return Ticket.objects.visible_to(user)


def _events(user):
    """Timeline rows of the tickets ``user`` may see (no subquery for city-wide roles)."""
    scope = scope_of(user)
    if scope.everything:
        return TicketEvent.objects.all()
    if scope.is_empty:
        return TicketEvent.objects.none()
    return TicketEvent.objects.filter(ticket__in=_visible_tickets(user).values("pk"))


@dataclass(frozen=True)
class _Frame:
    """How one indicator's rows map onto the groupings: which columns hold the unit, time and place."""

    unit_field: str
    time_field: str
    place_prefix: str  # "" on Ticket, "ticket__" on TicketEvent

    def restrict(self, qs, *, start, end, division=None, unit=None):
        qs = qs.filter(**{f"{self.time_field}__gte": start, f"{self.time_field}__lt": end})
        if division is not None and division.level in ("district", "subdistrict", "community"):
            qs = qs.filter(**{f"{self.place_prefix}{division.level}_id": division.pk})
        if unit is not None:
            qs = qs.filter(**{self.unit_field: getattr(unit, "pk", unit)})
        return qs

    def key(self, by: str | None, time_field: str | None = None):
        time_field = time_field or self.time_field
        if by is None:
            return Value(0)
        if by == "unit":
            return F(self.unit_field)
        if by in ("district", "subdistrict", "community"):
            return F(f"{self.place_prefix}{by}_id")
        trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}.get(by)
        if trunc is None:
            raise ValueError(f"unknown grouping {by!r}: use one of {GROUPINGS}")
        return trunc(time_field, tzinfo=_tz())


_EVENTS = _Frame(unit_field="unit_id", time_field="at", place_prefix="ticket__")
_TICKETS = _Frame(unit_field="handling_unit_id", time_field="due_at", place_prefix="")


def _clean_key(by: str | None, value):
    if by is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value, _tz()).date() if timezone.is_aware(value) else value.date()
    return value


def _grouped(qs, by: str | None, frame: _Frame, **aggregates) -> dict:
    """``{key: {name: value}}`` from one GROUP BY query."""
    rows = qs.annotate(_key=frame.key(by)).order_by().values("_key").annotate(**aggregates)
    out: dict = {}
    for row in rows:
        key = _clean_key(by, row.pop("_key"))
        current = out.setdefault(key, dict.fromkeys(aggregates, 0))
        for name, value in row.items():
            current[name] += value or 0
    return out


def _rates(groups: dict, numerator: str, denominator: str) -> dict:
    return {key: Rate(values[numerator], values[denominator]) for key, values in groups.items()}


def _round_end():
    """The pk of the next hand-over of the same ticket (or a number beyond every pk)."""
    following = TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), action__in=HANDOVER_ACTIONS, pk__gt=OuterRef("pk")
    ).order_by("pk")
    return Coalesce(
        Subquery(following.values("pk")[:1]), Value(_NO_ROUND_END), output_field=BigIntegerField()
    )


def _in_round(**filters):
    """Timeline rows of the same ticket after the outer hand-over and before the next one."""
    return TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), pk__gt=OuterRef("pk"), pk__lt=OuterRef("round_end"), **filters
    )


# --- the indicators --------------------------------------------------------------------


def response_rate(
    *, user, start, end, by=None, division=None, unit=None, as_of=None, hours: float | None = None
) -> dict:
    """响应率: hand-overs the unit responded to within ``hours`` ÷ hand-overs whose window has closed.

    A hand-over is a dispatch, reassignment or reopening (the timeline row names the unit); a
    response is the same unit's sign-for, return request or reply in the same round.
    """
    as_of = as_of or timezone.now()
    window = timedelta(hours=response_hours() if hours is None else hours)
    limit = ExpressionWrapper(OuterRef("at") + Value(window), output_field=DateTimeField())
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=HANDOVER_ACTIONS), start=start, end=end, division=division, unit=unit
    ).annotate(round_end=_round_end())
    responded = Exists(_in_round(action__in=RESPONSE_ACTIONS, unit_id=OuterRef("unit_id"), at__lte=limit))
    qs = qs.annotate(responded=responded).filter(Q(responded=True) | Q(at__lte=as_of - window))
    groups = _grouped(qs, by, _EVENTS, due=Count("pk"), responded_n=Count("pk", filter=Q(responded=True)))
    return _rates(groups, "responded_n", "due")


def on_time_acceptance_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """按时签收率: hand-overs signed for by the accept deadline ÷ hand-overs signed for or missed.

    A miss is the clock sweep's "not accepted in time" row in the round, or, for the ticket's
    current round, a sign-for later than ``Ticket.accept_due_at``.
    """
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=HANDOVER_ACTIONS), start=start, end=end, division=division, unit=unit
    ).annotate(round_end=_round_end())
    accepted = Exists(_in_round(action=A.ACCEPT))
    warned = Exists(_in_round(action=A.WARN, payload__kind="accept_overdue"))
    late_now = Exists(_in_round(action=A.ACCEPT, at__gt=F("ticket__accept_due_at")))
    qs = qs.annotate(accepted=accepted, warned=warned, late_now=late_now)
    qs = qs.filter(Q(accepted=True) | Q(warned=True))
    on_time = Q(accepted=True, warned=False) & ~Q(late_now=True, round_end=_NO_ROUND_END)
    groups = _grouped(qs, by, _EVENTS, due=Count("pk"), on_time=Count("pk", filter=on_time))
    return _rates(groups, "on_time", "due")


def on_time_closure_rate(*, user, start, end, by=None, division=None, unit=None, as_of=None) -> dict:
    """按期办结率: tickets answered by their deadline ÷ tickets due to close (deadline in the window).

    Due to close: the handling deadline ``due_at`` falls in ``[start, end)`` and has passed by
    ``as_of``, or the unit has already answered; merged, rejected and suspended tickets are left
    out. Answered on time: the unit's reply stands (replied or later) and ``replied_at <= due_at``.
    """
    as_of = as_of or timezone.now()
    answered = Q(status__in=ANSWERED_STATUSES, replied_at__isnull=False)
    qs = _TICKETS.restrict(
        _visible_tickets(user)
        .filter(due_at__isnull=False)
        .exclude(status__in=(TicketStatus.MERGED, TicketStatus.REJECTED, TicketStatus.SUSPENDED)),
        start=start,
        end=end,
        division=division,
        unit=unit,
    ).filter(Q(due_at__lt=as_of) | answered)
    on_time = answered & Q(replied_at__lte=F("due_at"))
    groups = _grouped(qs, by, _TICKETS, due=Count("pk"), on_time=Count("pk", filter=on_time))
    return _rates(groups, "on_time", "due")


def _ratings(user, *, start, end, division, unit):
    """Follow-ups in the window where the citizen was reached and rated (not unreachable)."""
    qs = _events(user).filter(action__in=FOLLOW_UP_ACTIONS).exclude(payload__unreachable=True)
    qs = qs.filter(payload__satisfaction__in=Satisfaction.values)
    return _EVENTS.restrict(qs, start=start, end=end, division=division, unit=unit)


def resolution_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """解决率: follow-ups rated resolved ÷ rated follow-ups (unreachable ones left out)."""
    qs = _ratings(user, start=start, end=end, division=division, unit=unit)
    groups = _grouped(
        qs, by, _EVENTS, rated=Count("pk"), resolved=Count("pk", filter=Q(payload__resolved=True))
    )
    return _rates(groups, "resolved", "rated")


def satisfaction_counts(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """``{key: {"rated", "satisfied", "basically_satisfied", "unsatisfied"}}`` of the rated follow-ups."""
    qs = _ratings(user, start=start, end=end, division=division, unit=unit)
    return _grouped(
        qs,
        by,
        _EVENTS,
        rated=Count("pk"),
        **{
            value: Count("pk", filter=Q(payload__satisfaction=value))
            for value in (Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED)
        },
    )


def satisfaction_rate(
    *, user, start, end, by=None, division=None, unit=None, basic_weight: float | None = None
) -> dict:
    """满意率: (satisfied + basically satisfied × weight) ÷ rated follow-ups."""
    weight = basic_satisfaction_weight() if basic_weight is None else basic_weight
    counts = satisfaction_counts(user=user, start=start, end=end, by=by, division=division, unit=unit)
    return {
        key: Rate(c[Satisfaction.SATISFIED] + c[Satisfaction.BASICALLY] * weight, c["rated"])
        for key, c in counts.items()
    }


def rework_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """返工率 (重办率): follow-ups that reopened the ticket ÷ follow-ups (closing or reopening), in the window.

    Rework is what ``Ticket.rework_count`` counts: a reopening after an unresolved or unsatisfied
    follow-up. A reply sent back at review or failed on site is the dispatcher's quality control,
    not rework (it shows in the handling time instead).
    """
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=FOLLOW_UP_ACTIONS), start=start, end=end, division=division, unit=unit
    )
    groups = _grouped(
        qs, by, _EVENTS, follow_ups=Count("pk"), reopened=Count("pk", filter=Q(action=A.REOPEN))
    )
    return _rates(groups, "reopened", "follow_ups")


_DISPATCH_FRAME = _Frame(unit_field="ticket__dispatch_center_id", time_field="at", place_prefix="ticket__")


def accurate_dispatch_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """准确派遣率: (dispatches − returned as wrongly dispatched − reassigned) ÷ dispatches.

    Dispatches are dispatch and reassignment decisions; "unit" is the ticket's dispatch center.
    """
    qs = _DISPATCH_FRAME.restrict(
        _events(user).filter(action__in=(A.DISPATCH, A.REASSIGN, A.APPROVE_RETURN)),
        start=start,
        end=end,
        division=division,
        unit=unit,
    )
    wrong = Q(action=A.REASSIGN) | Q(action=A.APPROVE_RETURN, payload__wrong_dispatch=True)
    groups = _grouped(
        qs,
        by,
        _DISPATCH_FRAME,
        dispatched=Count("pk", filter=Q(action__in=(A.DISPATCH, A.REASSIGN))),
        wrong=Count("pk", filter=wrong),
    )
    return {key: Rate(v["dispatched"] - v["wrong"], v["dispatched"]) for key, v in groups.items()}


# --- average handling time: working hours from the start of a round to its first reply -------------


def _seconds_of_day(field):
    tz = _tz()
    return ExpressionWrapper(
        ExtractHour(field, tzinfo=tz) * 3600
        + ExtractMinute(field, tzinfo=tz) * 60
        + ExtractSecond(field, tzinfo=tz),
        output_field=IntegerField(),
    )


def _working_seconds_into_day(field, windows):
    """Working seconds between local midnight and ``field`` (the windows clipped), in SQL."""
    sod = _seconds_of_day(field)
    parts = [
        Least(Greatest(sod - Value(a), Value(0)), Value(b - a), output_field=IntegerField())
        for a, b in windows
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return ExpressionWrapper(total, output_field=IntegerField())


def average_handling_time(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """平均处置时长 in working hours: from each round's start (dispatch, reassignment, reopening) to
    the unit's first reply in that round, less the working time it stood suspended. Replies in the window.

    Working time is additive (W(t) = working seconds up to ``t``), so the sum over replies is
    Σ W(reply) − Σ W(start): SQL groups the moments by local date with their working seconds
    into the day, and the calendar adds the working days before each date.
    """
    calendar = work_calendar()
    windows = [
        (w.hour * 3600 + w.minute * 60 + w.second, e.hour * 3600 + e.minute * 60 + e.second)
        for w, e in calendar.windows
    ]
    handovers = TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), action__in=HANDOVER_ACTIONS, pk__lt=OuterRef("pk")
    ).order_by("-pk")
    replies = _EVENTS.restrict(
        _events(user).filter(action=A.REPLY), start=start, end=end, division=division, unit=unit
    ).annotate(
        round_start=Subquery(handovers.values("pk")[:1]),
        round_start_at=Subquery(handovers.values("at")[:1], output_field=DateTimeField()),
    )
    earlier_reply = TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), action=A.REPLY, pk__lt=OuterRef("pk"), pk__gt=OuterRef("round_start")
    )
    replies = replies.filter(round_start__isnull=False).exclude(Exists(earlier_reply))
    stopped = (
        TicketEvent.objects.filter(
            ticket=OuterRef("ticket"), action=A.RESUME, pk__gt=OuterRef("round_start"), pk__lt=OuterRef("pk")
        )
        .order_by()
        .values("ticket")
        .annotate(s=Sum(Cast(KeyTextTransform("stopped_working_seconds", "payload"), FloatField())))
        .values("s")
    )
    tz = _tz()
    ends = _by_date(replies, by, "at", windows, tz)
    starts = _by_date(replies, by, "round_start_at", windows, tz)
    paused = _grouped(
        replies.annotate(_stopped=Coalesce(Subquery(stopped, output_field=FloatField()), Value(0.0))),
        by,
        _EVENTS,
        s=Sum("_stopped"),
    )
    paused = {key: float(v["s"]) for key, v in paused.items()}
    dates = sorted({d for per_key in (ends, starts) for rows in per_key.values() for d in rows})
    before = _working_days_before(dates, calendar, day_seconds=sum(b - a for a, b in windows))

    def total(rows):
        return sum(
            n * before[d] + (into if calendar.is_working_day(d) else 0) for d, (n, into) in rows.items()
        )

    out = {}
    for key, rows in ends.items():
        count = sum(n for n, _into in rows.values())
        seconds = total(rows) - total(starts.get(key, {})) - paused.get(key, 0.0)
        out[key] = Average(seconds / 3600, count)
    return out


def _by_date(qs, by, field, windows, tz) -> dict:
    """``{key: {local date: (count, Σ working seconds into the day)}}`` for the moment ``field``."""
    rows = (
        qs.annotate(
            _key=_EVENTS.key(by),
            _date=TruncDate(field, tzinfo=tz),
            _into=_working_seconds_into_day(field, windows),
        )
        .order_by()
        .values("_key", "_date")
        .annotate(n=Count("pk"), into=Sum("_into"))
    )
    out: dict = defaultdict(dict)
    for row in rows:
        key = _clean_key(by, row["_key"])
        n, into = out[key].get(row["_date"], (0, 0))
        out[key][row["_date"]] = (n + row["n"], into + float(row["into"] or 0))
    return out


def _working_days_before(dates: list[date], calendar, *, day_seconds: int) -> dict[date, int]:
    """Working seconds of the whole working days from the first date up to (not including) each date."""
    if not dates:
        return {}
    out, seconds, day = {}, 0, dates[0]
    for target in dates:
        while day < target:
            if calendar.is_working_day(day):
                seconds += day_seconds
            day += timedelta(days=1)
        out[target] = seconds
    return out


# --- all of them, and a composite -------------------------------------------------------------

INDICATORS = {
    "response_rate": response_rate,
    "on_time_acceptance_rate": on_time_acceptance_rate,
    "on_time_closure_rate": on_time_closure_rate,
    "resolution_rate": resolution_rate,
    "satisfaction_rate": satisfaction_rate,
    "rework_rate": rework_rate,
    "accurate_dispatch_rate": accurate_dispatch_rate,
    "average_handling_time": average_handling_time,
}


def indicator_table(*, user, start, end, by=None, division=None, unit=None, weights=BEIJING_WEIGHTS) -> dict:
    """``{key: {indicator name: Rate | Average, "composite": float | None}}`` for every indicator."""
    table: dict = defaultdict(dict)
    for name, function in INDICATORS.items():
        for key, result in function(
            user=user, start=start, end=end, by=by, division=division, unit=unit
        ).items():
            table[key][name] = result
    for row in table.values():
        row["composite"] = composite(row, weights=weights)
    return dict(table)


def composite(
    values: Mapping[str, Rate | Average | float | None], *, weights=BEIJING_WEIGHTS
) -> float | None:
    """Σ weight × rate over ``weights`` (rates as fractions); None when any weighted rate is missing."""
    total = 0.0
    for name, weight in weights.items():
        value = values.get(name)
        value = getattr(value, "value", value)
        if value is None:
            return None
        total += weight * value
    return total
