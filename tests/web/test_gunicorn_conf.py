"""The shipped production web profile (zhiwang/gunicorn_conf.py): its settings, and a real gunicorn
serving the app with it over HTTP."""

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zhiwang
from tests.servers import answers_healthz, free_port, get, migrated_sqlite_env

CONF = Path(zhiwang.__file__).with_name("gunicorn_conf.py")
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _load(monkeypatch, **env) -> dict:
    for name in ("ZHIWANG_WEB_WORKERS", "ZHIWANG_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_defaults_are_synchronous_workers_three_per_core(monkeypatch):
    conf = _load(monkeypatch)
    assert conf["worker_class"] == "sync"
    assert conf["workers"] == 3 * len(os.sched_getaffinity(0))
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["timeout"] >= 60


def test_workers_and_bind_from_the_environment(monkeypatch):
    conf = _load(monkeypatch, ZHIWANG_WEB_WORKERS=" 5 ", ZHIWANG_BIND="0.0.0.0:9000")
    assert conf["workers"] == 5
    assert conf["bind"] == "0.0.0.0:9000"


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5"])
def test_a_bad_worker_count_stops_with_the_variable_named(monkeypatch, value):
    with pytest.raises(SystemExit) as stopped:
        _load(monkeypatch, ZHIWANG_WEB_WORKERS=value)
    assert "ZHIWANG_WEB_WORKERS" in str(stopped.value)


def test_gunicorn_serves_the_app_with_the_shipped_profile(tmp_path):
    """Two synchronous workers answer over HTTP; the proxy's X-Forwarded-Proto makes links https."""
    port = free_port()
    env = migrated_sqlite_env(
        tmp_path, ZHIWANG_TASKS="immediate", ZHIWANG_WEB_WORKERS="2", ZHIWANG_BIND=f"127.0.0.1:{port}"
    )
    server = subprocess.Popen(
        [str(GUNICORN), "-c", "python:zhiwang.gunicorn_conf", "zhiwang.wsgi:application"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None and not answers_healthz(port):
            time.sleep(0.3)
        assert answers_healthz(port), "the server did not answer /healthz"
        workers = len(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split())
        _, plain = get(port, "/open311/v2/discovery.json")
        assert f'"http://127.0.0.1:{port}/open311/v2' in plain
        _, proxied = get(port, "/open311/v2/discovery.json", {"X-Forwarded-Proto": "https"})
        assert f'"https://127.0.0.1:{port}/open311/v2' in proxied
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert workers == 2


def test_each_worker_loads_the_urls_then_freezes_them_out_of_the_collector(monkeypatch):
    import gc

    conf = _load(monkeypatch)
    before = gc.get_freeze_count()
    try:
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > before  # the loaded app is out of every later collection
    finally:
        gc.unfreeze()
