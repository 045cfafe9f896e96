"""Realistic ticket histories for the demo city and for benchmarks, deterministic by seed.

Two ways to make them:

- ``demo_tickets_create`` drives the real services (submit, dispatch, accept, reply, review,
  follow-up, returns, reassignments, extensions, suspensions, merges, rejections, reopenings)
  through a simulated clock, one discrete-event simulation over the last ``days`` days, with
  the deadline sweep running every simulated hour. Every row is what the services write, so
  dashboards and indicators have real content. Small counts (hundreds): each ticket costs
  a dozen service calls. The simulated clock patches ``django.utils.timezone.now`` while it
  runs: call it from a command, never inside a serving process.
- ``bulk_tickets_create`` writes ``Ticket``, ``TicketEvent`` and ``ClockAlert`` rows directly
  with ``bulk_create``, in batches (memory bounded whatever the count), for benchmarks: e.g.
  1,000,000 open tickets whose clocks are exactly as the sweep would have left them at
  ``as_of`` (warned, overdue, urged, supervised), so a sweep just after ``as_of`` is quiet.

Both need the demo city (``zhiwang demo``): divisions, grids, addresses, the demo accounts and
routing units.

Mode (a) lives in ``history_simulation`` (one ticket's life, the simulated clock) and
``history_city`` (what it picks from), mode (b) in ``history_bulk``; every name is importable
from here as before.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

# The parts of this module kept in their own files (every name importable from here as before).
from zhiwang.tickets.history_bulk import (  # noqa: F401
    PHRASES,
    BulkResult,
    _phone,
    bulk_tickets_create,
)
from zhiwang.tickets.history_city import (  # noqa: F401
    CHANNEL_WEIGHTS,
    GIVEN,
    INCIDENT_CHANNELS,
    KIND_WEIGHTS,
    SURNAMES,
    _City,
    _pick,
)
from zhiwang.tickets.history_events import persona_tickets, planted_events
from zhiwang.tickets.history_simulation import (
    HistoryResult,
    Life,
    SimulatedClock,
    _Simulation,
    _Stop,
)
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.services.clock import (
    clock_sweep,
)


def demo_tickets_create(
    *,
    count: int,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
    days: int = 60,
    end: datetime | None = None,
    sweep_every: timedelta = timedelta(hours=1),
    events: bool = False,
    personas: bool = False,
) -> HistoryResult:
    """Make ``count`` ticket histories through the real services, received over the ``days`` before ``end``.

    With ``events``, the planted events of ``history_events`` happen among them (a few dozen more
    tickets, ``HistoryResult.planted``: a noise surge, a wage-arrears group at one factory, a repeat
    caller, a problem reopened again and again), each ticket through the same simulation, so the
    early-warning detectors have something to find. With ``personas``, the demo citizen's and the
    demo grid worker's own tickets (``history_events.persona_tickets``, ``HistoryResult.personas``)
    are among them too, some still waiting for them at the end.

    Deterministic for a seed and an ``end`` (default: now, to the minute) on the same demo city;
    idempotent: a second run with the same seed finds its tickets (``existing``) and adds nothing.
    Tickets still being handled at ``end`` stay open, some of them overdue; the deadline sweep ran
    every simulated hour (``sweep_every``), so their warnings, urges and supervisions are on the timelines.
    ``progress(done, total)`` is called as tickets arrive (``total``: ``count`` and the planted ones).
    """
    end = (end or timezone.now()).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    city = _City.load()
    result = HistoryResult()
    rng = random.Random(seed)
    arrivals = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(count))
    # drawn from their own sequence: a history keeps its random tickets with or without the events
    plans = (planted_events(seed=seed, end=end) if events else []) + (
        persona_tickets(seed=seed, end=end) if personas else []
    )
    planted = sorted((p for p in plans if start <= p.received <= end), key=lambda p: (p.received, p.key))
    clock = SimulatedClock(start)
    sim = _Simulation(city=city, clock=clock, end=end, seed=seed, result=result)
    queue: list[tuple[datetime, int, Life]] = []
    for index, received in enumerate(arrivals):
        life = sim.life(index, received)
        heapq.heappush(queue, (next(life), index, life))
    for index, plan in enumerate(planted, start=count):
        life = sim.life(index, plan.received, plan)
        heapq.heappush(queue, (next(life), index, life))
    total = count + len(planted)
    started: set[int] = set()
    last_sweep = start
    with clock.active(), transaction.atomic():
        while queue:
            moment, index, life = heapq.heappop(queue)
            if moment > end:
                continue
            while moment - last_sweep >= sweep_every:
                last_sweep += sweep_every
                clock.now = last_sweep
                clock_sweep(now=last_sweep)
                result.sweeps += 1
            clock.now = max(moment, clock.now)
            try:
                following = life.send(None)
            except (StopIteration, _Stop):
                following = None
            if index not in started:
                started.add(index)
                if progress is not None:
                    progress(len(started), total)
            if following is not None:
                heapq.heappush(queue, (max(following, clock.now), index, life))
        clock.now = end
        clock_sweep(now=end)
        result.sweeps += 1
    result.statuses = Counter(
        Ticket.objects.filter(idempotency_key__contains=f":demo-{seed}-").values_list("status", flat=True)
    )
    return result
