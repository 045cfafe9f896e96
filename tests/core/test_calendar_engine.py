"""``WorkCalendar`` on the chinese-calendar data, without the database.

Dates used (chinese-calendar 1.11, State Council notice for 2026):
- Spring Festival: 15–23 February off; Saturday 14 and Saturday 28 February worked.
- Mid-autumn: Friday 25 September off. National Day: 1–7 October off;
  Sunday 20 September and Saturday 10 October worked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from zhiwang.core.workcalendar import CalendarCoverageWarning, WorkCalendar
from zhiwang.core.workcalendar.seeding import DEFAULT_WINDOWS, HOLIDAY, WORKDAY, package_exceptions

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def reported() -> list[frozenset[int]]:
    return []


@pytest.fixture
def calendar(reported) -> WorkCalendar:
    days, years = package_exceptions()
    return WorkCalendar(
        holidays=[d for d, (kind, _name) in days.items() if kind == HOLIDAY],
        workdays=[d for d, (kind, _name) in days.items() if kind == WORKDAY],
        covered_years=years,
        windows=DEFAULT_WINDOWS,
        tz=SHANGHAI,
        on_uncovered=reported.append,
    )


def test_agrees_with_chinese_calendar_on_every_covered_day(calendar):
    day = date(2004, 1, 1)
    while day <= date(2026, 12, 31):
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


# --- Spring Festival 2026 ----------------------------------------------------------


def test_spring_festival_days(calendar):
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday, worked
    assert not any(calendar.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.is_working_day(date(2026, 2, 28))  # Saturday, worked


def test_two_working_days_over_the_spring_festival(calendar):
    # given a request received on Friday 13 February at 10:00 with a 2-working-day limit
    received = at(2026, 2, 13, 10)
    # when the deadline is computed
    due = calendar.add_working_days(received, 2)
    # then Saturday 14 (worked) is day 1, the festival is skipped, Tuesday 24 is day 2
    assert due == at(2026, 2, 24, 18)


def test_working_hours_into_the_make_up_saturday(calendar):
    assert calendar.add_working_hours(at(2026, 2, 13, 17), 2) == at(2026, 2, 14, 10)


# --- National Day 2026 -------------------------------------------------------------


def test_national_day_days(calendar):
    assert calendar.is_working_day(date(2026, 9, 20))  # Sunday, worked
    assert not calendar.is_working_day(date(2026, 9, 25))  # Mid-autumn, Friday
    assert not any(calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert calendar.is_working_day(date(2026, 10, 8))
    assert calendar.is_working_day(date(2026, 10, 10))  # Saturday, worked
    assert not calendar.is_working_day(date(2026, 10, 11))


def test_working_days_over_national_day(calendar):
    received = at(2026, 9, 30, 10)
    assert calendar.add_working_days(received, 1) == at(2026, 10, 8, 18)
    assert calendar.add_working_days(received, 3) == at(2026, 10, 10, 18)  # Thu 8, Fri 9, Sat 10
    assert calendar.add_working_days(received, 4) == at(2026, 10, 12, 18)
    assert calendar.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)


def test_working_hours_over_national_day(calendar):
    assert calendar.add_working_hours(at(2026, 9, 30, 17), 2) == at(2026, 10, 8, 10)


# --- counting rules ----------------------------------------------------------------


def test_working_days_count_from_the_next_day(calendar):
    # received on Monday before work: Monday itself does not count (次日起算)
    assert calendar.add_working_days(at(2026, 11, 23, 8), 1) == at(2026, 11, 24, 18)
    # received on Saturday: Monday is the first day
    assert calendar.add_working_days(at(2026, 11, 21, 10), 1) == at(2026, 11, 23, 18)
    # 15 working days (complaint) from Monday 23 November: three weeks later
    assert calendar.add_working_days(at(2026, 11, 23, 9, 30), 15) == at(2026, 12, 14, 18)


def test_working_days_needs_at_least_one(calendar):
    with pytest.raises(ValueError):
        calendar.add_working_days(at(2026, 11, 23, 9), 0)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(2026, 11, 23, 11), 2, at(2026, 11, 23, 15)),  # across lunch
        (at(2026, 11, 23, 9), 3, at(2026, 11, 23, 12)),  # exactly to a window's end
        (at(2026, 11, 23, 12, 30), 1, at(2026, 11, 23, 15)),  # starts during lunch
        (at(2026, 11, 23, 7), 1, at(2026, 11, 23, 10)),  # starts before work
        (at(2026, 11, 20, 17), 2, at(2026, 11, 23, 10)),  # Friday evening, across the weekend
        (at(2026, 11, 21, 10), 1, at(2026, 11, 23, 10)),  # Saturday: starts at Monday's opening
        (at(2026, 11, 23, 9), 7, at(2026, 11, 23, 18)),  # a whole working day
        (at(2026, 11, 23, 9), 8, at(2026, 11, 24, 10)),
        (at(2026, 11, 23, 9), Decimal("0.5"), at(2026, 11, 23, 9, 30)),
        (at(2026, 11, 23, 9), 0.1, at(2026, 11, 23, 9, 6)),
        (at(2026, 11, 23, 20), 0, at(2026, 11, 23, 20)),
    ],
)
def test_add_working_hours(calendar, start, hours, due):
    assert calendar.add_working_hours(start, hours) == due


def test_negative_hours_are_refused(calendar):
    with pytest.raises(ValueError):
        calendar.add_working_hours(at(2026, 11, 23, 9), -1)


def test_natural_days_end_at_midnight_of_the_last_day(calendar):
    # 30 days to apply for judicial confirmation, agreement signed on 23 November at 15:00
    assert calendar.add_natural_days(at(2026, 11, 23, 15), 30) == at(2026, 12, 24)
    assert calendar.add_natural_days(at(2026, 11, 20, 10), 1) == at(2026, 11, 22)


def test_natural_days_roll_over_a_holiday_when_asked(calendar):
    # the last day, 1 October, is a holiday: the period ends with the next working day, 8 October
    assert calendar.add_natural_days(at(2026, 9, 30, 10), 1) == at(2026, 10, 2)
    assert calendar.add_natural_days(at(2026, 9, 30, 10), 1, roll_over_holidays=True) == at(2026, 10, 9)


# --- elapsed working time -----------------------------------------------------------


def test_working_seconds_of_a_week(calendar):
    assert calendar.working_seconds_between(at(2026, 11, 23), at(2026, 11, 30)) == 5 * 7 * HOUR


def test_working_seconds_partial_windows(calendar):
    assert calendar.working_seconds_between(at(2026, 11, 23, 11), at(2026, 11, 23, 15)) == 2 * HOUR
    assert calendar.working_seconds_between(at(2026, 11, 23, 15), at(2026, 11, 23, 11)) == 0


def test_suspended_intervals_are_excluded_once_even_when_they_overlap(calendar):
    # given a ticket open from Monday 09:00 to Tuesday 18:00 (14 working hours)
    start, end = at(2026, 11, 23, 9), at(2026, 11, 24, 18)
    # and two overlapping suspensions: Monday 10:00–Tuesday 10:00 and Monday 11:00–15:00
    suspended = [(at(2026, 11, 23, 10), at(2026, 11, 24, 10)), (at(2026, 11, 23, 11), at(2026, 11, 23, 15))]
    # when the working time is counted
    seconds = calendar.working_seconds_between(start, end, excluded=suspended)
    # then 2 + 4 + 1 suspended working hours are left out, once
    assert seconds == 7 * HOUR


def test_open_suspension_and_suspensions_outside_the_span(calendar):
    start, end = at(2026, 11, 23, 9), at(2026, 11, 23, 18)
    assert calendar.working_seconds_between(start, end, excluded=[(at(2026, 11, 23, 16), None)]) == 5 * HOUR
    outside = [(at(2026, 11, 20, 9), at(2026, 11, 21, 9)), (at(2026, 11, 25, 9), at(2026, 11, 26, 9))]
    assert calendar.working_seconds_between(start, end, excluded=outside) == 7 * HOUR


def test_elapsed_time_skips_the_spring_festival(calendar):
    assert calendar.working_seconds_between(at(2026, 2, 13, 9), at(2026, 2, 25, 9)) == 3 * 7 * HOUR


# --- time zones ---------------------------------------------------------------------


def test_aware_datetimes_in_any_zone_give_shanghai_time(calendar):
    due = calendar.add_working_hours(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), 1)  # 09:00 in Shanghai
    assert due == at(2026, 11, 23, 10)
    assert due.tzinfo == SHANGHAI


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError):
        calendar.add_working_days(datetime(2026, 11, 23, 9), 1)
    with pytest.raises(ValueError):
        calendar.working_seconds_between(
            at(2026, 11, 23), at(2026, 11, 24), excluded=[(datetime(2026, 11, 23), None)]
        )


# --- coverage -----------------------------------------------------------------------


def test_a_deadline_in_2027_is_computed_monday_to_friday_and_warns(calendar, reported):
    # given a request on 30 December 2026 with 3 working days; 2027 is not covered
    with pytest.warns(CalendarCoverageWarning, match="2027"):
        due = calendar.add_working_days(at(2026, 12, 30, 10), 3)
    # then it is not an error: 31 Dec, Fri 1 Jan (no holiday known), Mon 4 Jan
    assert due == at(2027, 1, 4, 18)
    assert reported == [frozenset({2027})]


def test_covered_years_do_not_warn(calendar, reported, recwarn):
    calendar.add_working_days(at(2026, 11, 23, 10), 10)
    assert not recwarn.list
    assert reported == []


# --- configuration ------------------------------------------------------------------


def test_other_windows():
    calendar = WorkCalendar(
        holidays=[], workdays=[], covered_years=[2026], windows=[(time(8, 30), time(17, 30))], tz=SHANGHAI
    )
    assert calendar.add_working_days(at(2026, 11, 23, 10), 1) == at(2026, 11, 24, 17, 30)
    assert calendar.working_windows(date(2026, 11, 21)) == []


@pytest.mark.parametrize(
    "windows",
    [[], [(time(9), time(12)), (time(11), time(13))], [(time(12), time(9))]],
)
def test_bad_windows_are_refused(windows):
    with pytest.raises(ValueError):
        WorkCalendar(holidays=[], workdays=[], covered_years=[], windows=windows, tz=SHANGHAI)


def test_a_day_cannot_be_both_holiday_and_working_day():
    day = date(2026, 11, 23)
    with pytest.raises(ValueError):
        WorkCalendar(holidays=[day], workdays=[day], covered_years=[], windows=DEFAULT_WINDOWS, tz=SHANGHAI)
