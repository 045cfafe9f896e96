"""The rebuild path: empty the rollups and count the whole timeline again with set-based SQL.

``rollup_rebuild`` (command ``analytics_rebuild``) states the rules of ``event_deltas`` as ``CASE``
expressions over the timeline joined to the tickets (the overdue episodes by window functions);
the coarse tables and the stock are ``GROUP BY``s of the fine one (``rollup_derive``, also used
after a synthetic load). Rows are written in key order, day first, so that a window of days is a
run of adjacent pages (a hash-ordered insert put each of the ~32,000 rows of a 30-day city window
on its own page at 10 M tickets). ``rollup_snapshot`` reads every non-zero row (tests and checks).
"""

from __future__ import annotations

from django.db import connection, models, transaction
from django.db.models import Case, F, IntegerField, Max, Q, Value, When, Window
from django.db.models.expressions import RowRange
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from zhiwang.analytics.models import (
    COUNTER_FIELDS,
    AddressDay,
    OpenStock,
    RollupArea,
    RollupFact,
    RollupUnit,
    TicketTrack,
)
from zhiwang.analytics.rollups.rules import ENDS_OPEN, OVERDUE_ENDS, _tz
from zhiwang.analytics.rollups.writes import _counter_fields, _state
from zhiwang.tickets.models import Satisfaction, Ticket, TicketEvent
from zhiwang.tickets.services.clock import URGE_OVERDUE_KEY
from zhiwang.tickets.workflow import TicketAction as A

#: The wide tables derived from ``RollupFact`` by summing (their key is a subset of its key).
DERIVED = (RollupArea, RollupUnit)
#: Every table a rebuild empties and fills again.
REBUILT = (RollupFact, *DERIVED, OpenStock, AddressDay, TicketTrack)


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _went_overdue() -> Q:
    """``rules.went_overdue`` in SQL: a supervision, the overdue warning, or an urge made after the
    deadline (``payload.overdue`` true) or written before urges said (no such key: it counts).

    The missing key is tested with ``has_key`` rather than left to the comparison: a missing key
    compares as SQL NULL on both backends (``payload -> 'overdue'`` on PostgreSQL,
    ``JSON_EXTRACT`` on SQLite), and a condition over NULL would silently be false.
    """
    urge_overdue = Q(**{f"payload__{URGE_OVERDUE_KEY}": True}) | ~Q(payload__has_key=URGE_OVERDUE_KEY)
    return (
        Q(action=A.SUPERVISE) | Q(action=A.WARN, payload__kind="overdue") | (Q(action=A.URGE) & urge_overdue)
    )


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
        "transferred": _flag(Q(action=A.TRANSFER)),
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
        "finals": _flag(Q(action__in=list(ENDS_OPEN))),
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
            f"SELECT {keys}, {sums} FROM {fact} GROUP BY {keys} ORDER BY {keys}"
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
        for model in REBUILT:
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
            f"SELECT {key_sql}, {', '.join(select.values())} FROM ({inner}) ev GROUP BY {key_sql} "
            f"ORDER BY {key_sql}",
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
            f"SELECT {a_keys}, COUNT(*) FROM ({arrivals}) ev GROUP BY {a_keys} ORDER BY {a_keys}",
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
    rollup_vacuum()
    if progress:
        progress(tickets, events)
    return {"tickets": tickets, "events": events, "rows": RollupFact.objects.count()}


def rollup_vacuum() -> bool:
    """``VACUUM (ANALYZE)`` the rebuilt tables on PostgreSQL; False when skipped.

    After a rebuild every row is new and the old ones dead: without it the planner has no
    statistics for the new rows (autovacuum may be late or off) and the dead rows' space stays
    unused. Skipped on SQLite and inside a transaction (``VACUUM`` cannot run in one).
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    qn = connection.ops.quote_name
    _execute(f"VACUUM (ANALYZE) {', '.join(qn(m._meta.db_table) for m in REBUILT)}")
    return True


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
