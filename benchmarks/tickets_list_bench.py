"""Benchmark: the working lists at Shenzhen scale (the ticket list, the API list, the dispatch
queue, the inbox, the home page's work tiles) over ``--tickets`` tickets.

One database per run (``--database sqlite``, ``postgres`` or a ``postgres://`` URL; the
PostgreSQL database ``--pg-name`` is dropped and created), in two fresh processes:

1. generate: the demo city (``--scale``, default small), ``--template`` tickets written by the
   project's bulk generator (``tickets.history.bulk_tickets_create``, closed tickets over the two
   years before now, 10 % open over the last half year), grown to ``--tickets`` by set-based SQL
   copies (``analytics_dashboard_bench.replicate``: copy c moved c days back, secondary indexes
   dropped meanwhile and built after), then ``shape_stock``: what is still open after 60 days is
   closed (a city's open stock is weeks deep, not years), one open ticket in eight goes back to
   the dispatcher (``pending_dispatch``), one reply in three awaits its follow-up; ANALYZE.
2. measure: every page ``--repeat`` times through Django's test client (the whole view: the
   middleware, the selectors, the counts, the template), p50/p95, as the city command centre's
   dispatcher (``demo_city_dispatcher``: the whole city) and a subdistrict office's handler
   (``demo_sub_handler``: the subdistrict, and every ticket of the unit). Two references from the
   same run and the same data beside each page:

   - ``rows``: the same scoped, filtered, ordered query, just its page of rows (``[offset:offset+50]``,
     no count, no template): what the page cannot avoid; ratio = page p95 ÷ rows p95;
   - ``exact count``: ``.count()`` of the same query, what the page used to show (a Paginator
     counts every row in scope).

   And one fixed baseline: ``Ticket.objects.order_by("-received_at", "-pk")[:50]`` (the newest
   page of the whole table, no scope, no count).

``--keep`` keeps the data (the SQLite folder, the PostgreSQL database); ``--reuse`` measures data
kept by an earlier run (migrated first: a new index migration is applied and timed), so the same
data is measured before and after a change.

    .venv/bin/python benchmarks/tickets_list_bench.py --database sqlite --tickets 200000
    .venv/bin/python benchmarks/tickets_list_bench.py --database postgres --pg-name zw_h1bench \
        --tickets 1000000 --keep
    .venv/bin/python benchmarks/tickets_list_bench.py --database postgres --pg-name zw_h1bench --reuse
    .venv/bin/python benchmarks/tickets_list_bench.py --database sqlite --data-dir /work/tmp/x --reuse

Prints the table (markdown) and writes ``benchmarks/out/tickets_list_bench-<backend>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import analytics_dashboard_bench
from analytics_dashboard_bench import drop_pg_database, replicate
from tickets_submit import (
    DEFAULT_PG,
    OUT_DIR,
    ROOT,
    build_city,
    db_version,
    machine_info,
    percentile,
    recreate_pg_database,
    setup_django,
)

PG_NAME = "zw_h1bench"
#: Open tickets older than this are closed by ``shape_stock``: a city's open stock is weeks deep.
OPEN_DAYS = 60
PAGE = 50


def _bar(done: int, total: int, label: str, started: float) -> None:
    """One progress line on stderr, redrawn in place on a terminal."""
    width = 30
    filled = int(width * done / max(total, 1))
    line = f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {label} ({time.perf_counter() - started:.0f} s)"
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line[:120].ljust(120))
        if done >= total:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def shape_stock(now: datetime) -> dict:
    """The status mix of a city's history: mostly closed, some weeks of open stock (some of it
    overdue), a dispatcher's pending queue, replies awaiting follow-up. Set-based SQL."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET status = 'closed', closed_at = COALESCE(replied_at, due_at, received_at), "
            "resolved = TRUE WHERE status IN ('dispatched', 'accepted', 'replied') AND received_at < %s",
            [now - timedelta(days=OPEN_DAYS)],
        )
        cursor.execute(
            "UPDATE tickets_ticket SET status = 'pending_dispatch', handling_unit_id = NULL, dispatched_at = NULL, "
            "accept_due_at = NULL, accepted_at = NULL, due_at = NULL, warn_at = NULL, supervise_at = NULL, "
            "clock_stage = 0, accept_warned = FALSE WHERE status IN ('dispatched', 'accepted') AND id - (id / 8) * 8 = 0"
        )
        cursor.execute(
            "UPDATE tickets_ticket SET status = 'follow_up' WHERE status = 'replied' AND id - (id / 3) * 3 = 0"
        )
        cursor.execute("SELECT status, COUNT(*) FROM tickets_ticket GROUP BY status ORDER BY 2 DESC")
        statuses = dict(cursor.fetchall())
        cursor.execute(
            "SELECT COUNT(*) FROM tickets_ticket WHERE status IN ('dispatched', 'accepted') AND due_at < %s",
            [now],
        )
        statuses["overdue"] = cursor.fetchone()[0]
    return statuses


