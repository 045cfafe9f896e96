"""Stored files that no row names, deleted after a day: the listing shared by each app's nightly sweep.

A file is stored before the transaction that records it commits, so a failure at the commit
itself (a dropped database connection, a killed process) leaves a file no row names, out of
every keeping rule. Each app that stores files under ``<prefix>/YYYY/MM/`` (Django's
``upload_to`` with ``%Y/%m/``) has a sweep (``tickets.file_sweep``, ``analytics.file_sweep``)
that says which folders are its own and which names its rows hold in one of them; this module
lists those folders for the current and the previous months and deletes a file no row names
once it is older than ``MIN_AGE`` (a file being recorded right now is seconds old).

Only the folders named, only this storage's own listing: a file another app or an administrator
put elsewhere is never looked at. A month folder is read with one query (``named``) for the
names in it. A storage error is logged, never raised: the next night tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

#: A file younger than this may belong to a transaction that has not committed yet.
MIN_AGE = timedelta(hours=24)
#: How many month folders back (this month included) are looked at each night.
MONTHS = 2


def month_folders(prefixes: Iterable[str], *, today: date, months: int) -> list[str]:
    """``<prefix>/YYYY/MM/`` of each prefix for ``today``'s month and the ``months - 1`` before it."""
    out = []
    for prefix in prefixes:
        year, month = today.year, today.month
        for _ in range(months):
            out.append(f"{prefix}/{year:04d}/{month:02d}/")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def unnamed_files_delete(
    *,
    prefixes: Iterable[str],
    named: Callable[[str], set[str]],
    owner: str,
    log: logging.Logger,
    now: datetime | None = None,
    months: int = MONTHS,
) -> int:
    """Delete the files of the last ``months`` month folders of ``prefixes`` that are older than
    ``MIN_AGE`` and not in ``named(folder)`` (the stored names, ``folder/…``, that the app's rows
    hold there); return how many were deleted. ``owner`` says in the log what would have named
    the file (e.g. "ticket or import"); ``log`` is the app's logger."""
    now = now or timezone.now()
    oldest = now - MIN_AGE
    deleted = 0
    for folder in month_folders(prefixes, today=timezone.localdate(now), months=months):
        try:
            if not default_storage.exists(folder):
                continue
            _dirs, files = default_storage.listdir(folder)
        except (OSError, NotImplementedError):
            log.exception("could not list %s; tried again tomorrow", folder)
            continue
        if not files:
            continue
        names = named(folder)
        for file_name in files:
            stored = folder + file_name
            if stored in names:
                continue
            try:
                if default_storage.get_modified_time(stored) >= oldest:
                    continue
                default_storage.delete(stored)
            except (OSError, NotImplementedError):
                log.exception("could not delete the orphaned file %s; tried again tomorrow", stored)
                continue
            deleted += 1
            log.warning("deleted %s: no %s names it", stored, owner)
    return deleted
