"""Counters in Django's cache, for limits that must refuse before doing the costly work.

A counter counts what one value (a client address, a username, a phone) of one kind
(``"login-address"``, ``"lookup-phone"``, …) did in a fixed window that starts with the first
count: failures (a wrong password, a wrong phone) or amounts (reports sent, bytes uploaded). Its
users read it before any password is hashed, ticket read or file stored, so a client over its
limit is refused for the price of a cache read:

- the sign-in's per-address limit (``accounts.backends``);
- the citizen's look-up by number and phone (``tickets.lookup_limits``);
- the citizen's report form (``web.tickets.views.citizen``);
- the Open311 clients' posts and reads per key and anonymous reads per address (``open311.views``).

The per-address limits count ``core.client_address.rate_limit_key`` of the address (an IPv6
client by its /64), never the address as the client picked it.

Keys hold a keyed hash (HMAC with ``SECRET_KEY``) of the value, never the value: what a client
typed never reaches the cache backend's key rules, and a key read from the cache (a Redis dump,
``MONITOR``) does not give back a phone or an address by hashing every candidate — there are only
some 10^10 phone numbers, which a plain SHA-256 would give back in minutes.

Counters are per cache: shared by every process and node with the Redis cache (``ZHIWANG_CACHE``,
the default with Redis tasks), per process with the embedded default's local memory, and per
process while Redis is unreachable (``core.cache.ResilientRedisCache``). Every counter expires
when its window ends, on Redis too (see "on Redis" below).
"""

from __future__ import annotations

import math
import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.crypto import salted_hmac

from zhiwang.core import cache as resilient

_SALT = "zhiwang.core.throttle"


def _key(kind: str, value: str) -> str:
    # The kind is in the hashed text too: one value counted by two kinds gives unrelated digests.
    digest = salted_hmac(_SALT, f"{kind}\x1f{value}", algorithm="sha256").hexdigest()[:32]
    return f"zhiwang:count:{kind}:{digest}"


def _ends_key(key: str) -> str:
    # When the counter's window ends, for Retry-After (the cache API tells no key's remaining
    # time). Written with the counter and with the same timeout, so it lives as long as the
    # counter: a new window writes it anew, and a lost one reads as "the whole window".
    return f"{key}:ends"


# --- on Redis: one script per operation -------------------------------------------------------
#
# Django's ``RedisCache.incr`` is two commands, EXISTS then INCRBY: a counter whose window ends
# between them is created again by INCRBY with no expiry, and then counts for ever (every later
# count only adds to it; a client at a steady rate is refused from then on). ``add`` then
# ``incr`` cannot close that gap from outside. The scripts run as one step on the server (keys
# do not expire during a script), and give a counter found without an expiry one, so no counter
# is ever left without it, the ones an earlier version left included.

_COUNT_ADD = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
end
return count
"""
# KEYS: the counter, its end; ARGV: the amount, the window (seconds), the end (serialized).
# No expiry after INCRBY: it created the counter, a new window (or found one left without).

_TAKE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local count = redis.call('DECRBY', KEYS[1], ARGV[1])
if count < 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return count
"""
# KEYS: the counter, its end; ARGV: the amount. Never creates the counter (its window ended:
# nothing to take back); below 0 it was taken back from a window begun since, which is dropped.


def _redis() -> RedisCache | None:
    """The default cache when it is Redis and thought reachable (so the scripts can run), else
    None: the local-memory cache, or ``ResilientRedisCache`` answering from memory while Redis
    is away (its outage state is read, not kept apart: the scripts wait as its operations do)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    if isinstance(backend, resilient.ResilientRedisCache):
        if time.monotonic() < resilient._state["down_until"]:
            return None
    return backend


def _run(backend: RedisCache, script: str, key: str, args: list):
    """Run ``script`` on the counter ``key`` and its end; ``_Away`` when ``ResilientRedisCache``
    cannot reach Redis: the caller then goes through the cache API, whose next operation tries
    Redis once more, notes the outage and answers from memory (a plain ``RedisCache`` raises, as
    its own operations do)."""
    keys = [backend.make_and_validate_key(key), backend.make_and_validate_key(_ends_key(key))]
    client = backend._cache.get_client(keys[0], write=True)
    try:
        return client.register_script(script)(keys=keys, args=args)
    except resilient._UNREACHABLE as exc:
        if isinstance(backend, resilient.ResilientRedisCache):
            raise _Away from exc
        raise


class _Away(Exception):
    """Redis did not answer a script: count through the cache API (and its fallback) instead."""


# --- the counters --------------------------------------------------------------------------------


def count(kind: str, value: str) -> int:
    """The count of ``value`` in its current window (0 when there is none)."""
    return cache.get(_key(kind, value), 0)


def count_add(kind: str, value: str, window: int, amount: int = 1) -> int:
    """Add ``amount`` to the count of ``value``; the count after it. The window starts with the
    first count and is fixed: later counts do not lengthen it.

    One atomic step: requests sent in parallel each get their own count, so a burst cannot read
    the same count and all pass. Every counter expires when its window ends.
    """
    key = _key(kind, value)
    backend = _redis()
    if backend is not None:
        ends = backend._cache._serializer.dumps(time.time() + window)  # read back by ``cache.get``
        try:
            return int(_run(backend, _COUNT_ADD, key, [int(amount), math.ceil(window), ends]))
        except _Away:
            pass
    # The cache API: the local-memory cache, whose ``incr`` is one step under its lock and keeps
    # the key's expiry (so does ``ResilientRedisCache``'s fallback, the same cache).
    for _attempt in range(3):
        if cache.add(key, amount, window):
            # noted after the counter with the same timeout: it expires with it, a moment after
            cache.set(_ends_key(key), time.time() + window, window)
            return amount
        try:
            return cache.incr(key, amount)
        except ValueError:  # the window ended between add and incr: start the next one
            continue
    return amount  # three windows ended in a moment: not a cache that keeps them; count this one


def count_take_back(kind: str, value: str, amount: int = 1) -> None:
    """Take back ``amount`` added before the outcome was known (a refusal, a success)."""
    key = _key(kind, value)
    backend = _redis()
    if backend is not None:
        try:
            _run(backend, _TAKE_BACK, key, [int(amount)])
            return
        except _Away:
            pass
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
