"""Average handling time: working hours from the start of a round to its first reply."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    FloatField,
    IntegerField,
    OuterRef,
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
)

from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.tickets.indicators.frame import (
    _EVENTS,
    HANDOVER_ACTIONS,
    Average,
    _clean_key,
    _events,
    _grouped,
    _tz,
)
from zhiwang.tickets.models import TicketEvent
from zhiwang.tickets.workflow import TicketAction as A

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
