"""``WorkCalendar``: deadline arithmetic over Chinese working days and working hours.

Pure Python (no database, no Django): ``core.workcalendar.services.work_calendar()``
builds one from the tables and caches it per process.

Semantics (the city's practice; DOMAIN.md "Tickets")
- A day is a working day when it is a make-up working day (调休上班), else when it is
  not a holiday and falls Monday to Friday.
- Working days are counted from the next day (次日起算): ``add_working_days(start, n)``
  is the end of the last working window of the n-th working day *after* the start's
  date, whatever the time of day of ``start``. A ticket received on Friday at 10:00
  with 2 working days is due on Tuesday at 18:00 (with the default windows).
- ``add_working_hours(start, h)`` walks through the working windows: a start outside
  them begins at the next window opening; the result may be a window's end (an
  amount that fits exactly ends at 12:00, not at 14:00).
- ``add_natural_days(start, n)`` also counts from the next day and ends at midnight
  after the n-th day (Civil Code art. 201 and 203: the last day ends at 24:00;
  optionally, a last day that is not a working day rolls over to the next working day).
- ``working_seconds_between(a, b, excluded=...)`` is the working time in ``[a, b)``
  minus the given intervals (suspensions, 挂起); intervals may overlap or be open-ended.
- Every datetime argument must be aware; results are aware, in the calendar's time
  zone (``settings.TIME_ZONE``, Asia/Shanghai). Windows are local wall-clock times.

Coverage: a year is covered when its holidays are known. A computation that looks at
a day of an uncovered year still answers, with the plain Monday–Friday rule for that
year, and emits a ``CalendarCoverageWarning`` (and calls ``on_uncovered`` so the
service layer can log and notify administrators).
"""

from __future__ import annotations

import warnings
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

#: Guard against a calendar with no working day at all (every day a holiday).
_MAX_SCAN_DAYS = 3660

Interval = tuple[datetime, datetime | None]


class CalendarCoverageWarning(UserWarning):
    """A computation used a year whose holidays are unknown (counted Monday–Friday)."""


