"""Limits on the citizen's look-up by number and phone (the one unscoped read), against guessing.

Two counters of failed look-ups live in Django's cache:

- per client address: the web ``/track/`` page (the API's public endpoints have ninja's
  ``AnonRateThrottle`` on every request). The address is found as ninja finds it
  (``core.client_address``), so behind a reverse proxy citizens do not share one bucket;
- per ticket number: numbers are sequential, so somebody rotating addresses could try phone
  after phone against each number. Two counters: per number *and* address
  (``NUMBER_FAILURE_LIMIT``, 10 an hour: one client's guesses at one number stop there), and
  per number from all addresses (``NUMBER_GLOBAL_FAILURE_LIMIT``, 100 an hour: a guesser with
  many addresses gets at most that many tries a number an hour). A locked number answers
  "too many attempts" to every look-up of it, right phone or wrong, until the window ends —
  the price of the global counter is that a determined stranger with many addresses can keep
  one citizen's number locked (100 requests an hour each); a citizen who already proved the
  ticket in this browser, or is signed in as its reporter, still sees it.

The windows are fixed (they start at the first failure). Counters are per cache: shared by
every process and node with the Redis cache (``ZHIWANG_CACHE``, the default with Redis tasks),
per process with the embedded default's local memory.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

#: Wrong phones for one ticket number from one client address before that client's look-ups of it wait.
NUMBER_FAILURE_LIMIT = 10
#: Wrong phones for one ticket number from all addresses before every look-up of it waits.
NUMBER_GLOBAL_FAILURE_LIMIT = 100
NUMBER_FAILURE_WINDOW = 60 * 60  # seconds


def _count_key(kind: str, value: str) -> str:
    # Hashed: a user-typed number never reaches the cache backend's key rules.
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
    return f"zhiwang:lookup-failures:{kind}:{digest}"


def failures(kind: str, value: str) -> int:
    return cache.get(_count_key(kind, value), 0)


def record_failure(kind: str, value: str, window: int) -> None:
    """One more failure for ``value`` (the window starts with the first one)."""
    key = _count_key(kind, value)
    if cache.add(key, 1, window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)


def normalized_number(number: str) -> str:
    return (number or "").strip().upper()


def number_locked(number: str, address: str = "") -> bool:
    """Too many wrong phones for this ticket number lately: from this client, or from everywhere."""
    number = normalized_number(number)
    return (
        failures("number-address", f"{number}|{address}") >= NUMBER_FAILURE_LIMIT
        or failures("number", number) >= NUMBER_GLOBAL_FAILURE_LIMIT
    )


def record_number_failure(number: str, address: str = "") -> None:
    number = normalized_number(number)
    record_failure("number-address", f"{number}|{address}", NUMBER_FAILURE_WINDOW)
    record_failure("number", number, NUMBER_FAILURE_WINDOW)
