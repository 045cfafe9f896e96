"""Files of the tickets app that no row names: deleted after a day (a nightly task).

A ticket's photos are stored before the transaction that records them commits
(``services.attachments.ticket_attach`` removes them when its own block fails, but the block is
the last step of the view's transaction): a failure at the commit itself (a dropped database
connection, a killed process) leaves photos of a citizen's street or house with no ticket, out of
every keeping rule. The same holds for a hotline import's uploaded file and report between their
store and the run's commit. This sweep lists the folders those files are written to
(``Attachment.file``: ``tickets/YYYY/MM/``; ``TicketImport.file`` and ``.report``:
``ticket_imports/YYYY/MM/``) for the current and the previous months and deletes a file that no
row names once it is older than ``MIN_AGE`` (a file being recorded right now is seconds old).

Only those folders, only this storage's own listing: a file another app or an administrator put
elsewhere is never looked at. A month folder is read with one query for the names in it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from zhiwang.tickets.models import Attachment, TicketImport

log = logging.getLogger(__name__)

#: A file younger than this may belong to a transaction that has not committed yet.
MIN_AGE = timedelta(hours=24)
#: How many month folders back (this month included) are looked at each night.
MONTHS = 2


def _months(today: date, count: int) -> list[tuple[int, int]]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def _named(folder: str) -> set[str]:
    """The stored names (``folder/…``) that rows of the tickets app name in ``folder``."""
    names = set(Attachment.objects.filter(file__startswith=folder).values_list("file", flat=True))
    for field in ("file", "report"):
        names.update(
            TicketImport.objects.filter(**{f"{field}__startswith": folder}).values_list(field, flat=True)
        )
    return names


def orphan_files_sweep(*, now: datetime | None = None, months: int = MONTHS) -> int:
    """Delete the files of the last ``months`` month folders that no row names and that are older
    than ``MIN_AGE``; return how many were deleted. A storage error is logged, never raised (the
    next night tries again)."""
    now = now or timezone.now()
    oldest = now - MIN_AGE
    deleted = 0
    for prefix in ("tickets", "ticket_imports"):
        for year, month in _months(timezone.localdate(now), months):
            folder = f"{prefix}/{year:04d}/{month:02d}/"
            try:
                if not default_storage.exists(folder):
                    continue
                _dirs, files = default_storage.listdir(folder)
            except (OSError, NotImplementedError):
                log.exception("could not list %s; tried again tomorrow", folder)
                continue
            if not files:
                continue
            named = _named(folder)
            for file_name in files:
                stored = folder + file_name
                if stored in named:
                    continue
                try:
                    if default_storage.get_modified_time(stored) >= oldest:
                        continue
                    default_storage.delete(stored)
                except (OSError, NotImplementedError):
                    log.exception("could not delete the orphaned file %s; tried again tomorrow", stored)
                    continue
                deleted += 1
                log.warning("deleted %s: no ticket or import names it", stored)
    return deleted
