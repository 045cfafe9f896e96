"""Running jobs at the same moment in threads, each with its own database connection (race tests)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

#: Race tests that need a second connection to wait for a row lock: PostgreSQL only.
needs_row_locks = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database shares one cache between threads and answers "
    "'table is locked' instead of waiting; the file database in production serialises writers "
    "(IMMEDIATE transactions, busy_timeout), so these races exist on PostgreSQL only.",
)


def run_in_threads(*jobs, start_together: bool = True, timeout: float = 60) -> list:
    """Run each job in its own thread; return their results, or the exception each raised.

    ``start_together``: the threads wait for one another before starting their job. Each thread
    closes its database connection when done (Django opens one per thread).
    """
    barrier = threading.Barrier(len(jobs)) if start_together else None
    results: list = [None] * len(jobs)

    def run(index, job):
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            results[index] = job()
        except Exception as exc:  # a loser's error is what race tests look at
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def race_on_insert(monkeypatch, model, *jobs) -> list:
    """Run the jobs in their own threads; each waits, right before inserting a new ``model``
    row, until the others have got that far too: all looked the key up and found nothing."""
    barrier = threading.Barrier(len(jobs))
    real_save = model.save

    def save(self, *args, **kwargs):
        if self.pk is None:
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(model, "save", save)
    return run_in_threads(*jobs, start_together=False)  # they meet at the insert instead
