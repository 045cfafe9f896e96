"""Migration registry 0012: the access log keeps one index led by ``actor`` —
``registry_access_actor_recent`` (actor, action, at, 0011) — and drops the single-column one Django
made for the foreign key (CONCURRENTLY on PostgreSQL). Lookups by actor alone still use an index.

The migration test is transactional (it changes the schema): pytest-django empties every table after
it, so it asks for the city again (``city_restored``) and leaves the schema at the latest migration.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.migrating import migrate_to, migrate_to_latest
from zhiwang.registry.models import AccessLog

BEFORE = [("registry", "0011_access_log_actor_recent")]
AFTER = [("registry", "0012_access_log_drop_actor_index")]
TABLE = AccessLog._meta.db_table


def _indexes() -> dict[str, list[str]]:
    """The table's indexes (not constraints): name → columns."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, TABLE)
    return {
        name: info["columns"]
        for name, info in found.items()
        if info["index"] and not info["primary_key"] and not info["unique"]
    }


def _actor_only() -> list[str]:
    return [name for name, columns in _indexes().items() if columns == ["actor_id"]]


@pytest.mark.django_db
def test_one_index_leads_with_the_actor():
    indexes = _indexes()
    assert _actor_only() == []
    assert indexes["registry_access_actor_recent"] == ["actor_id", "action", "at"]
    assert [name for name, columns in indexes.items() if columns[:1] == ["actor_id"]] == [
        "registry_access_actor_recent"
    ]


@pytest.mark.django_db
def test_a_lookup_by_actor_alone_uses_the_composite_index(grid_worker):
    sql, params = AccessLog.objects.filter(actor=grid_worker).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a test table is nearly empty: forbid what only a small table makes cheaper
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "registry_access_actor_recent" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_index_and_builds_it_again_backwards(city_restored):
    try:
        migrate_to(BEFORE)
        assert len(_actor_only()) == 1  # the foreign key's own index, as 0001 made it
        migrate_to(AFTER)
        assert _actor_only() == []
        assert "registry_access_actor_recent" in _indexes()
        migrate_to(BEFORE)  # backwards: built again
        assert len(_actor_only()) == 1
    finally:
        migrate_to_latest()
    assert _actor_only() == []
