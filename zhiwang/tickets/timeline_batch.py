"""A timeline batch: work that follows timeline rows, done once at the end of a transaction.

Other apps react to every new ``TicketEvent`` (``post_save``), in the transaction that wrote
it: the analytics rollups add the row's counts to shared counter rows. A service that writes
several rows in one transaction (submit: receive + dispatch) wraps its atomic block's body in
``timeline_batch()``; a receiver that finds a batch open (``current_batch()``) appends its work
to the batch's buffer instead of doing it at once, and the batch hands each buffer to its
flush function once, when the block's body ends normally — still inside the transaction,
right before it commits. So the work is done once per transaction (one multi-row statement
instead of one per row), the shared rows stay locked only for the last moments of it, and a
transaction that fails leaves nothing behind (the buffers are dropped and nothing was written).

Rule for callers: put ``with timeline_batch():`` directly inside ``transaction.atomic()`` and do
not catch database errors inside it (a row saved in a savepoint that was then rolled back would
still be in a buffer); code that does, opens a nested batch inside that savepoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection

_local = threading.local()


class TimelineBatch:
    """Named buffers, each flushed by its own function (in the order they were first used)."""

    def __init__(self):
        self._buffers: dict[str, list] = {}
        self._flushes: list[tuple[str, Callable[[list], None]]] = []

    def buffer(self, name: str, flush: Callable[[list], None]) -> list:
        """The buffer ``name`` (created empty, with ``flush`` to be called on it at the end)."""
        found = self._buffers.get(name)
        if found is None:
            found = self._buffers[name] = []
            self._flushes.append((name, flush))
        return found

    def hand_over(self, outer: TimelineBatch) -> None:
        """Move everything noted here into ``outer`` (a nested batch that ended normally)."""
        for name, flush in self._flushes:
            outer.buffer(name, flush).extend(self._buffers[name])
        self._buffers.clear()
        self._flushes.clear()

    def flush(self) -> None:
        for name, flush in self._flushes:
            items = self._buffers[name]
            if items:
                flush(items)
        self._buffers.clear()
        self._flushes.clear()


def current_batch() -> TimelineBatch | None:
    """The batch open in this thread's transaction, if any."""
    batch = getattr(_local, "batch", None)
    if batch is not None and connection.in_atomic_block:
        return batch
    return None


@contextmanager
def timeline_batch() -> Iterator[TimelineBatch]:
    """Defer receivers' per-row work to the end of the body (see the module docstring).

    Must be used inside ``transaction.atomic()``. A batch opened inside another one (a service
    calling another inside a savepoint) hands what it noted to the outer batch when it ends
    normally, and drops it when it ends with an error (its savepoint is rolled back), so the
    outermost batch counts each row that stays, once.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("timeline_batch() must be used inside transaction.atomic().")
    outer = getattr(_local, "batch", None)
    batch = _local.batch = TimelineBatch()
    try:
        yield batch
        if outer is not None:
            batch.hand_over(outer)
        else:
            _local.batch = None  # the flush's own writes are not deferred
            batch.flush()
    finally:
        _local.batch = outer
