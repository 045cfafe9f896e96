"""Real servers in tests: a free port, a migrated SQLite environment, and whether /healthz answers."""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The migrated SQLite database every ``migrated_sqlite_env`` starts from, made once per test process.
_template: Path | None = None


def _clean_env(**settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(settings)
    return env


def migrated_sqlite_template() -> Path:
    """A SQLite database migrated by ``zhiwang migrate`` in a child process, once per test process.

    Migrating a new database takes seconds; the tests that start real processes each need
    one, so they get a copy of this one (``migrated_sqlite_copy``), not a migration of their own.
    """
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="zhiwang-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "db.sqlite3"
        env = _clean_env(ZHIWANG_DATA_DIR=str(folder), ZHIWANG_DATABASE_URL=f"sqlite:///{path}")
        done = subprocess.run(
            [sys.executable, "-m", "zhiwang.cli", "migrate", "--no-input", "-v0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        _template = path
    return _template


def migrated_sqlite_copy(path: Path) -> Path:
    """A new SQLite database at ``path``, as ``zhiwang migrate`` leaves it (a copy of the template)."""
    source = sqlite3.connect(migrated_sqlite_template())
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return path


def migrated_sqlite_env(data_dir: Path, **settings: str) -> dict:
    """This process's environment without its ZHIWANG_ settings, on a new, migrated SQLite database."""
    database = migrated_sqlite_copy(data_dir / "db.sqlite3")
    env = _clean_env(ZHIWANG_DATA_DIR=str(data_dir), ZHIWANG_DATABASE_URL=f"sqlite:///{database}")
    env.update(settings)
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
