"""Background and periodic work of the tickets app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from zhiwang.tickets.services.clock import clock_sweep

#: The sweep runs every 5 minutes: a threshold is acted on at most this long after it is crossed.
SWEEP_SCHEDULE = crontab(minute="*/5")


@db_periodic_task(SWEEP_SCHEDULE)
@lock_task("tickets-clock-sweep")
def clock_sweep_task() -> dict[str, int]:
    """Warn, urge and supervise (``clock_sweep``); a sweep still running makes the next one skip.

    The lock only saves work: two sweeps at once (two consumers, or a manual
    ``zhiwang sweep``) still act exactly once per threshold.
    """
    return clock_sweep().as_dict()
