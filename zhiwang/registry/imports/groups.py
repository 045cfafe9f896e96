"""Commit groups: several whole chunks of an import per SQLite transaction."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection, transaction

#: SQLite: rows per transaction (several chunks), and the longest an import holds the write lock.
SQLITE_COMMIT_ROWS = 50_000
SQLITE_COMMIT_SECONDS = 5.0


class CommitGroup:
    """Several whole chunks per transaction on SQLite (each chunk still a savepoint of its own).

    Each SQLite commit writes every page the chunk touched to the WAL again, and the person
    table's random-hash indexes spread a chunk's rows over as many pages as it has rows: with
    a commit per 1,000–2,000 rows the import spent more time committing than inserting. A
    group commits when it holds ``ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS`` rows (default
    50,000; ``0`` commits every chunk) or has held the write lock ``SQLITE_COMMIT_SECONDS``
    (other writers wait for it meanwhile; their busy timeout is 10 s). The crash guarantee holds per
    transaction: a committed chunk is complete with its checkpoint, an uncommitted group is
    lost whole (and written again on resume), never half a chunk. Memory does not grow: the
    rows are written chunk by chunk, SQLite's bounded page cache holds the dirty pages.
    """

    def __init__(self):
        limit = getattr(settings, "ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS", SQLITE_COMMIT_ROWS)
        self.limit = int(limit or 0) if connection.vendor == "sqlite" else 0
        self.atomic = None
        self.rows = 0
        self.started = 0.0

    def open(self) -> None:
        if self.limit and self.atomic is None:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.rows, self.started = 0, time.monotonic()

    def wrote(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= self.limit or time.monotonic() - self.started >= SQLITE_COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        atomic, self.atomic = self.atomic, None
        if atomic is not None:
            atomic.__exit__(None, None, None)

    def rollback(self, error: BaseException) -> None:
        atomic, self.atomic = self.atomic, None
        if atomic is not None:
            atomic.__exit__(type(error), error, error.__traceback__)
