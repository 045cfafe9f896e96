"""The natural keys a validate-only run has met, kept on disk so memory stays flat.

A real import finds a duplicate in a later chunk because the first row's record is already
stamped with the batch. A validation rolls every chunk back, so it keeps the keys itself:
a 16-byte digest of each natural key with the file row that holds it first, in a scratch
SQLite file beside the stored upload (≈ 30 MB on disk per million keys, a 2 MB page cache
in memory, whatever the database backend).

The keys of a chunk are written before the chunk's own transaction commits, tagged with
the chunk's number. A run therefore starts by dropping the keys of chunks that never
committed (a crash, even ``kill -9``, between the two commits), and a chunk only looks
at keys of lower-numbered chunks (a chunk written again after a lost race does not meet
its own keys).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

_BIND_LIMIT = 900


def _digest(key) -> bytes:
    return hashlib.blake2b(str(key).encode(), digest_size=16).digest()


class SeenKeys:
    """``{natural key digest: (first row, chunk number)}`` of one validate-only batch, on disk."""

    def __init__(self, path: Path | str, committed: set[int]):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS seen (key BLOB PRIMARY KEY, row INTEGER NOT NULL, "
            "chunk INTEGER NOT NULL) WITHOUT ROWID"
        )
        numbers = sorted(committed)
        self.db.execute("BEGIN")
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS committed (number INTEGER PRIMARY KEY)")
        self.db.execute("DELETE FROM committed")
        self.db.executemany("INSERT INTO committed VALUES (?)", [(n,) for n in numbers])
        self.db.execute("DELETE FROM seen WHERE chunk NOT IN (SELECT number FROM committed)")
        self.db.execute("COMMIT")

    def earlier(self, keys: Iterable, number: int) -> dict:
        """``{key: first row}`` for the ``keys`` that a chunk before ``number`` already holds."""
        digests = {_digest(key): key for key in keys}
        wanted = list(digests)
        found = {}
        for start in range(0, len(wanted), _BIND_LIMIT):
            part = wanted[start : start + _BIND_LIMIT]
            marks = ", ".join("?" * len(part))
            for digest, row in self.db.execute(
                f"SELECT key, row FROM seen WHERE key IN ({marks}) AND chunk < ?", [*part, number]
            ):
                found[digests[digest]] = row
        return found

    def add(self, number: int, first_rows: Iterable[tuple[object, int]]) -> None:
        """Keep ``(key, row)`` pairs of chunk ``number`` (committed here, before the chunk)."""
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR IGNORE INTO seen (key, row, chunk) VALUES (?, ?, ?)",
            ((_digest(key), row, number) for key, row in first_rows),
        )
        self.db.execute("COMMIT")

    def close(self, *, delete: bool = False) -> None:
        self.db.close()
        if delete:
            discard(self.path)


def discard(path: Path | str) -> None:
    """Remove a batch's scratch key file (the validation finished or was published)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
