"""Seed the work-calendar tables from the chinese-calendar package.

Shared by the data migration (which passes its historical models) and by
``zhiwang seed_calendar`` (which passes the real ones), so both take the model
classes as arguments and use nothing but plain ORM calls on them.

Rules: upsert by date / year; never touch a row whose ``source`` is ``admin``;
remove a package-sourced day the package no longer lists (a corrected notice);
never delete anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

SOURCE_PACKAGE = "chinesecalendar"
SOURCE_ADMIN = "admin"
HOLIDAY = "holiday"
WORKDAY = "workday"

#: The first schedule, seeded once; administrators edit it afterwards (DOMAIN.md: configurable).
DEFAULT_SCHEDULE_NAME = "标准工作时间"  # data shown to Chinese-speaking administrators, not a UI string
DEFAULT_WINDOWS = ((time(9, 0), time(12, 0)), (time(14, 0), time(18, 0)))


@dataclass
class SeedResult:
    """What one seeding run changed."""

    days_created: int = 0
    days_updated: int = 0
    days_unchanged: int = 0
    days_removed: int = 0
    days_kept_admin: int = 0
    years: list[int] = field(default_factory=list)
    years_kept_admin: list[int] = field(default_factory=list)
    schedule_created: bool = False


def package_exceptions() -> tuple[dict[date, tuple[str, str]], list[int]]:
    """The exceptions to Monday–Friday known to chinese-calendar, and the years it covers.

    Returns ``({date: (kind, chinese name)}, [years])``. Holidays on weekends and working
    days on weekdays agree with the plain rule, so they are left out.
    """
    import chinese_calendar
    from chinese_calendar.constants import Holiday

    def chinese(english: str) -> str:
        try:
            return Holiday(english).chinese
        except ValueError:
            return english

    days: dict[date, tuple[str, str]] = {}
    for day, name in chinese_calendar.holidays.items():
        if day.weekday() < 5:
            days[day] = (HOLIDAY, chinese(name))
    for day, name in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            days[day] = (WORKDAY, chinese(name))
    known = [*chinese_calendar.holidays, *chinese_calendar.workdays]
    years = list(range(min(known).year, max(known).year + 1))
    return days, years


def seed_calendar_tables(*, CalendarDay, CalendarYear) -> SeedResult:
    """Upsert the package's days and years; see the module docstring for the rules."""
    result = SeedResult()
    days, years = package_exceptions()

    existing = {
        row.date: row
        for row in CalendarDay.objects.filter(date__year__gte=years[0], date__year__lte=years[-1])
    }
    to_create = []
    for day, (kind, name) in sorted(days.items()):
        row = existing.get(day)
        if row is None:
            to_create.append(CalendarDay(date=day, kind=kind, name=name, source=SOURCE_PACKAGE))
        elif row.source == SOURCE_ADMIN:
            result.days_kept_admin += 1
        elif (row.kind, row.name) != (kind, name):
            row.kind, row.name = kind, name
            row.save(update_fields=["kind", "name", "updated_at"])
            result.days_updated += 1
        else:
            result.days_unchanged += 1
    CalendarDay.objects.bulk_create(to_create)
    result.days_created = len(to_create)

    stale = [row.pk for day, row in existing.items() if row.source == SOURCE_PACKAGE and day not in days]
    if stale:
        result.days_removed, _ = CalendarDay.objects.filter(pk__in=stale).delete()

    known_years = {row.year: row for row in CalendarYear.objects.filter(year__in=years)}
    for year in years:
        row = known_years.get(year)
        if row is None:
            CalendarYear.objects.create(year=year, source=SOURCE_PACKAGE, complete=True)
        elif row.source == SOURCE_ADMIN:
            result.years_kept_admin.append(year)
            continue
        elif not row.complete:
            row.complete = True
            row.save(update_fields=["complete", "updated_at"])
        result.years.append(year)
    return result


def seed_default_schedule(*, WorkSchedule, WorkingWindow) -> bool:
    """Create the default schedule with the default windows when there is no schedule at all."""
    if WorkSchedule.objects.exists():
        return False
    schedule = WorkSchedule.objects.create(name=DEFAULT_SCHEDULE_NAME, is_default=True)
    WorkingWindow.objects.bulk_create(
        [WorkingWindow(schedule=schedule, start=start, end=end) for start, end in DEFAULT_WINDOWS]
    )
    return True
