"""Background and periodic work of the tickets app (huey; thin wrappers over services)."""

import tempfile
import time
import uuid
from pathlib import Path

from django.core.files import File
from django.utils import timezone
from django.utils.translation import gettext
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


# --- queued submissions (POST /api/v1/tickets/ with Prefer: respond-async) ------------------


@db_task()
def queued_submissions_task() -> int:
    """Write the queued submissions as tickets (``queued_submissions_process``), lingering for
    the drain flag's lifetime (not when tasks run inside the request, as in the tests)."""
    from django.conf import settings

    from zhiwang.tickets.services.submit_queue import DRAIN_LINGER_SECONDS, queued_submissions_process

    inline = settings.HUEY.get("immediate", False)
    return queued_submissions_process(linger=0.0 if inline else DRAIN_LINGER_SECONDS)


@db_periodic_task(crontab(minute="*"))
@lock_task("tickets-queued-maintain")
def queued_submissions_maintain_task() -> dict[str, int]:
    """Every minute: requeue what a dead worker held, drop old receipts, drain what is left."""
    from zhiwang.tickets.services.submit_queue import queued_submissions_maintain, queued_submissions_process

    result = queued_submissions_maintain()
    result["processed"] = queued_submissions_process()
    return result


# --- hotline batch import ----------------------------------------------------------------

#: Every night: delete the files of runs past the keeping period (``ZHIWANG_IMPORT_KEEP_DAYS``).
IMPORT_PURGE_SCHEDULE = crontab(hour="3", minute="40")


@db_periodic_task(IMPORT_PURGE_SCHEDULE)
@lock_task("tickets-import-purge")
def ticket_import_purge_task() -> int:
    """Delete uploaded call files and reports past their keeping period (``import_retention``)."""
    from zhiwang.tickets.import_retention import ticket_import_purge

    return ticket_import_purge()


#: Every night: photos and import files that no row names (a commit that failed after they were stored).
ORPHAN_SWEEP_SCHEDULE = crontab(hour="3", minute="55")


@db_periodic_task(ORPHAN_SWEEP_SCHEDULE)
@lock_task("tickets-orphan-files")
def orphan_files_sweep_task() -> int:
    """Delete the tickets app's stored files that no row names, a day old (``file_sweep``)."""
    from zhiwang.tickets.file_sweep import orphan_files_sweep

    return orphan_files_sweep()


#: The page polls every second: the run's row is written at most this often while it runs.
IMPORT_PROGRESS_SECONDS = 1.0


@db_task()
def ticket_import_task(run_id: int, actor_id: int | None = None) -> int:
    """Run a hotline batch import (``ticket_import_run``); the page polls the run's progress.

    ``actor_id``: who queued this run of it, when it is not the uploader (a colleague running a
    failed run again); tasks queued without it run as the uploader."""
    return ticket_import_run(run_id=run_id, actor_id=actor_id).pk


def ticket_import_run(*, run_id: int, actor_id: int | None = None):
    """Import the run's stored file through ``hotline_import.import_tickets``, progress on the row.

    The rows are filed as ``actor_id``'s work — the person who ran a failed or stalled run again
    (``import_run_again``): their channels are checked and their name is on the tickets' timelines
    — or, without one, as the uploader's (``created_by``). An account deactivated since it queued
    the run fails the run at once, with a message that says so (not a report refusing every row
    with its role): a colleague may run it again, as themselves.

    Progress (rows read of the file's rows) is written at most every ``IMPORT_PROGRESS_SECONDS``;
    at the end the totals, the first refused rows and the report file. A file that cannot be
    read as a whole (``ServiceError``) fails the run with its message; any other error fails
    it too and is raised, so the worker logs it. Running a run again is safe: rows imported
    before are recognised by their call id (whoever runs it) and reported as such.
    """
    from django.contrib.auth import get_user_model

    from zhiwang.core.errors import ServiceError
    from zhiwang.tickets.hotline_import import import_tickets
    from zhiwang.tickets.models import TicketImport, TicketImportStatus

    run = TicketImport.objects.select_related("created_by").get(pk=run_id)
    if run.status == TicketImportStatus.DONE:
        return run
    actor = run.created_by
    if actor_id is not None and actor_id != run.created_by_id:
        # a restarter deleted since they clicked: the uploader's, as before (never no one's)
        actor = get_user_model().objects.filter(pk=actor_id).first() or actor

    def update(**fields) -> None:
        fields["updated_at"] = timezone.now()
        TicketImport.objects.filter(pk=run.pk).update(**fields)
        for name, value in fields.items():
            setattr(run, name, value)

    if actor is not None and not actor.is_active:
        message = gettext(
            "The account this import runs as (%(name)s) has been deactivated; it cannot file tickets. "
            "Run it again yourself to import the file as your own work."
        ) % {"name": actor.display_name}
        update(status=TicketImportStatus.FAILED, error=message[:500], finished_at=timezone.now())
        return run
    update(status=TicketImportStatus.RUNNING, started_at=timezone.now(), finished_at=None, error="")
    last_write = [float("-inf")]  # the first batch is shown at once

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last_write[0] >= IMPORT_PROGRESS_SECONDS:
            update(rows_done=done, rows_total=total)
            last_write[0] = now

    previous_report = run.report.name  # a run run again replaces its report
    try:
        summary = import_tickets(
            run.file.path,
            channel=run.channel,
            actor=actor,
            validate_only=run.validate_only,
            progress=progress,
        )
        _import_record(run, summary, update)
    except ServiceError as error:
        update(status=TicketImportStatus.FAILED, error=error.message[:500], finished_at=timezone.now())
        return run
    except Exception as error:
        # The page shows this to the operator: what happened and what to do, never the exception's
        # own text (it may hold paths or SQL). The worker logs the exception in full.
        message = gettext(
            "The import stopped on a system error (%(kind)s); it has been logged. "
            "Run it again, or tell the administrator."
        ) % {"kind": type(error).__name__}
        update(status=TicketImportStatus.FAILED, error=message[:500], finished_at=timezone.now())
        raise
    if previous_report and previous_report != run.report.name:
        run.report.storage.delete(previous_report)  # only now that the new one is recorded
    return run


def _import_record(run, summary, update) -> None:
    """Store the report file of an import and record it on the run with the totals (done).

    A failure before the run points to the new file deletes it, and leaves the run's previous
    report recorded (and on disk): no file is left that no run points to.
    """
    from zhiwang.tickets.hotline_import import write_report
    from zhiwang.tickets.models import TicketImport, TicketImportStatus

    previous_report = run.report.name
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.csv"
            write_report(summary, path)
            with open(path, "rb") as handle:
                run.report.save(f"report-{run.pk}-{uuid.uuid4().hex[:12]}.csv", File(handle), save=False)
        refused = [r for r in summary.rows if r.outcome == "refused"]
        totals = summary.totals
        update(
            status=TicketImportStatus.DONE,
            rows_done=len(summary.rows),
            rows_total=len(summary.rows),
            created=totals["created"],
            existing=totals["existing"],
            refused=totals["refused"],
            refused_rows=[
                {
                    "row": r.row,
                    # a call id derived from the row's content means nothing to the operator
                    "external_id": "" if r.derived else r.external_id,
                    "code": r.code,
                    "field": r.field,
                    "column": r.column,
                    "message": r.message,
                }
                for r in refused[: TicketImport.REFUSED_SHOWN]
            ],
            report=run.report.name,
            finished_at=timezone.now(),
        )
    except BaseException:
        if run.report.name and run.report.name != previous_report:
            run.report.storage.delete(run.report.name)
        run.report = previous_report
        raise
