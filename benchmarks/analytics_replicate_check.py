"""Check and time ``analytics_dashboard_bench.replicate`` against the first, copy-per-statement version.

One template (``--template`` tickets from ``tickets.history.bulk_tickets_create``, as the dashboard
benchmark makes it) is written once and duplicated (SQLite: the file; PostgreSQL: ``CREATE DATABASE
… TEMPLATE``); the legacy replicate (one copy per statement, indexes kept) grows one duplicate, the
current one (``COPIES_PER_STATEMENT`` copies per statement) a second with the secondary indexes
dropped and built again (``fast``) and a third with them kept (``fast_keep``), to ``--tickets``.
Prints the times and whether every row of ``tickets_ticket`` and ``tickets_ticketevent`` is the
same in all three (a digest of the rows in id order).

    .venv/bin/python benchmarks/analytics_replicate_check.py --backend sqlite --tickets 200000
    .venv/bin/python benchmarks/analytics_replicate_check.py --backend postgres --template 2000 --tickets 9000 \\
        --pg-name zw_h3ten
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics_dashboard_bench import AS_OF, TICKET_COLUMNS, TICKET_TIMES, drop_pg_database, replicate
from tickets_submit import DEFAULT_PG, build_city, recreate_pg_database, run_worker, setup_django


def replicate_legacy(total: int) -> dict:
    """The first version: one copy per statement (two INSERT … SELECT from the table itself), indexes kept."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MAX(id) FROM tickets_ticket")
        template, top = cursor.fetchone()
        cursor.execute("SELECT MAX(id) FROM tickets_ticketevent")
        top_event = cursor.fetchone()[0]
    pg = connection.vendor == "postgresql"

    def shift(column: str, c: int) -> str:
        if pg:
            return f"{column} - interval '{c} days'"
        return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-{c} days')"

    copies = 0
    made = template
    while made < total:
        copies += 1
        c = copies
        take = min(template, total - made)
        times = ", ".join(shift(t.strip(), c) for t in TICKET_TIMES.split(","))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO tickets_ticket (id, number, idempotency_key, merged_into_id, {TICKET_COLUMNS}, "
                f"{TICKET_TIMES}) SELECT id + {c * top}, number || '-{c}', idempotency_key || '-{c}', "
                f"merged_into_id + {c * top}, {TICKET_COLUMNS}, {times} FROM tickets_ticket "
                f"WHERE id <= {top} AND id <= (SELECT MIN(id) FROM tickets_ticket) + {take - 1}"
            )
            cursor.execute(
                f"INSERT INTO tickets_ticketevent (id, actor_id, at, action, from_state, to_state, note, payload, "
                f"ticket_id, unit_id) SELECT e.id + {c * top_event}, e.actor_id, {shift('e.at', c)}, e.action, "
                f"e.from_state, e.to_state, e.note, e.payload, e.ticket_id + {c * top}, e.unit_id "
                f"FROM tickets_ticketevent e WHERE e.id <= {top_event} "
                f"AND e.ticket_id <= (SELECT MIN(id) FROM tickets_ticket) + {take - 1}"
            )
        made += take
    return {"template": template, "copies": copies}


def worker(args) -> dict:
    url = f"{args.pg_url.rstrip('/')}/{args.db}" if args.backend == "postgres" else None
    setup_django(data_dir=Path(args.data_dir), database_url=url)
    from django.db import connection

    from zhiwang.tickets.history import bulk_tickets_create

    started = time.perf_counter()
    if args.phase == "template":
        build_city(args.scale)
        bulk_tickets_create(
            count=args.template, seed=7, as_of=AS_OF, days=182, open_fraction=0.1, batch_size=5000
        )
        out = {}
    elif args.phase == "legacy":
        out = replicate_legacy(args.tickets)
    else:
        out = replicate(args.tickets, drop_indexes=args.phase == "fast")
    out["seconds"] = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("SELECT COUNT(*) FROM tickets_ticket")
        out["tickets"] = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM tickets_ticketevent")
        out["events"] = cursor.fetchone()[0]
    connection.close()
    return out


def digest(rows) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(str(v) for v in row)).encode())
    return h.hexdigest()[:16]


def table_digests(backend: str, where: str) -> dict:
    queries = {t: f"SELECT * FROM {t} ORDER BY id" for t in ("tickets_ticket", "tickets_ticketevent")}
    if backend == "sqlite":
        conn = sqlite3.connect(where)
        try:
            return {t: digest(conn.execute(q)) for t, q in queries.items()}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(where) as conn:
        out = {}
        for t, q in queries.items():
            with conn.cursor(name=f"digest_{t}") as cursor:
                cursor.execute(q)
                out[t] = digest(cursor)
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--tickets", type=int, default=200000)
    parser.add_argument("--template", type=int, default=50000)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--pg-name", default="zw_analytics_replicate")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="template", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    root = Path(tempfile.mkdtemp(prefix="zw-replicate-", dir=args.data_root))
    dirs = {name: root / name for name in ("legacy", "fast", "fast_keep")}
    names = {name: f"{args.pg_name}_{name}" for name in dirs}
    common = ["--backend", args.backend, "--tickets", str(args.tickets), "--template", str(args.template)]
    common += ["--scale", args.scale, "--pg-url", args.pg_url, "--worker"]
    try:
        dirs["legacy"].mkdir()
        if args.backend == "postgres":
            recreate_pg_database(args.pg_url, names["legacy"])
        made = run_worker(
            Path(__file__),
            [*common, "--phase", "template", "--data-dir", str(dirs["legacy"]), "--db", names["legacy"]],
            timeout=3 * 3600,
        )
        print("template", json.dumps(made), flush=True)
        if args.backend == "postgres":
            import psycopg

            admin = args.pg_url.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                for name in ("fast", "fast_keep"):
                    conn.execute(f'DROP DATABASE IF EXISTS "{names[name]}" WITH (FORCE)')
                    conn.execute(f'CREATE DATABASE "{names[name]}" TEMPLATE "{names["legacy"]}"')
        else:
            shutil.copytree(dirs["legacy"], dirs["fast"])
            shutil.copytree(dirs["legacy"], dirs["fast_keep"])
        result = {}
        for name in dirs:
            result[name] = run_worker(
                Path(__file__),
                [*common, "--phase", name, "--data-dir", str(dirs[name]), "--db", names[name]],
                timeout=6 * 3600,
            )
            print(name, json.dumps(result[name]), flush=True)
        for name in dirs:
            where = (
                str(dirs[name] / "bench.sqlite3")
                if args.backend == "sqlite"
                else f"{args.pg_url.rstrip('/').replace('postgres://', 'postgresql://', 1)}/{names[name]}"
            )
            result[name]["digest"] = table_digests(args.backend, where)
        same = result["legacy"]["digest"] == result["fast"]["digest"] == result["fast_keep"]["digest"]
        speedup = {
            name: round(result["legacy"]["seconds"] / max(result[name]["seconds"], 0.01), 1)
            for name in ("fast", "fast_keep")
        }
        print(json.dumps({**result, "identical": same, "speedup": speedup}), flush=True)
        return 0 if same else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if args.backend == "postgres":
            for name in names.values():
                drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    raise SystemExit(main())
