"""The admin pages of the calendar and of notices."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from zhiwang.core.models import AdminNotice, CalendarDay, CalendarSource, CalendarYear, WorkSchedule
from zhiwang.core.services import admin_notice_raise
from zhiwang.core.workcalendar.services import work_calendar

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["calendarday", "calendaryear", "workschedule", "adminnotice"])
def test_changelists_render(admin_client, model):
    assert admin_client.get(reverse(f"admin:core_{model}_changelist")).status_code == 200


def test_schedule_page_renders_with_its_windows(admin_client):
    schedule = WorkSchedule.objects.get(is_default=True)
    response = admin_client.get(reverse("admin:core_workschedule_change", args=[schedule.pk]))
    assert response.status_code == 200
    assert b"09:00" in response.content


def test_adding_a_complete_year_in_the_admin_marks_it_admin_and_resolves_its_notice(
    admin_client, django_capture_on_commit_callbacks
):
    # given the 2027 coverage notice
    admin_notice_raise(key="calendar.uncovered.2027", message="2027 missing")
    # when an administrator adds 2027 as complete
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:core_calendaryear_add"), {"year": 2027, "complete": "on"})
    # then the year is the administrator's, the calendar covers it, and the notice is closed
    assert response.status_code == 302
    assert CalendarYear.objects.get(year=2027).source == CalendarSource.ADMIN
    assert work_calendar().is_covered(2027)
    assert not AdminNotice.objects.get(key="calendar.uncovered.2027").is_open


def test_a_day_edited_in_the_admin_becomes_the_administrators(admin_client):
    day = CalendarDay.objects.get(date=date(2026, 10, 1))
    response = admin_client.post(
        reverse("admin:core_calendarday_change", args=[day.pk]),
        {"date": "2026-10-01", "kind": "holiday", "name": "国庆节"},
    )
    assert response.status_code == 302
    assert CalendarDay.objects.get(pk=day.pk).source == CalendarSource.ADMIN


def _schedule_form(schedule, windows):
    data = {
        "name": schedule.name,
        "is_default": "on",
        "windows-TOTAL_FORMS": str(len(windows)),
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    for index, (start, end) in enumerate(windows):
        data[f"windows-{index}-start"] = start
        data[f"windows-{index}-end"] = end
    return data


def test_overlapping_windows_are_refused(admin_client):
    schedule = WorkSchedule.objects.create(name="夏令时")
    url = reverse("admin:core_workschedule_change", args=[schedule.pk])
    response = admin_client.post(
        url, _schedule_form(schedule, [("09:00", "12:00"), ("11:00", "13:00")]) | {"is_default": ""}
    )
    assert response.status_code == 200  # the form comes back with the error
    assert not schedule.windows.exists()
    response = admin_client.post(
        url, _schedule_form(schedule, [("08:30", "12:00"), ("13:30", "17:30")]) | {"is_default": ""}
    )
    assert response.status_code == 302
    assert schedule.windows.count() == 2


def test_notices_cannot_be_added_by_hand_but_can_be_resolved(admin_client):
    notice = admin_notice_raise(key="k", message="m")
    assert admin_client.get(reverse("admin:core_adminnotice_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:core_adminnotice_changelist"),
        {"action": "mark_resolved", "_selected_action": [notice.pk]},
    )
    assert response.status_code == 302
    assert not AdminNotice.objects.get(pk=notice.pk).is_open
