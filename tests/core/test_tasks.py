"""Real task workers: a huey consumer process runs the calendar task from a SQLite queue and from Redis."""

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import date

import pytest

from tests.servers import migrated_sqlite_copy
from zhiwang.core.models import AdminNotice
from zhiwang.core.workcalendar.services import calendar_lookahead_check, calendar_year_save


@pytest.mark.django_db
def test_lookahead_warns_before_an_uncovered_year_starts():
    # chinesecalendar knows up to 2026: late 2026 looks ahead into 2027.
    assert calendar_lookahead_check(days=60, today=date(2026, 11, 22)) == [2027]
    notice = AdminNotice.objects.get(key="calendar.uncovered.2027")
    assert "2027" in notice.message
    assert calendar_lookahead_check(days=60, today=date(2026, 6, 1)) == []
    calendar_year_save(year=2027, complete=True)
    assert calendar_lookahead_check(days=60, today=date(2026, 11, 22)) == []


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _zhiwang(env, *args, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "zhiwang.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_consumer_process_runs_the_task(tmp_path, backend):
    redis_url = os.environ.get("ZHIWANG_REDIS_URL", "redis://127.0.0.1:6379/0")
    if backend == "redis" and not _redis_reachable(redis_url):
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but Redis is unreachable at {redis_url}")
        pytest.skip(f"Redis unreachable at {redis_url}: skipping the Redis worker test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(
        ZHIWANG_DATA_DIR=str(tmp_path),
        ZHIWANG_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ZHIWANG_TASKS=backend,
        ZHIWANG_REDIS_URL=redis_url,
        ZHIWANG_TASK_QUEUE=f"zhiwang-test-{uuid.uuid4().hex[:8]}",
    )
    migrated_sqlite_copy(tmp_path / "db.sqlite3")  # as `zhiwang migrate` leaves a new database
    consumer = subprocess.Popen(
        [sys.executable, "-m", "zhiwang.cli", "run_huey", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        enqueue = _zhiwang(
            env, "shell", "-c", "from zhiwang.core.tasks import calendar_lookahead_task as t; t()"
        )
        assert enqueue.returncode == 0, enqueue.stderr
        # The consumer process, not this one, runs the task and writes to the database.
        expected = {
            f"calendar.uncovered.{y}" for y in range(date.today().year, date.today().year + 2) if y > 2026
        }
        deadline = time.monotonic() + 60
        keys: set[str] = set()
        while time.monotonic() < deadline:
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                keys = {k for (k,) in db.execute("select key from core_adminnotice")}
                executed = keys or expected == set()
            if executed and keys >= expected:
                break
            time.sleep(0.5)
    finally:
        consumer.terminate()
        output = consumer.communicate(timeout=20)[0]
    assert "Executing zhiwang.core.tasks.calendar_lookahead_task" in output
    assert keys >= expected
