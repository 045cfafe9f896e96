"""Rollups: wide daily counter tables kept in step with the timeline (docs/analytics.md §1).

Every ``TicketEvent`` is turned into metric deltas by one pure function (``event_deltas``) and
added, as ONE row per table, to the wide tables of ``models``: ``RollupFact`` (day × community ×
grid × category × channel × kind × unit), ``RollupArea`` (day × subdistrict × category × channel ×
kind), ``RollupUnit`` (day × subdistrict × unit), ``OpenStock`` (current open/overdue stock) and
``AddressDay`` (arrivals per address), each with an upsert ``INSERT … ON CONFLICT (key) DO UPDATE
SET col = col + excluded.col`` (the same SQL on PostgreSQL and SQLite). Three paths feed them:

- **incremental**: a ``post_save`` receiver on ``TicketEvent`` (``signals.py``) counts the new row
  inside the transaction of the transition that wrote it (``rollup_event_saved``). Before it, any
  earlier uncounted rows of the same ticket are counted first (rows a bulk path wrote), so each
  ticket's rows are always counted in timeline order. Inside a ``tickets.timeline_batch`` (the
  submit pipeline) the rows are only noted and counted together when the batch ends, right
  before the commit (``rollup_batch_flush``): one multi-row upsert per table — on PostgreSQL one
  statement for all tables and the tracks — so the shared counter rows are locked only for the
  last moments of the transaction, and a failed transaction leaves nothing.
- **catch-up**: bulk paths (the clock sweep's warnings/urges, ``tickets.history.bulk_tickets_create``)
  use ``bulk_create`` and send no signal. ``rollup_catch_up`` (periodic task, every minute) scans
  rows above a watermark (minus a look-back, for rows committed late) and counts those the
  ticket's ``TicketTrack.last_event`` has not reached.
- **rebuild**: ``rollup_rebuild`` (command ``analytics_rebuild``) empties the tables and counts the
  whole timeline again with set-based SQL (``INSERT … SELECT … GROUP BY`` over the timeline joined
  to the tickets; the overdue episodes with window functions); the coarse tables are then
  ``GROUP BY``s of the fine one. A test proves it equals the incremental result.

Counting is idempotent per row (``TicketTrack.last_event``), so the three paths may overlap.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Case, F, IntegerField, Max, Q, Value, When, Window
from django.db.models.expressions import RowRange
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from zhiwang.analytics.models import (
    COUNTER_FIELDS,
    STOCK_FIELDS,
    AddressDay,
    OpenStock,
    RollupArea,
    RollupFact,
    RollupState,
    RollupUnit,
    TicketTrack,
)
from zhiwang.tickets.models import Satisfaction, Ticket, TicketEvent
from zhiwang.tickets.timeline_batch import current_batch
from zhiwang.tickets.workflow import TicketAction as A

#: Kept for the alert and dashboard code: the whole city is node 0.
CITY_NODE = 0

#: Metrics, each a count of events on the day (``open`` and ``overdue_open`` are +1/−1 flows whose
#: running sum is the stock: open tickets, and open tickets in an overdue episode).
METRICS = COUNTER_FIELDS
FINAL_ACTIONS = {A.CLOSE: "closed", A.ANSWER_DIRECTLY: "closed", A.REJECT: "rejected", A.MERGE: "merged"}
SIMPLE = {
    A.RECEIVE: "received",
    A.DISPATCH: "dispatched",
    A.REASSIGN: "reassigned",
    A.APPROVE_RETURN: "returned",
    A.REPLY: "replied",
    A.URGE: "urged",
    A.SUPERVISE: "supervised",
    A.REOPEN: "reopened",
}
#: Events that end an overdue episode (the deadline met its answer, moved, or no longer applies).
OVERDUE_ENDS = {A.REPLY, A.APPROVE_EXTENSION, A.REOPEN, A.APPROVE_RETURN, *FINAL_ACTIONS}
#: Rows re-read behind the watermark by the catch-up: bulk rows may commit after later rows.
CATCH_UP_LOOKBACK = 20000
#: The wide tables derived from ``RollupFact`` by summing (their key is a subset of its key).
DERIVED = (RollupArea, RollupUnit)

_TICKET_FIELDS = (
    "pk",
    "grid_id",
    "address_id",
    "community_id",
    "subdistrict_id",
    "district_id",
    "category_id",
    "channel",
    "kind",
    "replied_at",
    "due_at",
)
_EVENT_FIELDS = ("pk", "ticket_id", "action", "to_state", "payload", "unit_id", "at")


@dataclass
class TicketFacts:
    """The columns of a ticket that the rollups use (its place and dimensions never change)."""

    pk: int
    grid_id: int | None
    address_id: int | None
    community_id: int | None
    subdistrict_id: int | None
    district_id: int | None
    category_id: int
    channel: str
    kind: str
    replied_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> TicketFacts:
        return cls(**{name: getattr(ticket, name) for name in _TICKET_FIELDS})

    def place(self) -> dict[str, int]:
        return {
            "district_id": self.district_id or 0,
            "subdistrict_id": self.subdistrict_id or 0,
            "community_id": self.community_id or 0,
            "grid_id": self.grid_id or 0,
        }


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, _tz()).date() if timezone.is_aware(moment) else moment.date()


def event_deltas(
    action: str, payload: dict | None, facts: TicketFacts, overdue: bool
) -> tuple[list[str], list[str], bool]:
    """``(metrics +1, metrics −1, overdue after)`` for one timeline row of a ticket.

    Pure: the same row, ticket and overdue flag always give the same answer, which is what
    makes the rebuild equal to the incremental result.
    """
    payload = payload or {}
    plus: list[str] = []
    minus: list[str] = []
    if action in SIMPLE:
        plus.append(SIMPLE[action])
    if action == A.RECEIVE:
        plus.append("open")
    final = FINAL_ACTIONS.get(action)
    if final:
        plus.append(final)
        minus.append("open")
        if final == "closed" and (
            action == A.ANSWER_DIRECTLY
            or facts.due_at is None
            or (facts.replied_at is not None and facts.replied_at <= facts.due_at)
        ):
            plus.append("closed_on_time")
    if action in (A.CLOSE, A.REOPEN):
        plus.append("follow_ups")
        if not payload.get("unreachable") and payload.get("satisfaction") in Satisfaction.values:
            plus += ["rated", payload["satisfaction"]]
            if payload.get("resolved"):
                plus.append("resolved")
    went_overdue = action in (A.URGE, A.SUPERVISE) or (action == A.WARN and payload.get("kind") == "overdue")
    if went_overdue and not overdue:
        plus += ["overdue", "overdue_open"]
        overdue = True
    elif overdue and action in OVERDUE_ENDS:
        minus.append("overdue_open")
        overdue = False
    return plus, minus, overdue


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


def _upsert_sql(model, chunk: list[tuple[tuple, dict[str, int]]]) -> tuple[str, list]:
    """One ``INSERT … ON CONFLICT (key) DO UPDATE SET col = t.col + excluded.col`` for ``chunk``.

    Only the counters that change are in the ``SET`` list: the statement stays short (the
    driver parses every statement it has not seen; short ones it keeps).
    """
    table, counters, column_sql, conflict, updates, row_sql = _model_sql(model, connection.vendor)
    changed = [c for c in counters if any(row.get(c) for _key, row in chunk)] or counters[:1]
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
    """Count ``events`` (rows of one ticket, in timeline order) not yet counted by ``track``."""
    for event in events:
        pk, action, payload, unit_id, at = event
        if pk <= track.last_event:
            continue
        plus, minus, track.overdue = event_deltas(action, payload, facts, track.overdue)
        deltas.add(facts, local_day(at), unit_id, plus, minus)
        track.last_event = pk


def _save_tracks(tracks: Iterable[TicketTrack]) -> None:
    TicketTrack.objects.bulk_create(
        list(tracks),
        update_conflicts=True,
        unique_fields=["ticket_id"],
        update_fields=["last_event", "overdue"],
        batch_size=1000,
    )


# --- the three paths ---------------------------------------------------------------------------


def rollup_event_saved(event: TicketEvent) -> None:
    """Count a timeline row just written (and any earlier uncounted rows of its ticket), in its transaction.

    Inside a ``tickets.timeline_batch`` (a service writing several rows in one transaction) the
    row is only noted, with its ticket's facts as they are now, and counted with the others
    of the batch when it ends (``rollup_batch_flush``), right before the commit.
    """
    batch = current_batch()
    if batch is not None:
        row = (event.pk, event.action, event.payload, event.unit_id, event.at)
        batch.buffer(BATCH_BUFFER, rollup_batch_flush).append(
            (event.ticket_id, row, TicketFacts.of(event.ticket), _opens_timeline(event))
        )
        return
    # No savepoint: inside a transaction a failure here must fail the caller's write too.
    with transaction.atomic(savepoint=False):
        track = TicketTrack.objects.filter(ticket_id=event.ticket_id).first() or TicketTrack(
            ticket_id=event.ticket_id
        )
        if event.pk <= track.last_event:
            return
        rows = [
            (pk, action, payload, unit_id, at)
            for pk, action, payload, unit_id, at in TicketEvent.objects.filter(
                ticket_id=event.ticket_id, pk__gt=track.last_event, pk__lt=event.pk
            )
            .order_by("pk")
            .values_list("pk", "action", "payload", "unit_id", "at")
        ]
        rows.append((event.pk, event.action, event.payload, event.unit_id, event.at))
        deltas = Deltas()
        _count(rows, TicketFacts.of(event.ticket), track, deltas)
        _write_small(deltas, [track])


#: The name of the rollups' buffer in a timeline batch.
BATCH_BUFFER = "analytics.rollups"


def _opens_timeline(event: TicketEvent) -> bool:
    """The receive row written with a new ticket: nothing of that ticket can have been counted before."""
    return event.action == A.RECEIVE and not event.from_state


def rollup_batch_flush(items: list[tuple]) -> None:
    """Count the rows a timeline batch noted: one multi-row upsert per table (one statement on PostgreSQL).

    ``items``: ``(ticket_id, row, facts, opens_timeline)`` in the order the rows were written.
    Each row is counted as ``rollup_event_saved`` would have counted it at once (with its
    ticket's facts of that moment, after any earlier uncounted rows of the ticket); a ticket
    whose receive row is in the batch is new, so its track and earlier rows are not read.
    """
    by_ticket: dict[int, list[tuple]] = defaultdict(list)
    for ticket_id, row, facts, opens in items:
        by_ticket[ticket_id].append((row, facts, opens))
    known = [pk for pk, rows in by_ticket.items() if not rows[0][2]]
    tracks = {pk: TicketTrack(ticket_id=pk) for pk in by_ticket}
    earlier: dict[int, list[tuple]] = defaultdict(list)
    if known:
        tracks.update({t.ticket_id: t for t in TicketTrack.objects.filter(ticket_id__in=known)})
        noted = {row[0] for ticket_id in known for row, _facts, _opens in by_ticket[ticket_id]}
        low = min(tracks[pk].last_event for pk in known)
        high = max(row[0] for ticket_id in known for row, _facts, _opens in by_ticket[ticket_id])
        for ticket_id, *row in (
            TicketEvent.objects.filter(ticket_id__in=known, pk__gt=low, pk__lt=high)
            .order_by("pk")
            .values_list("ticket_id", "pk", "action", "payload", "unit_id", "at")
        ):
            if row[0] not in noted:
                earlier[ticket_id].append(tuple(row))
    deltas = Deltas()
    for ticket_id, rows in by_ticket.items():
        track = tracks[ticket_id]
        before = earlier.get(ticket_id, [])
        for row, facts, _opens in rows:
            # Earlier uncounted rows (bulk paths) first, counted with this row's facts, as at once.
            now = [r for r in before if r[0] < row[0]]
            before = [r for r in before if r[0] > row[0]]
            _count([*now, row], facts, track, deltas)
    _write_small(deltas, list(tracks.values()))


def _count_batch(events: list[dict], tracks: dict[int, TicketTrack]) -> Deltas:
    """Count a batch of rows (any tickets, ordered by pk) against ``tracks``; returns the deltas."""
    ticket_ids = {e["ticket_id"] for e in events}
    facts = {
        row["pk"]: TicketFacts(**row)
        for row in Ticket.objects.filter(pk__in=ticket_ids).order_by().values(*_TICKET_FIELDS)
    }
    by_ticket: dict[int, list] = defaultdict(list)
    for e in events:
        by_ticket[e["ticket_id"]].append((e["pk"], e["action"], e["payload"], e["unit_id"], e["at"]))
    deltas = Deltas()
    for ticket_id, rows in by_ticket.items():
        track = tracks.get(ticket_id)
        if track is None:
            track = tracks[ticket_id] = TicketTrack(ticket_id=ticket_id)
        _count(rows, facts[ticket_id], track, deltas)
    return deltas


def _state() -> RollupState:
    state, _created = RollupState.objects.get_or_create(pk=1)
    return state


def rollup_catch_up(*, batch_size: int = 5000, lookback: int = CATCH_UP_LOOKBACK) -> int:
    """Count timeline rows written without a signal (bulk paths); returns how many were counted.

    Scans rows above ``watermark − lookback`` in pk order, a batch per transaction, locking the
    batch's tickets (so a transition of the same ticket waits), and counts those above each
    ticket's ``last_event``. Safe to run at any time, as often as wanted.
    """
    cursor = max(_state().watermark - lookback, 0)
    counted = 0
    while True:
        with transaction.atomic():
            events = list(
                TicketEvent.objects.filter(pk__gt=cursor).order_by("pk").values(*_EVENT_FIELDS)[:batch_size]
            )
            if not events:
                break
            ticket_ids = sorted({e["ticket_id"] for e in events})
            list(Ticket.objects.select_for_update().filter(pk__in=ticket_ids).values_list("pk", flat=True))
            tracks = {t.ticket_id: t for t in TicketTrack.objects.filter(ticket_id__in=ticket_ids)}
            before = {pk: t.last_event for pk, t in tracks.items()}
            todo = [e for e in events if e["pk"] > before.get(e["ticket_id"], 0)]
            if todo:
                deltas = _count_batch(todo, tracks)
                deltas.flush()
                changed = [t for pk, t in tracks.items() if t.last_event != before.get(pk)]
                _save_tracks(changed)
                counted += len(todo)
            cursor = events[-1]["pk"]
            RollupState.objects.filter(pk=1).update(watermark=cursor, caught_up_at=timezone.now())
    return counted


# --- the set-based rebuild ---------------------------------------------------------------------


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _went_overdue() -> Q:
    return Q(action__in=[A.URGE, A.SUPERVISE]) | Q(action=A.WARN, payload__kind="overdue")


def _event_rows(last_pk: int):
    """One row per timeline row up to ``last_pk``: its keys, 0/1 metric flags and overdue context.

    The same rules as ``event_deltas``, in SQL. The overdue episode (a per-ticket state) comes
    from two window functions: the last row before this one that entered (``w``) and that ended
    (``e``) an episode; the ticket is overdue before this row when the former is the later one.
    """
    before = RowRange(start=None, end=-1)
    on_time = (
        Q(action=A.ANSWER_DIRECTLY)
        | Q(action=A.CLOSE, ticket__due_at__isnull=True)
        | Q(action=A.CLOSE, ticket__replied_at__lte=F("ticket__due_at"))
    )
    follow_up = Q(action__in=[A.CLOSE, A.REOPEN])
    rated = follow_up & Q(*[Q(payload__satisfaction=v) for v in Satisfaction.values], _connector=Q.OR)
    flags = {
        "received": _flag(Q(action=A.RECEIVE)),
        "dispatched": _flag(Q(action=A.DISPATCH)),
        "reassigned": _flag(Q(action=A.REASSIGN)),
        "returned": _flag(Q(action=A.APPROVE_RETURN)),
        "replied": _flag(Q(action=A.REPLY)),
        "closed": _flag(Q(action__in=[A.CLOSE, A.ANSWER_DIRECTLY])),
        "closed_on_time": _flag(on_time),
        "rejected": _flag(Q(action=A.REJECT)),
        "merged": _flag(Q(action=A.MERGE)),
        "urged": _flag(Q(action=A.URGE)),
        "supervised": _flag(Q(action=A.SUPERVISE)),
        "follow_ups": _flag(follow_up),
        "reopened": _flag(Q(action=A.REOPEN)),
        "rated": Case(
            When(unreachable=True, then=Value(0)),
            When(rated, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        "resolved": Case(
            When(unreachable=True, then=Value(0)),
            When(rated & Q(payload__resolved=True), then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        **{
            value: Case(
                When(unreachable=True, then=Value(0)),
                When(follow_up & Q(payload__satisfaction=value), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            for value in Satisfaction.values
        },
        "finals": _flag(Q(action__in=list(FINAL_ACTIONS))),
        "w": _flag(_went_overdue()),
        "e": _flag(Q(action__in=list(OVERDUE_ENDS))),
    }
    window = {"partition_by": [F("ticket_id")], "order_by": F("pk").asc(), "frame": before}
    return (
        TicketEvent.objects.filter(pk__lte=last_pk)
        .annotate(
            unreachable=Case(
                When(payload__unreachable=True, then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            ),
        )
        .annotate(
            d=TruncDate("at", tzinfo=_tz()),
            k_district=Coalesce("ticket__district_id", Value(0)),
            k_subdistrict=Coalesce("ticket__subdistrict_id", Value(0)),
            k_community=Coalesce("ticket__community_id", Value(0)),
            k_grid=Coalesce("ticket__grid_id", Value(0)),
            k_category=F("ticket__category_id"),
            k_channel=F("ticket__channel"),
            k_kind=F("ticket__kind"),
            k_unit=Coalesce("unit_id", Value(0)),
            **flags,
            last_w=Window(Max(Case(When(_went_overdue(), then=F("pk")))), **window),
            last_e=Window(Max(Case(When(action__in=list(OVERDUE_ENDS), then=F("pk")))), **window),
        )
        .order_by()
        .values(
            "d",
            "k_district",
            "k_subdistrict",
            "k_community",
            "k_grid",
            "k_category",
            "k_channel",
            "k_kind",
            "k_unit",
            *flags,
            "last_w",
            "last_e",
        )
    )


def _execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rollup_derive() -> None:
    """Fill the coarse tables and the stock from ``RollupFact`` (after a rebuild or a synthetic load)."""
    qn = connection.ops.quote_name
    fact = qn(RollupFact._meta.db_table)
    for model in (*DERIVED, OpenStock):
        _execute(f"DELETE FROM {qn(model._meta.db_table)}")
    for model in DERIVED:
        counters = _counter_fields(model)
        keys = ", ".join(qn(k) for k in model.KEY)
        sums = ", ".join(f"SUM({qn(c)})" for c in counters)
        _execute(
            f"INSERT INTO {qn(model._meta.db_table)} ({keys}, {', '.join(qn(c) for c in counters)}) "
            f"SELECT {keys}, {sums} FROM {fact} GROUP BY {keys}"
        )
    keys = ", ".join(qn(k) for k in OpenStock.KEY)
    _execute(
        f"INSERT INTO {qn(OpenStock._meta.db_table)} ({keys}, {qn('open')}, {qn('overdue_open')}) "
        f"SELECT {keys}, SUM({qn('open')}), SUM({qn('overdue_open')}) FROM {fact} GROUP BY {keys} "
        f"HAVING SUM({qn('open')}) <> 0 OR SUM({qn('overdue_open')}) <> 0"
    )


def rollup_rebuild(*, progress=None, **_ignored) -> dict[str, int]:
    """Empty the rollups and count the whole timeline again with set-based SQL (one transaction).

    ``INSERT INTO RollupFact SELECT … GROUP BY`` over the timeline joined to the tickets (the rules of
    ``event_deltas`` as ``CASE`` expressions, the overdue episodes by window functions), then the
    coarse tables and the stock as ``GROUP BY``s of the fact table, the address arrivals and the
    per-ticket tracks. Run it when the platform is quiet: transitions made meanwhile wait for it.
    """
    qn = connection.ops.quote_name
    with transaction.atomic():
        for model in (RollupFact, *DERIVED, OpenStock, AddressDay, TicketTrack):
            _execute(f"DELETE FROM {qn(model._meta.db_table)}")
        state = _state()
        last_pk = TicketEvent.objects.aggregate(m=Max("pk"))["m"] or 0
        inner, params = _event_rows(last_pk).query.sql_with_params()
        overdue_before = "(ev.last_w IS NOT NULL AND ev.last_w > COALESCE(ev.last_e, 0))"
        enter = f"CASE WHEN ev.w = 1 AND NOT {overdue_before} THEN 1 ELSE 0 END"
        leave = f"CASE WHEN ev.e = 1 AND {overdue_before} THEN 1 ELSE 0 END"
        plain = [c for c in COUNTER_FIELDS if c not in ("overdue", "open", "overdue_open")]
        select = {
            **{c: f"SUM(ev.{c})" for c in plain},
            "overdue": f"SUM({enter})",
            "open": "SUM(ev.received) - SUM(ev.finals)",
            "overdue_open": f"SUM({enter}) - SUM({leave})",
        }
        keys = (
            "d",
            "k_district",
            "k_subdistrict",
            "k_community",
            "k_grid",
            "k_category",
            "k_channel",
            "k_kind",
            "k_unit",
        )
        key_sql = ", ".join(f"ev.{k}" for k in keys)
        _execute(
            f"INSERT INTO {qn(RollupFact._meta.db_table)} "
            f"({', '.join(qn(c) for c in (*RollupFact.KEY, *select))}) "
            f"SELECT {key_sql}, {', '.join(select.values())} FROM ({inner}) ev GROUP BY {key_sql}",
            params,
        )
        rollup_derive()
        arrivals, a_params = (
            TicketEvent.objects.filter(pk__lte=last_pk, action=A.RECEIVE, ticket__address_id__isnull=False)
            .annotate(
                d=TruncDate("at", tzinfo=_tz()),
                k_address=F("ticket__address_id"),
                k_district=Coalesce("ticket__district_id", Value(0)),
                k_subdistrict=Coalesce("ticket__subdistrict_id", Value(0)),
                k_community=Coalesce("ticket__community_id", Value(0)),
                k_grid=Coalesce("ticket__grid_id", Value(0)),
            )
            .order_by()
            .values("d", "k_address", "k_district", "k_subdistrict", "k_community", "k_grid")
            .query.sql_with_params()
        )
        a_keys = "ev.d, ev.k_address, ev.k_district, ev.k_subdistrict, ev.k_community, ev.k_grid"
        _execute(
            f"INSERT INTO {qn(AddressDay._meta.db_table)} "
            f"({', '.join(qn(c) for c in AddressDay.KEY)}, {qn('received')}) "
            f"SELECT {a_keys}, COUNT(*) FROM ({arrivals}) ev GROUP BY {a_keys}",
            a_params,
        )
        tracks, t_params = (
            TicketEvent.objects.filter(pk__lte=last_pk)
            .order_by()
            .values("ticket_id")
            .annotate(
                last=Max("pk"),
                last_w=Max(Case(When(_went_overdue(), then=F("pk")))),
                last_e=Max(Case(When(action__in=list(OVERDUE_ENDS), then=F("pk")))),
            )
            .query.sql_with_params()
        )
        _execute(
            f"INSERT INTO {qn(TicketTrack._meta.db_table)} (ticket_id, last_event, overdue) "
            "SELECT t.ticket_id, t.last, CASE WHEN t.last_w IS NOT NULL AND t.last_w > COALESCE(t.last_e, 0) "
            "THEN TRUE ELSE FALSE END "
            f"FROM ({tracks}) t",
            t_params,
        )
        state.watermark = last_pk
        state.rebuilt_at = timezone.now()
        state.save()
        events = TicketEvent.objects.filter(pk__lte=last_pk).count()
        tickets = Ticket.objects.count()
    if progress:
        progress(tickets, events)
    return {"tickets": tickets, "events": events, "rows": RollupFact.objects.count()}


def rollup_snapshot() -> dict[tuple, tuple]:
    """Every row with a non-zero counter, per table: ``{(table, *key): ((counter, n), …)}`` (tests, checks)."""
    out = {}
    for model in (RollupFact, *DERIVED, OpenStock, AddressDay):
        counters = _counter_fields(model)
        for row in model.objects.values_list(*model.KEY, *counters):
            key, values = row[: len(model.KEY)], row[len(model.KEY) :]
            nonzero = tuple((c, v) for c, v in zip(counters, values, strict=True) if v)
            if nonzero:
                out[(model.__name__, *key)] = nonzero
    return out
