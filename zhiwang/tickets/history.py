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
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.db import transaction
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit, OrgUnitKind, User
from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.geo.models import AddressLevel, Division, DivisionLevel, StandardAddress

# Mode (b), the bulk rows, lives in its own module (its names importable from here as before).
from zhiwang.tickets.history_bulk import (  # noqa: F401
    PHRASES,
    BulkResult,
    _phone,
    bulk_tickets_create,
)
from zhiwang.tickets.models import (
    Category,
    Channel,
    RequestKind,
    Satisfaction,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
    Urgency,
)
from zhiwang.tickets.services import actions
from zhiwang.tickets.services.clock import (
    clock_sweep,
)
from zhiwang.tickets.services.submit import ticket_submit

logger = logging.getLogger(__name__)

#: How often citizens ask for what (12345 practice: complaints and requests for help lead).
KIND_WEIGHTS = {
    TicketKind.COMPLAINT: 34,
    TicketKind.HELP: 20,
    TicketKind.INQUIRY: 14,
    TicketKind.REPORT: 9,
    TicketKind.SUGGESTION: 5,
    TicketKind.PRAISE: 1,
    TicketKind.INCIDENT: 17,
}
CHANNEL_WEIGHTS = {
    Channel.HOTLINE: 55,
    Channel.WEB: 10,
    Channel.APP: 14,
    Channel.WINDOW: 5,
    Channel.API: 3,
    Channel.OPEN311: 3,
    Channel.DEPARTMENT: 4,
    Channel.PETITION: 2,
    Channel.VOLUNTEER: 4,
}
INCIDENT_CHANNELS = {Channel.PATROL: 85, Channel.VIDEO: 15}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


@dataclass
class HistoryResult:
    """What ``demo_tickets_create`` made: tickets by final status, and the service calls that failed."""

    created: int = 0
    existing: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    sweeps: int = 0


# --- the simulated clock -------------------------------------------------------------------


