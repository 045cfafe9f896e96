"""Real servers in tests: a free port, a migrated SQLite environment, and whether /healthz answers."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migrated_sqlite_env(data_dir: Path, **settings: str) -> dict:
    """This process's environment without its ZHIWANG_ settings, on a new, migrated SQLite database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(ZHIWANG_DATA_DIR=str(data_dir), ZHIWANG_DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}")
    env.update(settings)
    done = subprocess.run(
        [sys.executable, "-m", "zhiwang.cli", "migrate", "--no-input", "-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return env


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def answers_healthz(port: int) -> bool:
    try:
        return get(port, "/healthz")[0] == 200
    except OSError:
        return False
