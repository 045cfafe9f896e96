"""Background and periodic work of the tickets app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

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


@db_task()
def classifier_retrain_task(run_id: int) -> int:
    """Retrain the category model from the corrected history (progress written on the run)."""
    from zhiwang.tickets.services.smart import classifier_retrain

    return classifier_retrain(run_id=run_id).pk


#: Drift is checked every morning: enough new tickets and corrections for a fair window.
DRIFT_SCHEDULE = crontab(hour="7", minute="15")


@db_periodic_task(DRIFT_SCHEDULE)
@lock_task("tickets-classifier-drift")
def classifier_drift_task() -> dict | None:
    """Warn administrators (an AdminNotice) when the category model's confidence or agreement fell."""
    from zhiwang.tickets.services.smart import classifier_drift_check

    result = classifier_drift_check()
    return None if result is None else result.as_dict()
