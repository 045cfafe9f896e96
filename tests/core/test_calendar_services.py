"""The work calendar read from its tables: seeding, caching, coverage notices, ``due()``."""

from __future__ import annotations

import io
import logging
import warnings
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import translation

from zhiwang.core.errors import ServiceError
from zhiwang.core.models import (
    AdminNotice,
    CalendarDay,
    CalendarSource,
    CalendarYear,
    DayKind,
    LimitUnit,
    WorkingWindow,
    WorkSchedule,
)
from zhiwang.core.workcalendar import CalendarCoverageWarning
from zhiwang.core.workcalendar.services import (
    calendar_day_save,
    calendar_year_save,
    due,
    work_calendar,
    work_calendar_reset,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE_2027 = "calendar.uncovered.2027"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- what the migration seeded -----------------------------------------------------


def test_migration_seeded_the_years_chinese_calendar_knows():
    years = list(CalendarYear.objects.filter(complete=True).values_list("year", flat=True))
    assert years == list(range(2004, 2027))
    assert set(CalendarYear.objects.values_list("source", flat=True)) == {CalendarSource.CHINESE_CALENDAR}


def test_migration_seeded_only_exceptions_to_monday_to_friday():
    spring = CalendarDay.objects.filter(date__range=(date(2026, 2, 14), date(2026, 2, 28)))
    assert [(d.date.day, d.kind, d.name) for d in spring] == [
        (14, DayKind.WORKDAY, "春节"),
        *[
            (day, DayKind.HOLIDAY, "春节") for day in (16, 17, 18, 19, 20, 23)
        ],  # 15, 21, 22 are weekends anyway
        (28, DayKind.WORKDAY, "春节"),
    ]


def test_migration_seeded_the_default_schedule():
    schedule = WorkSchedule.objects.get(is_default=True)
    assert list(schedule.windows.values_list("start", "end")) == [(time(9), time(12)), (time(14), time(18))]


def test_due_uses_the_seeded_calendar():
    assert due(start=at(2026, 2, 13, 10), amount=2, unit=LimitUnit.WORKING_DAYS) == at(2026, 2, 24, 18)
    assert due(start=at(2026, 9, 30, 17), amount=2, unit=LimitUnit.WORKING_HOURS) == at(2026, 10, 8, 10)
    assert due(start=at(2026, 11, 23, 15), amount=30, unit=LimitUnit.NATURAL_DAYS) == at(2026, 12, 24)


def test_due_refuses_unknown_units_and_fractional_days():
    with pytest.raises(ServiceError) as caught:
        due(start=at(2026, 11, 23, 9), amount=1, unit="fortnights")
    assert caught.value.code == "calendar.unknown_unit"
    with pytest.raises(ServiceError) as caught:
        due(start=at(2026, 11, 23, 9), amount=1.5, unit=LimitUnit.WORKING_DAYS)
    assert caught.value.code == "calendar.whole_days"


# --- configuration through the tables ----------------------------------------------


def test_an_administrators_holiday_is_used_at_once():
    # given an extra day off on Tuesday 24 November 2026
    calendar_day_save(date=date(2026, 11, 24), kind=DayKind.HOLIDAY, name="台风停工")
    # then one working day from Monday ends on Wednesday
    assert due(start=at(2026, 11, 23, 10), amount=1, unit=LimitUnit.WORKING_DAYS) == at(2026, 11, 25, 18)


def test_changed_windows_are_used():
    schedule = WorkSchedule.objects.get(is_default=True)
    schedule.windows.all().delete()
    WorkingWindow.objects.create(schedule=schedule, start=time(8, 30), end=time(17, 30))
    assert work_calendar().add_working_days(at(2026, 11, 23, 10), 1) == at(2026, 11, 24, 17, 30)


def test_a_named_schedule():
    hotline = WorkSchedule.objects.create(name="12345 热线")
    WorkingWindow.objects.create(schedule=hotline, start=time(0), end=time(23, 59))
    assert work_calendar(schedule="12345 热线").add_working_hours(at(2026, 11, 23, 20), 1) == at(
        2026, 11, 23, 21
    )
    assert work_calendar().add_working_hours(at(2026, 11, 23, 20), 1) == at(2026, 11, 24, 10)
    with pytest.raises(ServiceError) as caught:
        work_calendar(schedule="nope")
    assert caught.value.code == "calendar.unknown_schedule"


def test_a_schedule_without_windows_falls_back_and_tells_administrators(django_capture_on_commit_callbacks):
    WorkingWindow.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        calendar = work_calendar()
    assert calendar.add_working_days(at(2026, 11, 23, 10), 1) == at(2026, 11, 24, 18)
    assert AdminNotice.objects.filter(key="calendar.schedule_without_windows").exists()


def test_cache_is_kept_between_checks_and_reset_forces_a_reload(settings):
    # given a calendar cached with a long check interval
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 3600
    first = work_calendar()
    # when a day is changed behind the service's back
    CalendarDay.objects.create(date=date(2026, 11, 24), kind=DayKind.HOLIDAY)
    # then this process keeps its calendar until the next check or a reset
    assert work_calendar() is first
    work_calendar_reset()
    assert not work_calendar().is_working_day(date(2026, 11, 24))


def test_a_change_is_noticed_at_the_next_check():
    first = work_calendar()
    assert work_calendar() is first  # nothing changed: no rebuild
    CalendarYear.objects.filter(year=2004).delete()
    assert work_calendar() is not first
    assert not work_calendar().is_covered(2004)


# --- coverage: a deadline in 2027 ----------------------------------------------------


def test_a_deadline_in_2027_warns_logs_and_raises_one_notice(caplog, django_capture_on_commit_callbacks):
    # given a request on 30 December 2026 with a 3-working-day limit (2027 is not in the calendar)
    start = at(2026, 12, 30, 10)
    # when its deadline is computed twice
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        with pytest.warns(CalendarCoverageWarning):
            first = due(start=start, amount=3, unit=LimitUnit.WORKING_DAYS)
        with pytest.warns(CalendarCoverageWarning):
            second = due(start=start, amount=3, unit=LimitUnit.WORKING_DAYS)
    # then both answer with the Monday–Friday rule
    assert first == second == at(2027, 1, 4, 18)
    # and administrators see one notice, logged once (throttled)
    notice = AdminNotice.objects.get(key=NOTICE_2027)
    assert notice.count == 1 and notice.is_open
    assert "2027" in notice.message
    assert len([r for r in caplog.records if "2027" in r.getMessage()]) == 1


def test_repeated_notices_are_counted_on_one_row(settings, django_capture_on_commit_callbacks):
    settings.ZHIWANG_CALENDAR_NOTICE_SECONDS = 0  # no throttling
    with warnings.catch_warnings(), django_capture_on_commit_callbacks(execute=True):
        warnings.simplefilter("ignore", CalendarCoverageWarning)
        for _ in range(3):
            due(start=at(2026, 12, 30, 10), amount=3, unit=LimitUnit.WORKING_DAYS)
    assert AdminNotice.objects.filter(key__startswith="calendar.uncovered.").count() == 1
    assert AdminNotice.objects.get(key=NOTICE_2027).count == 3


def test_a_rolled_back_computation_leaves_no_notice():
    # on_commit callbacks of the test's own transaction are never run
    with pytest.warns(CalendarCoverageWarning):
        due(start=at(2026, 12, 30, 10), amount=3, unit=LimitUnit.WORKING_DAYS)
    assert not AdminNotice.objects.filter(key=NOTICE_2027).exists()


def test_once_an_administrator_completes_2027_the_warning_stops(django_capture_on_commit_callbacks):
    # given the 2027 warning was raised
    with django_capture_on_commit_callbacks(execute=True), pytest.warns(CalendarCoverageWarning):
        due(start=at(2026, 12, 30, 10), amount=3, unit=LimitUnit.WORKING_DAYS)
    # when an administrator enters New Year's Day 2027 and marks the year complete
    with django_capture_on_commit_callbacks(execute=True):
        calendar_day_save(date=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
        calendar_year_save(year=2027, complete=True)
    # then the deadline skips 1 January, without any warning, and the notice is resolved
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarCoverageWarning)
        assert due(start=at(2026, 12, 30, 10), amount=3, unit=LimitUnit.WORKING_DAYS) == at(2027, 1, 5, 18)
    assert not AdminNotice.objects.get(key=NOTICE_2027).is_open
    assert CalendarYear.objects.get(year=2027).source == CalendarSource.ADMIN


def test_an_incomplete_year_still_warns_but_uses_what_is_known(django_capture_on_commit_callbacks):
    calendar_day_save(date=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
    calendar_year_save(year=2027, complete=False)
    with pytest.warns(CalendarCoverageWarning):
        assert due(start=at(2026, 12, 30, 10), amount=3, unit=LimitUnit.WORKING_DAYS) == at(2027, 1, 5, 18)


# --- re-seeding -----------------------------------------------------------------------


def test_seed_command_is_idempotent_and_keeps_administrators_rows():
    # given an administrator's correction of a seeded day, an administrator's own day,
    # and a package day that the package no longer lists
    national_day = CalendarDay.objects.get(date=date(2026, 10, 1))
    national_day.name, national_day.source = "国庆节(已核对)", CalendarSource.ADMIN
    national_day.save()
    CalendarDay.objects.create(date=date(2026, 11, 24), kind=DayKind.HOLIDAY, name="台风停工")
    CalendarDay.objects.create(
        date=date(2026, 11, 25), kind=DayKind.HOLIDAY, source=CalendarSource.CHINESE_CALENDAR
    )
    before = CalendarDay.objects.count()
    # when the command runs twice
    call_command("seed_calendar", stdout=io.StringIO())
    call_command("seed_calendar", stdout=io.StringIO())
    # then the administrator's rows are untouched and the stale package row is gone
    assert CalendarDay.objects.get(date=date(2026, 10, 1)).name == "国庆节(已核对)"
    assert CalendarDay.objects.get(date=date(2026, 11, 24)).source == CalendarSource.ADMIN
    assert not CalendarDay.objects.filter(date=date(2026, 11, 25)).exists()
    assert CalendarDay.objects.count() == before - 1
    assert WorkSchedule.objects.count() == 1


def test_seed_command_reports_what_it_did():
    CalendarDay.objects.filter(date=date(2026, 10, 1)).delete()
    out = io.StringIO()
    with translation.override("en"):
        call_command("seed_calendar", stdout=out)
    assert "2004–2026: 1 days created, 0 updated" in out.getvalue()
    assert CalendarDay.objects.filter(date=date(2026, 10, 1), kind=DayKind.HOLIDAY).exists()
