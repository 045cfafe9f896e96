"""Keeping period of the hotline import's files (``ZHIWANG_IMPORT_KEEP_DAYS``).

An uploaded file of calls and its row-by-row report hold callers' names and phone numbers;
they are needed while a run may be run again or its report read, not for ever. A daily task
deletes both once the run ended more than the keeping period ago and marks the run
(``files_purged_at``); the run and its counts stay, and the page says the files are gone.

A file imported for real after a "validate only" run is shared by both runs: it is deleted
only when every run that uses it is past the keeping period.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from zhiwang.tickets.models import TicketImport, TicketImportStatus

log = logging.getLogger(__name__)


def _ended_before(cutoff: datetime) -> Q:
    """Runs that ended before ``cutoff``, and open runs silent since then (their worker is long gone)."""
    finished = Q(status__in=(TicketImportStatus.DONE, TicketImportStatus.FAILED), finished_at__lt=cutoff)
    abandoned = Q(status__in=(TicketImportStatus.QUEUED, TicketImportStatus.RUNNING)) & (
        Q(updated_at__lt=cutoff) | Q(updated_at__isnull=True, created_at__lt=cutoff)
    )
    return finished | abandoned


def ticket_import_purge(*, now: datetime | None = None, keep_days: int | None = None) -> int:
    """Delete the stored files and reports of runs past the keeping period; return the runs purged.

    Idempotent: a purged run is not looked at again. A storage error on one file is logged and
    the run is left for the next day (nothing is marked purged that still has its file).
    """
    now = now or timezone.now()
    keep = settings.ZHIWANG_IMPORT_KEEP_DAYS if keep_days is None else keep_days
    cutoff = now - timedelta(days=keep)
    candidates = list(
        TicketImport.objects.filter(_ended_before(cutoff), files_purged_at__isnull=True).order_by("pk")
    )
    if not candidates:
        return 0
    purged = 0
    for run in candidates:
        # Claimed first, only as this function saw it: a "run again" that re-queued the run
        # meanwhile wins, and its file stays. The run is marked before its files go; if the
        # deletion fails, the mark is taken back and the next night tries again.
        claimed = TicketImport.objects.filter(
            pk=run.pk, status=run.status, updated_at=run.updated_at, files_purged_at__isnull=True
        ).update(files_purged_at=now)
        if not claimed:
            continue
        # A file still used by another run inside the keeping period (or open) is kept for it.
        shared = bool(run.file) and (
            TicketImport.objects.filter(file=run.file.name)
            .exclude(pk=run.pk)
            .exclude(_ended_before(cutoff))
            .exists()
        )
        try:
            if run.report:
                run.report.delete(save=False)
            if run.file and not shared:
                run.file.delete(save=False)
        except OSError:
            log.exception("could not delete the files of hotline import #%s; tried again tomorrow", run.pk)
            TicketImport.objects.filter(pk=run.pk).update(files_purged_at=None)
            continue
        fields = {"file": "", "report": ""}
        if run.status in (TicketImportStatus.QUEUED, TicketImportStatus.RUNNING):
            # its worker is long gone and the file with it: it can no longer be run again
            fields.update(
                status=TicketImportStatus.FAILED,
                finished_at=now,
                error=gettext(
                    "The import was never finished and its file was deleted at the end of the keeping period."
                ),
            )
        TicketImport.objects.filter(pk=run.pk).update(**fields)
        purged += 1
    return purged