def _copy_every_column() -> None:
    """``replicate`` copies the ticket columns it names: add any added to the model since
    (``idempotency_fingerprint``), so a copy never leaves a NOT NULL column out."""
    from zhiwang.tickets.models import Ticket

    named = {
        c.strip()
        for c in (
            analytics_dashboard_bench.TICKET_COLUMNS + "," + analytics_dashboard_bench.TICKET_TIMES
        ).split(",")
    }
    named |= {"id", "number", "idempotency_key", "merged_into_id"}
    missing = [f.column for f in Ticket._meta.concrete_fields if f.column not in named]
    if missing:
        analytics_dashboard_bench.TICKET_COLUMNS += ", " + ", ".join(missing)


def generate(args) -> dict:
    from django.db import connection

    from zhiwang.tickets.history import bulk_tickets_create
    from zhiwang.tickets.models import TicketEvent

    result = {"city_s": round(build_city(args.scale), 1)}
    now = datetime.fromisoformat(args.as_of)
    started = time.perf_counter()
    template = min(args.tickets, args.template)
    bulk_tickets_create(
        count=template,
        seed=11,
        as_of=now,
        days=182,
        open_fraction=0.1,
        batch_size=5000,
        progress=lambda done, total: _bar(done, total, "template tickets", started),
    )
    result["template_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    _bar(0, 1, f"copying to {args.tickets:,} tickets", started)
    _copy_every_column()
    copied = replicate(args.tickets)
    result.update({k: copied[k] for k in ("copies", "copy_s", "index_s") if k in copied})
    result["replicate_s"] = round(time.perf_counter() - started, 1)
    _bar(1, 1, f"copied to {args.tickets:,} tickets", started)
    started = time.perf_counter()
    result["statuses"] = shape_stock(now)
    result["shape_s"] = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:  # fresh statistics after the bulk load, as autovacuum would
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    result["events"] = TicketEvent.objects.count()
    return result


def _timed(function, repeat: int) -> dict:
    function()  # warm: the first run reads the pages into the cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50": round(percentile(samples, 50), 1), "p95": round(percentile(samples, 95), 1)}


def _cases(users: dict, now) -> list[dict]:
    """(role, page, path, the same query as rows, the same query to count)."""
    from django.urls import reverse

    from zhiwang.geo.models import Division
    from zhiwang.tickets import selectors
    from zhiwang.tickets.models import Category

    city, handler, department = users["city"], users["handler"], users["department"]
    district = Division.objects.get(code="440305000000")
    community = Division.objects.filter(pk__in=handler.scope.division_ids, level="community").order_by(
        "code"
    )[0]
    category = Category.objects.filter(parent__isnull=True).order_by("code").first()
    tickets = reverse("web:ticket_list")
    out = []

    def listing(role, user, name, query, filters, page=1):
        offset = (page - 1) * PAGE

        def rows():
            return list(selectors.ticket_list(user=user, filters=filters, now=now)[offset : offset + PAGE])

        def count():
            return selectors.ticket_list(user=user, filters=filters, now=now).count()

        path = f"{tickets}?{query}" if query else tickets
        out.append({"role": role, "user": user, "page": name, "path": path, "rows": rows, "count": count})

    subdistrict = Division.objects.filter(pk__in=department.scope.division_ids, level="subdistrict").order_by(
        "code"
    )[0]
    for role, user, place in (
        ("city dispatcher", city, district),
        ("district department handler", department, subdistrict),
        ("subdistrict handler", handler, community),
    ):
        listing(role, user, "web list, page 1", "", {})
        listing(role, user, "web list, page 200 (offset 9,950)", "page=200", {}, page=200)
        listing(role, user, "web list, page 2,000 (offset 99,950)", "page=2000", {}, page=2000)
        listing(role, user, "web list, status=open", "status=open", {"status": "open"})
        listing(role, user, "web list, overdue", "overdue=1", {"overdue": True})
        listing(
            role,
            user,
            f"web list, category {category.code}",
            f"category={category.code}",
            {"category": category.code},
        )
        listing(
            role, user, f"web list, division {place.code}", f"division={place.code}", {"division": place.code}
        )
        out.append(
            {
                "role": role,
                "user": user,
                "page": "API list, limit 50",
                "path": "/api/v1/tickets/?limit=50",
                "rows": lambda user=user: list(selectors.ticket_list(user=user, filters={}, now=now)[:PAGE]),
                "count": lambda user=user: selectors.ticket_list(user=user, filters={}, now=now).count(),
            }
        )
        out.append(
            {
                "role": role,
                "user": user,
                "page": "API list, status=open, offset 5,000",
                "path": "/api/v1/tickets/?limit=50&offset=5000&status=open",
                "rows": lambda user=user: list(
                    selectors.ticket_list(user=user, filters={"status": "open"}, now=now)[5000 : 5000 + PAGE]
                ),
                "count": lambda user=user: selectors.ticket_list(
                    user=user, filters={"status": "open"}, now=now
                ).count(),
            }
        )

    def queue_rows(user=city):
        return list(selectors.dispatcher_queue(user=user, now=now).pending[:200])

    def queue_counts(user=city):
        queue = selectors.dispatcher_queue(user=user, now=now)
        return [
            getattr(queue, tab).count() for tab in ("pending", "requests", "review", "follow_up", "breaching")
        ]

    queue = reverse("web:dispatch_queue")
    for tab in ("pending", "breaching"):
        out.append(
            {
                "role": "city dispatcher",
                "user": city,
                "page": f"dispatch queue, tab {tab} (+ 5 tab counts)",
                "path": f"{queue}?tab={tab}",
                "rows": (lambda: list(selectors.dispatcher_queue(user=city, now=now).breaching[:200]))
                if tab == "breaching"
                else queue_rows,
                "count": queue_counts,
            }
        )
    out.append(
        {
            "role": "city dispatcher",
            "user": city,
            "page": "home page (5 work tiles)",
            "path": "/",
            "rows": queue_rows,
            "count": queue_counts,
        }
    )
    out.append(
        {
            "role": "subdistrict handler",
            "user": handler,
            "page": "inbox",
            "path": reverse("web:handler_inbox"),
            "rows": lambda: list(selectors.handler_inbox(user=handler)[:300]),
            "count": lambda: selectors.handler_inbox(user=handler).count(),
        }
    )
    out.append(
        {
            "role": "subdistrict handler",
            "user": handler,
            "page": "home page (4 work tiles)",
            "path": "/",
            "rows": lambda: list(selectors.handler_inbox(user=handler)[:300]),
            "count": lambda: selectors.handler_inbox(user=handler).count(),
        }
    )
    return out


def measure(args) -> dict:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from zhiwang.accounts.models import User
    from zhiwang.tickets.models import Ticket

    result: dict = {"db": db_version(), "load_before": _load()}
    if args.reuse:  # kept data: the migrations added since it was generated (a new index, say)
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        result["migrate_s"] = round(time.perf_counter() - started, 1)
    result["tickets"] = Ticket.objects.count()
    now = timezone.now()
    users = {
        "city": User.objects.get(username="demo_city_dispatcher"),
        "handler": User.objects.get(username="demo_sub_handler"),
        "department": User.objects.get(username="demo_handler"),
    }
    result["handler_scope_tickets"] = Ticket.objects.visible_to(users["handler"]).count()
    result["department_scope_tickets"] = Ticket.objects.visible_to(users["department"]).count()
    clients = {}
    for user in users.values():
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)

    def baseline():
        return list(Ticket.objects.order_by("-received_at", "-pk")[:PAGE])

    result["baseline"] = _timed(baseline, args.repeat)
    cases = _cases(users, now)
    if args.only:
        cases = [c for c in cases if any(word in c["page"] for word in args.only.split(","))]
    rows = []
    started = time.perf_counter()
    for i, case in enumerate(cases):
        _bar(i, len(cases), f"{case['role']}: {case['page']}", started)
        client = clients[case["user"].pk]
        response = client.get(case["path"])
        assert response.status_code == 200, (case["path"], response.status_code, response.content[:300])
        statements: list[str] = []  # counted by a wrapper: request_started resets connection.queries

        def counting(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            client.get(case["path"])
        shown = ""
        if case["path"].startswith("/api/"):
            body = response.json()
            shown = f"{body['count']:,}" + ("" if body.get("count_exact", True) else "+")
        page = _timed(lambda case=case, client=client: client.get(case["path"]), args.repeat)
        same = _timed(case["rows"], args.repeat)
        counted = _timed(case["count"], max(3, args.repeat // 3)) if not args.no_exact else None
        rows.append(
            {
                "role": case["role"],
                "page": case["page"],
                "path": case["path"],
                "queries": len(statements),
                "page_ms": page,
                "rows_ms": same,
                "count_ms": counted,
                "exact_count": case["count"]() if not args.no_exact else None,
                "api_count": shown,
                "ratio": round(page["p95"] / max(same["p95"], 0.01), 1),
            }
        )
        print(json.dumps(rows[-1], default=str), file=sys.stderr, flush=True)
    _bar(len(cases), len(cases), "measured", started)
    result["rows"] = rows
    result["load_after"] = _load()
    return result


def markdown(info: dict, result: dict, args) -> str:
    base = result["baseline"]
    lines = [
        f"# Working lists at scale ({info['date']}; {info['cpu']}, {info['cores']} cores, {info['memory']})",
        "",
        f"{result['db']}; {result['tickets']:,} tickets (the subdistrict handler sees "
        f"{result['handler_scope_tickets']:,}, the district department's handler "
        f"{result['department_scope_tickets']:,}); p50/p95 ms over {args.repeat} runs through the test client; "
        f"load average {result['load_before']} → {result['load_after']}. Baseline "
        f"`Ticket.objects.order_by('-received_at', '-pk')[:50]`: p50 {base['p50']} / p95 {base['p95']} ms.",
        "",
        *(
            [f"Migrated first (kept data): {result['migrate_s']} s.", ""]
            if result.get("migrate_s") is not None
            else []
        ),
        "| role | page | queries | page p50 / p95 ms | same rows, no count p95 ms | ratio | exact count p95 ms (rows) |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in result["rows"]:
        counted = (
            f"{r['count_ms']['p95']} ({r['exact_count']:,})"
            if r["count_ms"] and isinstance(r["exact_count"], int)
            else f"{r['count_ms']['p95']} ({r['exact_count']})"
            if r["count_ms"]
            else "—"
        )
        lines.append(
            f"| {r['role']} | {r['page']} | {r['queries']} | {r['page_ms']['p50']} / {r['page_ms']['p95']} | "
            f"{r['rows_ms']['p95']} | {r['ratio']}× | {counted} |"
        )
    return "\n".join(lines)


def _run_worker(args: list[str], timeout: int) -> dict:
    """``--worker`` in a fresh process: its progress on this terminal, its result the last stdout line."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__)), *args],
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"worker {args} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database", default="sqlite", help="sqlite, postgres, or a postgres:// URL of a server"
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument(
        "--template", type=int, default=50_000, help="Tickets made by the generator; the rest are SQL copies."
    )
    parser.add_argument("--scale", default="small")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--pg-name", default=PG_NAME)
    parser.add_argument(
        "--data-root", default=None, help="Folder for the SQLite data folder (default: temp)."
    )
    parser.add_argument("--data-dir", default="", help="The SQLite data folder (with --reuse: the kept one).")
    parser.add_argument("--keep", action="store_true", help="Keep the data after the run.")
    parser.add_argument("--reuse", action="store_true", help="Measure data kept by an earlier --keep run.")
    parser.add_argument(
        "--generate-only", action="store_true", help="Generate and keep the data, measure nothing."
    )
    parser.add_argument(
        "--only", default="", help="Measure only the pages whose name holds one of these words."
    )
    parser.add_argument("--no-exact", action="store_true", help="Do not time the exact counts.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="measure", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pg = args.database != "sqlite"
    pg_server = DEFAULT_PG if args.database in ("sqlite", "postgres") else args.database.rstrip("/")
    if args.worker:
        url = f"{pg_server}/{args.pg_name}" if pg else None
        setup_django(data_dir=Path(args.data_dir), database_url=url)
        result = generate(args) if args.phase == "generate" else measure(args)
        print(json.dumps(result, default=str))
        return 0
    if args.reuse and not pg and not args.data_dir:
        parser.error("--reuse on SQLite needs --data-dir (the folder kept by the --keep run)")
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="zw-lists-", dir=args.data_root)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    if pg and not args.reuse:
        recreate_pg_database(pg_server, args.pg_name)
    common = [
        "--worker", "--database", args.database, "--tickets", str(args.tickets), "--template", str(args.template),
        "--scale", args.scale, "--repeat", str(args.repeat), "--pg-name", args.pg_name, "--data-dir", data_dir,
        "--only", args.only,
        "--as-of", datetime.now().astimezone().replace(minute=0, second=0, microsecond=0).isoformat(),
    ] + (["--reuse"] if args.reuse else []) + (["--no-exact"] if args.no_exact else [])  # fmt: skip
    print(f"{'postgres ' + args.pg_name if pg else 'sqlite ' + data_dir}", file=sys.stderr, flush=True)
    generated = {}
    try:
        if not args.reuse:
            generated = _run_worker([*common, "--phase", "generate"], timeout=4 * 3600)
            print(json.dumps(generated, ensure_ascii=False), file=sys.stderr, flush=True)
        if args.generate_only:
            print(f"kept: {'PostgreSQL ' + args.pg_name if pg else data_dir}")
            return 0
        measured = _run_worker([*common, "--phase", "measure"], timeout=4 * 3600)
    finally:
        if not (args.keep or args.reuse or args.generate_only):
            if pg:
                drop_pg_database(pg_server, args.pg_name)
            shutil.rmtree(data_dir, ignore_errors=True)
    info = machine_info()
    info["date"] = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M%z")
    text = markdown(info, measured, args)
    if generated:
        text += "\n\nGenerated: " + json.dumps(generated, ensure_ascii=False)
    if args.keep:
        text += f"\n\nKept: {'PostgreSQL ' + args.pg_name if pg else data_dir}"
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    backend = "postgres" if pg else "sqlite"
    (OUT_DIR / f"tickets_list_bench-{backend}.md").write_text(text + "\n", encoding="utf-8")
    os.environ.pop("ZHIWANG_DATA_DIR", None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
