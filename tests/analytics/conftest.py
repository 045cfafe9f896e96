"""Analytics fixtures: the ticket personas and factories of tests/tickets, and a small realistic history."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.tickets.conftest import (  # noqa: F401  (fixtures reused as they are)
    accepted,
    dispatched,
    frozen_now,
    handler,
    hotline,
    luohu_building,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)

TZ = ZoneInfo("Asia/Shanghai")
#: The end of the simulated history used by these tests (a Friday afternoon).
HISTORY_END = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)
#: A moment after the history's month has ended (the governance index scores ended months only).
MONTH_ENDED = datetime(2026, 12, 1, 0, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _cached_calendar(settings):
    # thousands of deadline computations: keep the calendar cached as in production
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60


@pytest.fixture
def history(db):
    """40 ticket histories over 10 days through the real services, with hourly clock sweeps."""
    from zhiwang.tickets.history import demo_tickets_create

    result = demo_tickets_create(count=30, seed=5, days=8, end=HISTORY_END, sweep_every=timedelta(hours=2))
    assert not result.failures
    return result
