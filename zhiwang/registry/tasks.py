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
