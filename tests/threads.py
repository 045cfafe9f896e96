"""Running jobs at the same moment in threads, each with its own database connection (race tests)."""

from __future__ import annotations

import threading

from django.db import connection


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
