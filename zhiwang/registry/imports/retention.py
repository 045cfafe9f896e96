"""Keeping period of the registry import's files (``ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS``).

An uploaded department file holds residents' names, ID numbers, phones and addresses; it is
needed while its batch may be resumed, not for ever. A daily task deletes the stored file of
every batch that ended more than the keeping period ago — done, failed and not resumed since,
or left "waiting"/"running" by a worker long gone (marked failed then) — and marks the batch
(``file_purged_at``): the batch and its counts stay, the page says the file was deleted, and
Resume is refused (``import.file_purged``). A validated batch not published within the period
loses its file the same way (publishing it is refused; upload the file again).

The report of refused rows holds personal data in clear too: a resident's name, address,
birth date or household address as the file wrote it (only ID numbers, phones and other
people's names are masked), in the value and often in the reason ("… is not a real date",
"No standard address matches …"). Both are emptied with the file; the row, field, column,
severity and code of each line stay. An open merge conflict keeps its line until a data
steward settles it (the value is what accepting it writes); the next purge empties it then.

A file is stored once per content (``<sha256>.<ext>``) and may serve several batches (another
department or mapping, a validation and its import): it is deleted only with the last batch
that uses it, and the deletion holds the file's lock (``claim.lock_file``), so an upload of the
same file at that moment either finds it kept or stores it again. Temporary copies left by an
upload whose process died before its batch was saved (``.upload-*``, a day old) go too.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from zhiwang.registry.imports import claim, seen
from zhiwang.registry.imports.pipeline import import_dir, seen_keys_path
from zhiwang.registry.models import ImportBatch, ImportIssue, ImportStatus

log = logging.getLogger(__name__)

#: The statuses whose batches end their keeping period: every one. A validation left unpublished
#: for the period goes too (publishing it is then refused: upload the file again).
PURGED_STATUSES = (
    ImportStatus.DONE,
    ImportStatus.FAILED,
    ImportStatus.PENDING,
    ImportStatus.RUNNING,
    ImportStatus.VALIDATED,
)


def _last_activity():
    return Coalesce("heartbeat_at", "finished_at", "published_at", "created_at")


def _ended_before(cutoff: datetime):
    """Batches whose last activity (finished, failed, last chunk, published, created) is before ``cutoff``."""
    return ImportBatch.objects.annotate(last_activity=_last_activity()).filter(
        status__in=PURGED_STATUSES, last_activity__lt=cutoff
    )


def _open_conflicts() -> Q:
    """Report lines a data steward still has to settle (``selectors.merge_conflicts``)."""
    return Q(
        code="merge.conflict",
        record_id__isnull=False,
        resolved_at__isnull=True,
        batch__validate_only=False,
    )


def _empty_report_values() -> int:
    """Empty the value and reason of the report lines of purged batches (open conflicts wait)."""
    return (
        ImportIssue.objects.filter(batch__file_purged_at__isnull=False)
        .exclude(value="", message="")
        .exclude(_open_conflicts())
        .update(value="", message="")
    )


def import_file_purge(*, now: datetime | None = None, keep_days: int | None = None) -> int:
    """Delete the stored files of batches past the keeping period; return the batches purged.

    Idempotent: a purged batch is not looked at again (its settled conflicts' lines are emptied
    on a later day). A storage error on one file is logged and the batch is left for the next
    day, unmarked (nothing is marked purged that still has its file).
    """
    now = now or timezone.now()
    keep = settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS if keep_days is None else keep_days
    cutoff = now - timedelta(days=keep)
    candidates = list(_ended_before(cutoff).filter(file_purged_at__isnull=True).order_by("pk"))
    purged = 0
    for batch in candidates:
        try:
            if _purge(batch, now=now, cutoff=cutoff):
                purged += 1
        except OSError:
            log.exception("could not delete the file of registry import #%s; tried again tomorrow", batch.pk)
    _empty_report_values()
    _remove_abandoned_uploads()
    return purged


#: A temporary copy this old was left by an upload whose process died (a creation takes seconds).
ABANDONED_UPLOAD_SECONDS = 24 * 3600


def _remove_abandoned_uploads() -> None:
    """The temporary copies (``.upload-*``) of uploads killed before their batch was saved."""
    oldest = time.time() - ABANDONED_UPLOAD_SECONDS
    for copy in import_dir().glob(".upload-*"):
        try:
            if copy.stat().st_mtime < oldest:
                copy.unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove the abandoned upload %s", copy.name)


def _purge(batch: ImportBatch, *, now: datetime, cutoff: datetime) -> bool:
    with transaction.atomic():
        claim.lock_file(batch.file_sha256)
        # Only as this function saw it: a Resume that claimed the batch meanwhile wins.
        fields = {"file_purged_at": now}
        if batch.status in (ImportStatus.PENDING, ImportStatus.RUNNING):
            # its worker is long gone, and its file with it: it can no longer run
            fields.update(
                status=ImportStatus.FAILED,
                runner="",
                error=gettext(
                    "The import was never finished and its file was deleted at the end of the keeping period."
                ),
            )
        marked = ImportBatch.objects.filter(
            pk=batch.pk,
            status=batch.status,
            runner=batch.runner,
            heartbeat_at=batch.heartbeat_at,
            file_purged_at__isnull=True,
        ).update(**fields)
        if not marked:
            return False
        stored = Path(batch.file_path)
        # A file another batch still uses (within its keeping period, validated, or open) is kept.
        shared = (
            ImportBatch.objects.filter(file_path=batch.file_path, file_purged_at__isnull=True)
            .exclude(pk=batch.pk)
            .exclude(pk__in=_ended_before(cutoff).values("pk"))
            .exists()
        )
        ImportIssue.objects.filter(batch=batch).exclude(_open_conflicts()).update(value="", message="")
        # Deleted inside the transaction: an error undoes the mark, and no upload of the same
        # file can take the stored copy up between the check above and the deletion.
        if not shared:
            stored.unlink(missing_ok=True)
        seen.discard(seen_keys_path(batch))  # a validation's natural keys (digests of ID numbers)
    return True
