"""Average handling time: working hours from the start of a round to its first reply."""

from __future__ import annotations

import math
from datetime import date, timedelta

from django.db.models import (
    DateTimeField,
    Exists,
    FloatField,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.tickets.indicators.frame import (
    _EVENTS,
    HANDOVER_ACTIONS,
    Average,
    _events,
    _is_several,
    _key_columns,
    _keys_of,
    _tz,
)
from zhiwang.tickets.models import TicketEvent
from zhiwang.tickets.workflow import TicketAction as A

# --- average handling time: working hours from the start of a round to its first reply -------------


def average_handling_time(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """平均处置时长 in working hours: from each round's start (dispatch, reassignment, reopening) to
    the unit's first reply in that round, less the working time it stood suspended. Replies in the window.

    Working time is additive (W(t) = working seconds up to ``t``), so the sum over replies is
    Σ W(reply) − Σ W(start): each moment's local date and working seconds into that day are
    summed per key and date, and the calendar adds the working days before each date. One query
    reads, per first reply, its key columns, its moment, its round's start and its suspended
    seconds (the per-reply lookup of the round's start runs once per reply, not once per use in
    an SQL expression); the sums are made here, in whole seconds (exact integers), and the
    suspended seconds with ``math.fsum`` (the same figure in any order). ``by`` may be a tuple
    of groupings (see ``_grouped``): each grouping is summed from the same rows.
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
    ).annotate(round_start=Subquery(handovers.values("pk")[:1]))
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
    columns = _key_columns(by, _EVENTS)
    rows = (
        replies.annotate(
            **columns,
            _start_at=Subquery(handovers.values("at")[:1], output_field=DateTimeField()),
            _stopped=Coalesce(Subquery(stopped, output_field=FloatField()), Value(0.0)),
        )
        .order_by()
        .values(*columns, "at", "_start_at", "_stopped")
    )
    into_day = _into_day(windows)
    groupings = by if _is_several(by) else (by,)
    # {grouping: {key: ({date: [replies, Σ seconds into the day]} of the replies, … of the
    # rounds' starts, [suspended seconds])}}
    sums: dict = {one: {} for one in groupings}
    for row in rows.iterator(chunk_size=5000):
        stopped_seconds = row.pop("_stopped") or 0.0
        moments = (into_day(row.pop("at")), into_day(row.pop("_start_at")))
        for one, key in _keys_of(by, row).items():
            ends, starts, paused = sums[one].setdefault(key, ({}, {}, []))
            for per_date, (day, into) in zip((ends, starts), moments, strict=True):
                current = per_date.setdefault(day, [0, 0])
                current[0] += 1
                current[1] += into
            paused.append(stopped_seconds)
    dates = sorted({day for per_key in sums.values() for e, s, _p in per_key.values() for day in (*e, *s)})
    before = _working_days_before(dates, calendar, day_seconds=sum(b - a for a, b in windows))

    def total(per_date):
        return sum(
            n * before[day] + (into if calendar.is_working_day(day) else 0)
            for day, (n, into) in per_date.items()
        )

    out = {}
    for one, per_key in sums.items():
        out[one] = {}
        for key, (ends, starts, paused) in per_key.items():
            count = sum(n for n, _into in ends.values())
            seconds = total(ends) - total(starts) - math.fsum(paused)
            out[one][key] = Average(seconds / 3600, count)
    return out if _is_several(by) else out[by]


def _into_day(windows):
    """``moment → (local date, working seconds between local midnight and it)``, the windows
    clipped, to the whole second (as Django's SQL extract of the seconds counts, on both backends)."""
    tz = _tz()

    def into_day(moment):
        local = moment.astimezone(tz)
        sod = local.hour * 3600 + local.minute * 60 + local.second
        return local.date(), sum(min(max(sod - a, 0), b - a) for a, b in windows)

    return into_day


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
