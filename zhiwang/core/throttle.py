"""Failure counters in Django's cache, for limits that must refuse before doing the costly work.

A counter counts the failures of one value (a client address, a username) of one kind
(``"login-address"``, …) in a fixed window that starts with the first failure. The sign-in's
per-address limit (``accounts.backends``) reads it before any password is hashed or any row
written, so a sprayer from one address is refused for the price of one cache read.
(``tickets.lookup_limits`` keeps its own counters, with the same key rule.)

Counters are per cache: shared by every process and node with the Redis cache (``ZHIWANG_CACHE``,
the default with Redis tasks), per process with the embedded default's local memory, and per
process while Redis is unreachable (``core.cache.ResilientRedisCache``).
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    # Hashed: a value a client typed (a username) never reaches the cache backend's key rules.
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
    return f"zhiwang:failures:{kind}:{digest}"


def failures(kind: str, value: str) -> int:
    """The failures of ``value`` in its current window (0 when there is none)."""
    return cache.get(_key(kind, value), 0)


def failure_record(kind: str, value: str, window: int) -> int:
    """One more failure of ``value``; the count after it. The window starts with the first one.

    One atomic step (``incr``): requests sent in parallel each get their own count, so a burst
    cannot read the same count and all pass.
    """
    key = _key(kind, value)
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)
        return 1


def failure_forget(kind: str, value: str) -> None:
    """Take back one failure (one recorded before the outcome was known, which then succeeded)."""
    key = _key(kind, value)
    try:
        if cache.decr(key) < 0:
            cache.delete(key)
    except ValueError:  # the window ended meanwhile: nothing to take back
        pass


def failures_clear(kind: str, value: str) -> None:
    cache.delete(_key(kind, value))
