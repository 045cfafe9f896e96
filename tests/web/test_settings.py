"""Settings: a bad ZHIWANG_* value stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest


def start(env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(env_overrides)
    env.setdefault("ZHIWANG_DATA_DIR", os.environ.get("ZHIWANG_DATA_DIR", "/tmp/zhiwang-settings-test"))
    return subprocess.run(
        [sys.executable, "-m", "zhiwang.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZHIWANG_DEBUG", "maybe"),
        ("ZHIWANG_DATABASE_URL", "mysql://root@localhost/x"),
        ("ZHIWANG_DATABASE_URL", "nonsense"),
        ("ZHIWANG_TASKS", "celery"),
        ("ZHIWANG_LOGIN_MAX_FAILURES", "many"),
        ("ZHIWANG_WARNING_RATIO", "eighty"),
        ("ZHIWANG_WARNING_RATIO", "1.5"),
        ("ZHIWANG_BASIC_SATISFACTION_WEIGHT", "-0.1"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    result = start({name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_production_requires_a_secret_key():
    result = start({"ZHIWANG_PRODUCTION": "true"})
    assert result.returncode != 0
    assert "ZHIWANG_SECRET_KEY" in result.stderr


def test_defaults_start():
    result = start({})
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    """JIT compiled the batch duplicate search for 80 ms (it runs in 6): the platform turns it off."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the PostgreSQL run of the suite checks it)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_database_urls_own_options_come_after_jit_off():
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(
        ZHIWANG_DATA_DIR="/tmp/zhiwang-settings-test",
        ZHIWANG_DATABASE_URL="postgres://u@127.0.0.1:5432/x?options=-c%20jit%3Don",
        DJANGO_SETTINGS_MODULE="zhiwang.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "-c jit=off -c jit=on"
