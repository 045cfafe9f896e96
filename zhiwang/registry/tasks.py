"""Background and periodic work of the registry app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from zhiwang.registry.imports.pipeline import import_batch_run
from zhiwang.registry.models import ImportBatch
from zhiwang.registry.services.totals import totals_refresh


@db_task()
def import_batch_task(batch_id: int) -> int:
    """Run (or resume) an import batch; the page polls the batch's counters for progress."""
    batch = ImportBatch.objects.get(pk=batch_id)
    return import_batch_run(batch=batch).pk


@db_periodic_task(crontab(minute="*/10"))
@lock_task("registry-totals-refresh")
def totals_refresh_task() -> int:
    """Every 10 minutes: the per-community totals of the registry home page."""
    return totals_refresh()


#: Every night: delete the files of batches past the keeping period (``ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS``).
IMPORT_PURGE_SCHEDULE = crontab(hour="3", minute="50")


@db_periodic_task(IMPORT_PURGE_SCHEDULE)
@lock_task("registry-import-purge")
def import_file_purge_task() -> int:
    """Delete uploaded department files (and their report values) past the keeping period (``imports.retention``)."""
    from zhiwang.registry.imports.retention import import_file_purge

    return import_file_purge()
