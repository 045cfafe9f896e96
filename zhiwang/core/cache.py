"""A Redis cache that keeps the site answering while Redis is away.

The cache holds only counters and flags: the citizen look-up's failure counters
(``tickets.lookup_limits``), the public API's throttles and the submission queue's drain flag.
With Django's plain ``RedisCache`` an unreachable Redis turned every one of those reads into a
500 — a citizen could not look up or rate a ticket because of a rate-limit counter.

``ResilientRedisCache`` answers from a per-process local-memory cache while Redis cannot be
reached, and tries Redis again after ``RETRY_SECONDS``. Limits therefore keep working during an
outage, counted per process instead of across the cluster (like the embedded default), which is
neither closed (refusing every citizen) nor open (no limit at all). The outage and the recovery
are logged once each, so operators see them.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

#: After a failure, how long every process answers from its local memory before trying Redis again.
RETRY_SECONDS = 10.0
#: Connect and read timeouts (seconds) unless the settings' OPTIONS say otherwise: a Redis that
#: does not answer must not hold a web request for the operating system's TCP timeout.
DEFAULT_SOCKET_TIMEOUT = 1.0

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Shared by every instance in the process (Django makes one cache object per thread).
_state = {"down_until": 0.0}
_state_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, falling back to local memory while Redis is unreachable."""

    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_connect_timeout", DEFAULT_SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        params["OPTIONS"] = options
        super().__init__(server, params)
        fallback_params = {key: value for key, value in params.items() if key != "OPTIONS"}
        # the limits' counters while Redis is away: Django's 300 entries would be flushed by a burst
        fallback_params["OPTIONS"] = {"MAX_ENTRIES": getattr(settings, "ZHIWANG_CACHE_MAX_ENTRIES", 100_000)}
        # One name for the whole process: local-memory caches of one name share their data.
        self._fallback = LocMemCache("zhiwang-redis-fallback", fallback_params)

    def _call(self, name: str, *args, **kwargs):
        if time.monotonic() < _state["down_until"]:
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except _UNREACHABLE as exc:
            with _state_lock:
                was_up = _state["down_until"] == 0.0
                _state["down_until"] = time.monotonic() + RETRY_SECONDS
            if was_up:
                log.error(
                    "Redis cache unreachable (%s): counting in each process's memory until it is back", exc
                )
            return getattr(self._fallback, name)(*args, **kwargs)
        if _state["down_until"]:
            with _state_lock:
                if _state["down_until"]:
                    _state["down_until"] = 0.0
                    log.warning("Redis cache reachable again")
        return result


#: Every operation of Django's cache API that reaches Redis (the rest are built on these).
_OPERATIONS = (
    "add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear"
)  # fmt: skip


def _guarded(name: str):
    def operation(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)

    operation.__name__ = operation.__qualname__ = name
    operation.__doc__ = f"``{name}`` on Redis, or on this process's memory while Redis is unreachable."
    return operation


for _name in _OPERATIONS:
    setattr(ResilientRedisCache, _name, _guarded(_name))
