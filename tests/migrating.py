"""Run the project's migrations to a point inside a test (data-migration tests)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets: list[tuple[str, str]]):
    """Migrate the test database to ``targets`` ([(app, migration name)]) and return the apps
    registry of that state (historical models, as the migration's own code sees them)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Back to the latest migrations (a data-migration test's ``finally``: the tests after it need
    today's tables)."""
    return migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes())
