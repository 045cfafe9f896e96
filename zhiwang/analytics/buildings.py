"""Arrivals per building, from the address rollup (``AddressDay``): the one statement of "which
building does this row belong to", read by the hot-spot buildings of the dashboard
(``selectors.dashboard.recurring_addresses``) and by the address-cluster detector
(``alerts.detect_address_clusters``; docs/analytics.md "address cluster").

The rule: a room's and a unit's arrivals count for their building (room → unit → building),
so a water cut in one block is one building with many households calling, and nothing names a
household's room. The rollup keeps the address as a plain id; the statement joins it to the
address and its two parents, ``COALESCE(grandparent, parent, address)``. A join, not the ORM's
correlated subqueries: over a month of the city's rollup rows the subqueries took 10 × as long on
PostgreSQL and 1.5–2 × on SQLite (measured 2026-11-27, docs/analytics.md §3 Evaluation).
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from zhiwang.analytics.models import AddressDay
from zhiwang.geo.models import StandardAddress

#: The rollup's place columns a caller may narrow by (``selectors.metrics._place_filter``).
PLACE_COLUMNS = frozenset({"district_id", "subdistrict_id", "community_id", "grid_id"})


def arrivals_per_building(
    *,
    start: date,
    end: date,
    place: dict[str, int] | None = None,
    buildings=None,
    min_total: int = 0,
    top: int | None = None,
) -> list[tuple[int, int]]:
    """``(building id, arrivals)`` between the local days ``start`` and ``end`` (exclusive), most
    arrivals first (ties by building id), a room's and a unit's arrivals counted for their building.

    ``place``: only the rollup rows of that place (``{"community_id": 12}``; empty: the city);
    ``buildings``: only these buildings; ``min_total``: only buildings reaching it; ``top``: at
    most that many. One statement on both backends.
    """
    qn = connection.ops.quote_name
    days, addresses = qn(AddressDay._meta.db_table), qn(StandardAddress._meta.db_table)
    building = "COALESCE(p2.id, p1.id, a.id)"
    sql = (
        f"SELECT {building} AS building, SUM(d.received) AS total FROM {days} d "
        f"JOIN {addresses} a ON a.id = d.address_id "
        f"LEFT JOIN {addresses} p1 ON p1.id = a.parent_id "
        f"LEFT JOIN {addresses} p2 ON p2.id = p1.parent_id "
        "WHERE d.day >= %s AND d.day < %s"
    )
    params: list = [start, end]
    for column, node in sorted((place or {}).items()):
        if column not in PLACE_COLUMNS:
            raise ValueError(f"not a place column of the address rollup: {column}")
        sql += f" AND d.{qn(column)} = %s"
        params.append(node)
    if buildings is not None:
        wanted = sorted(buildings)
        if not wanted:
            return []
        sql += f" AND {building} IN ({', '.join(['%s'] * len(wanted))})"
        params += wanted
    sql += f" GROUP BY {building} HAVING SUM(d.received) >= %s ORDER BY SUM(d.received) DESC, {building}"
    params.append(min_total)
    if top is not None:
        sql += " LIMIT %s"
        params.append(int(top))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(b), int(n)) for b, n in cursor.fetchall()]