class SimulatedClock:
    """``timezone.now()`` (and the timeline's default time) answer ``self.now`` while active."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    @contextmanager
    def active(self) -> Iterator[SimulatedClock]:
        at_field = TicketEvent._meta.get_field("at")
        # The field caches its default callable (a cached_property): shadow the cached value.
        with mock.patch("django.utils.timezone.now", self), mock.patch.object(at_field, "_get_default", self):
            yield self


# --- the demo city: what the generator picks from ------------------------------------------------


@dataclass
class _City:
    categories_by_kind: dict[str, list[Category]]
    communities: list[tuple[int, int]]  # (community id, building count)
    staff: dict[str, User]
    district_offices: dict[int, OrgUnit]  # district id → the district government (fallback unit)

    @classmethod
    def load(cls) -> _City:
        leaves = [
            c
            for c in Category.objects.filter(is_active=True).prefetch_related("children")
            if not any(child.is_active for child in c.children.all())
        ]
        by_kind: dict[str, list[Category]] = defaultdict(list)
        for category in sorted(leaves, key=lambda c: c.code):
            for kind in category.kinds or TicketKind.values:
                by_kind[kind].append(category)
        communities = list(
            Division.objects.filter(level=DivisionLevel.COMMUNITY, building_count__gt=0)
            .order_by("code")
            .values_list("pk", "building_count")
        )
        usernames = ("demo_city_dispatcher", "demo_hotline", "demo_admin")
        staff = {u.username: u for u in User.objects.filter(username__in=usernames)}
        missing = set(usernames) - set(staff)
        if missing or not communities or not leaves:
            accounts = ", ".join(sorted(missing)) or "ok"
            raise ValueError(
                f"The demo city is missing (accounts: {accounts}; {len(communities)} communities with "
                f"buildings; {len(leaves)} categories): run `zhiwang demo` first."
            )
        offices = {
            u.division_id: u
            for u in OrgUnit.objects.filter(
                kind=OrgUnitKind.DIVISION_OFFICE, is_active=True, division__level=DivisionLevel.DISTRICT
            )
        }
        return cls(dict(by_kind), communities, staff, offices)

    def handler_for(self, unit_id: int | None) -> User:
        """A handler of the unit, else the administrator (who may act as any handler)."""
        found = (
            User.objects.filter(org_unit_id=unit_id, role="handler", is_active=True).order_by("pk").first()
        )
        return found or self.staff["demo_admin"]

    def address_code(self, rng: random.Random) -> str | None:
        community_id, buildings = rng.choices(self.communities, weights=[n for _c, n in self.communities])[0]
        qs = StandardAddress.objects.filter(community_id=community_id, level=AddressLevel.BUILDING).order_by(
            "pk"
        )
        offset = rng.randrange(buildings)
        found = list(qs.values_list("code", flat=True)[offset : offset + 1])
        return found[0] if found else None


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- mode (a): through the services ------------------------------------------------------------


Life = Generator[datetime, None, None]


class _Simulation:
    """One ticket's life is a generator that yields the moment of its next step."""

    def __init__(
        self, *, city: _City, clock: SimulatedClock, end: datetime, seed: int, result: HistoryResult
    ):
        self.city, self.clock, self.end, self.seed, self.result = city, clock, end, seed, result
        self.calendar = work_calendar()

    def later(self, hours: float) -> datetime:
        """``hours`` working hours after now (in working time, as people work)."""
        return self.calendar.add_working_hours(self.clock.now, Decimal(str(round(hours, 3))))

    def call(self, what: str, function, **kwargs):
        """A service call; a refusal ends this ticket's story where it is (and is recorded)."""
        try:
            return function(**kwargs)
        except ServiceError as exc:
            self.result.failures.append(f"{what}: {exc.code} {exc}")
            logger.warning("demo tickets: %s refused: %s", what, exc)
            raise _Stop from exc

    def life(self, index: int, received: datetime) -> Life:
        rng = random.Random(f"{self.seed}:{index}")
        city, staff = self.city, self.city.staff
        dispatcher, operator = staff["demo_city_dispatcher"], staff["demo_hotline"]
        yield received
        kind = _pick(rng, KIND_WEIGHTS)
        categories = city.categories_by_kind.get(kind) or city.categories_by_kind[TicketKind.COMPLAINT]
        category = rng.choice(categories)
        channel = _pick(rng, INCIDENT_CHANNELS if kind == TicketKind.INCIDENT else CHANNEL_WEIGHTS)
        code = city.address_code(rng) if kind != TicketKind.INQUIRY or rng.random() < 0.4 else None
        submit = {
            "channel": channel,
            "kind": kind,
            "category": category,
            "description": f"{category.name}：{rng.choice(PHRASES)}",
            "external_id": f"demo-{self.seed}-{index}",
            "urgency": Urgency.URGENT if rng.random() < 0.03 else Urgency.NORMAL,
            "reporter_name": "" if channel == Channel.PATROL else rng.choice(SURNAMES) + rng.choice(GIVEN),
            "reporter_phone": "" if channel in (Channel.PATROL, Channel.VIDEO) else _phone(rng),
            "address_code": code or "",
            "received_at": received,
        }
        result = self.call("submit", ticket_submit, **submit)
        ticket = result.ticket
        if not result.created:
            self.result.existing += 1
            return
        self.result.created += 1
        if rng.random() < 0.04 and code:
            # a second caller reports the same thing an hour later; the dispatcher merges it
            yield self.later(rng.uniform(0.2, 1.5))
            twin = self.call(
                "submit duplicate",
                ticket_submit,
                **{**submit, "external_id": f"demo-{self.seed}-{index}-dup", "received_at": self.clock.now},
            ).ticket
            yield self.later(rng.uniform(0.2, 1))
            twin.refresh_from_db()
            ticket.refresh_from_db()
            if twin.status in (TicketStatus.PENDING_DISPATCH, TicketStatus.DISPATCHED) and ticket.is_open:
                self.call("merge", actions.ticket_merge, ticket=twin, master=ticket, actor=dispatcher)
        ticket.refresh_from_db()
        if ticket.status == TicketStatus.PENDING_DISPATCH:
            yield self.later(rng.uniform(0.05, 2.5))
            ticket.refresh_from_db()
            if kind == TicketKind.INQUIRY and rng.random() < 0.5:
                self.call(
                    "answer",
                    actions.ticket_answer_directly,
                    ticket=ticket,
                    actor=operator,
                    reply="已电话答复市民。",
                )
                return
            if rng.random() < 0.03:
                self.call(
                    "reject",
                    actions.ticket_reject,
                    ticket=ticket,
                    actor=dispatcher,
                    reason="属于诉讼程序，不予受理。",
                )
                return
            unit = ticket.suggested_unit or city.district_offices.get(ticket.district_id)
            if unit is None:
                return  # nowhere to send it: it waits in the queue
            self.call("dispatch", actions.ticket_dispatch, ticket=ticket, unit=unit, actor=dispatcher)
        yield from self.handle(ticket, rng)

    def handle(self, ticket: Ticket, rng: random.Random, *, round_: int = 1) -> Life:
        """From dispatched to closed (or reopened, once)."""
        city = self.city
        dispatcher, operator = city.staff["demo_city_dispatcher"], city.staff["demo_hotline"]
        ticket.refresh_from_db()
        if ticket.status != TicketStatus.DISPATCHED:
            return
        if round_ == 1 and rng.random() < 0.08:
            yield self.later(rng.uniform(0.2, 1.5))
            ticket.refresh_from_db()
            other = city.district_offices.get(ticket.district_id)
            if other is not None and other.pk != ticket.handling_unit_id:
                if rng.random() < 0.5:
                    handler = city.handler_for(ticket.handling_unit_id)
                    request = self.call(
                        "request return",
                        actions.ticket_request,
                        ticket=ticket,
                        kind=RequestKind.RETURN,
                        actor=handler,
                        reason="不属于本单位职责范围。",
                        wrong_dispatch=True,
                    )
                    yield self.later(rng.uniform(0.3, 2))
                    self.call(
                        "approve return",
                        actions.ticket_decide,
                        request=request,
                        approve=True,
                        actor=dispatcher,
                    )
                    yield self.later(rng.uniform(0.1, 1))
                    ticket.refresh_from_db()
                    self.call(
                        "redispatch", actions.ticket_dispatch, ticket=ticket, unit=other, actor=dispatcher
                    )
                else:
                    self.call(
                        "reassign",
                        actions.ticket_reassign,
                        ticket=ticket,
                        unit=other,
                        actor=dispatcher,
                        note="派错单位，改派区政府。",
                    )
        ticket.refresh_from_db()
        handler = city.handler_for(ticket.handling_unit_id)
        late_accept = rng.random() < 0.1
        yield self.later(rng.uniform(2.2, 6) if late_accept else rng.uniform(0.05, 1.8))
        ticket.refresh_from_db()
        self.call("accept", actions.ticket_accept, ticket=ticket, actor=handler)
        limit = self.calendar.working_seconds_between(ticket.dispatched_at, ticket.due_at) / 3600
        if rng.random() < 0.06 and limit > 14:
            yield self.later(limit * rng.uniform(0.2, 0.5))
            ticket.refresh_from_db()
            request = self.call(
                "request extension",
                actions.ticket_request,
                ticket=ticket,
                kind=RequestKind.EXTENSION,
                actor=handler,
                reason="需要协调多个部门，申请延期。",
                extra_days=rng.randint(3, 10),
            )
            yield self.later(rng.uniform(0.5, 3))
            self.call(
                "approve extension", actions.ticket_decide, request=request, approve=True, actor=dispatcher
            )
        if rng.random() < 0.03:
            yield self.later(rng.uniform(1, 7))
            ticket.refresh_from_db()
            request = self.call(
                "request suspension",
                actions.ticket_request,
                ticket=ticket,
                kind=RequestKind.SUSPENSION,
                actor=handler,
                reason="等待产权单位提供资料。",
            )
            yield self.later(rng.uniform(0.5, 3))
            self.call(
                "approve suspension", actions.ticket_decide, request=request, approve=True, actor=dispatcher
            )
            yield self.later(rng.uniform(7, 21))
            ticket.refresh_from_db()
            self.call("resume", actions.ticket_resume, ticket=ticket, actor=dispatcher)
        ticket.refresh_from_db()
        remaining = self.calendar.working_seconds_between(self.clock.now, ticket.due_at) / 3600
        late = rng.random() < 0.12
        wait = remaining + limit * rng.uniform(0.02, 0.6) if late else remaining * rng.uniform(0.15, 0.95)
        yield self.later(max(wait, 0.1))
        for attempt in range(3):
            ticket.refresh_from_db()
            self.call(
                "reply",
                actions.ticket_reply,
                ticket=ticket,
                actor=handler,
                reply="已到现场处理完毕，情况已向市民说明。",
            )
            yield self.later(rng.uniform(0.3, 5))
            ticket.refresh_from_db()
            if attempt == 0 and rng.random() < 0.07:
                self.call(
                    "send back",
                    actions.ticket_review,
                    ticket=ticket,
                    actor=dispatcher,
                    approve=False,
                    note="答复内容不完整，请补充。",
                )
                yield self.later(rng.uniform(1, 8))
                continue
            self.call("review", actions.ticket_review, ticket=ticket, actor=dispatcher, approve=True)
            ticket.refresh_from_db()
            if ticket.status == TicketStatus.VERIFYING:
                yield self.later(rng.uniform(1, 7))
                passed = attempt > 0 or rng.random() < 0.9
                self.call(
                    "verify",
                    actions.ticket_verify,
                    ticket=ticket,
                    actor=dispatcher,
                    passed=passed,
                    note="" if passed else "现场仍未整改到位。",
                )
                if not passed:
                    yield self.later(rng.uniform(2, 10))
                    continue
            break
        ticket.refresh_from_db()
        if ticket.status != TicketStatus.FOLLOW_UP:
            return
        # the follow-up call: the next working day
        yield self.later(rng.uniform(4, 12))
        ticket.refresh_from_db()
        roll = rng.random()
        if roll < 0.05:
            outcome = {"resolved": None, "unreachable": True}
        elif roll < 0.72 or round_ > 1:
            outcome = {"resolved": True, "satisfaction": Satisfaction.SATISFIED}
        elif roll < 0.88:
            outcome = {"resolved": True, "satisfaction": Satisfaction.BASICALLY}
        else:
            outcome = {"resolved": rng.random() < 0.3, "satisfaction": Satisfaction.UNSATISFIED}
        self.call("follow up", actions.ticket_follow_up, ticket=ticket, actor=operator, **outcome)
        ticket.refresh_from_db()
        if ticket.status == TicketStatus.DISPATCHED:  # reopened (重办)
            yield from self.handle(ticket, rng, round_=round_ + 1)


