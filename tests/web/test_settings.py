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
        ("ZHIWANG_SESSION_HOURS", "0"),
        ("ZHIWANG_SESSION_HOURS", "1000"),
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


PRODUCTION = {
    "ZHIWANG_PRODUCTION": "true",
    "ZHIWANG_SECRET_KEY": "k" * 50,
    "ZHIWANG_REGISTRY_HASH_KEY": "h" * 50,
}


def test_production_starts_with_its_secrets():
    result = start(PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_production_refuses_debug():
    # a debug page's traceback shows local variables: citizens' phones and ID numbers
    result = start({**PRODUCTION, "ZHIWANG_DEBUG": "true"})
    assert result.returncode != 0
    assert "ZHIWANG_DEBUG" in result.stderr


def test_production_requires_the_registry_hash_key():
    result = start({k: v for k, v in PRODUCTION.items() if k != "ZHIWANG_REGISTRY_HASH_KEY"})
    assert result.returncode != 0
    assert "ZHIWANG_REGISTRY_HASH_KEY" in result.stderr


def test_a_generated_secret_key_is_private(tmp_path):
    result = start({"ZHIWANG_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()
    assert len(key) == 64
    # a second start keeps the key (sessions and signed links stay valid)
    assert start({"ZHIWANG_DATA_DIR": str(tmp_path)}).returncode == 0
    assert key_file.read_text() == key


def test_an_empty_key_file_stops_start_up_with_a_clear_message(tmp_path):
    (tmp_path / "secret_key").write_text("")  # a crash between creating and writing it, before
    result = start({"ZHIWANG_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "secret_key is empty" in result.stderr


def test_the_local_memory_cache_holds_the_limits_counters():
    # Django's default of 300 entries let a burst of look-ups flush an address's sign-in failures
    from django.core.cache import cache

    assert cache._max_entries >= 100_000


def test_sessions_last_a_shift():
    # the settings module as loaded (tests/conftest.py lengthens the session for the clock-moving tests)
    from zhiwang import settings

    assert settings.SESSION_COOKIE_AGE == 12 * 3600


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


def test_old_secret_keys_are_read_as_fallbacks():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update({**PRODUCTION, "ZHIWANG_SECRET_KEY_FALLBACKS": "old-one, old-two"})
    env.setdefault("ZHIWANG_DATA_DIR", os.environ.get("ZHIWANG_DATA_DIR", "/tmp/zhiwang-settings-test"))
    env["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['old-one', 'old-two']"


def test_the_current_key_listed_as_a_fallback_is_refused():
    # a mistake of the rotation (the new key pasted in both) would keep nothing of the old key
    result = start({**PRODUCTION, "ZHIWANG_SECRET_KEY_FALLBACKS": "k" * 50})
    assert result.returncode != 0
    assert "ZHIWANG_SECRET_KEY_FALLBACKS" in result.stderr
