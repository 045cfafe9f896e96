"""Planner statistics of an SQLite database: refreshed after migrations and every night.

SQLite plans a query from ``sqlite_stat1``, written only by ``ANALYZE``; nothing runs it on its
own (``PRAGMA optimize`` before 3.46 considers only the tables the same connection queried). A
database never analyzed, or whose table a migration rebuilt (the rebuild drops its statistics),
is planned blind: at 1,000,000 tickets the ticket list was driven from the category index and
city-wide page 1 took 4.5 s instead of 50 ms (docs/benchmarks.md, "Working lists"). PostgreSQL
keeps its own statistics (autovacuum); nothing is done there.

``analysis_limit`` bounds the rows ANALYZE reads per index (SQLite ≥ 3.32; ignored before), so
a refresh costs about a second on a city-sized file instead of a full scan of every index.
"""

from __future__ import annotations

import logging

from django.db import connections

log = logging.getLogger(__name__)

#: Rows ANALYZE reads per index (approximate statistics, a bounded cost).
ANALYSIS_LIMIT = 2000


def sqlite_statistics_refresh(using: str = "default") -> bool:
    """Run ``ANALYZE`` on an SQLite database (True); on any other database do nothing (False)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT:d}")
        cursor.execute("ANALYZE")
    return True


def after_migrate(sender, *, using: str = "default", plan=None, **kwargs) -> None:
    """``post_migrate`` of the core app (sent once per ``migrate``): refresh when migrations ran."""
    if plan:
        sqlite_statistics_refresh(using)
