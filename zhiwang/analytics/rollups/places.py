"""After divisions moved: re-derive the tickets' place columns and move their counts in the rollups.

``places_rederive(division_ids=…)`` (command ``rederive_places``, run by ``load_divisions`` when a
load moved divisions) is one transaction: the tickets' subdistrict and district columns
(``tickets.services.places.ticket_places_rederive``), then the rollup rows of the moved
communities and subdistricts re-keyed the same way, so that at commit the tickets, the
dashboards and the ticket lists agree on the new tree. No timeline is replayed: a move changes
only the place key of rows, never a metric or a day, so the rows are added under their new key
(``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE SET col = t.col + excluded.col``, the
same upsert as the incremental path) and deleted under the old one. The per-subdistrict tables
(``RollupArea``, ``RollupUnit``) cannot tell one community from another, so their rows of every
subdistrict concerned (old and new) are summed again from ``RollupFact`` (``rollup_derive``
restricted to those subdistricts). Its cost grows with the rollup rows of the subdistricts
concerned, not with the city's history (a full ``analytics_rebuild`` recounts the whole
timeline: 215 s at 1 M tickets, 27–36 min at 10 M, blocking transitions meanwhile).

The stored monthly figures and governance index (``IndicatorFigure``, ``GovernanceIndex``) are
published history computed on the tree of their month and are not touched (docs/geo.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from zhiwang.analytics.models import AddressDay, OpenStock, RollupFact
from zhiwang.analytics.rollups.rebuild import DERIVED, _execute
from zhiwang.analytics.rollups.writes import _counter_fields
from zhiwang.geo.moves import moved_targets
from zhiwang.tickets.services.places import ticket_places_rederive

#: The tables keyed by community (and grid): their rows are re-keyed in place.
BY_COMMUNITY = (RollupFact, OpenStock, AddressDay)


def places_rederive(*, division_ids: Iterable[int]) -> dict[str, int]:
    """Re-derive the place columns of the tickets and the rollup rows inside ``division_ids``.

    Returns ``{"tickets": rows updated, "rollup_rows": rows re-keyed}``. Nothing moved (an
    empty ``division_ids``): no query at all.
    """
    division_ids = set(division_ids)
    if not division_ids:
        return {"tickets": 0, "rollup_rows": 0}
    with transaction.atomic():
        tickets = ticket_places_rederive(division_ids=division_ids)
        communities, subdistricts = moved_targets(division_ids)
        groups = [
            # a subdistrict now in another district: its rows of the old district
            (
                _in("subdistrict_id", members) + " AND district_id <> %s",
                [*members, district or 0],
                {"district_id": district or 0},
            )
            for district, members in subdistricts.items()
        ] + [
            # a community now in another subdistrict (or district): its rows of the old ones
            (
                _in("community_id", members) + " AND NOT (subdistrict_id = %s AND district_id = %s)",
                [*members, subdistrict or 0, district or 0],
                {"subdistrict_id": subdistrict or 0, "district_id": district or 0},
            )
            for (subdistrict, district), members in communities.items()
        ]
        touched: set[int] = set()
        rows = 0
        for where, params, new in groups:
            before = _subdistricts_of(where, params)
            if not before:
                continue  # nothing counted under an old place: no statement at all
            touched |= before | {new.get("subdistrict_id", 0)}
            for model in BY_COMMUNITY:
                rows += _rekey(model, new, where, params)
        touched.discard(0)
        if touched:
            _derive_subdistricts(sorted(touched))
    return {"tickets": tickets, "rollup_rows": rows}


def _in(column: str, values: list[int]) -> str:
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def _subdistricts_of(where: str, params: list) -> set[int]:
    """The subdistricts the fact rows matching ``where`` are counted under now (before re-keying)."""
    table = connection.ops.quote_name(RollupFact._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT subdistrict_id FROM {table} WHERE {where}", params)
        return {row[0] for row in cursor.fetchall()}


def _rekey(model, new: dict[str, int], where: str, params: list) -> int:
    """Add the rows of ``model`` matching ``where`` under the key with ``new`` columns, delete them.

    Rows that fall on the same new key are summed; a row already there (a ticket counted under
    the new place since the move) is added to. Returns the rows taken off their old key.
    """
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    counters = _counter_fields(model)
    kept = [k for k in model.KEY if k not in new]
    columns = [*model.KEY, *counters]
    select = [("%s" if k in new else qn(k)) for k in model.KEY] + [f"SUM({qn(c)})" for c in counters]
    select_params = [new[k] for k in model.KEY if k in new]
    updates = ", ".join(f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in counters)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
        (count,) = cursor.fetchone()
        if not count:
            return 0
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "
            f"SELECT {', '.join(select)} FROM {table} WHERE {where} "
            f"GROUP BY {', '.join(qn(k) for k in kept)} "
            f"ON CONFLICT ({', '.join(qn(k) for k in model.KEY)}) DO UPDATE SET {updates}",
            [*select_params, *params],
        )
        # the rows just written have the new key, so the condition no longer matches them
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)
    return count


def _derive_subdistricts(subdistricts: list[int]) -> None:
    """``rollup_derive`` for the given subdistricts only: their per-subdistrict rows summed again."""
    qn = connection.ops.quote_name
    fact = qn(RollupFact._meta.db_table)
    where = _in("subdistrict_id", subdistricts)
    for model in DERIVED:
        table = qn(model._meta.db_table)
        counters = _counter_fields(model)
        keys = ", ".join(qn(k) for k in model.KEY)
        _execute(f"DELETE FROM {table} WHERE {where}", subdistricts)
        _execute(
            f"INSERT INTO {table} ({keys}, {', '.join(qn(c) for c in counters)}) "
            f"SELECT {keys}, {', '.join(f'SUM({qn(c)})' for c in counters)} FROM {fact} "
            f"WHERE {where} GROUP BY {keys} ORDER BY {keys}",
            subdistricts,
        )
