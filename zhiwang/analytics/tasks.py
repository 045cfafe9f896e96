"""Background and periodic work of the analytics app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from zhiwang.analytics.rollups import rollup_catch_up


@db_periodic_task(crontab(minute="*"))
@lock_task("analytics-rollup-catch-up")
def rollup_catch_up_task() -> int:
    """Every minute: count timeline rows that bulk paths (the clock sweep) wrote without a signal."""
    return rollup_catch_up()


@db_periodic_task(crontab(minute="7,37"))
@lock_task("analytics-alerts-detect")
def alerts_detect_task() -> dict[str, int]:
    """Twice an hour: run the early-warning detectors (after a catch-up, so the rollups are complete)."""
    from zhiwang.analytics.services import alerts_detect

    rollup_catch_up()
    return alerts_detect()


@db_periodic_task(crontab(day="1", hour="3", minute="15"))
def governance_index_task() -> int:
    """On the 1st of every month: the governance index of the month that just ended, then the
    stored indicator figures of that month (``indicator_figures``; its own transaction, so a
    failure there leaves the index computed). Both are preliminary until the month's settle time
    (``figures_settle_task`` recomputes them then)."""
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.analytics.index import governance_index_compute
    from zhiwang.analytics.indicator_figures import indicator_figures_compute

    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    written = governance_index_compute(month=last_month)
    indicator_figures_compute(month=last_month)
    return written


@db_periodic_task(crontab(hour="4", minute="15"))
@lock_task("analytics-figures-settle")
def figures_settle_task() -> int:
    """Every day: the stored indicator figures of a month computed before its settle time (the
    1st's preliminary figures) are recomputed once as final after it (``indicator_figures.
    figures_settle``; with the month's governance index when its formula is unchanged)."""
    from zhiwang.analytics.indicator_figures import figures_settle

    return len(figures_settle())


@db_periodic_task(crontab(minute="*/10"))
def reports_give_up_stale_task() -> int:
    """Every ten minutes: reports whose worker stopped are marked failed (their pages stop polling)."""
    from zhiwang.analytics.services import reports_give_up_stale

    return reports_give_up_stale()


@db_task()
def report_generate_task(report_id: int) -> int:
    """Make the files of one queued report (progress is written on the report as it goes)."""
    from zhiwang.analytics.services import report_generate

    return report_generate(report_id=report_id).pk


#: Every night: report files that no report names (a record that failed after they were stored).
ORPHAN_SWEEP_SCHEDULE = crontab(hour="4", minute="5")


@db_periodic_task(ORPHAN_SWEEP_SCHEDULE)
@lock_task("analytics-orphan-report-files")
def orphan_report_files_sweep_task() -> int:
    """Delete the stored report files that no report names, a day old (``file_sweep``)."""
    from zhiwang.analytics.file_sweep import orphan_report_files_sweep

    return orphan_report_files_sweep()
