"""Background and periodic work of the core app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from zhiwang.core.sqlite_stats import sqlite_statistics_refresh
from zhiwang.core.workcalendar.services import calendar_lookahead_check


@db_periodic_task(crontab(hour="6", minute="5"))
def calendar_lookahead_task() -> list[int]:
    """Every morning: warn administrators when a year starting within 60 days has no calendar."""
    return calendar_lookahead_check(days=60)


@db_periodic_task(crontab(hour="4", minute="10"))
def sqlite_statistics_task() -> bool:
    """Every night on SQLite: refresh the planner's statistics (``core.sqlite_stats``)."""
    return sqlite_statistics_refresh()
