"""Background work of the registry app (huey; thin wrappers over services)."""

from huey.contrib.djhuey import db_task

from zhiwang.registry.imports.pipeline import import_batch_run
from zhiwang.registry.models import ImportBatch


@db_task()
def import_batch_task(batch_id: int) -> int:
    """Run (or resume) an import batch; the page polls the batch's counters for progress."""
    batch = ImportBatch.objects.get(pk=batch_id)
    return import_batch_run(batch=batch).pk
