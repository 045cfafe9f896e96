"""Report files that no report names: deleted after a day (a nightly task).

A report's Excel and PDF files are stored before the row that records them is updated
(``services.report_generate``: both files are made in memory, stored, then recorded in one
conditional update). Since that fix a failed or taken-over run deletes what it stored, but a
failure at the record itself (a dropped database connection, a killed worker) still leaves
files with no report, and runs that failed before the fix left theirs behind: files that may
hold dispute figures, out of every keeping rule and of every download check. This sweep names
the folders those files are written to (``Report.xlsx`` and ``.pdf``: ``reports/YYYY/MM/``)
and the names the reports hold in one of them; ``core.storage_sweep`` lists the current and
the previous months' folders and deletes a file no report names once it is older than
``MIN_AGE`` (a file being recorded right now is seconds old).

Only those folders, only this storage's own listing: a file another app or an administrator put
elsewhere is never looked at. A month folder is read with one query for the names in it.
Folders older than ``MONTHS`` are not looked at each night; ``orphan_report_files_sweep(months=…)``
run once reaches further back (e.g. for files left before the nightly sweep existed).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q

from zhiwang.analytics.models import Report
from zhiwang.core.storage_sweep import MIN_AGE, MONTHS, unnamed_files_delete

__all__ = ["MIN_AGE", "MONTHS", "orphan_report_files_sweep"]

log = logging.getLogger(__name__)

#: The folder (``upload_to`` without the month) of the report files.
PREFIXES = ("reports",)


def _named(folder: str) -> set[str]:
    """The stored names (``folder/…``) that reports name in ``folder``: both files, one query."""
    rows = Report.objects.filter(Q(xlsx__startswith=folder) | Q(pdf__startswith=folder)).values_list(
        "xlsx", "pdf"
    )
    return {name for row in rows for name in row if name}


def orphan_report_files_sweep(*, now: datetime | None = None, months: int = MONTHS) -> int:
    """Delete the report files of the last ``months`` month folders that no report names and that
    are older than ``MIN_AGE``; return how many were deleted. A storage error is logged, never
    raised (the next night tries again)."""
    return unnamed_files_delete(
        prefixes=PREFIXES, named=_named, owner="report", log=log, now=now, months=months
    )
