"""Benchmark: ticket_submit through the service, tickets per second on SQLite and PostgreSQL.

Each backend runs in its own process (settings are read once per process) on a throwaway
database: a temporary SQLite file, or the PostgreSQL database ``zhiwang_bench_submit``
(dropped and created; ``--pg-url`` for the server, ``--pg-name`` for the name). Per backend, in one run:

- the demo city (``--scale``, default small) with its accounts and routing rules;
- ``--count`` submissions through ``ticket_submit``, one after another: a realistic mix of
  patrol incidents (dispatched automatically), hotline complaints at a standard address (to
  the dispatcher's queue) and inquiries without a place; tickets/second and latency;
- the baseline: the very rows those submissions wrote (ticket, timeline rows, notifications,
  day counter) inserted again through the bare driver (sqlite3 / psycopg), one transaction per
  ticket as submit has, with the ratio service ÷ driver;
- throughput: another ``--count`` submissions from ``--processes`` processes at once (default 4,
  each with its own connection, as web workers are), and the driver baseline from as many
  processes, with the ratio;
- the batch path (``ticket_submit_many``: the hotline import, ``POST /api/v1/tickets/batch``):
  another ``--count`` in batches of ``--batch-size`` (default 100), from one process and from
  ``--processes``, against the driver writing the same rows batched alike;
- queries per submission, and with ``--profile`` the functions where the time goes.

Prints a table and writes benchmarks/out/tickets_submit.md.

    .venv/bin/python benchmarks/tickets_submit.py                  # both backends
    .venv/bin/python benchmarks/tickets_submit.py --backends postgres --count 5000 --profile
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "benchmarks" / "out"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"


# --- helpers shared by the tickets benchmarks -----------------------------------------------


def machine_info() -> dict:
    """CPU, cores, memory, Python, date: printed with every figure."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def recreate_pg_database(base_url: str, name: str) -> str:
    """Drop and create ``name`` on the server of ``base_url``; returns its URL."""
    import psycopg

    admin = base_url.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base_url.rstrip('/')}/{name}"


