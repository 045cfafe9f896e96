"""Benchmark: dashboards from the rollups vs. the same figures scanned from raw tickets.

Per backend (SQLite in a temporary folder; PostgreSQL database ``--pg-name``, default
``zw_analytics2``, dropped and created), in one run:

1. the demo city (``--scale``, default small), then ``--template`` tickets (default 50,000) written
   in bulk with their timelines (``tickets.history.bulk_tickets_create``, ``days=182``: closed
   tickets spread over the two years before ``AS_OF``, open ones over the last half year), then
   grown to ``--tickets`` with set-based SQL (``replicate``: copy c of the template moved c days
   back, ids offset; no services, no signals; 20 copies per statement, the secondary indexes
   dropped meanwhile and built again after, ``--no-drop-indexes`` to keep them);
2. full rebuild of the rollups from the timeline (``rollup_rebuild``), timed;
3. dashboard latency, ``--repeat`` times each, p50/p95: the city dashboard and one subdistrict
   dashboard (every figure of the page: summary, trend, kinds, channels, categories, units,
   children, addresses, over the last 30 days) from the rollups, against the same core figures
   (window totals, open stock, breakdown by kind/channel/category, per child division) computed by
   scanning ``tickets_ticket`` in the same run;
4. rollup overhead per transition: ``--transitions`` submit → dispatch → accept → reply cycles through
   the services, with the rollup receiver connected and disconnected.

``--measure-only`` reruns phases 3 and 4 on data kept by an earlier ``--keep`` run (the PostgreSQL
database ``--pg-name``, or the SQLite folder ``--data-dir``) after migrating it; the data is kept
again. Each run adds its 65 transition cycles to the kept data.

    .venv/bin/python benchmarks/analytics_dashboard_bench.py --tickets 200000
    .venv/bin/python benchmarks/analytics_dashboard_bench.py --backends postgres --tickets 1000000
    .venv/bin/python benchmarks/analytics_dashboard_bench.py --tickets 1000000 --pg-name zw_h3analytics_bench
    .venv/bin/python benchmarks/analytics_dashboard_bench.py --backends sqlite --tickets 10000000 \
        --data-root /work/tmp   # the issue's size: ~75 min on 2 cores, ~30 GB of disk at the peak
    .venv/bin/python benchmarks/analytics_dashboard_bench.py --backends postgres --tickets 10000000 \
        --pg-name zw_ten --keep                               # then, on the same data:
    .venv/bin/python benchmarks/analytics_dashboard_bench.py --backends postgres --tickets 10000000 \
        --pg-name zw_ten --measure-only

The SQLite folder (``--data-root``, default the system's temp folder) and the PostgreSQL database
are removed after the run unless ``--keep``; the generate phase prints its JSON as soon as it is
done and logs progress to ``progress.log`` in the data folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tickets_submit import (
    DEFAULT_PG,
    OUT_DIR,
    build_city,
    db_version,
    machine_info,
    percentile,
    recreate_pg_database,
    run_worker,
    setup_django,
)

AS_OF = datetime(2026, 11, 19, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PG_NAME = "zw_analytics2"

TICKET_COLUMNS = (
    "kind, category_id, channel, urgency, title, description, status, version, reporter_name, reporter_phone, "
    "reporter_id, address_text, address_id, lon, lat, grid_id, community_id, subdistrict_id, district_id, "
    "division_id, handling_unit_id, dispatch_center_id, suggested_unit_id, route_explanation, category_source, "
    "classification, deadline_amount, deadline_unit, reply, rework_count, escalation_level, resolved, "
    "satisfaction, unreachable, clock_stage, accept_warned, route_reason, idempotency_fingerprint"
)
TICKET_TIMES = (
    "received_at, dispatched_at, accept_due_at, accepted_at, due_at, warn_at, supervise_at, replied_at, "
    "closed_at, suspended_at, created_at, updated_at"
)


#: Copies written by one INSERT … SELECT (a copies table joined to the template): fewer, larger statements.
COPIES_PER_STATEMENT = 20
#: SQLite page cache while copying and building indexes (KiB, negative = size): the two UNIQUE
#: indexes (number, idempotency key) cannot be dropped and take random inserts.
SQLITE_BULK_CACHE_KIB = 2 * 1024 * 1024


def _log(message: str) -> None:
    """Progress on stderr and in ``progress.log`` of the data folder (the worker's output is captured)."""
    line = f"[{datetime.now():%H:%M:%S}] {message}"
    print(line, file=sys.stderr, flush=True)
    folder = os.environ.get("ZHIWANG_DATA_DIR")
    if folder:
        with open(Path(folder) / "progress.log", "a", encoding="utf-8") as out:
            out.write(line + "\n")


def _secondary_indexes(cursor, pg: bool) -> list[tuple[str, str]]:
    """(drop, create) statements of the indexes of the two tables that a bulk copy can do without.

    SQLite: every index with SQL (not the automatic ones of PRIMARY KEY / UNIQUE columns, which
    cannot be dropped). PostgreSQL: every index but the primary keys; UNIQUE constraints are
    dropped and added back as constraints.
    """
    if not pg:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('tickets_ticket', 'tickets_ticketevent') ORDER BY name"
        )
        return [(f'DROP INDEX "{name}"', sql) for name, sql in cursor.fetchall()]
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, t.relname, pg_get_indexdef(i.indexrelid), c.conname, "
        "pg_get_constraintdef(c.oid) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('u', 'p') "
        "WHERE t.relname IN ('tickets_ticket', 'tickets_ticketevent') AND NOT i.indisprimary ORDER BY 1"
    )
    out = []
    for index, table, index_sql, constraint, constraint_sql in cursor.fetchall():
        if constraint:
            out.append(
                (
                    f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"',
                    f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_sql}',
                )
            )
        else:
            out.append((f"DROP INDEX {index}", index_sql))
    return out


