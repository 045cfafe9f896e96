"""Benchmark: submit a ticket over HTTP on loopback, production server profile, 50 concurrent clients.

Sets up a throwaway PostgreSQL database (``zhiwang_bench_http``) with the demo city, an API
token for the hotline operator (``accounts.services.api_token_create``), then for each server
profile (``--profiles``):

- ``production`` (the default): ``gunicorn -c python:zhiwang.gunicorn_conf`` — the shipped profile,
  synchronous workers (``--workers``, default 6: three per core here);
- ``gunicorn-sync``: ``gunicorn -k sync`` with gunicorn's other defaults;
- ``gunicorn-asgi``: ``gunicorn zhiwang.asgi:application -k asgi`` (gunicorn's own asyncio worker);
- ``uvicorn``: ``uvicorn zhiwang.asgi:application --workers N``;
- ``gunicorn-gthread``: ``gunicorn zhiwang.wsgi:application -k gthread --threads T``;

with ``ZHIWANG_PRODUCTION=true``, Redis tasks and ``ZHIWANG_DB_CONN_MAX_AGE=60`` (WSGI threads
keep their connection; the ASGI profiles use 0, as Django's persistent connections leak there), it measures
in the same run the baseline ``GET /healthz`` and then ``POST /api/v1/tickets/`` (bearer token,
a unique ``external_id`` each) from ``--clients`` threads, each with its own keep-alive
connection (``http.client``): a fixed number of requests, stopped early at ``--time-limit``.
Loopback only. Reports req/s, p50/p90/p99 latency, errors, and the CPU the client itself used
(it shares the two cores with the server). Writes benchmarks/out/tickets_http.md.

``--submit-modes sync,queued`` also measures the queued path (``Prefer: respond-async``: 202 with
a receipt, the task worker writes the tickets): a huey consumer (``zhiwang run_huey``) runs beside
the server during the load, as in production, and after the load the script waits until the
queue is empty and reports how long that took and how many tickets were written or refused.

``--consumer-nice 10`` runs that task worker below the web workers (its process and its
scheduling group: docs/production.md). ``--latency-log FILE`` keeps every request's start and
latency, and each run prints where its slowest 1 % fell (by tenth of the run, and how many clients).

    .venv/bin/python benchmarks/tickets_http.py --submit-modes sync,queued --consumer-nice 10
    .venv/bin/python benchmarks/tickets_http.py --profiles gunicorn-gthread --workers 2 --threads 16
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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

BIN = Path(sys.executable).parent
PG_NAME = "zhiwang_bench_http"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(profile: str, port: int, workers: int, threads: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if profile == "production":  # the shipped profile (zhiwang/gunicorn_conf.py), with this run's workers
        return [str(BIN / "gunicorn"), "-c", "python:zhiwang.gunicorn_conf", "zhiwang.wsgi:application",
                "-w", str(workers), "-b", bind]  # fmt: skip
    if profile == "gunicorn-asgi":
        return [str(BIN / "gunicorn"), "zhiwang.asgi:application", "-k", "asgi", "-w", str(workers), "-b", bind,
                "--worker-connections", "1000", "--log-level", "warning"]  # fmt: skip
    if profile == "uvicorn":
        return [str(BIN / "uvicorn"), "zhiwang.asgi:application", "--workers", str(workers), "--host", "127.0.0.1",
                "--port", str(port), "--no-access-log", "--lifespan", "off", "--log-level", "warning"]  # fmt: skip
    if profile == "gunicorn-gthread":
        return [str(BIN / "gunicorn"), "zhiwang.wsgi:application", "-k", "gthread", "-w", str(workers), "--threads",
                str(threads), "-b", bind, "--log-level", "warning"]  # fmt: skip
    if profile == "gunicorn-sync":
        return [str(BIN / "gunicorn"), "zhiwang.wsgi:application", "-k", "sync", "-w", str(workers), "-b", bind,
                "--log-level", "warning"]  # fmt: skip
    raise SystemExit(f"unknown profile {profile}")


def wait_until_up(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server on port {port} did not come up")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, from /proc/stat): server, database,
    task worker and load generator together."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def start_consumer(env: dict, nice: int = 0) -> subprocess.Popen:
    command = [str(BIN / "zhiwang"), "run_huey"]
    if nice:  # a task worker sharing the web node's cores, below the web workers (docs/production.md)
        command = ["nice", "-n", str(nice), *command]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    if nice:
        # Its own session is its own scheduling group under Linux's autogroup (as a systemd service
        # is its own cgroup), and groups share the cores equally whatever their processes' nice:
        # lower the group's weight too (the service equivalent: CPUWeight=).
        try:
            Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
        except OSError as exc:
            print(f"    (could not lower the task worker's scheduling group: {exc})", flush=True)
    return process


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def load(
    port: int, *, method: str, path: str, bodies, headers: dict, clients: int, requests: int, limit: float
) -> dict:
    """``requests`` requests from ``clients`` threads with keep-alive connections; stops at ``limit`` seconds."""
    lock = threading.Lock()
    counter = iter(range(requests))
    latencies: list[float] = []
    timeline: list[tuple[float, float, int]] = []  # (start offset s, latency s, client) for --latency-log
    statuses: dict[int, int] = {}
    errors: list[str] = []
    stop_at = time.monotonic() + limit
    barrier = threading.Barrier(clients + 1)

    def client(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        while time.monotonic() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = bodies(n) if bodies else None
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                status = 0
                with lock:
                    errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                timeline.append((t0 - started_at[0], elapsed, index))
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    started_at = [time.perf_counter()]
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    started = started_at[0] = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": len(latencies) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "error_kinds": sorted(set(errors))[:5],
        "seconds": seconds,
        "rps": len(latencies) / seconds if seconds else 0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "client_cpu_share": client_cpu / seconds if seconds else 0,
        "timeline": sorted(timeline),
    }


def tail_summary(timeline: list[tuple[float, float, int]]) -> str:
    """Where the slowest 1 % fell: per tenth of the run, and how many clients they came from."""
    if not timeline:
        return "no requests"
    cut = percentile([t[1] for t in timeline], 99)
    slow = [t for t in timeline if t[1] >= cut]
    span = max(t[0] for t in timeline) or 1.0
    tenths = [0] * 10
    for start, _latency, _client in slow:
        tenths[min(9, int(start / span * 10))] += 1
    return f"slowest 1 % (>= {cut * 1000:.0f} ms) by tenth of the run: {tenths}, from {len({t[2] for t in slow})} clients"


def payload_factory(codes: list[str], categories: dict[str, list[str]], run: str):
    rng = random.Random(run)
    prepared = []
    for _ in range(256):
        if rng.random() < 0.5:
            prepared.append(("incident", "patrol", rng.choice(categories["incident"]), rng.choice(codes)))
        else:
            prepared.append(("complaint", "hotline", rng.choice(categories["complaint"]), rng.choice(codes)))

    def body(n: int) -> bytes:
        kind, channel, category, code = prepared[n % len(prepared)]
        return json.dumps(
            {
                "channel": channel,
                "kind": kind,
                "category": category,
                "description": "小区门口路面塌陷，晚上看不清，容易摔倒，请尽快处理。",
                "address_code": code,
                "reporter_phone": "13800138000" if channel == "hotline" else "",
                "external_id": f"{run}-{n}",
            },
            ensure_ascii=False,
        ).encode()

    return body


def queue_state() -> dict[str, int]:
    """How many queued submissions are in each state (read in this process, over its own connection)."""
    from django.db import connection
    from django.db.models import Count

    from zhiwang.tickets.models import QueuedSubmission

    state = dict(QueuedSubmission.objects.values_list("status").annotate(n=Count("id")).order_by())
    connection.close()
    return state


def wait_for_drain(limit: float) -> tuple[float, dict[str, int]]:
    """Seconds until nothing is queued or being processed (or ``limit``), and the final states."""
    started = time.perf_counter()
    while True:
        state = queue_state()
        if not state.get("queued") and not state.get("processing"):
            return time.perf_counter() - started, state
        if time.perf_counter() - started > limit:
            return float("nan"), state
        time.sleep(0.5)


def in_process_profile(token: str, body, count: int) -> dict:
    """The same POST through Django's test client in this process: the application's own cost per request."""
    import cProfile
    import io
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    for n in range(20):
        client.post("/api/v1/tickets/", body(10_000_000 + n), content_type="application/json")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for n in range(count):
        response = client.post("/api/v1/tickets/", body(20_000_000 + n), content_type="application/json")
        assert response.status_code in (200, 201), response.content[:300]
    profiler.disable()
    seconds = time.perf_counter() - started
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).sort_stats("cumulative")
    stats.print_stats(
        r"zhiwang|ninja/operation|django/db/models/sql/compiler.py:.*execute_sql|psycopg/cursor", 30
    )
    return {"ms_per_request_profiled": seconds / count * 1000, "profile": buffer.getvalue()}


def markdown(info: dict, setup: dict, results: list[dict], args, profile: dict | None) -> str:
    lines = [
        "## Ticket submit over HTTP (loopback)",
        "",
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · {info['memory']} · Python {info['python']} · "
        f"{setup['database']} · load average at start {info['load']}",
        "",
        f"{args.clients} concurrent clients (threads of one Python process, keep-alive), "
        f"{args.requests} requests per measurement or {args.time_limit:.0f} s, whichever first; bearer token of "
        "the hotline operator; `POST /api/v1/tickets/` with a unique `external_id` (half patrol incidents "
        "dispatched automatically, half hotline complaints). Baseline: `GET /healthz` in the same run. "
        "The load generator shares the two cores with the server: its CPU share is shown.",
        "",
        "| server profile | endpoint | req/s | p50 ms | p90 ms | p99 ms | errors | client CPU (cores) | server CPU (cores) "
        "| machine CPU busy (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name in ("healthz", "submit"):
            m = r[name]
            endpoint = "GET /healthz" if name == "healthz" else "POST /api/v1/tickets/"
            if r.get("queued") and name == "submit":
                endpoint += " (Prefer: respond-async → 202)"
            lines.append(
                f"| {r['label']} | {endpoint} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p90_ms']:.1f} | "
                f"{m['p99_ms']:.1f} | {m['errors']} | {m['client_cpu_share']:.2f} | {m['server_cpu_share']:.2f} | "
                f"{m['machine_cpu_share']:.2f} |"
            )
    queued = [r for r in results if r.get("queued")]
    if queued:
        lines += [
            "",
            "Queued path: a huey consumer (`zhiwang run_huey`, Redis) "
            + (
                "ran beside the server during the load"
                if args.consumer == "during"
                else "was stopped during the load and started when it ended (a burst absorbed, then written)"
            )
            + "; after the load the script waited until no submission was queued or being processed.",
            "",
            "| server profile | accepted (202) | drain after the load s | tickets written | refused | "
            "written/s over load + drain |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in queued:
            q = r["queued"]
            lines.append(
                f"| {r['label']} | {q['accepted']} | {q['drain_seconds']:.1f} | {q['done']} | {q['refused']} | "
                f"{q['written_per_second']:.0f} |"
            )
    if profile:
        lines += [
            "",
            f"In-process (Django test client, no server, one request at a time, profiled): "
            f"{profile['ms_per_request_profiled']:.1f} ms per submit.",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profiles",
        default="production",
        help="production (zhiwang/gunicorn_conf.py), gunicorn-gthread, gunicorn-sync, gunicorn-asgi, uvicorn",
    )
    parser.add_argument(
        "--workers", type=int, default=6, help="worker processes (production default: 3 per core)"
    )
    parser.add_argument("--threads", type=int, default=4, help="gunicorn-gthread threads per worker")
    parser.add_argument(
        "--server-args",
        default="",
        help="more options for the gunicorn profiles, e.g. '--worker-connections 25' or '--keep-alive 0'",
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--pg-url", default=os.environ.get("ZHIWANG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--pg-name", default=PG_NAME, help="throwaway PostgreSQL database name")
    parser.add_argument("--profile-app", type=int, default=200, help="in-process profiled submits (0: skip)")
    parser.add_argument(
        "--group-commit",
        default="on",
        help="ZHIWANG_INTAKE_GROUP_COMMIT of the server: on, off, or both (off,on) measured in the same run",
    )
    parser.add_argument(
        "--submit-modes",
        default="sync",
        help="sync (the answer carries the ticket), queued (Prefer: respond-async, 202), or both: sync,queued",
    )
    parser.add_argument(
        "--consumer",
        default="during",
        choices=["during", "after"],
        help="queued mode: the task worker runs during the load (steady state), or starts after it (a burst)",
    )
    parser.add_argument(
        "--consumer-nice",
        type=int,
        default=0,
        help="queued mode: run the task worker with this niceness (10: below the web workers, as docs/production.md "
        "advises when they share cores)",
    )
    parser.add_argument("--drain-limit", type=float, default=600.0, help="queued mode: most seconds to wait")
    parser.add_argument("--output", default=str(OUT_DIR / "tickets_http.md"))
    parser.add_argument(
        "--latency-log",
        default="",
        help="write every measured request (start offset s, latency s, client) per run to this JSON file",
    )
    args = parser.parse_args(argv)
    info = machine_info()
    info["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{info['date']}  {info['cpu']}  {info['cores']} cores  {info['memory']}  load {info['load']}")
    data_dir = Path(tempfile.mkdtemp(prefix="zw-bench-http-"))
    url = recreate_pg_database(args.pg_url, args.pg_name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(
        ZHIWANG_DATA_DIR=str(data_dir),
        ZHIWANG_DATABASE_URL=url,
        ZHIWANG_DB_CONN_MAX_AGE="60",
        ZHIWANG_PRODUCTION="true",
        ZHIWANG_SECRET_KEY="benchmark-only-secret-key-not-for-production-0123456789",
        ZHIWANG_REGISTRY_HASH_KEY="benchmark-only-registry-hash-key-0123456789",
        ZHIWANG_TASKS="redis",
        ZHIWANG_TASK_QUEUE="zhiwang-bench-http",
        ZHIWANG_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="zhiwang.settings",
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("ZHIWANG_")})
    setup_django(data_dir=data_dir, database_url=url, tasks="redis")
    from zhiwang.accounts.models import User
    from zhiwang.accounts.services import api_token_create
    from zhiwang.geo.models import AddressLevel, StandardAddress
    from zhiwang.tickets.models import Category

    print("building the demo city …", flush=True)
    city_seconds = build_city(args.scale)
    token = api_token_create(user=User.objects.get(username="demo_hotline"), name="benchmark").key
    codes = list(StandardAddress.objects.filter(level=AddressLevel.BUILDING).values_list("code", flat=True))
    leaves = [c for c in Category.objects.prefetch_related("children") if not c.children.exists()]
    categories = {
        "incident": sorted(
            c.code for c in leaves if c.code.startswith("GI") and "incident" in (c.kinds or [])
        ),
        "complaint": sorted(c.code for c in leaves if not c.kinds or "complaint" in c.kinds),
    }
    setup = {"database": db_version(), "city_seconds": city_seconds}
    from django.db import connections

    connections.close_all()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results = []
    modes = [m.strip() for m in args.group_commit.split(",") if m.strip()]
    submit_modes = [m.strip() for m in args.submit_modes.split(",") if m.strip()]
    runs = [
        (p.strip(), mode, submit_mode)
        for p in args.profiles.split(",")
        if p.strip()
        for submit_mode in submit_modes
        for mode in (modes if submit_mode == "sync" else ["off"])
    ]
    for profile, mode, submit_mode in runs:
        queued_mode = submit_mode == "queued"
        run_headers = {**headers, "Prefer": "respond-async"} if queued_mode else headers
        port = free_port()
        command = server_command(profile, port, args.workers, args.threads)
        if args.server_args and profile.startswith("gunicorn"):
            command += shlex.split(args.server_args)
        label = f"{profile} ({args.workers} workers" + (
            f" × {args.threads} threads)" if "gthread" in profile else ")"
        )
        label += f", {args.server_args}" if args.server_args else ""
        label += ", queued (202)" if queued_mode else f", group commit {mode}"
        if queued_mode and args.consumer_nice:
            label += f", task worker at nice {args.consumer_nice}"
        # Django's persistent connections are per thread: right for WSGI threads, but under ASGI every
        # request runs in a new context and would leave its connection open (Django: use a pool).
        server_env = {
            **env,
            "ZHIWANG_DB_CONN_MAX_AGE": "0" if profile in ("gunicorn-asgi", "uvicorn") else "60",
            "ZHIWANG_INTAKE_GROUP_COMMIT": "true" if mode == "on" else "false",
        }
        server = subprocess.Popen(command, env=server_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)  # fmt: skip
        consumer = start_consumer(server_env, args.consumer_nice) if queued_mode else None
        try:
            wait_until_up(port)
            body = payload_factory(codes, categories, f"{profile}-{port}")
            # warm-up: every worker builds its locate index and opens its connection
            load(port, method="POST", path="/api/v1/tickets/", bodies=lambda n, body=body: body(900_000 + n), headers=run_headers,
                 clients=args.clients, requests=200, limit=60)  # fmt: skip
            if queued_mode:
                wait_for_drain(args.drain_limit)
                if args.consumer == "after":  # the load is absorbed first, written afterwards
                    stop(consumer)
                    consumer = None
            result = {"label": label}
            for name, method, path, bodies in (
                ("healthz", "GET", "/healthz", None),
                ("submit", "POST", "/api/v1/tickets/", body),
            ):
                cpu0, busy0 = process_cpu_seconds(server.pid), machine_busy_seconds()
                before = queue_state() if queued_mode and name == "submit" else {}
                m = load(port, method=method, path=path, bodies=bodies, headers=run_headers, clients=args.clients,
                         requests=args.requests, limit=args.time_limit)  # fmt: skip
                m["server_cpu_share"] = (process_cpu_seconds(server.pid) - cpu0) / m["seconds"]
                m["machine_cpu_share"] = (machine_busy_seconds() - busy0) / m["seconds"]
                if queued_mode and name == "submit":
                    if consumer is None:
                        consumer = start_consumer(server_env, args.consumer_nice)
                    drain, after = wait_for_drain(args.drain_limit)
                    accepted = m["statuses"].get("202", 0)
                    done = after.get("done", 0) - before.get("done", 0)
                    refused = after.get("refused", 0) - before.get("refused", 0)
                    result["queued"] = {
                        "accepted": accepted,
                        "drain_seconds": drain,
                        "done": done,
                        "refused": refused,
                        "written_per_second": done / (m["seconds"] + drain) if drain == drain else 0.0,
                    }
                    print(
                        f"    queue drained {drain:.1f} s after the load: {done} written, {refused} refused",
                        flush=True,
                    )
                result[name] = m
                if name == "submit":
                    print("    " + tail_summary(m["timeline"]), flush=True)
                print(
                    f"{label:<38} {method} {path:<20} {m['rps']:7.0f} req/s  p50 {m['p50_ms']:6.1f}  "
                    f"p99 {m['p99_ms']:7.1f} ms  errors {m['errors']}  statuses {m['statuses']}  "
                    f"client CPU {m['client_cpu_share']:.2f}  server CPU {m['server_cpu_share']:.2f}  "
                    f"machine CPU {m['machine_cpu_share']:.2f}",
                    flush=True,
                )
            results.append(result)
        finally:
            stop(consumer)
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            if err.strip():
                sys.stderr.write(err[-2000:])
    profile = None
    if args.profile_app:
        profile = in_process_profile(token, payload_factory(codes, categories, "inproc"), args.profile_app)
        print(f"in-process, profiled: {profile['ms_per_request_profiled']:.1f} ms per submit")
        print(profile["profile"])
    if args.latency_log:
        Path(args.latency_log).write_text(
            json.dumps(
                {r["label"]: {k: r[k]["timeline"] for k in ("healthz", "submit") if k in r} for r in results}
            )
        )
    for r in results:
        for k in ("healthz", "submit"):
            r.get(k, {}).pop("timeline", None)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(markdown(info, setup, results, args, profile))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
