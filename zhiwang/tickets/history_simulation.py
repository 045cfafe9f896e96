"""Mode (a) of ``tickets.history``: one ticket's life through the real services, on a simulated clock.

``_Simulation.life`` is a generator that submits a ticket and yields the moment of each next
step (merge, answer, reject, dispatch, returns, reassignment, acceptance, extension, suspension,
reply, review, verification, follow-up, reopening); ``demo_tickets_create`` (in
``tickets.history``) runs every life in time order while ``SimulatedClock`` answers
``timezone.now()``. A refused service call (``_Stop``) ends that ticket's story where it is.
A planted event's ticket (``history_events.Planted``) lives the same life, its request and the
turns of its handling set by its plan instead of drawn at random.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from unittest import mock

from zhiwang.accounts.models import User
from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.tickets.demo import demo_category_review, demo_category_rng, demo_intake_fields
from zhiwang.tickets.history_bulk import PHRASES, _phone
from zhiwang.tickets.history_city import (
    CHANNEL_WEIGHTS,
    GIVEN,
    INCIDENT_CHANNELS,
    KIND_WEIGHTS,
    SURNAMES,
    _City,
    _pick,
)
from zhiwang.tickets.history_events import Planted
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
from zhiwang.tickets.services.submit import ticket_submit

# Named as before the split, so log configuration and filters keep matching these warnings.
logger = logging.getLogger("zhiwang.tickets.history")


@dataclass
class HistoryResult:
    """What ``demo_tickets_create`` made: tickets by final status, and the service calls that failed."""

    created: int = 0
    existing: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    sweeps: int = 0
    #: of ``created``, the tickets of planted events (``history_events``)
    planted: int = 0
    #: of ``created``, the tickets of the demo's own citizen and grid worker (``persona_tickets``)
    personas: int = 0


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


# --- mode (a): through the services ------------------------------------------------------------


Life = Generator[datetime, None, None]


class _Simulation:
    """One ticket's life is a generator that yields the moment of its next step."""

    def __init__(
        self, *, city: _City, clock: SimulatedClock, end: datetime, seed: int, result: HistoryResult
    ):
        self.city, self.clock, self.end, self.seed, self.result = city, clock, end, seed, result
        self.calendar = work_calendar()
        #: a planted event's first ticket, by event (the one its later calls are merged into)
        self.firsts: dict[str, Ticket] = {}
        #: the demo accounts planted tickets come from or are checked by, by user name
        self.accounts: dict[str, User] = {}

    def account(self, username: str):
        """A demo account named by a plan (the citizen, the grid worker), loaded once."""
        if username not in self.accounts:
            self.accounts[username] = User.objects.get(username=username)
        return self.accounts[username]

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

    def life(self, index: int, received: datetime, plan: Planted | None = None) -> Life:
        """One ticket's life; with ``plan``, a ticket of a planted event (``history_events``): what
        it says, where and when are the plan's, and so are the turns its handling takes (a merge
        into the event's first ticket, unsatisfied follow-ups, still open at the end)."""
        rng = random.Random(f"{self.seed}:{index}" if plan is None else f"{self.seed}:{plan.key}")
        city, staff = self.city, self.city.staff
        dispatcher, operator = staff["demo_city_dispatcher"], staff["demo_hotline"]
        yield received
        if plan is None:
            submit, kind, category, code = self.request(rng, index, received)
        else:
            accounts = {name: self.account(name) for name in (plan.account,) if name}
            submit = plan.submit_fields(seed=self.seed, operator=operator, accounts=accounts)
            kind, category, code = plan.kind, plan.category, plan.address_code
        result = self.call("submit", ticket_submit, **submit)
        ticket = result.ticket
        if not result.created:
            self.result.existing += 1
            return
        self.result.created += 1
        if plan is not None:
            if plan.account:
                self.result.personas += 1
            else:
                self.result.planted += 1
            self.firsts.setdefault(plan.group, ticket)
        if plan is None and rng.random() < 0.04 and code:
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
            first = self.firsts.get(plan.group) if plan is not None and plan.merge else None
            if first is not None and first.pk != ticket.pk:
                # another caller about the same matter: the dispatcher merges it into the first call
                first.refresh_from_db()
                if first.is_open and ticket.status == TicketStatus.PENDING_DISPATCH:
                    self.call("merge", actions.ticket_merge, ticket=ticket, master=first, actor=dispatcher)
                    return
            if plan is None and kind == TicketKind.INQUIRY and rng.random() < 0.5:
                self.call(
                    "answer",
                    actions.ticket_answer_directly,
                    ticket=ticket,
                    actor=operator,
                    reply="已电话答复市民。",
                )
                return
            if plan is None and rng.random() < 0.03:
                self.call(
                    "reject",
                    actions.ticket_reject,
                    ticket=ticket,
                    actor=dispatcher,
                    reason="属于诉讼程序，不予受理。",
                )
                return
            self.call(
                "review category", demo_category_review, ticket=ticket, meant=category, actor=dispatcher
            )
            ticket.refresh_from_db()
            unit = ticket.suggested_unit or city.district_offices.get(ticket.district_id)
            if unit is None:
                return  # nowhere to send it: it waits in the queue
            self.call("dispatch", actions.ticket_dispatch, ticket=ticket, unit=unit, actor=dispatcher)
        yield from self.handle(ticket, rng, plan=plan)

    def request(
        self, rng: random.Random, index: int, received: datetime
    ) -> tuple[dict, str, Category, str | None]:
        """What a random citizen asks (``ticket_submit``'s arguments), its kind, category and address code."""
        city, staff = self.city, self.city.staff
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
        # who takes it in and who decides the category: training data and the curve (tickets.demo)
        decisions = demo_category_rng(self.seed, index)
        submit.update(
            demo_intake_fields(
                decisions,
                channel=channel,
                kind=kind,
                meant=category,
                description=submit["description"],
                staff=staff,
            )
        )
        return submit, kind, category, code

    def handle(
        self, ticket: Ticket, rng: random.Random, *, round_: int = 1, plan: Planted | None = None
    ) -> Life:
        """From dispatched to closed (or reopened: once, or as often as a planted ticket's plan says)."""
        city = self.city
        dispatcher, operator = city.staff["demo_city_dispatcher"], city.staff["demo_hotline"]
        ticket.refresh_from_db()
        if ticket.status != TicketStatus.DISPATCHED:
            return
        if plan is None and round_ == 1 and rng.random() < 0.08:
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
        if plan is not None and plan.stop_at == "dispatched":
            return  # with the unit, waiting to be signed for when the history ends
        handler = city.handler_for(ticket.handling_unit_id)
        late_accept = rng.random() < 0.1
        yield self.later(rng.uniform(2.2, 6) if late_accept else rng.uniform(0.05, 1.8))
        ticket.refresh_from_db()
        self.call("accept", actions.ticket_accept, ticket=ticket, actor=handler)
        if plan is not None and plan.stay_open and round_ > len(plan.reopen_notes):
            return  # signed for again: the handler is still at it when the history ends
        if plan is not None and plan.stop_at == "accepted":
            return  # signed for: the handler is at work when the history ends
        limit = self.calendar.working_seconds_between(ticket.dispatched_at, ticket.due_at) / 3600
        if plan is None and rng.random() < 0.06 and limit > 14:
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
        if plan is None and rng.random() < 0.03:
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
        if plan is not None and plan.reply_hours is not None:
            wait = rng.uniform(*plan.reply_hours)
        else:
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
            if plan is None and attempt == 0 and rng.random() < 0.07:
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
                if plan is not None and plan.stop_at == "verifying":
                    return  # the grid's on-site check is next when the history ends
                yield self.later(rng.uniform(1, 7))
                passed = plan is not None or attempt > 0 or rng.random() < 0.9
                self.call(
                    "verify",
                    actions.ticket_verify,
                    ticket=ticket,
                    actor=self.account(plan.verifier) if plan is not None and plan.verifier else dispatcher,
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
        if plan is not None and plan.stop_at == "follow_up":
            return  # waiting for the citizen's rating (or the follow-up call) when the history ends
        # the follow-up call: the next working day
        yield self.later(rng.uniform(4, 12))
        ticket.refresh_from_db()
        roll = rng.random()
        if plan is not None and round_ <= len(plan.reopen_notes):
            # the planted problem is back: unresolved, and the citizen says so
            outcome = {"resolved": False, "satisfaction": Satisfaction.UNSATISFIED}
            outcome["note"] = plan.reopen_notes[round_ - 1]
        elif roll < 0.05:
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
            yield from self.handle(ticket, rng, round_=round_ + 1, plan=plan)


class _Stop(Exception):
    """A step was refused: the ticket stays where it is."""
