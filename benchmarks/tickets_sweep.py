"""Benchmark: the deadline sweep over 1,000,000 open tickets (seconds and peak memory).

Per backend (PostgreSQL ``zhiwang_bench_sweep``, dropped and created; SQLite in a temporary
folder), in one run:

1. the demo city (small) and ``--count`` open tickets written in bulk
   (``tickets.history.bulk_tickets_create``) as the sweep would have left them at a Thursday
   10:00 (``AS_OF``): warned, overdue, urged and supervised where due;
2. baselines, each in a fresh process: ``SELECT count(*)`` of the table, and a full scan of
   the clock columns of every open ticket (what a sweep that reads the whole stock would read);
3. the quiet sweep, 5 minutes after ``AS_OF``: only the thresholds crossed in those minutes;
4. the storm sweep: 10 % of the tickets (``--storm``) are moved past their 80 % warning point,
   then a sweep 10 minutes after ``AS_OF`` warns them all.

Every measurement runs in its own process, so its peak resident memory (``ru_maxrss``) is its
own; the table shows it next to the idle footprint of the same process. Prints a table and
writes benchmarks/out/tickets_sweep.md.

    .venv/bin/python benchmarks/tickets_sweep.py                       # PostgreSQL, 1,000,000 tickets
    .venv/bin/python benchmarks/tickets_sweep.py --backends postgres,sqlite --count 200000
    .venv/bin/python benchmarks/tickets_sweep.py --reuse               # skip generation (same database)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    recreate_pg_database,
    run_worker,
    setup_django,
)

AS_OF = datetime(2026, 11, 19, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Thursday morning
PG_NAME = "zhiwang_bench_sweep"
#: Partial indexes proposed for ``Ticket.Meta.indexes``: only the open tickets the sweep looks at,
#: so each threshold is a range scan of a small index whatever the closed history weighs.
PARTIAL_INDEXES = [
    "CREATE INDEX IF NOT EXISTS tickets_clock_accept ON tickets_ticket (accept_due_at) "
    "WHERE status = 'dispatched' AND NOT accept_warned",
    "CREATE INDEX IF NOT EXISTS tickets_clock_warn ON tickets_ticket (warn_at) "
    "WHERE status IN ('dispatched', 'accepted') AND clock_stage = 0",
    "CREATE INDEX IF NOT EXISTS tickets_clock_due ON tickets_ticket (due_at) "
    "WHERE status IN ('dispatched', 'accepted') AND clock_stage < 2",
    "CREATE INDEX IF NOT EXISTS tickets_clock_supervise ON tickets_ticket (supervise_at) "
    "WHERE status IN ('dispatched', 'accepted') AND clock_stage = 2",
]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _database_url(args) -> str | None:
    if args.backend == "postgres":
        return f"{args.pg_url.rstrip('/')}/{PG_NAME}"
    return f"sqlite:///{Path(args.data_dir) / 'sweep.sqlite3'}"


def phase_generate(args) -> dict:
    if args.backend == "postgres":
        recreate_pg_database(args.pg_url, PG_NAME)
    else:
        Path(args.data_dir, "sweep.sqlite3").unlink(missing_ok=True)
    setup_django(data_dir=Path(args.data_dir), database_url=_database_url(args))
    from zhiwang.tickets.history import bulk_tickets_create

    city = build_city("small")
    started = time.perf_counter()
    last = [0.0]

    def progress(done, total):
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            sys.stderr.write(f"  generated {done:,}/{total:,} ({time.perf_counter() - started:.0f} s)\n")

    result = bulk_tickets_create(
        count=args.count, seed=1, as_of=AS_OF, open_fraction=1.0, days=20, batch_size=10000, progress=progress
    )
    seconds = time.perf_counter() - started
    if args.backend == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tickets_ticket")
            cursor.execute("VACUUM ANALYZE tickets_clockalert")
    return {
        "city_seconds": city,
        "seconds": seconds,
        "tickets": result.tickets,
        "events": result.events,
        "alerts": result.alerts,
        "statuses": dict(result.statuses),
        "stages": {str(k): v for k, v in sorted(result.stages.items())},
        "peak_rss_mib": _rss_mib(),
    }


def phase_measure(args) -> dict:
    setup_django(data_dir=Path(args.data_dir), database_url=_database_url(args))
    from django.db import connection

    from zhiwang.tickets.models import OPEN_STATUSES, Ticket
    from zhiwang.tickets.services.clock import SWEPT_STATUSES, clock_sweep

    with connection.cursor() as cursor:  # connect, load the models: the idle footprint
        cursor.execute("SELECT 1")
    Ticket.objects.filter(pk=0).exists()
    idle = _rss_mib()
    out = {"what": args.what, "database": db_version(), "idle_rss_mib": idle}
    if args.what == "quiet":  # the current schema: without the proposed indexes (a --reuse run made them)
        with connection.cursor() as cursor:
            for statement in PARTIAL_INDEXES:
                cursor.execute("DROP INDEX IF EXISTS " + statement.split(" IF NOT EXISTS ")[1].split(" ")[0])
            cursor.execute("ANALYZE tickets_ticket")
    started = time.perf_counter()
    if args.what == "count":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {Ticket._meta.db_table}")
            out["rows"] = cursor.fetchone()[0]
    elif args.what == "scan":
        rows = 0
        for _row in (
            Ticket.objects.filter(status__in=OPEN_STATUSES)
            .values_list("pk", "status", "clock_stage", "accept_due_at", "warn_at", "due_at", "supervise_at")
            .iterator(chunk_size=10000)
        ):
            rows += 1
        out["rows"] = rows
    elif args.what == "indexes":
        with connection.cursor() as cursor:
            for statement in PARTIAL_INDEXES:
                cursor.execute(statement)
            cursor.execute("ANALYZE tickets_ticket")
        out["rows"] = len(PARTIAL_INDEXES)
    elif args.what in ("quiet", "quiet-partial"):
        minutes = args.start_minutes + (5 if args.what == "quiet" else 10)
        out["report"] = clock_sweep(now=AS_OF + timedelta(minutes=minutes)).as_dict()
    elif args.what == "storm-prepare":
        from django.db.models.functions import Mod

        storm_now = AS_OF + timedelta(minutes=args.start_minutes + 15)
        eligible = Ticket.objects.filter(
            status__in=SWEPT_STATUSES, clock_stage=0, warn_at__gt=storm_now, due_at__gte=storm_now
        )
        total = Ticket.objects.count()
        available = eligible.count()
        target = int(total * args.storm)
        step = max(1, available // max(target, 1))
        moved = (
            eligible.annotate(_m=Mod("id", step))
            .filter(_m=0)
            .order_by()
            .values_list("pk", flat=True)[:target]
        )
        out["rows"] = Ticket.objects.filter(pk__in=list(moved)).update(warn_at=AS_OF)
        if args.backend == "postgres":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE tickets_ticket")
    elif args.what == "storm":
        out["report"] = clock_sweep(now=AS_OF + timedelta(minutes=args.start_minutes + 15)).as_dict()
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mib"] = _rss_mib()
    out["peak_above_idle_mib"] = out["peak_rss_mib"] - idle
    return out


def markdown(info: dict, per_backend: dict, args) -> str:
    lines = [
        "## Deadline sweep over open tickets",
        "",
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · {info['memory']} · Python {info['python']}"
        f" · load average at start {info.get('load', '?')}",
        "",
        f"{args.count:,} open tickets (bulk-generated, clocks as the sweep left them at {AS_OF:%Y-%m-%d %H:%M} "
        f"Asia/Shanghai). Quiet: the sweep 5 minutes later. Storm: {args.storm:.0%} of the tickets moved past "
        "their warning point, then the sweep. Each row is a fresh process; peak memory is its maximum "
        "resident set (idle footprint after connecting in brackets).",
        "",
        "| database | measurement | seconds | rows / actions | peak RSS MiB (idle) |",
        "|---|---|---:|---|---:|",
    ]
    for backend, result in per_backend.items():
        gen = result.get("generate")
        if gen:
            lines.append(
                f"| {backend} | bulk generation ({gen['tickets']:,} tickets, {gen['events']:,} timeline rows, "
                f"{gen['alerts']:,} alerts) | {gen['seconds']:.0f} | {gen['tickets'] / gen['seconds']:,.0f} tickets/s "
                f"| {gen['peak_rss_mib']:.0f} |"
            )
        for what in ("count", "scan", "quiet", "indexes", "quiet-partial", "storm-prepare", "storm"):
            m = result.get(what)
            if not m:
                continue
            label = {
                "count": "baseline: `SELECT count(*)`",
                "scan": "baseline: full scan of the open tickets' clock columns",
                "quiet": "sweep, quiet (5 minutes later), the current indexes",
                "indexes": "create the proposed partial indexes (below)",
                "storm-prepare": "storm preparation: move 10 % past their warning point (not the sweep)",
                "quiet-partial": "sweep, quiet, with the partial indexes",
                "storm": "sweep, storm (10 % cross the warning point), with the partial indexes",
            }[what]
            if "report" in m:
                r = m["report"]
                acted = (
                    f"{r['scanned']:,} candidates: {r['accept_warned']} not accepted, {r['warned']:,} warned, "
                    f"{r['overdue']} overdue, {r['urged']} urged, {r['supervised']} supervised"
                )
            elif what == "indexes":
                acted = f"{m['rows']} indexes"
            else:
                acted = f"{m['rows']:,} rows"
            lines.append(
                f"| {m['database']} | {label} | {m['seconds']:.2f} | {acted} | "
                f"{m['peak_rss_mib']:.0f} ({m['idle_rss_mib']:.0f}) |"
            )
    lines += ["", "Proposed partial indexes (PostgreSQL and SQLite alike):", "", "```sql"]
    lines += [f"{statement};" for statement in PARTIAL_INDEXES]
    lines += ["```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgres")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument(
        "--storm", type=float, default=0.10, help="share of tickets crossing the warning point"
    )
    parser.add_argument("--pg-url", default=os.environ.get("ZHIWANG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--data-dir", help="folder for the SQLite database and secrets (default: temporary)")
    parser.add_argument(
        "--reuse", action="store_true", help="do not generate: reuse the tickets already there"
    )
    parser.add_argument(
        "--start-minutes",
        type=int,
        default=0,
        help="sweeps run this many minutes + 5/10/15 after AS_OF (with --reuse: past the earlier runs)",
    )
    parser.add_argument("--output", default=str(OUT_DIR / "tickets_sweep.md"))
    parser.add_argument("--worker", choices=["generate", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--what", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "generate":
        print(json.dumps(phase_generate(args)))
        return 0
    if args.worker == "measure":
        print(json.dumps(phase_measure(args)))
        return 0
    info = machine_info()
    info["load"] = (
        " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    )
    print(f"{info['date']}  {info['cpu']}  {info['cores']} cores  {info['memory']}  load {info['load']}")
    data_root = Path(args.data_dir or tempfile.mkdtemp(prefix="zw-bench-sweep-"))
    per_backend: dict = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        data_dir = data_root / backend
        data_dir.mkdir(parents=True, exist_ok=True)
        common = ["--backend", backend, "--pg-url", args.pg_url, "--data-dir", str(data_dir)]
        result: dict = {}
        if not args.reuse:
            print(f"{backend}: generating {args.count:,} open tickets …", flush=True)
            result["generate"] = gen = run_worker(
                Path(__file__), ["--worker", "generate", "--count", str(args.count), *common], timeout=7200
            )
            print(
                f"  {gen['tickets']:,} tickets, {gen['events']:,} timeline rows, {gen['alerts']:,} alerts in "
                f"{gen['seconds']:.0f} s; stages {gen['stages']}"
            )
        for what in ("count", "scan", "quiet", "indexes", "quiet-partial", "storm-prepare", "storm"):
            m = run_worker(
                Path(__file__),
                [
                    "--worker",
                    "measure",
                    "--what",
                    what,
                    "--storm",
                    str(args.storm),
                    "--start-minutes",
                    str(args.start_minutes),
                    *common,
                ],  # fmt: skip
                timeout=3600,
            )
            result[what] = m
            extra = m.get("report") or f"{m.get('rows', 0):,} rows"
            print(
                f"  {backend:<9} {what:<6} {m['seconds']:8.2f} s  peak RSS {m['peak_rss_mib']:.0f} MiB "
                f"(idle {m['idle_rss_mib']:.0f})  {extra}",
                flush=True,
            )
        per_backend[backend] = result
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(markdown(info, per_backend, args))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