class _Stop(Exception):
    """A step was refused: the ticket stays where it is."""


def demo_tickets_create(
    *,
    count: int,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
    days: int = 60,
    end: datetime | None = None,
    sweep_every: timedelta = timedelta(hours=1),
) -> HistoryResult:
    """Make ``count`` ticket histories through the real services, received over the ``days`` before ``end``.

    Deterministic for a seed and an ``end`` (default: now, to the minute) on the same demo city;
    idempotent: a second run with the same seed finds its tickets (``existing``) and adds nothing.
    Tickets still being handled at ``end`` stay open, some of them overdue; the deadline sweep ran
    every simulated hour (``sweep_every``), so their warnings, urges and supervisions are on the timelines.
    ``progress(done, count)`` is called as tickets arrive.
    """
    end = (end or timezone.now()).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    city = _City.load()
    result = HistoryResult()
    rng = random.Random(seed)
    arrivals = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(count))
    clock = SimulatedClock(start)
    sim = _Simulation(city=city, clock=clock, end=end, seed=seed, result=result)
    queue: list[tuple[datetime, int, Life]] = []
    for index, received in enumerate(arrivals):
        life = sim.life(index, received)
        heapq.heappush(queue, (next(life), index, life))
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
                    progress(len(started), count)
            if following is not None:
                heapq.heappush(queue, (max(following, clock.now), index, life))
        clock.now = end
        clock_sweep(now=end)
        result.sweeps += 1
    result.statuses = Counter(
        Ticket.objects.filter(idempotency_key__contains=f":demo-{seed}-").values_list("status", flat=True)
    )
    return result
