"""The work calendar as other apps use it: ``due()``, ``work_calendar()``, seeding, coverage.

The engine is built from the tables once per process and kept in memory. At most every
``ZHIWANG_CALENDAR_CHECK_SECONDS`` (default 5) a call compares a fingerprint of the
tables (row count and latest ``updated_at`` of each) with the one the engine was built
from and rebuilds on a difference, so an administrator's edit reaches every web node
and worker within seconds without any message between them. ``work_calendar_reset()``
drops the cache at once (tests, and this process after its own edits).

When a computation reaches a year that is not covered, the engine warns and this module
logs at WARNING and raises the administrator notice ``calendar.uncovered.<year>``, at most
once per year every ``ZHIWANG_CALENDAR_NOTICE_SECONDS`` (default 600) per process, after
the caller's transaction commits.
"""

from __future__ import annotations

import logging
import threading
import time as monotonic_time
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.models import AdminNotice, NoticeLevel
from zhiwang.core.services import admin_notice_raise, admin_notice_resolve
from zhiwang.core.workcalendar.engine import WorkCalendar
from zhiwang.core.workcalendar.models import (
    CalendarDay,
    CalendarSource,
    CalendarYear,
    DayKind,
    LimitUnit,
    WorkingWindow,
    WorkSchedule,
)
from zhiwang.core.workcalendar.seeding import (
    DEFAULT_WINDOWS,
    SeedResult,
    seed_calendar_tables,
    seed_default_schedule,
)

logger = logging.getLogger(__name__)

UNCOVERED_NOTICE_PREFIX = "calendar.uncovered."

_lock = threading.Lock()
_calendars: dict[str | None, WorkCalendar] = {}
_fingerprint: tuple | None = None
_checked_at = float("-inf")
_notified_at: dict[int, float] = {}


# --- the cached engine ------------------------------------------------------


def work_calendar(*, schedule: str | None = None) -> WorkCalendar:
    """The engine for ``schedule`` (a ``WorkSchedule.name``; None = the default schedule)."""
    global _fingerprint, _checked_at
    interval = getattr(settings, "ZHIWANG_CALENDAR_CHECK_SECONDS", 5)
    with _lock:
        now = monotonic_time.monotonic()
        if now - _checked_at >= interval or schedule not in _calendars:
            current = _tables_fingerprint()
            if current != _fingerprint:
                _calendars.clear()
                _fingerprint = current
            _checked_at = now
        calendar = _calendars.get(schedule)
        if calendar is None:
            calendar = _calendars[schedule] = _build(schedule)
        return calendar


def work_calendar_reset() -> None:
    """Forget the cached engines and notice throttling; the next call reloads from the tables."""
    global _fingerprint, _checked_at
    with _lock:
        _calendars.clear()
        _fingerprint = None
        _checked_at = float("-inf")
        _notified_at.clear()


def _tables_fingerprint() -> tuple:
    # Count catches deletions, Max(updated_at) catches inserts and edits made through save().
    return tuple(
        tuple(model.objects.aggregate(n=Count("pk"), last=Max("updated_at")).values())
        for model in (CalendarDay, CalendarYear, WorkSchedule, WorkingWindow)
    )


def _build(schedule: str | None) -> WorkCalendar:
    holidays, workdays = [], []
    for day, kind in CalendarDay.objects.values_list("date", "kind"):
        (workdays if kind == DayKind.WORKDAY else holidays).append(day)
    covered = CalendarYear.objects.filter(complete=True).values_list("year", flat=True)
    return WorkCalendar(
        holidays=holidays,
        workdays=workdays,
        covered_years=covered,
        windows=_schedule_windows(schedule),
        tz=ZoneInfo(settings.TIME_ZONE),
        on_uncovered=_report_uncovered,
    )


def _schedule_windows(name: str | None) -> list[tuple]:
    schedules = WorkSchedule.objects.all()
    found = schedules.filter(name=name).first() if name else schedules.filter(is_default=True).first()
    if found is None and name:
        raise ServiceError(
            "calendar.unknown_schedule", _("There is no work schedule named %(name)s.") % {"name": name}
        )
    windows = list(WorkingWindow.objects.filter(schedule=found).values_list("start", "end")) if found else []
    if windows:
        return windows
    # Deadlines must still be computed; the built-in windows are the seeded defaults.
    logger.warning(
        "work schedule %r has no working window: using the built-in 09:00-12:00, 14:00-18:00", name
    )
    transaction.on_commit(
        partial(
            admin_notice_raise,
            key="calendar.schedule_without_windows",
            message=_("The work schedule has no working window; deadlines use 09:00–12:00 and 14:00–18:00."),
        ),
        robust=True,
    )
    return list(DEFAULT_WINDOWS)


