"""Rollups: daily counters per place node × dimension × metric, kept in step with the timeline.

Every ``TicketEvent`` is turned into metric deltas by one pure function (``event_deltas``) and
added to ``DailyRollup`` with an upsert (``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``,
the same SQL on PostgreSQL and SQLite). Three paths feed it, all through that function:

- **incremental**: a ``post_save`` receiver on ``TicketEvent`` (``signals.py``) counts the new row
  inside the transaction of the transition that wrote it (``rollup_event_saved``). Before it, any
  earlier uncounted rows of the same ticket are counted first (rows a bulk path wrote), so each
  ticket's rows are always counted in timeline order.
- **catch-up**: bulk paths (the clock sweep's warnings/urges, ``tickets.history.bulk_tickets_create``)
  use ``bulk_create`` and send no signal. ``rollup_catch_up`` (periodic task, every minute) scans
  rows above a watermark (minus a look-back, for rows committed late) and counts those the
  ticket's ``TicketTrack.last_event`` has not reached.
- **rebuild**: ``rollup_rebuild`` (command ``analytics_rebuild``) empties the rollups and counts
  the whole timeline again; a test proves it equals the incremental result.

Counting is idempotent per row (``TicketTrack.last_event``), so the three paths may overlap.
Dimensions are not crossed (one breakdown per row, see ``Dimension``): rows grow with the sum,
not the product, of the number of categories, channels, kinds and units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from zhiwang.analytics.models import DailyRollup, Dimension, NodeLevel, RollupState, TicketTrack
from zhiwang.tickets.models import Satisfaction, Ticket, TicketEvent
from zhiwang.tickets.workflow import TicketAction as A

#: The node of the whole city (tickets need not be located to count city-wide).
CITY_NODE = 0

#: Metrics, each a count of events on the day (``open`` and ``overdue_open`` are +1/−1 flows whose
#: running sum is the stock: open tickets, and open tickets in an overdue episode).
METRICS = (
    "received",
    "dispatched",
    "reassigned",
    "returned",
    "replied",
    "closed",
    "closed_on_time",
    "rejected",
    "merged",
    "overdue",
    "urged",
    "supervised",
    "follow_ups",
    "reopened",
    "rated",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "open",
    "overdue_open",
)
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
#: Dimensions counted at each level (grids: only what the map and surge alerts need).
ALL_DIMS = (Dimension.TOTAL, Dimension.CATEGORY, Dimension.CHANNEL, Dimension.KIND, Dimension.UNIT)
LEVEL_DIMS = {
    NodeLevel.GRID: (Dimension.TOTAL, Dimension.CATEGORY),
    # recurring addresses: counted once, at the community (a dashboard sums its communities)
    NodeLevel.COMMUNITY: (*ALL_DIMS, Dimension.ADDRESS),
}
#: The address breakdown only counts arrivals (rows stay few: addresses × days with a ticket).
ADDRESS_METRICS = frozenset({"received"})
#: Rows re-read behind the watermark by the catch-up: bulk rows may commit after later rows.
CATCH_UP_LOOKBACK = 20000

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

    def nodes(self) -> list[tuple[str, int, int]]:
        """``(level, node, parent)`` for every place the ticket counts in, city first."""
        out = [(NodeLevel.CITY, CITY_NODE, 0)]
        parent = CITY_NODE
        for level, node in (
            (NodeLevel.DISTRICT, self.district_id),
            (NodeLevel.SUBDISTRICT, self.subdistrict_id),
            (NodeLevel.COMMUNITY, self.community_id),
            (NodeLevel.GRID, self.grid_id),
        ):
            if node:
                out.append((level, node, parent))
                parent = node
        return out


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
    """Metric deltas accumulated in memory, written with one upsert per 500 rows."""

    def __init__(self):
        self.rows: dict[tuple, int] = defaultdict(int)

    def add(
        self, facts: TicketFacts, day: date, unit_id: int | None, metrics: Iterable[str], sign: int
    ) -> None:
        metrics = list(metrics)
        if not metrics:
            return
        values = {
            Dimension.TOTAL: "",
            Dimension.CATEGORY: str(facts.category_id),
            Dimension.CHANNEL: facts.channel,
            Dimension.KIND: facts.kind,
            Dimension.UNIT: str(unit_id) if unit_id else None,
            Dimension.ADDRESS: str(facts.address_id) if facts.address_id else None,
        }
        for level, node, parent in facts.nodes():
            for dim in LEVEL_DIMS.get(level, ALL_DIMS):
                value = values[dim]
                if value is None:
                    continue
                for metric in metrics:
                    if dim == Dimension.ADDRESS and metric not in ADDRESS_METRICS:
                        continue
                    self.rows[(day, level, node, parent, dim, value, metric)] += sign

    def flush(self) -> int:
        rows = [(*key, n) for key, n in self.rows.items() if n]
        self.rows.clear()
        if rows:
            upsert(rows)
        return len(rows)


def upsert(rows: list[tuple]) -> None:
    """Add ``n`` to each ``(day, level, node, parent, dim, value, metric, n)`` counter, creating it if new."""
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    columns = "day, level, node, parent, dim, value, metric, n"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = [value for row in chunk for value in row]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
                "ON CONFLICT (level, node, dim, metric, day, value) "
                f"DO UPDATE SET n = {table}.n + excluded.n",
                params,
            )


def _count(events: Iterable, facts: TicketFacts, track: TicketTrack, deltas: Deltas) -> None:
    """Count ``events`` (rows of one ticket, in timeline order) not yet counted by ``track``."""
    for event in events:
        pk, action, payload, unit_id, at = event
        if pk <= track.last_event:
            continue
        plus, minus, track.overdue = event_deltas(action, payload, facts, track.overdue)
        day = local_day(at)
        deltas.add(facts, day, unit_id, plus, 1)
        deltas.add(facts, day, unit_id, minus, -1)
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
    """Count a timeline row just written (and any earlier uncounted rows of its ticket), in its transaction."""
    with transaction.atomic():
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
        deltas.flush()
        _save_tracks([track])


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


def rollup_rebuild(*, batch_tickets: int = 5000, progress=None) -> dict[str, int]:
    """Empty the rollups and count the whole timeline again, ticket by ticket (in one transaction).

    Run it when the platform is quiet (after a bulk import, a change of the counting rules):
    transitions made while it runs wait for it on PostgreSQL and SQLite alike.
    """
    with transaction.atomic():
        DailyRollup.objects.all().delete()
        TicketTrack.objects.all().delete()
        state = _state()
        last_pk = TicketEvent.objects.aggregate(m=Max("pk"))["m"] or 0
        ticket_ids = Ticket.objects.order_by("pk").values_list("pk", flat=True)
        events_n = tickets_n = 0
        boundary = 0
        while True:
            ids = list(ticket_ids.filter(pk__gt=boundary)[:batch_tickets])
            if not ids:
                break
            boundary = ids[-1]
            events = list(
                TicketEvent.objects.filter(ticket_id__gte=ids[0], ticket_id__lte=ids[-1], pk__lte=last_pk)
                .order_by("ticket_id", "pk")
                .values(*_EVENT_FIELDS)
            )
            tracks: dict[int, TicketTrack] = {}
            deltas = _count_batch(events, tracks) if events else Deltas()
            deltas.flush()
            _save_tracks(tracks.values())
            events_n += len(events)
            tickets_n += len(ids)
            if progress:
                progress(tickets_n, events_n)
        state.watermark = last_pk
        state.rebuilt_at = timezone.now()
        state.save()
    return {"tickets": tickets_n, "events": events_n, "rows": DailyRollup.objects.count()}


def rollup_snapshot() -> dict[tuple, int]:
    """Every non-zero counter as ``{(day, level, node, dim, value, metric): n}`` (tests, checks)."""
    return {
        (r[0], r[1], r[2], r[3], r[4], r[5]): r[6]
        for r in DailyRollup.objects.exclude(n=0).values_list(
            "day", "level", "node", "dim", "value", "metric", "n"
        )
    }
