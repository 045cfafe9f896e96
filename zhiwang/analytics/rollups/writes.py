"""How counts reach the wide tables: deltas summed in memory, then one upsert per table.

``upsert`` is ``INSERT … ON CONFLICT (key) DO UPDATE SET col = t.col + excluded.col`` (the same SQL
on PostgreSQL and SQLite). ``_write_small`` is the incremental path's write: the few rows of one
transition and the tickets' tracks, in one statement on PostgreSQL.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from django.db import connection, models

from zhiwang.analytics.models import (
    STOCK_FIELDS,
    AddressDay,
    OpenStock,
    RollupArea,
    RollupFact,
    RollupState,
    RollupUnit,
    TicketTrack,
)
from zhiwang.analytics.rollups.rules import TicketFacts, event_deltas, local_day
from zhiwang.core.bulk import array_type
from zhiwang.tickets.models import Category, TicketEvent
from zhiwang.tickets.workflow import TicketAction as A


class Deltas:
    """Counter deltas accumulated in memory per table and key, written with one upsert per table."""

    def __init__(self):
        self.tables: dict[type[models.Model], dict[tuple, dict[str, int]]] = defaultdict(dict)

    def _bump(self, model, key: tuple, metrics: dict[str, int]) -> None:
        row = self.tables[model].get(key)
        if row is None:
            row = self.tables[model][key] = defaultdict(int)
        for metric, n in metrics.items():
            row[metric] += n

    def add(
        self, facts: TicketFacts, day: date, unit_id: int | None, plus: list[str], minus: list[str]
    ) -> None:
        if not plus and not minus:
            return
        metrics: dict[str, int] = defaultdict(int)
        for metric in plus:
            metrics[metric] += 1
        for metric in minus:
            metrics[metric] -= 1
        place = facts.place()
        unit = unit_id or 0
        d, s, c, g = place["district_id"], place["subdistrict_id"], place["community_id"], place["grid_id"]
        self._bump(RollupFact, (day, d, s, c, g, facts.category_id, facts.channel, facts.kind, unit), metrics)
        self._bump(RollupArea, (day, d, s, facts.category_id, facts.channel, facts.kind), metrics)
        self._bump(RollupUnit, (day, d, s, unit), metrics)
        stock = {m: metrics[m] for m in STOCK_FIELDS if metrics.get(m)}
        if stock:
            self._bump(OpenStock, (d, s, c, g, facts.category_id), stock)
        if metrics.get("received") and facts.address_id:
            self._bump(AddressDay, (day, facts.address_id, d, s, c, g), {"received": metrics["received"]})

    def flush(self) -> int:
        written = 0
        for model, rows in self.tables.items():
            rows = {key: row for key, row in rows.items() if any(row.values())}
            if rows:
                upsert(model, rows)
                written += len(rows)
        self.tables.clear()
        return written


def _counter_fields(model) -> tuple[str, ...]:
    return tuple(f.name for f in model._meta.concrete_fields if f.name not in model.KEY and f.name != "id")


@functools.cache
def _model_sql(model, vendor: str) -> tuple[str, tuple[str, ...], str, str, dict[str, str], str]:
    """The quoted pieces of ``model``'s upsert, built once per process (they never change)."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    counters = _counter_fields(model)
    columns = (*model.KEY, *counters)
    updates = {c: f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in counters}
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return (
        table,
        counters,
        ", ".join(qn(c) for c in columns),
        ", ".join(qn(c) for c in model.KEY),
        updates,
        row,
    )


#: From this many rows on, PostgreSQL gets a table's rows as one array per column. A single
#: submission's few rows stay a short ``VALUES`` list: the driver dumps arrays element by element
#: in Python, which for a row or two cost more than it saves (measured on the submit path).
_ARRAYS_FROM = 8


@functools.cache
def _array_casts(model) -> str:
    """``%s::date[], %s::integer[], …``: one typed array per column of the upsert (PostgreSQL)."""
    fields = [model._meta.get_field(name) for name in (*model.KEY, *_counter_fields(model))]
    return ", ".join(f"%s::{array_type(f, connection)}[]" for f in fields)


def _upsert_sql(model, chunk: list[tuple[tuple, dict[str, int]]]) -> tuple[str, list]:
    """One ``INSERT … ON CONFLICT (key) DO UPDATE SET col = t.col + excluded.col`` for ``chunk``.

    Only the counters that change are in the ``SET`` list: the statement stays short (the
    driver parses every statement it has not seen; short ones it keeps).
    """
    table, counters, column_sql, conflict, updates, row_sql = _model_sql(model, connection.vendor)
    changed = [c for c in counters if any(row.get(c) for _key, row in chunk)] or counters[:1]
    if connection.vendor == "postgresql" and len(chunk) >= _ARRAYS_FROM:
        # One array per column: the statement's text does not grow with the rows (the driver
        # splits every new statement's text on its placeholders, which for hundreds of rows
        # cost more than the write), and the driver caches it.
        columns = [[key[i] for key, _row in chunk] for i in range(len(model.KEY))]
        columns += [[row.get(c, 0) for _key, row in chunk] for c in counters]
        sql = (
            f"INSERT INTO {table} ({column_sql}) SELECT * FROM unnest({_array_casts(model)}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(updates[c] for c in changed)}"
        )
        return sql, columns
    placeholders = ", ".join([row_sql] * len(chunk))
    params = [v for key, row in chunk for v in (*key, *(row.get(c, 0) for c in counters))]
    sql = (
        f"INSERT INTO {table} ({column_sql}) VALUES {placeholders} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(updates[c] for c in changed)}"
    )
    return sql, params