def setup_django(*, data_dir: Path, database_url: str | None, tasks: str = "immediate") -> None:
    """Point the settings at a throwaway database, then ``django.setup()`` (before any Django import)."""
    os.environ["ZHIWANG_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["ZHIWANG_DATABASE_URL"] = database_url
    else:
        os.environ["ZHIWANG_DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["ZHIWANG_TASKS"] = tasks
    os.environ["ZHIWANG_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build_city(scale: str, seed: int = 1) -> float:
    """Migrate and build the demo city with accounts and routing; returns seconds."""
    from django.core.management import call_command

    from zhiwang.accounts.demo import demo_accounts_create
    from zhiwang.geo.demo import demo_geography_build
    from zhiwang.tickets.demo import demo_routing_create

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    demo_geography_build(scale=scale, seed=seed)
    demo_accounts_create()
    demo_routing_create()
    return time.perf_counter() - started


def db_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return "PostgreSQL " + cursor.fetchone()[0]
        cursor.execute("select sqlite_version()")
        return "SQLite " + cursor.fetchone()[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_worker(script: Path, args: list[str], timeout: int) -> dict:
    """Run ``script --worker …`` in a fresh process; its last stdout line is a JSON result."""
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"worker {args} failed ({proc.returncode})")
    sys.stderr.write(proc.stderr[-20000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the submissions ---------------------------------------------------------------------


def submissions(count: int, seed: int) -> list[dict]:
    """A realistic mix: 40 % patrol incidents (auto-dispatched), 45 % hotline complaints, 15 % inquiries."""
    from zhiwang.geo.models import AddressLevel, StandardAddress
    from zhiwang.tickets.models import Category

    rng = random.Random(seed)
    codes = list(
        StandardAddress.objects.filter(level=AddressLevel.BUILDING)
        .order_by("code")
        .values_list("code", flat=True)
    )
    leaves = [
        c
        for c in Category.objects.filter(is_active=True).prefetch_related("children")
        if not any(child.is_active for child in c.children.all())
    ]
    incident = sorted(c.code for c in leaves if c.code.startswith("GI") and "incident" in (c.kinds or []))
    complaint = sorted(c.code for c in leaves if not c.kinds or "complaint" in c.kinds)
    inquiry = sorted(c.code for c in leaves if not c.kinds or "inquiry" in c.kinds)
    out = []
    for i in range(count):
        roll = rng.random()
        common = {
            "external_id": f"bench-{seed}-{i}",
            "description": "路面破损严重，行人容易摔倒，请尽快处理。",
        }
        if roll < 0.40:
            out.append(
                {
                    **common,
                    "channel": "patrol",
                    "kind": "incident",
                    "category": rng.choice(incident),
                    "address_code": rng.choice(codes),
                }
            )
        elif roll < 0.85:
            out.append(
                {
                    **common,
                    "channel": "hotline",
                    "kind": "complaint",
                    "category": rng.choice(complaint),
                    "address_code": rng.choice(codes),
                    "reporter_name": "王敏",
                    "reporter_phone": f"138{rng.randrange(10**8):08d}",
                }
            )
        else:
            out.append(
                {
                    **common,
                    "channel": "hotline",
                    "kind": "inquiry",
                    "category": rng.choice(inquiry),
                    "reporter_phone": "13800000000",
                }
            )
    return out


# --- the baseline: the same rows through the bare driver ----------------------------------------


def driver_baseline(ticket_ids: list[int], offset: int = 0, batch: int = 1) -> dict:
    """Insert copies of the rows the service wrote for ``ticket_ids``, one transaction per ticket.

    ``offset`` keeps the copies' numbers and keys apart when several processes run it at once.
    With ``batch`` > 1, one transaction per ``batch`` tickets, as the batch path writes them: one
    counter statement, one multi-row ``INSERT … RETURNING id`` for the tickets, one
    ``executemany`` each for the timeline rows and the notifications.
    """
    from django.db import connection

    from zhiwang.tickets.models import Notification, Ticket, TicketEvent

    def rows(model, where_field, ids):
        table = model._meta.db_table
        columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"SELECT {where_field}, {', '.join(columns)} FROM {table} WHERE {where_field} IN ({placeholders})",
                ids,
            )
            grouped: dict = {}
            for row in cursor.fetchall():
                grouped.setdefault(row[0], []).append(list(row[1:]))
        return table, columns, grouped

    ticket_table, ticket_columns, tickets = rows(Ticket, "id", ticket_ids)
    event_table, event_columns, events = rows(TicketEvent, "ticket_id", ticket_ids)
    note_table, note_columns, notes = rows(Notification, "ticket_id", ticket_ids)
    number_at = ticket_columns.index("number")
    key_at = ticket_columns.index("idempotency_key")
    ticket_fk = event_columns.index("ticket_id")
    note_fk = note_columns.index("ticket_id")
    vendor = connection.vendor
    settings_db = connection.settings_dict
    if vendor == "postgresql":
        import psycopg
        from psycopg.types.json import Json

        raw = psycopg.connect(
            dbname=settings_db["NAME"],
            user=settings_db["USER"],
            host=settings_db["HOST"],
            port=settings_db["PORT"] or 5432,
            **{k: v for k, v in settings_db.get("OPTIONS", {}).items() if k == "options"},
        )
        mark = "%s"

        def adapt(value):
            return Json(value) if isinstance(value, (dict, list)) else value

    else:
        import sqlite3

        raw = sqlite3.connect(settings_db["NAME"], isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        mark = "?"

        def adapt(value):
            return value

    def insert_sql(table, columns, returning):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        return sql + (" RETURNING id" if returning else "")

    ticket_sql = insert_sql(ticket_table, ticket_columns, True)
    event_sql = insert_sql(event_table, event_columns, False)
    note_sql = insert_sql(note_table, note_columns, False)
    counter_sql = f"UPDATE tickets_ticketcounter SET value = value + 1 WHERE day = {mark}"
    latencies = []
    started = time.perf_counter()
    cursor = raw.cursor()
    if batch > 1:
        counter_many = f"UPDATE tickets_ticketcounter SET value = value + {mark} WHERE day = {mark}"
        one_row = f"({', '.join([mark] * len(ticket_columns))})"
        for first in range(0, len(ticket_ids), batch):
            chunk = ticket_ids[first : first + batch]
            t0 = time.perf_counter()
            if vendor != "postgresql":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(counter_many, [len(chunk), dt.date.today()])
            values = []
            for n, ticket_id in enumerate(chunk, start=first):
                row = [adapt(v) for v in tickets[ticket_id][0]]
                row[number_at] = f"RAW{offset + n:012d}"
                row[key_at] = f"raw:{offset + n}"
                values += row
            cursor.execute(
                f"INSERT INTO {ticket_table} ({', '.join(ticket_columns)}) VALUES "
                + ", ".join([one_row] * len(chunk))
                + " RETURNING id",
                values,
            )
            new_ids = [r[0] for r in cursor.fetchall()]
            event_rows, note_rows = [], []
            for ticket_id, new_id in zip(chunk, new_ids, strict=True):
                for event in events.get(ticket_id, []):
                    event = [adapt(v) for v in event]
                    event[ticket_fk] = new_id
                    event_rows.append(event)
                for note in notes.get(ticket_id, []):
                    note = [adapt(v) for v in note]
                    note[note_fk] = new_id
                    note_rows.append(note)
            if event_rows:
                cursor.executemany(event_sql, event_rows)
            if note_rows:
                cursor.executemany(note_sql, note_rows)
            if vendor == "postgresql":
                raw.commit()
            else:
                cursor.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
        seconds = time.perf_counter() - started
        raw.close()
        return {
            "seconds": seconds,
            "per_second": len(ticket_ids) / seconds,
            "p50_ms": percentile(latencies, 50) * 1000,
        }
    for n, ticket_id in enumerate(ticket_ids):
        t0 = time.perf_counter()
        if vendor != "postgresql":
            cursor.execute("BEGIN IMMEDIATE")
        row = [adapt(v) for v in tickets[ticket_id][0]]
        row[number_at] = f"RAW{offset + n:012d}"
        row[key_at] = f"raw:{offset + n}"
        cursor.execute(counter_sql, [dt.date.today()])
        cursor.execute(ticket_sql, row)
        new_id = cursor.fetchone()[0]
        for event in events.get(ticket_id, []):
            event = [adapt(v) for v in event]
            event[ticket_fk] = new_id
            cursor.execute(event_sql, event)
        for note in notes.get(ticket_id, []):
            note = [adapt(v) for v in note]
            note[note_fk] = new_id
            cursor.execute(note_sql, note)
        if vendor == "postgresql":
            raw.commit()
        else:
            cursor.execute("COMMIT")
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    raw.close()
    return {
        "seconds": seconds,
        "per_second": len(ticket_ids) / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
    }


# --- one backend, in its own process ------------------------------------------------------------


def mute_event_hooks():
    """Disconnect other apps' post_save receivers of ``TicketEvent``; returns a function that restores them."""
    from django.db.models.signals import post_save

    from zhiwang.tickets.models import TicketEvent

    saved = list(post_save.receivers)
    sender = id(TicketEvent)
    post_save.receivers = [r for r in saved if r[0][1] != sender]
    post_save.sender_receivers_cache.clear()

    def restore():
        post_save.receivers = saved
        post_save.sender_receivers_cache.clear()

    return restore


def in_processes(processes: int, job, chunks: list) -> dict:
    """Run ``job(chunk, index)`` in ``processes`` forked processes at once; wall-clock seconds and results.

    Each child opens its own database connection (the parent's are closed before the fork);
    all start together, and the wall clock runs from the start signal to the last result.
    """
    import multiprocessing

    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()

    def child(index):
        go.wait()
        try:
            results.put((index, job(chunks[index], index)))
        finally:
            connections.close_all()

    workers = [ctx.Process(target=child, args=(i,)) for i in range(processes)]
    for w in workers:
        w.start()
    time.sleep(0.5)  # every child forked and waiting
    started = time.perf_counter()
    go.set()
    out = dict(results.get(timeout=1800) for _ in workers)
    seconds = time.perf_counter() - started
    for w in workers:
        w.join()
    return {"seconds": seconds, "results": [out[i] for i in range(processes)]}


def concurrent_submits(items: list[dict], processes: int) -> dict:
    """``items`` through ``ticket_submit`` from ``processes`` processes at once: tickets/s, latency, ids."""

    def job(chunk, index):
        from zhiwang.tickets.services import ticket_submit

        latencies, ids = [], []
        for item in chunk:
            t0 = time.perf_counter()
            ids.append(ticket_submit(**item).ticket.pk)
            latencies.append(time.perf_counter() - t0)
        return {"latencies": latencies, "ids": ids}

    chunks = [items[i::processes] for i in range(processes)]
    run = in_processes(processes, job, chunks)
    latencies = [x for r in run["results"] for x in r["latencies"]]
    return {
        "processes": processes,
        "count": len(items),
        "per_second": len(items) / run["seconds"],
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "ids": [pk for r in run["results"] for pk in r["ids"]],
    }


def concurrent_baseline(ticket_ids: list[int], processes: int) -> dict:
    """The driver baseline from ``processes`` processes at once (copies numbered apart)."""
    chunks = [ticket_ids[i::processes] for i in range(processes)]
    run = in_processes(
        processes, lambda chunk, index: driver_baseline(chunk, offset=(index + 1) * 10**9), chunks
    )
    return {"per_second": len(ticket_ids) / run["seconds"]}


def batch_submits(items: list[dict], size: int, processes: int) -> dict:
    """``items`` through ``ticket_submit_many`` in batches of ``size`` (the hotline import's path):
    one process, then another copy of them from ``processes`` processes; each against the driver
    writing the same rows batched the same way, in the same run."""
    from zhiwang.tickets.services.submit_batch import ticket_submit_many

    def run(chunk, index):
        latencies, ids = [], []
        for first in range(0, len(chunk), size):
            t0 = time.perf_counter()
            outcomes = ticket_submit_many(chunk[first : first + size])
            latencies.append(time.perf_counter() - t0)
            ids += [o.ticket.pk for o in outcomes]
        return {"latencies": latencies, "ids": ids}

    started = time.perf_counter()
    one = run(items, 0)
    seconds = time.perf_counter() - started
    baseline = driver_baseline(one["ids"], offset=5 * 10**9, batch=size)
    out = {
        "size": size,
        "count": len(items),
        "per_second": len(items) / seconds,
        "batch_p50_ms": percentile(one["latencies"], 50) * 1000,
        "batch_p99_ms": percentile(one["latencies"], 99) * 1000,
        "baseline": baseline["per_second"],
        "ratio": len(items) / seconds / baseline["per_second"],
    }
    if processes > 1:
        more = [{**item, "external_id": item["external_id"] + "-p"} for item in items]
        chunks = [more[i::processes] for i in range(processes)]
        wall = in_processes(processes, run, chunks)
        ids = [pk for r in wall["results"] for pk in r["ids"]]
        id_chunks = [ids[i::processes] for i in range(processes)]
        base = in_processes(
            processes,
            lambda chunk, index: driver_baseline(chunk, offset=(index + 6) * 10**9, batch=size),
            id_chunks,
        )
        out["processes"] = processes
        out["concurrent_per_second"] = len(more) / wall["seconds"]
        out["concurrent_baseline"] = len(ids) / base["seconds"]
        out["concurrent_ratio"] = out["concurrent_per_second"] / out["concurrent_baseline"]
    return out


def worker(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="zw-bench-submit-"))
    url = recreate_pg_database(args.pg_url, args.pg_name) if args.backend == "postgres" else None
    if url and args.synchronous_commit == "off":
        url += "?options=-c%20synchronous_commit%3Doff"
    try:
        setup_django(data_dir=data_dir, database_url=url)
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        from zhiwang.tickets.services import ticket_submit

        city_seconds = build_city(args.scale)
        inputs = submissions(args.count + args.warmup, args.seed)
        for item in inputs[: args.warmup]:
            ticket_submit(**item)
        timed = inputs[args.warmup :]
        with CaptureQueriesContext(connection) as queries:
            for item in timed[:50]:
                ticket_submit(**{**item, "external_id": item["external_id"] + "-q"})
        queries_per_submit = len(queries) / 50
        # The same without other apps' receivers of timeline rows (analytics rollups): the
        # tickets app's own share. With --mute-event-hooks the timed run is without them too.
        restore = mute_event_hooks()
        with CaptureQueriesContext(connection) as queries:
            for item in timed[50:100]:
                ticket_submit(**{**item, "external_id": item["external_id"] + "-q"})
        own_queries_per_submit = len(queries) / 50
        if not args.mute_event_hooks:
            restore()
        reset_queries()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        latencies, ids, created = [], [], 0
        started = time.perf_counter()
        for item in timed:
            t0 = time.perf_counter()
            result = ticket_submit(**item)
            latencies.append(time.perf_counter() - t0)
            ids.append(result.ticket.pk)
            created += result.created
        seconds = time.perf_counter() - started
        if profiler is not None:
            import io
            import pstats

            profiler.disable()
            buffer = io.StringIO()
            pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(35)
            sys.stderr.write(buffer.getvalue())
        from django.db.models import Count

        from zhiwang.tickets.models import Ticket

        statuses = dict(Ticket.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("pk")))
        baseline = driver_baseline(ids)
        concurrent = None
        if args.processes > 1:
            more = submissions(args.count, args.seed + 1000)
            concurrent = concurrent_submits(more, args.processes)
            concurrent["baseline"] = concurrent_baseline(concurrent.pop("ids"), args.processes)
            concurrent["ratio"] = concurrent["per_second"] / concurrent["baseline"]["per_second"]
        batched = None
        if args.batch_size > 1:
            batched = batch_submits(
                submissions(args.count, args.seed + 2000), args.batch_size, args.processes
            )
        return {
            "batched": batched,
            "backend": args.backend,
            "database": db_version(),
            "city_seconds": city_seconds,
            "count": len(timed),
            "created": created,
            "seconds": seconds,
            "per_second": len(timed) / seconds,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "mean_ms": statistics.fmean(latencies) * 1000,
            "queries_per_submit": queries_per_submit,
            "own_queries_per_submit": own_queries_per_submit,
            "event_hooks_muted": args.mute_event_hooks,
            "statuses": statuses,
            "baseline": baseline,
            "ratio": (len(timed) / seconds) / baseline["per_second"],
            "concurrent": concurrent,
        }
    finally:
        if args.backend == "postgres":
            from django.db import connections

            connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)


def markdown(info: dict, results: list[dict], args) -> str:
    lines = [
        "## Ticket submit through the service",
        "",
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · {info['memory']} · Python {info['python']}",
        "",
        f"{args.count} submissions one after another (40 % patrol incidents auto-dispatched, 45 % hotline "
        f"complaints at a standard address, 15 % inquiries), demo city `{args.scale}`. Baseline: the same rows "
        "(ticket, timeline rows, notifications, day counter) inserted through the bare driver, one transaction per ticket.",
        "",
        "Queries/submit: all of them, and in brackets the tickets app's own (without other apps' "
        "receivers of timeline rows, e.g. analytics rollups)"
        + (" — the timed run too was without those receivers." if args.mute_event_hooks else "."),
        "",
        "| database | tickets/s | p50 ms | p99 ms | queries/submit | driver baseline tickets/s | service ÷ baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['database']} | {r['per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['queries_per_submit']:.1f} ({r['own_queries_per_submit']:.1f}) | "
            f"{r['baseline']['per_second']:.0f} | {r['ratio']:.2f} |"
        )
    concurrent = [r for r in results if r.get("concurrent")]
    if concurrent:
        lines += [
            "",
            f"Throughput: another {args.count} submissions from {args.processes} processes at once "
            "(each its own connection), and the driver baseline from as many processes.",
            "",
            "| database | processes | tickets/s | p50 ms | p99 ms | driver baseline tickets/s | service ÷ baseline |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in concurrent:
            c = r["concurrent"]
            lines.append(
                f"| {r['database']} | {c['processes']} | {c['per_second']:.0f} | {c['p50_ms']:.2f} | "
                f"{c['p99_ms']:.2f} | {c['baseline']['per_second']:.0f} | {c['ratio']:.2f} |"
            )
    batched = [r for r in results if r.get("batched")]
    if batched:
        size = batched[0]["batched"]["size"]
        lines += [
            "",
            f"Batch path (`ticket_submit_many`, the hotline import and `POST /api/v1/tickets/batch`): another "
            f"{args.count} submissions (same mix) in batches of {size}, from one process and then from "
            f"{args.processes} at once; baseline: the bare driver writing the same rows batched alike (one "
            "transaction per batch, multi-row statements), same run.",
            "",
            "| database | processes | tickets/s | batch p50 ms | batch p99 ms | driver (batched) tickets/s | service ÷ baseline |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in batched:
            b = r["batched"]
            lines.append(
                f"| {r['database']} | 1 | {b['per_second']:.0f} | {b['batch_p50_ms']:.1f} | "
                f"{b['batch_p99_ms']:.1f} | {b['baseline']:.0f} | {b['ratio']:.2f} |"
            )
            if b.get("processes"):
                lines.append(
                    f"| {r['database']} | {b['processes']} | {b['concurrent_per_second']:.0f} | — | — | "
                    f"{b['concurrent_baseline']:.0f} | {b['concurrent_ratio']:.2f} |"
                )
    lines += ["", "Final statuses: " + "; ".join(f"{r['backend']}: {r['statuses']}" for r in results), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--pg-url", default=os.environ.get("ZHIWANG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument(
        "--pg-name", default="zhiwang_bench_submit", help="throwaway PostgreSQL database name"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the timed submissions (stderr)")
    parser.add_argument(
        "--mute-event-hooks",
        action="store_true",
        help="time without other apps' receivers of timeline rows (the tickets app's own cost)",
    )
    parser.add_argument(
        "--synchronous-commit",
        default="on",
        choices=["on", "off"],
        help="PostgreSQL: off shows the figures without the disk's commit flush (not durable)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="then the same count again from this many processes at once (throughput; 1: skip)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="then the same count again through ticket_submit_many in batches of this size (1: skip)",
    )
    parser.add_argument("--output", default=str(OUT_DIR / "tickets_submit.md"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    info = machine_info()
    print(f"{info['date']}  {info['cpu']}  {info['cores']} cores  {info['memory']}  Python {info['python']}")
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        extra = ["--profile"] if args.profile else []
        extra += ["--mute-event-hooks"] if args.mute_event_hooks else []
        extra += ["--synchronous-commit", args.synchronous_commit, "--processes", str(args.processes)]
        extra += ["--batch-size", str(args.batch_size)]
        result = run_worker(
            Path(__file__),
            [
                "--worker",
                "--backend",
                backend,
                "--count",
                str(args.count),
                "--warmup",
                str(args.warmup),
                "--seed",
                str(args.seed),
                "--scale",
                args.scale,
                "--pg-url",
                args.pg_url,
                "--pg-name",
                args.pg_name,
                *extra,
            ],
            timeout=3600,
        )
        results.append(result)
        print(
            f"{result['database']:<20} {result['per_second']:8.0f} tickets/s  p50 {result['p50_ms']:.2f} ms  "
            f"p99 {result['p99_ms']:.2f} ms  {result['queries_per_submit']:.1f} "
            f"({result['own_queries_per_submit']:.1f} own) queries/submit  "
            f"driver {result['baseline']['per_second']:.0f}/s  ratio {result['ratio']:.2f}"
        )
        if result.get("batched"):
            b = result["batched"]
            print(
                f"{'':<20} {b['per_second']:8.0f} tickets/s in batches of {b['size']}  "
                f"driver (batched) {b['baseline']:.0f}/s  ratio {b['ratio']:.2f}"
                + (
                    f"; {b['concurrent_per_second']:.0f}/s from {b['processes']} processes "
                    f"(driver {b['concurrent_baseline']:.0f}/s, ratio {b['concurrent_ratio']:.2f})"
                    if b.get("processes")
                    else ""
                )
            )
        if result["concurrent"]:
            c = result["concurrent"]
            print(
                f"{'':<20} {c['per_second']:8.0f} tickets/s from {c['processes']} processes  "
                f"p50 {c['p50_ms']:.2f} ms  p99 {c['p99_ms']:.2f} ms  "
                f"driver {c['baseline']['per_second']:.0f}/s  ratio {c['ratio']:.2f}"
            )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(markdown(info, results, args))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
