"""The hourly limits read the access log through ``registry_access_actor_recent`` (actor, action,
at): one user's rows of the limited actions within the hour, not every row the user ever left
(reveals included, most of the log)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.registry.models import AccessLog
from zhiwang.registry.services.audit import (
    REGISTER_LIMITED_ACTIONS,
    SEARCH_ACTION,
    identifier_searches_recent,
)

pytestmark = pytest.mark.django_db

INDEX = "registry_access_actor_recent"


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a test table is nearly empty: forbid what only a small table makes cheaper (the
            # test's transaction ends the setting)
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize(
    "actions", [(SEARCH_ACTION,), REGISTER_LIMITED_ACTIONS], ids=["searches", "registrations"]
)
def test_the_limit_query_uses_the_actor_action_time_index(grid_worker, actions):
    with CaptureQueriesContext(connection) as queries:
        identifier_searches_recent(grid_worker, actions)
    reads = [q["sql"] for q in queries.captured_queries if AccessLog._meta.db_table in q["sql"]]
    assert len(reads) == 1, reads
    plan = _plan(reads[0])
    assert INDEX in plan, plan
