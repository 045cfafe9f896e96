"""Limits on the citizen's look-up by number and phone (the one unscoped read), against guessing.

Two counters of failed look-ups live in Django's cache:

- per client address: the web ``/track/`` page (the API's public endpoints have ninja's
  ``AnonRateThrottle`` on every request). The address is found as ninja finds it
  (``client_address``), so behind a reverse proxy citizens do not share one bucket;
- per ticket number, whatever the address: numbers are sequential, so somebody rotating
  addresses could otherwise try phone after phone against each number. Once a number has
  had ``NUMBER_FAILURE_LIMIT`` wrong phones in the window, every look-up of it — by the web
  page or the API, right phone or wrong — waits until the window ends. The citizen who
  already proved the ticket in this browser, or is signed in as its reporter, still sees it.

The windows are fixed (they start at the first failure). Counters are per cache: shared by
every process and node with the Redis cache (``ZHIWANG_CACHE``, the default with Redis tasks),
per process with the embedded default's local memory.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

#: Wrong phones for one ticket number, from any address, before its look-ups wait.
NUMBER_FAILURE_LIMIT = 10
NUMBER_FAILURE_WINDOW = 60 * 60  # seconds


def client_address(request) -> str:
    """The client's address as ninja's throttles see it (``ZHIWANG_NUM_PROXIES`` = ``NINJA_NUM_PROXIES``).

    0 proxies (the default): the connection's address, whatever ``X-Forwarded-For`` says. N
    proxies: the N-th address of ``X-Forwarded-For`` counted from the right (the one the
    outermost trusted proxy saw), or the leftmost when the header has fewer.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = getattr(settings, "ZHIWANG_NUM_PROXIES", 0) or 0
    if proxies > 0 and forwarded:
        hops = forwarded.split(",")
        remote = hops[-min(proxies, len(hops))].strip() or remote
    return remote or "unknown"


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


def number_locked(number: str) -> bool:
    """Too many wrong phones for this ticket number lately (from anywhere)."""
    return failures("number", normalized_number(number)) >= NUMBER_FAILURE_LIMIT


def record_number_failure(number: str) -> None:
    record_failure("number", normalized_number(number), NUMBER_FAILURE_WINDOW)
