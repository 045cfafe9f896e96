"""SQLite's planner statistics are written after migrations and by the nightly task."""

from __future__ import annotations

import pytest
from django.db import connection

from zhiwang.core.sqlite_stats import after_migrate, sqlite_statistics_refresh
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db


def _stats(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [table])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: PostgreSQL keeps its own statistics")
def test_a_refresh_writes_the_statistics_the_planner_reads():
    Division.objects.create(code="440399000000", name="测试区", level="district")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sqlite_master")  # makes sqlite_stat1 if it is missing
        cursor.execute("DELETE FROM sqlite_stat1")
    assert _stats(Division._meta.db_table) == 0
    assert sqlite_statistics_refresh() is True
    assert _stats(Division._meta.db_table) > 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_only_a_migrate_that_ran_migrations_refreshes(monkeypatch):
    calls = []
    monkeypatch.setattr("zhiwang.core.sqlite_stats.sqlite_statistics_refresh", calls.append)
    after_migrate(None, using="default", plan=[])
    after_migrate(None, using="default", plan=[("migration", False)])
    assert calls == ["default"]


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the other databases")
def test_other_databases_are_left_alone():
    assert sqlite_statistics_refresh() is False
