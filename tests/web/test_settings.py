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
        ("ZHIWANG_CACHE", "memcached"),
        ("ZHIWANG_LOG_LEVEL", "loud"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    result = start({name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_a_lower_case_log_level_starts():
    """``warning`` crashed start-up with a logging traceback; any case of a level name is taken."""
    result = start({"ZHIWANG_LOG_LEVEL": "warning"})
    assert result.returncode == 0, result.stderr


def test_production_requires_a_secret_key():
    result = start({"ZHIWANG_PRODUCTION": "true"})
    assert result.returncode != 0
    assert "ZHIWANG_SECRET_KEY" in result.stderr


def test_defaults_start():
    result = start({})
    assert result.returncode == 0, result.stderr


def cache_backend(env_overrides) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(env_overrides)
    env.setdefault("ZHIWANG_DATA_DIR", os.environ.get("ZHIWANG_DATA_DIR", "/tmp/zhiwang-settings-test"))
    code = "import django; django.setup(); from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    env["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_rate_limit_counters_are_shared_through_redis_in_production():
    """Per-process counters would let a guesser spread attempts over processes and nodes."""
    assert cache_backend({}).endswith("LocMemCache")
    assert cache_backend({"ZHIWANG_TASKS": "redis"}).endswith("RedisCache")
    assert cache_backend({"ZHIWANG_TASKS": "redis", "ZHIWANG_CACHE": "locmem"}).endswith("LocMemCache")