class WorkCalendar:
    """Holidays, make-up working days, covered years and working windows, in one time zone."""

    def __init__(
        self,
        *,
        holidays: Iterable[date],
        workdays: Iterable[date],
        covered_years: Iterable[int],
        windows: Sequence[tuple[time, time]],
        tz: tzinfo,
        on_uncovered: Callable[[frozenset[int]], None] | None = None,
    ):
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"days both holiday and working day: {sorted(both)}")
        self.covered_years = frozenset(covered_years)
        self.windows = tuple(sorted(windows))
        if not self.windows:
            raise ValueError("a work calendar needs at least one working window")
        for (start, end), following in zip(self.windows, [*self.windows[1:], None], strict=True):
            if start >= end:
                raise ValueError(f"working window {start}-{end} does not end after it starts")
            if following is not None and following[0] < end:
                raise ValueError(f"working windows {start}-{end} and {following[0]}-{following[1]} overlap")
        self.tz = tz
        self.on_uncovered = on_uncovered

    # --- days ---------------------------------------------------------------

    def is_covered(self, year: int) -> bool:
        """Whether the holidays of ``year`` are known."""
        return year in self.covered_years

    def is_working_day(self, day: date) -> bool:
        """Whether people work on ``day`` (warns when its year is not covered)."""
        uncovered: set[int] = set()
        result = self._working(day, uncovered)
        self._report(uncovered)
        return result

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        uncovered: set[int] = set()
        result = self._next_working(day, uncovered)
        self._report(uncovered)
        return result

    def working_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The aware working windows of ``day``; empty on a day off."""
        uncovered: set[int] = set()
        result = self._windows(day) if self._working(day, uncovered) else []
        self._report(uncovered)
        return result

    # --- deadlines ----------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End of work on the ``n``-th working day after ``start``'s date (次日起算), ``n`` ≥ 1."""
        if n < 1:
            raise ValueError("add_working_days needs n >= 1")
        uncovered: set[int] = set()
        day = self._local(start).date()
        for _ in range(n):
            day = self._next_working(day, uncovered)
        self._report(uncovered)
        return self._windows(day)[-1][1]

    def add_working_hours(self, start: datetime, hours: float | Decimal | int) -> datetime:
        """The moment ``hours`` of working time after ``start``, walking through the windows."""
        remaining = _hours_to_timedelta(hours)
        local = self._local(start)
        if not remaining:
            return local
        uncovered: set[int] = set()
        day = local.date()
        idle_days = 0
        while True:
            if self._working(day, uncovered):
                idle_days = 0
                for opens, closes in self._windows(day):
                    if closes <= local:
                        continue
                    begin = max(opens, local)
                    available = closes - begin
                    if remaining <= available:
                        self._report(uncovered)
                        return begin + remaining
                    remaining -= available
            else:
                idle_days += 1
                if idle_days > _MAX_SCAN_DAYS:
                    raise ValueError("the work calendar has no working day in ten years")
            day += timedelta(days=1)

    def add_natural_days(self, start: datetime, n: int, *, roll_over_holidays: bool = False) -> datetime:
        """Midnight ending the ``n``-th day after ``start``'s date (次日起算; the last day ends at 24:00).

        With ``roll_over_holidays`` a last day that is not a working day moves to the next
        working day (Civil Code art. 203, for legal periods such as judicial confirmation).
        """
        if n < 0:
            raise ValueError("add_natural_days needs n >= 0")
        last = self._local(start).date() + timedelta(days=n)
        if roll_over_holidays:
            uncovered: set[int] = set()
            if not self._working(last, uncovered):
                last = self._next_working(last, uncovered)
            self._report(uncovered)
        return self._at(last + timedelta(days=1), time.min)

    def working_seconds_between(
        self, a: datetime, b: datetime, *, excluded: Iterable[Interval] = ()
    ) -> float:
        """Working time in ``[a, b)`` in seconds, without the ``excluded`` intervals.

        An interval ``(s, None)`` is still open (e.g. a ticket suspended right now) and
        runs to ``b``. Overlapping intervals count once. ``b`` before ``a`` gives 0.
        """
        a, b = self._local(a), self._local(b)
        if b <= a:
            return 0.0
        gaps = _merge(excluded, a, b)
        gap_starts = [s for s, _ in gaps]
        uncovered: set[int] = set()
        total = timedelta()
        day, last = a.date(), b.date()
        while day <= last:
            if self._working(day, uncovered):
                for opens, closes in self._windows(day):
                    lo, hi = max(opens, a), min(closes, b)
                    if lo < hi:
                        total += (hi - lo) - _overlap(lo, hi, gaps, gap_starts)
            day += timedelta(days=1)
        self._report(uncovered)
        return total.total_seconds()

    # --- internals ----------------------------------------------------------

    def _working(self, day: date, uncovered: set[int]) -> bool:
        if day.year not in self.covered_years:
            uncovered.add(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def _next_working(self, day: date, uncovered: set[int]) -> date:
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self._working(day, uncovered):
                return day
        raise ValueError("the work calendar has no working day in ten years")

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        return [(self._at(day, start), self._at(day, end)) for start, end in self.windows]

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz)

    def _local(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the work calendar needs aware datetimes, got {value!r}")
        return value.astimezone(self.tz)

    def _report(self, uncovered: set[int]) -> None:
        if not uncovered:
            return
        years = ", ".join(str(year) for year in sorted(uncovered))
        # stacklevel 3: point at the caller of the public method, not at this helper.
        warnings.warn(
            CalendarCoverageWarning(
                f"The work calendar does not cover {years}: counted Monday to Friday only. "
                "Enter the year's holidays and make-up working days."
            ),
            stacklevel=3,
        )
        if self.on_uncovered is not None:
            self.on_uncovered(frozenset(uncovered))


def _hours_to_timedelta(hours: float | Decimal | int) -> timedelta:
    # Decimal arithmetic keeps 0.1 h exactly 360 s instead of 359.999… s.
    amount = Decimal(str(hours)) if not isinstance(hours, Decimal) else hours
    if amount < 0:
        raise ValueError("add_working_hours needs hours >= 0")
    return timedelta(microseconds=int(amount * 3_600_000_000))


def _merge(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """Clip the intervals to ``[lo, hi)``, sort them and merge overlapping or touching ones."""
    clipped = []
    for start, end in intervals:
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise ValueError("excluded intervals need aware datetimes")
        s, e = max(start, lo), min(end if end is not None else hi, hi)
        if s < e:
            clipped.append((s, e))
    clipped.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in clipped:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _overlap(
    lo: datetime, hi: datetime, gaps: list[tuple[datetime, datetime]], gap_starts: list[datetime]
) -> timedelta:
    """Total length of the (merged, sorted) ``gaps`` inside ``[lo, hi)``."""
    total = timedelta()
    # The gaps are disjoint and sorted, so only the one before ``lo`` and those after can meet it.
    index = max(bisect_left(gap_starts, lo) - 1, 0)
    for s, e in gaps[index:]:
        if s >= hi:
            break
        s, e = max(s, lo), min(e, hi)
        if s < e:
            total += e - s
    return total
