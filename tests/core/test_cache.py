"""The Redis cache keeps the site answering while Redis is away (``zhiwang.core.cache``).

Rate-limit counters live in the cache; with Django's plain Redis cache an unreachable Redis made
the citizen's look-up and rating answer 500. Port 1 on localhost refuses connections at once.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from zhiwang.core import cache as resilient

DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.setitem(resilient._state, "down_until", 0.0)
    yield
    resilient._state["down_until"] = 0.0


@pytest.fixture
def down_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "zhiwang.core.cache.ResilientRedisCache",
            "LOCATION": DOWN,
            "KEY_PREFIX": "zw-test",
        }
    }
    cache.clear()
    yield cache
    cache.clear()


def test_an_unreachable_redis_answers_from_memory_and_logs_the_outage_once(caplog):
    backend = resilient.ResilientRedisCache(DOWN, {})
    with caplog.at_level(logging.ERROR, logger="zhiwang.core.cache"):
        assert backend.add("counter", 1, 60) is True
        assert backend.add("counter", 1, 60) is False
        assert backend.incr("counter") == 2
        assert backend.get("counter") == 2
        assert backend.get_many(["counter", "other"]) == {"counter": 2}
        with pytest.raises(ValueError):  # the same contract as Redis: no incr of a missing key
            backend.incr("missing")
    outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1
    assert backend._cache._pool_options["socket_connect_timeout"] == resilient.DEFAULT_SOCKET_TIMEOUT


def test_redis_is_tried_again_after_the_retry_window_and_the_recovery_is_logged(monkeypatch, caplog):
    from django.core.cache.backends.redis import RedisCache

    backend = resilient.ResilientRedisCache(DOWN, {})
    calls = []

    def redis_get(self, key, default=None, version=None):
        calls.append(key)
        return "from-redis"

    assert backend.get("k") is None  # down: local memory
    monkeypatch.setattr(RedisCache, "get", redis_get)
    assert backend.get("k") is None  # within the retry window Redis is not tried
    assert calls == []
    resilient._state["down_until"] = 1.0  # the window is over
    with caplog.at_level(logging.WARNING, logger="zhiwang.core.cache"):
        assert backend.get("k") == "from-redis"
    assert calls == ["k"] and resilient._state["down_until"] == 0.0
    assert any("reachable again" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_the_public_look_up_still_answers_and_still_locks_while_redis_is_down(down_cache, client, settings):
    """The citizen's look-up by number and phone: 404 for a wrong phone (not 500), and the guessing
    limit still holds, counted in this process."""
    from zhiwang.tickets.lookup_limits import NUMBER_FAILURE_LIMIT

    settings.NINJA_DEFAULT_THROTTLE_RATES = {}

    def lookup(phone):
        return client.post(
            "/api/v1/tickets/public/lookup",
            {"number": "ZW20990101000001", "phone": phone},
            content_type="application/json",
            REMOTE_ADDR="10.0.0.9",
        )

    for attempt in range(NUMBER_FAILURE_LIMIT):
        assert lookup(f"1390000{attempt:04d}").status_code == 404
    locked = lookup("13800138000")
    assert locked.status_code == 429, locked.content
    assert locked.json()["error"]["code"] == "tickets.lookup_locked"
