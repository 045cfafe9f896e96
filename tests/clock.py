"""The clock of the cache counters (``core.throttle``), moved forward by tests.

The counters note when their window ends with ``time.time()``, and the local-memory cache
expires keys by the same clock; ``frozen_now`` (``timezone.now()``) moves neither. Import the
fixture where it is used: ``from tests.clock import cache_clock  # noqa: F401``.
"""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def cache_clock(monkeypatch):
    """A setter: ``cache_clock(seconds)`` stops ``time.time()`` that many seconds after the
    test's start (the cache's expiries with it); returns the seconds. Stopped at the start until
    then, so the times a test reads do not drift while it runs."""
    start = time.time()
    state = {"offset": 0.0}
    monkeypatch.setattr(time, "time", lambda: start + state["offset"])

    def move_to(seconds: float) -> float:
        state["offset"] = seconds
        return seconds

    move_to(0)
    return move_to
