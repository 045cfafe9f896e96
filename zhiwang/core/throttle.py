"""Counters in Django's cache, for limits that must refuse before doing the costly work.

A counter counts what one value (a client address, a username, a phone) of one kind
(``"login-address"``, ``"lookup-phone"``, …) did in a fixed window that starts with the first
count: failures (a wrong password, a wrong phone) or amounts (reports sent, bytes uploaded). Its
users read it before any password is hashed, ticket read or file stored, so a client over its
limit is refused for the price of a cache read:

- the sign-in's per-address limit (``accounts.backends``);
- the citizen's look-up by number and phone (``tickets.lookup_limits``);
- the citizen's report form (``web.tickets.views.citizen``).

Keys hold a keyed hash (HMAC with ``SECRET_KEY``) of the value, never the value: what a client
typed never reaches the cache backend's key rules, and a key read from the cache (a Redis dump,
``MONITOR``) does not give back a phone or an address by hashing every candidate — there are only
some 10^10 phone numbers, which a plain SHA-256 would give back in minutes.

Counters are per cache: shared by every process and node with the Redis cache (``ZHIWANG_CACHE``,
the default with Redis tasks), per process with the embedded default's local memory, and per
process while Redis is unreachable (``core.cache.ResilientRedisCache``).
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache
from django.utils.crypto import salted_hmac

_SALT = "zhiwang.core.throttle"


def _key(kind: str, value: str) -> str:
    # The kind is in the hashed text too: one value counted by two kinds gives unrelated digests.
    digest = salted_hmac(_SALT, f"{kind}\x1f{value}", algorithm="sha256").hexdigest()[:32]
    return f"zhiwang:count:{kind}:{digest}"


def _ends_key(key: str) -> str:
    return f"{key}:ends"


def _start(key: str, amount: int, window: int) -> bool:
    """Start the window with ``amount`` unless a window runs; True when this call started it."""
    if not cache.add(key, amount, window):
        return False
    # when the window ends, for Retry-After (the cache tells no key's remaining time)
    cache.set(_ends_key(key), time.time() + window, window)
    return True


def count(kind: str, value: str) -> int:
    """The count of ``value`` in its current window (0 when there is none)."""
    return cache.get(_key(kind, value), 0)


def count_add(kind: str, value: str, window: int, amount: int = 1) -> int:
    """Add ``amount`` to the count of ``value``; the count after it. The window starts with the
    first count and is fixed: later counts do not lengthen it.

    One atomic step (``incr``): requests sent in parallel each get their own count, so a burst
    cannot read the same count and all pass.
    """
    key = _key(kind, value)
    if _start(key, amount, window):
        return amount
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr
        _start(key, amount, window)
        return amount


def count_take_back(kind: str, value: str, amount: int = 1) -> None:
    """Take back ``amount`` added before the outcome was known (a refusal, a success)."""
    key = _key(kind, value)
    try:
        if cache.decr(key, amount) < 0:  # taken back after its window ended and a new one began
            cache.delete_many([key, _ends_key(key)])
    except ValueError:  # the window ended meanwhile: nothing to take back
        pass


def window_left(kind: str, value: str, window: int) -> int:
    """Seconds until the current window of ``value`` ends (at least 1); ``window`` when unknown
    (the window was started by a version that did not note its end, or its note was lost)."""
    ends = cache.get(_ends_key(_key(kind, value)))
    if ends is None:
        return window
    return max(1, min(window, math.ceil(ends - time.time())))


def count_clear(kind: str, value: str) -> None:
    key = _key(kind, value)
    cache.delete_many([key, _ends_key(key)])


# --- failures: the names the sign-in limits use ------------------------------------------------


def failures(kind: str, value: str) -> int:
    """The failures of ``value`` in its current window (0 when there is none)."""
    return count(kind, value)


def failure_record(kind: str, value: str, window: int) -> int:
    """One more failure of ``value``; the count after it. The window starts with the first one."""
    return count_add(kind, value, window)


def failure_forget(kind: str, value: str) -> None:
    """Take back one failure (one recorded before the outcome was known, which then succeeded)."""
    count_take_back(kind, value)


def failures_clear(kind: str, value: str) -> None:
    count_clear(kind, value)
