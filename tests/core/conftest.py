"""Fixtures for the core tests: a fresh work-calendar cache for every test."""

from __future__ import annotations

import pytest

from zhiwang.core.workcalendar.services import work_calendar_reset


@pytest.fixture(autouse=True)
def _fresh_work_calendar(settings):
    # Check the tables on every call, and forget what an earlier test cached or notified.
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 0
    work_calendar_reset()
    yield
    work_calendar_reset()
