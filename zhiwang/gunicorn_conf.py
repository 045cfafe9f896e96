"""The production web profile: ``gunicorn -c python:zhiwang.gunicorn_conf zhiwang.wsgi:application``.

Synchronous workers (one request at a time per process, one process per request in flight),
``ZHIWANG_WEB_WORKERS`` of them (default three per core), behind a buffering reverse proxy
(nginx), which holds slow clients and keep-alive connections so a worker never waits on them.

Why not threads (``-k gthread``), the profile before 2026-11-26: a threaded worker keeps every
keep-alive connection it accepted, and connections arriving together are accepted mostly by
one worker. In the intake benchmark (docs/benchmarks.md, "production web profile") 44 of 50
clients landed on one of two workers: those waited ~190 ms per request while the other six
waited ~34 ms, so p99 was three times p50. A synchronous worker accepts a connection only when
it is free, so requests go to whichever worker is idle; with no threads in a process there is
no GIL hand-off either. Same machine, same run: p99 125 ms instead of 394 ms, 474 instead of
423 requests/s for queued submissions, and ``/healthz`` 2,000 instead of 1,800 requests/s.

Every setting can still be overridden on the command line (``gunicorn -c … -w 8``).
"""

import gc
import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: expected a whole number of workers") from None
    if value < 1:
        raise SystemExit(f"{name}={raw!r}: expected at least 1")
    return value


bind = os.environ.get("ZHIWANG_BIND", "127.0.0.1:8000")
worker_class = "sync"
# Three per core: a request spends about a third of its time waiting on PostgreSQL or Redis,
# when another worker can use the core (measured: 6 on 2 cores beat 4 and 8).
workers = _positive_int("ZHIWANG_WEB_WORKERS", 3 * _cores())
# Uploads (the registry import, 200 MB) arrive from the proxy at loopback speed; the slowest
# pages (a report's download, an import's error file) stream from disk. Heavy work runs in
# the task worker, so a request that takes two minutes is stuck: restart its worker.
timeout = 120
graceful_timeout = 30
# gunicorn turns the proxy's X-Forwarded-Proto into the request's scheme (so links in answers
# say https) only for requests from these addresses: the proxy's, when it runs on another host.
forwarded_allow_ips = os.environ.get("ZHIWANG_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = None  # the proxy logs requests; errors go to stderr
loglevel = os.environ.get("ZHIWANG_WEB_LOG_LEVEL", "warning")


def post_worker_init(worker) -> None:
    """Load every URL module and API schema now, then freeze what is loaded out of the collector.

    Without this the first requests load them, and every full collection (generation 2) walks
    the ~250,000 objects a loaded worker holds: 130–580 ms pauses, measured, and the workers,
    started together and fed alike, paused together — the run's slowest requests in one
    moment. Frozen (``gc.freeze``), a full collection walks only what came after: 2–7 ms.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — imports the URL modules and the API's schemas
    gc.collect()
    gc.freeze()
