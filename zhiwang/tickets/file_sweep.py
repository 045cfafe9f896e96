"""Files of the tickets app that no row names: deleted after a day (a nightly task).

A ticket's photos are stored before the transaction that records them commits
(``services.attachments.ticket_attach`` removes them when its own block fails, but the block is
the last step of the view's transaction): a failure at the commit itself (a dropped database
connection, a killed process) leaves photos of a citizen's street or house with no ticket, out of
every keeping rule. The same holds for a hotline import's uploaded file and report between their
store and the run's commit. This sweep names the folders those files are written to
(``Attachment.file``: ``tickets/YYYY/MM/``; ``TicketImport.file`` and ``.report``:
``ticket_imports/YYYY/MM/``) and the names its rows hold in one of them;
``core.storage_sweep`` lists the current and the previous months' folders and deletes a file
that no row names once it is older than ``MIN_AGE`` (a file being recorded right now is seconds
old).

Only those folders, only this storage's own listing: a file another app or an administrator put
elsewhere is never looked at. A month folder is read with one query for the names in it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from zhiwang.core.storage_sweep import MIN_AGE, MONTHS, unnamed_files_delete
from zhiwang.tickets.models import Attachment, TicketImport

__all__ = ["MIN_AGE", "MONTHS", "orphan_files_sweep"]

log = logging.getLogger(__name__)

#: The folders (``upload_to`` without the month) of the tickets app's files.
PREFIXES = ("tickets", "ticket_imports")


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
    return unnamed_files_delete(
        prefixes=PREFIXES, named=_named, owner="ticket or import", log=log, now=now, months=months
    )
