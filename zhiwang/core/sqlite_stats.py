"""Planner statistics of an SQLite database: refreshed after migrations and every night.

SQLite plans a query from ``sqlite_stat1``, written only by ``ANALYZE``; nothing runs it on its
own (``PRAGMA optimize`` before 3.46 considers only the tables the same connection queried). A
database never analyzed, or whose table a migration rebuilt (the rebuild drops its statistics),
is planned blind: at 1,000,000 tickets the ticket list was driven from the category index and
city-wide page 1 took 4.5 s instead of 50 ms (docs/benchmarks.md, "Working lists"). PostgreSQL
keeps its own statistics (autovacuum); nothing is done there.

``analysis_limit`` bounds the rows ANALYZE reads per index (SQLite ≥ 3.32; ignored before), so
a refresh costs about a second on a city-sized file instead of a full scan of every index.

**Indexes for SQLite only** (``sqlite_index_register``): an index SQLite's planner needs and
PostgreSQL's does not is built by a migration outside the model state (so PostgreSQL is spared
its writes). A later migration that rebuilds the table on SQLite (``AlterField``,
``RemoveField``…) re-creates only the indexes the model declares and drops such an index without
a word; so every ``migrate`` that ran migrations builds the registered ones again where they are
missing, before the statistics are refreshed.
"""

from __future__ import annotations

import logging

from django.db import connections

log = logging.getLogger(__name__)

#: Rows ANALYZE reads per index (approximate statistics, a bounded cost).
ANALYSIS_LIMIT = 2000

#: Indexes SQLite must have and the model does not declare: name → (table, columns).
SQLITE_ONLY_INDEXES: dict[str, tuple[str, tuple[str, ...]]] = {}


def sqlite_index_register(name: str, table: str, columns: tuple[str, ...]) -> None:
    """Declare an SQLite-only index (an app's ``ready``): rebuilt after a migrate that lost it."""
    SQLITE_ONLY_INDEXES[name] = (table, tuple(columns))


def sqlite_indexes_ensure(using: str = "default") -> list[str]:
    """Build the registered SQLite-only indexes that are missing (their names); nothing elsewhere."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not SQLITE_ONLY_INDEXES:
        return []
    built = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for name, (table, columns) in SQLITE_ONLY_INDEXES.items():
            if table not in tables:
                continue  # its app's tables are not there (yet): its own migration builds it
            if name in connection.introspection.get_constraints(cursor, table):
                continue
            quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {connection.ops.quote_name(name)} "
                f"ON {connection.ops.quote_name(table)} ({quoted})"
            )
            built.append(name)
    if built:
        log.warning("SQLite indexes rebuilt after a migration dropped them: %s", ", ".join(built))
    return built


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
    """``post_migrate`` of the core app (sent once per ``migrate``): when migrations ran, build
    the SQLite-only indexes a table rebuild dropped, then refresh the statistics."""
    if plan:
        sqlite_indexes_ensure(using)
        sqlite_statistics_refresh(using)