def upsert(model, rows: dict[tuple, dict[str, int]]) -> None:
    """Add each row's counters to the row of ``model`` with that key, creating it if new.

    ``INSERT … ON CONFLICT (key) DO UPDATE SET col = t.col + excluded.col``: one statement per
    chunk, the same SQL on PostgreSQL and SQLite. Keys must be unique within ``rows``.
    """
    per_row = len(model.KEY) + len(_counter_fields(model))
    limit = getattr(connection.features, "max_query_params", None) or 30000
    chunk_size = max(1, min(500, limit // per_row))
    items = list(rows.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), chunk_size):
            cursor.execute(*_upsert_sql(model, items[start : start + chunk_size]))


def _tracks_sql(tracks: list[TicketTrack]) -> tuple[str, list]:
    table = connection.ops.quote_name(TicketTrack._meta.db_table)
    if connection.vendor == "postgresql" and len(tracks) >= _ARRAYS_FROM:  # arrays, as in ``_upsert_sql``
        sql = (
            f"INSERT INTO {table} (ticket_id, last_event, overdue) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::boolean[]) "
            "ON CONFLICT (ticket_id) DO UPDATE SET last_event = excluded.last_event, overdue = excluded.overdue"
        )
        return sql, [
            [t.ticket_id for t in tracks],
            [t.last_event for t in tracks],
            [t.overdue for t in tracks],
        ]
    placeholders = ", ".join(["(%s, %s, %s)"] * len(tracks))
    params = [v for t in tracks for v in (t.ticket_id, t.last_event, t.overdue)]
    sql = (
        f"INSERT INTO {table} (ticket_id, last_event, overdue) VALUES {placeholders} "
        "ON CONFLICT (ticket_id) DO UPDATE SET last_event = excluded.last_event, overdue = excluded.overdue"
    )
    return sql, params


def _write_small(deltas: Deltas, tracks: list[TicketTrack]) -> None:
    """The incremental path's write: a few rows per table and the tracks, in as few statements as possible.

    Rows go in key order (tables in a fixed order) so that concurrent transactions lock shared
    counter rows in the same order. PostgreSQL gets ONE statement (data-modifying ``WITH``
    clauses); SQLite, in process, one per table.
    """
    statements = []
    for model, rows in deltas.tables.items():
        live = sorted((key, row) for key, row in rows.items() if any(row.values()))
        if live:
            statements.append(_upsert_sql(model, live))
    deltas.tables.clear()
    if tracks:
        statements.append(_tracks_sql(sorted(tracks, key=lambda t: t.ticket_id)))
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) > 1:
            *first, (last_sql, last_params) = statements
            with_sql = ", ".join(f"w{i} AS ({sql})" for i, (sql, _params) in enumerate(first))
            params = [p for _sql, ps in first for p in ps] + last_params
            cursor.execute(f"WITH {with_sql} {last_sql}", params)
            return
        for sql, params in statements:
            cursor.execute(sql, params)


def _count(events: Iterable, facts: TicketFacts, track: TicketTrack, deltas: Deltas) -> None:
    """Count ``events`` (rows of one ticket, in timeline order) not yet counted by ``track``.

    Rows are counted under the ticket's category of the moment (``facts``); a change of category
    (改分类) moves what earlier calls counted of the ticket to the new category, so the counts
    always sit where a rebuild, which reads the present category, puts them.
    """
    counted_before = track.last_event
    for event in events:
        pk, action, payload, unit_id, at = event
        if pk <= track.last_event:
            continue
        if action == A.RECATEGORISE and counted_before:
            _move_category(facts, counted_before, payload or {}, deltas)
        plus, minus, track.overdue = event_deltas(action, payload, facts, track.overdue)
        deltas.add(facts, local_day(at), unit_id, plus, minus)
        track.last_event = pk


def _move_category(facts: TicketFacts, counted_up_to: int, payload: dict, deltas: Deltas) -> None:
    """Take the ticket's rows up to ``counted_up_to`` off the payload's ``from_category`` and
    count them under its ``to_category`` (the rows are replayed: same days, units, metrics)."""
    codes = {payload.get("from_category"), payload.get("to_category")}
    ids = dict(Category.objects.filter(code__in=[c for c in codes if c]).values_list("code", "pk"))
    old, new = ids.get(payload.get("from_category")), ids.get(payload.get("to_category"))
    if old is None or new is None or old == new:
        return
    was, now = replace(facts, category_id=old), replace(facts, category_id=new)
    overdue = False
    for _pk, action, row_payload, unit_id, at in (
        TicketEvent.objects.filter(ticket_id=facts.pk, pk__lte=counted_up_to)
        .order_by("pk")
        .values_list("pk", "action", "payload", "unit_id", "at")
    ):
        plus, minus, overdue = event_deltas(action, row_payload, facts, overdue)
        day = local_day(at)
        deltas.add(was, day, unit_id, minus, plus)
        deltas.add(now, day, unit_id, plus, minus)


def _save_tracks(tracks: Iterable[TicketTrack]) -> None:
    TicketTrack.objects.bulk_create(
        list(tracks),
        update_conflicts=True,
        unique_fields=["ticket_id"],
        update_fields=["last_event", "overdue"],
        batch_size=1000,
    )


def _state() -> RollupState:
    state, _created = RollupState.objects.get_or_create(pk=1)
    return state