def replicate(total: int, *, drop_indexes: bool = True, per_statement: int = COPIES_PER_STATEMENT) -> dict:
    """Grow the generated tickets (the template) to ``total`` with set-based SQL, no services.

    Copy c (1, 2, …) of the template is every template ticket and timeline row with ids offset by
    c × the template's largest id, numbers and idempotency keys suffixed ``-c``, and every
    timestamp moved c days back, so the copies spread over different days (and rollup keys)
    instead of stacking onto the template's. Clock alerts are not copied (dashboards do not read
    them). The last copy may be partial (``id <= …``).

    Speed (10 M tickets, ~60 M timeline rows): the template is first copied to side tables (an
    ``INSERT … SELECT`` from its own table makes SQLite buffer the whole result), each statement
    writes ``per_statement`` copies (the template joined to a table of copy numbers), and with
    ``drop_indexes`` the secondary indexes of both tables are dropped before and built again
    after (timed apart: ``index_s``). SQLite runs with ``journal_mode=OFF``, ``synchronous=OFF``
    and a large page cache meanwhile (a throwaway database), then back to the settings' WAL;
    PostgreSQL with ``session_replication_role = replica`` (no per-row foreign-key triggers: the
    copies reference rows that exist, ids offset consistently) and ``synchronous_commit = off``.
    """
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM tickets_ticket")
        template, first, top = cursor.fetchone()
        cursor.execute("SELECT MAX(id) FROM tickets_ticketevent")
        top_event = cursor.fetchone()[0]
    pg = connection.vendor == "postgresql"
    full, rest = divmod(max(0, total - template), template)
    copies = full + (1 if rest else 0)
    result = {"template": template, "copies": copies, "index_s": 0.0}
    if not copies:
        return result

    def shift(column: str) -> str:
        if pg:
            return f"{column} - k.c * interval '1 day'"
        return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-' || k.c || ' days')"

    times = ", ".join(shift(f"t.{c.strip()}") for c in TICKET_TIMES.split(","))
    columns = ", ".join(f"t.{c.strip()}" for c in TICKET_COLUMNS.split(","))
    ticket_sql = (
        f"INSERT INTO tickets_ticket (id, number, idempotency_key, merged_into_id, {TICKET_COLUMNS}, "
        f"{TICKET_TIMES}) SELECT t.id + k.c * {top}, t.number || '-' || k.c, t.idempotency_key || '-' || k.c, "
        f"t.merged_into_id + k.c * {top}, {columns}, {times} "
        "FROM bench_copies k CROSS JOIN bench_tpl_ticket t WHERE k.c BETWEEN %s AND %s AND t.id <= %s"
    )
    event_sql = (
        "INSERT INTO tickets_ticketevent (id, actor_id, at, action, from_state, to_state, note, payload, "
        f"ticket_id, unit_id) SELECT e.id + k.c * {top_event}, e.actor_id, {shift('e.at')}, e.action, "
        f"e.from_state, e.to_state, e.note, e.payload, e.ticket_id + k.c * {top}, e.unit_id "
        "FROM bench_copies k CROSS JOIN bench_tpl_event e WHERE k.c BETWEEN %s AND %s AND e.ticket_id <= %s"
    )
    with connection.cursor() as cursor:
        if pg:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '512MB'")
        else:
            cursor.execute("PRAGMA journal_mode = OFF")
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
            cursor.execute("PRAGMA threads = 2")
        indexes = _secondary_indexes(cursor, pg) if drop_indexes else []
        for drop, _create in indexes:
            cursor.execute(drop)
        cursor.execute("DROP TABLE IF EXISTS bench_tpl_ticket")
        cursor.execute("DROP TABLE IF EXISTS bench_tpl_event")
        cursor.execute("DROP TABLE IF EXISTS bench_copies")
        cursor.execute("CREATE TABLE bench_tpl_ticket AS SELECT * FROM tickets_ticket ORDER BY id")
        cursor.execute("CREATE TABLE bench_tpl_event AS SELECT * FROM tickets_ticketevent ORDER BY id")
        cursor.execute("CREATE TABLE bench_copies (c integer PRIMARY KEY)")
        cursor.execute(
            "INSERT INTO bench_copies (c) "
            + (
                f"SELECT generate_series(1, {copies})"
                if pg
                else f"WITH RECURSIVE n(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM n WHERE c < {copies}) "
                "SELECT c FROM n"
            )
        )
    started = time.perf_counter()
    for lo in range(1, full + 1, per_statement):
        hi = min(full, lo + per_statement - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(ticket_sql, [lo, hi, top])
            cursor.execute(event_sql, [lo, hi, top])
        _log(f"copies {lo}–{hi} of {copies}: {time.perf_counter() - started:.0f} s")
    if rest:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(ticket_sql, [copies, copies, first + rest - 1])
            cursor.execute(event_sql, [copies, copies, first + rest - 1])
    result["copy_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("bench_tpl_ticket", "bench_tpl_event", "bench_copies"):
            cursor.execute(f"DROP TABLE {table}")
        for _drop, create in indexes:
            cursor.execute(create)
            _log(f"{create[:70]}…: {time.perf_counter() - started:.0f} s")
        if pg:
            for table in ("tickets_ticket", "tickets_ticketevent"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
            cursor.execute("RESET session_replication_role")
            cursor.execute("RESET synchronous_commit")
            cursor.execute("RESET maintenance_work_mem")
        else:  # back to the settings' connection (init_command), so the rebuild is timed as in production
            cursor.execute("PRAGMA cache_size = -2000")
            cursor.execute("PRAGMA threads = 0")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
    result["index_s"] = round(time.perf_counter() - started, 1)
    return result


def drop_pg_database(base_url: str, name: str) -> None:
    """Drop the benchmark database (after the run, unless ``--keep``)."""
    import psycopg

    admin = base_url.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _timed(function, repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(samples, 50), 1), "p95_ms": round(percentile(samples, 95), 1)}


def _raw_figures(division, start, end):
    """The dashboard's core figures by scanning the tickets table (what the rollups replace)."""
    from django.db.models import Count

    from zhiwang.tickets.models import OPEN_STATUSES, Ticket

    tz = ZoneInfo("Asia/Shanghai")
    lo = datetime(start.year, start.month, start.day, tzinfo=tz)
    hi = datetime(end.year, end.month, end.day, tzinfo=tz)
    qs = Ticket.objects.all()
    child = "district_id"
    if division.level != "city":
        qs = qs.filter(**{f"{division.level}_id": division.pk})
        child = {"district": "subdistrict_id", "subdistrict": "community_id", "community": "grid_id"}[
            division.level
        ]
    window = qs.filter(received_at__gte=lo, received_at__lt=hi)
    out = {
        "received": window.count(),
        "open": qs.filter(status__in=OPEN_STATUSES).count(),
        "kinds": list(window.order_by().values("kind").annotate(n=Count("pk"))),
        "channels": list(window.order_by().values("channel").annotate(n=Count("pk"))),
        "categories": list(window.order_by().values("category").annotate(n=Count("pk")).order_by("-n")[:10]),
        "children": list(window.order_by().values(child).annotate(n=Count("pk"))),
        "trend": list(window.order_by().values("received_at__date").annotate(n=Count("pk"))),
    }
    return out


def worker(args) -> dict:
    data_dir = Path(args.data_dir)
    url = f"{args.pg_url.rstrip('/')}/{args.pg_name}" if args.backend == "postgres" else None
    setup_django(data_dir=data_dir, database_url=url)
    from django.db import connection, reset_queries
    from django.db.models.signals import post_save

    from zhiwang.analytics import selectors
    from zhiwang.analytics.models import RollupFact
    from zhiwang.analytics.rollups import rollup_rebuild
    from zhiwang.analytics.signals import ticket_event_saved
    from zhiwang.geo.models import Division
    from zhiwang.tickets.history import bulk_tickets_create
    from zhiwang.tickets.models import TicketEvent

    result = {"backend": args.backend, "db": "", "tickets": args.tickets}
    if args.phase == "generate":
        result["city_s"] = round(build_city(args.scale), 1)
        started = time.perf_counter()
        bulk_tickets_create(
            count=min(args.tickets, args.template),
            seed=7,
            as_of=AS_OF,
            days=182,
            open_fraction=0.1,
            batch_size=5000,
        )
        result["generate_s"] = round(time.perf_counter() - started, 1)
        _log(f"template: {result['generate_s']} s")
        started = time.perf_counter()
        result.update(replicate(args.tickets, drop_indexes=args.drop_indexes))
        result["replicate_s"] = round(time.perf_counter() - started, 1)
        _log(f"replicate: {result}")
        result["events"] = TicketEvent.objects.count()
        started = time.perf_counter()
        rebuilt = rollup_rebuild()
        _log(f"rebuild: {time.perf_counter() - started:.0f} s")
        result["rebuild_s"] = round(time.perf_counter() - started, 1)
        result["rollup_rows"] = rebuilt["rows"]
        if connection.vendor == "postgresql":  # fresh statistics after the bulk load, as autovacuum would
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        result["db"] = db_version()
        return result

    if args.measure_only:  # kept data: the migrations added since it was generated
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        result["migrate_s"] = round(time.perf_counter() - started, 1)
    result["db"] = db_version()
    result["load_before"] = _load()
    result["events"] = TicketEvent.objects.count()
    result["rollup_rows"] = RollupFact.objects.count()
    end = AS_OF.date() + timedelta(days=1)
    start = end - timedelta(days=30)
    city = Division.objects.get(level="city")
    sub = Division.objects.filter(level="subdistrict", code__startswith="440305").order_by("code").first()
    # the community dashboard reads the finest table (RollupFact): take the subdistrict's busiest community
    from django.db.models import Count

    from zhiwang.tickets.models import Ticket

    busiest = (
        Ticket.objects.filter(subdistrict=sub, community__isnull=False)
        .values("community")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    community = Division.objects.get(pk=busiest["community"]) if busiest else None
    places = [("city", city), ("subdistrict", sub)] + ([("community", community)] if community else [])
    for name, division in places:
        place = selectors.Place(division)
        selectors.dashboard(place=place, start=start, end=end)  # warm caches
        result[f"{name}_rollup"] = _timed(
            lambda place=place: selectors.dashboard(place=place, start=start, end=end), args.repeat
        )
        _raw_figures(division, start, end)
        result[f"{name}_raw"] = _timed(
            lambda division=division: _raw_figures(division, start, end), max(3, args.repeat // 4)
        )
        result[f"{name}_ratio"] = round(
            result[f"{name}_raw"]["p95_ms"] / max(result[f"{name}_rollup"]["p95_ms"], 0.01), 1
        )
    result["load_after_dashboards"] = _load()

    # overhead per transition: the same cycles with and without the receiver
    from zhiwang.accounts.models import User
    from zhiwang.geo.models import StandardAddress
    from zhiwang.tickets.services import ticket_accept, ticket_dispatch, ticket_reply, ticket_submit

    hotline = User.objects.get(username="demo_hotline")
    dispatcher = User.objects.get(username="demo_ns_dispatcher")
    handler = User.objects.get(username="demo_sub_handler")
    building = (
        StandardAddress.objects.filter(community__code__startswith="440305", level="building")
        .order_by("code")
        .first()
    )

    run = f"{time.time():.0f}"  # fresh external ids: the measure phase may be run again on the same data

    def cycles(label: str, n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            t = ticket_submit(
                channel="hotline",
                kind="complaint",
                category="010214",
                description="楼下垃圾桶满了好几天没人清理，气味很大。",
                address_code=building.code,
                reporter_name="林晓",
                reporter_phone="13800138000",
                external_id=f"bench-{run}-{label}-{i}",
                actor=hotline,
            ).ticket
            t = ticket_dispatch(ticket=t, unit=handler.org_unit, actor=dispatcher)
            t = ticket_accept(ticket=t, actor=handler)
            ticket_reply(ticket=t, actor=handler, reply="已清理")
        return (time.perf_counter() - started) * 1000 / (n * 4)

    cycles("warm", 5)
    with_ms = cycles("with", args.transitions)
    post_save.disconnect(ticket_event_saved, sender=TicketEvent, dispatch_uid="analytics_rollup_event")
    without_ms = cycles("without", args.transitions)
    result["transition_with_ms"] = round(with_ms, 2)
    result["transition_without_ms"] = round(without_ms, 2)
    result["overhead_ms"] = round(with_ms - without_ms, 2)
    reset_queries()
    connection.close()
    return result


def markdown(info: dict, results: list[dict], args) -> str:
    lines = [
        f"# Analytics dashboard benchmark ({info.get('date', '')}; {info.get('cpu', '')}, {info.get('cores', '')} cores)",
        "",
        f"{args.tickets} tickets over two years (bulk generator), demo city scale {args.scale}; window 30 days; "
        f"p50/p95 over {args.repeat} runs (raw scans: fewer).",
        "",
        "| backend | events | rollup rows | rebuild s | city rollups p95 ms | city raw p95 ms | ratio | subdistrict rollups p95 ms | subdistrict raw p95 ms | ratio | community rollups p95 ms | community raw p95 ms | ratio | transition ms (with / without rollups) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['db']} | {r.get('events')} | {r.get('rollup_rows')} | {r.get('rebuild_s')} | "
            f"{r['city_rollup']['p95_ms']} | {r['city_raw']['p95_ms']} | {r['city_ratio']}× | "
            f"{r['subdistrict_rollup']['p95_ms']} | {r['subdistrict_raw']['p95_ms']} | {r['subdistrict_ratio']}× | "
            + (
                f"{r['community_rollup']['p95_ms']} | {r['community_raw']['p95_ms']} | {r['community_ratio']}× | "
                if "community_rollup" in r
                else "— | — | — | "
            )
            + f"{r['transition_with_ms']} / {r['transition_without_ms']} (+{r['overhead_ms']}) |"
        )
    return "\n".join(lines)


def _worker_args(backend: str, args, data_dir: str) -> list[str]:
    return [
        "--backend", backend, "--tickets", str(args.tickets), "--scale", args.scale, "--repeat", str(args.repeat),
        "--transitions", str(args.transitions), "--pg-url", args.pg_url, "--data-dir", data_dir, "--worker",
        "--template", str(args.template), "--pg-name", args.pg_name,
        "--drop-indexes" if args.drop_indexes else "--no-drop-indexes",
    ]  # fmt: skip


def _measure_kept(backend: str, args) -> dict:
    """Phases 3 and 4 on kept data (``--measure-only``); nothing is generated or removed."""
    if backend == "postgres":  # a scratch folder for the settings' files; the data is the database
        data_dir = tempfile.mkdtemp(prefix="zw-analytics-postgres-", dir=args.data_root)
    else:
        data_dir = args.data_dir
    print(
        f"{backend}: measuring kept data ({args.pg_name if backend == 'postgres' else data_dir})",
        file=sys.stderr,
    )
    try:
        measured = run_worker(
            Path(__file__),
            [*_worker_args(backend, args, data_dir), "--phase", "measure", "--measure-only"],
            timeout=3600,
        )
    finally:
        if backend == "postgres":
            shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(measured, ensure_ascii=False), flush=True)
    return measured


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--tickets", type=int, default=200000)
    parser.add_argument("--scale", default="small")
    parser.add_argument(
        "--template", type=int, default=50000, help="Tickets made by the generator; the rest are SQL copies."
    )
    parser.add_argument("--pg-name", default=PG_NAME)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--transitions", type=int, default=50)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument(
        "--drop-indexes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Drop the secondary indexes of tickets and timeline while copying, build them after (default on).",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="Folder for the SQLite data folders (default: the system's temp folder).",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the data (SQLite folder, PostgreSQL database) after the run.",
    )
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="Time the dashboards (phases 3 and 4) on data kept by an earlier --keep run: the PostgreSQL "
        "database --pg-name, or the SQLite folder --data-dir; migrated first, kept again.",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="sqlite", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="measure", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help="With --measure-only: the kept SQLite data folder.")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args), default=str))
        return 0
    results = []
    if args.measure_only and "sqlite" in args.backends.split(",") and not args.data_dir:
        parser.error("--measure-only on SQLite needs --data-dir (the folder kept by the --keep run)")
    for backend in args.backends.split(","):
        if args.measure_only:
            results.append(_measure_kept(backend, args))
            continue
        data_dir = tempfile.mkdtemp(prefix=f"zw-analytics-{backend}-", dir=args.data_root)
        if backend == "postgres":
            recreate_pg_database(args.pg_url, args.pg_name)
        common = _worker_args(backend, args, data_dir)
        print(f"{backend}: data in {data_dir} (progress.log)", file=sys.stderr, flush=True)
        try:
            generated = run_worker(Path(__file__), [*common, "--phase", "generate"], timeout=8 * 3600)
            print(json.dumps(generated, ensure_ascii=False), flush=True)
            measured = run_worker(Path(__file__), [*common, "--phase", "measure"], timeout=3600)
        finally:
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
                if backend == "postgres":
                    drop_pg_database(args.pg_url, args.pg_name)
        measured.update(
            {
                k: v
                for k, v in generated.items()
                if k in ("rebuild_s", "generate_s", "city_s", "replicate_s", "copy_s", "index_s", "copies")
            }
        )
        print(json.dumps(measured, ensure_ascii=False), flush=True)
        results.append(measured)
    info = machine_info()
    info["date"] = datetime.now().strftime("%Y-%m-%d")
    text = markdown(info, results, args)
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "analytics_dashboard_bench.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