def _report_uncovered(years: frozenset[int]) -> None:
    """Log and raise one administrator notice per uncovered year (throttled per process)."""
    interval = getattr(settings, "ZHIWANG_CALENDAR_NOTICE_SECONDS", 600)
    now = monotonic_time.monotonic()
    for year in sorted(years):
        with _lock:
            if now - _notified_at.get(year, float("-inf")) < interval:
                continue
            _notified_at[year] = now
        logger.warning(
            "work calendar does not cover %s: deadlines in it are counted Monday to Friday only", year
        )
        message = _(
            "The work calendar has no holidays for %(year)s: deadlines in %(year)s are counted Monday to "
            "Friday only. Enter the year's holidays and make-up working days and mark the year complete."
        ) % {"year": year}
        # After commit: a notice must not be lost with, nor break, the caller's transaction.
        transaction.on_commit(
            partial(
                admin_notice_raise,
                key=f"{UNCOVERED_NOTICE_PREFIX}{year}",
                message=message,
                level=NoticeLevel.WARNING,
            ),
            robust=True,
        )


# --- deadlines --------------------------------------------------------------


def due(
    *, start: datetime, amount: int | float | Decimal, unit: str, schedule: str | None = None
) -> datetime:
    """The deadline ``amount`` ``unit``s (a ``LimitUnit``) after ``start``; see the engine's semantics."""
    calendar = work_calendar(schedule=schedule)
    if unit == LimitUnit.WORKING_HOURS:
        return calendar.add_working_hours(start, amount)
    if unit not in (LimitUnit.WORKING_DAYS, LimitUnit.NATURAL_DAYS):
        raise ServiceError("calendar.unknown_unit", _("Unknown time limit unit: %(unit)s") % {"unit": unit})
    if int(amount) != amount:
        raise ServiceError("calendar.whole_days", _("A limit in days must be a whole number of days."))
    if unit == LimitUnit.WORKING_DAYS:
        return calendar.add_working_days(start, int(amount))
    return calendar.add_natural_days(start, int(amount))


# --- administration ---------------------------------------------------------


@transaction.atomic
def calendar_day_save(*, date, kind: str, name: str = "", source: str = CalendarSource.ADMIN) -> CalendarDay:
    """Create or change the exception on ``date`` (a holiday or a make-up working day)."""
    if kind not in DayKind.values:
        raise ServiceError("calendar.unknown_day_kind", _("Unknown kind of day: %(kind)s") % {"kind": kind})
    day, _created = CalendarDay.objects.update_or_create(
        date=date, defaults={"kind": kind, "name": name, "source": source}
    )
    calendar_tables_changed()
    return day


@transaction.atomic
def calendar_year_save(
    *, year: int, complete: bool = True, source: str = CalendarSource.ADMIN
) -> CalendarYear:
    """Declare which years are known; a complete year stops the coverage warning and resolves its notice."""
    row, _created = CalendarYear.objects.update_or_create(
        year=year, defaults={"complete": complete, "source": source}
    )
    calendar_tables_changed()
    return row


def calendar_tables_changed() -> None:
    """Call after writing calendar tables: this process reloads at once, and notices of years now covered close."""
    work_calendar_reset()
    # Again after commit: another thread may have cached the tables as they were before it.
    transaction.on_commit(work_calendar_reset)
    transaction.on_commit(calendar_coverage_refresh)


def calendar_coverage_refresh() -> list[int]:
    """Resolve the open ``calendar.uncovered.<year>`` notices whose year is now complete."""
    covered = set(CalendarYear.objects.filter(complete=True).values_list("year", flat=True))
    resolved = []
    keys = AdminNotice.objects.filter(key__startswith=UNCOVERED_NOTICE_PREFIX, resolved_at__isnull=True)
    for key in keys.values_list("key", flat=True):
        year = key.removeprefix(UNCOVERED_NOTICE_PREFIX)
        if year.isdigit() and int(year) in covered and admin_notice_resolve(key=key):
            resolved.append(int(year))
    return resolved


@transaction.atomic
def calendar_seed() -> SeedResult:
    """Re-seed from the chinese-calendar package (idempotent; administrators' rows are kept)."""
    result = seed_calendar_tables(CalendarDay=CalendarDay, CalendarYear=CalendarYear)
    result.schedule_created = seed_default_schedule(WorkSchedule=WorkSchedule, WorkingWindow=WorkingWindow)
    calendar_tables_changed()
    return result


def calendar_lookahead_check(*, days: int = 60, today: date | None = None) -> list[int]:
    """Warn administrators *before* deadlines reach a year the calendar does not cover.

    Looks at every year between today and ``days`` ahead; each uncovered one gets the
    same administrator notice a deadline computation would raise. Run daily by the
    task worker (``core.tasks.calendar_lookahead_task``). Returns the uncovered years.
    """
    today = today or timezone.localdate()
    horizon = today + timedelta(days=days)
    covered = set(CalendarYear.objects.filter(complete=True).values_list("year", flat=True))
    missing = [year for year in range(today.year, horizon.year + 1) if year not in covered]
    for year in missing:
        logger.warning("work calendar does not cover %s, which starts within %s days", year, days)
        admin_notice_raise(
            key=f"{UNCOVERED_NOTICE_PREFIX}{year}",
            message=_(
                "The work calendar has no holidays for %(year)s: deadlines in %(year)s are counted Monday to "
                "Friday only. Enter the year's holidays and make-up working days and mark the year complete."
            )
            % {"year": year},
            level=NoticeLevel.WARNING,
        )
    return missing
