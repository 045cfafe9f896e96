"""`zhiwang serve` (the embedded server): it answers over HTTP, and its task consumer never
outlives it, whether it is stopped (SIGTERM) or killed outright (SIGKILL)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import answers_healthz, free_port, migrated_sqlite_env


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    return migrated_sqlite_env(tmp_path_factory.mktemp("serve"), ZHIWANG_TASKS="sqlite")


def _serve(env) -> tuple[subprocess.Popen, int]:
    """Start `zhiwang serve`; return it and its consumer's pid once it answers /healthz."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "zhiwang.cli", "serve", "--no-migrate", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = server.stdout.readline()
    found = re.search(r"pid (\d+)", line)
    assert found, line
    consumer = int(found.group(1))

    assert _wait_until(lambda: answers_healthz(port), 60), "serve did not answer /healthz"
    assert _alive(consumer)
    return server, consumer


def test_sigterm_stops_the_server_and_its_consumer(migrated):
    server, consumer = _serve(migrated)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert _wait_until(lambda: not _alive(consumer), 20), "the consumer outlived the server"


def test_a_killed_server_takes_its_consumer_with_it(migrated):
    server, consumer = _serve(migrated)
    try:
        server.kill()  # SIGKILL: no handler runs in the server
        server.wait(timeout=10)
        assert _wait_until(lambda: not _alive(consumer), 20), "the consumer outlived the server"
    finally:
        if _alive(consumer):
            os.kill(consumer, signal.SIGKILL)
