"""Background and periodic work of the disputes app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from zhiwang.disputes.services.reminders import reminders_sweep


@db_periodic_task(crontab(minute="15", hour="*/2"))
@lock_task("disputes-reminders")
def disputes_reminder_task() -> dict[str, int]:
    """Every two hours: remind of one-month targets, confirmation windows, performance and backlog limits."""
    return reminders_sweep().as_dict()
