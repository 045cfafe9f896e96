"""The counting rules: which metrics one timeline row adds to (or takes from), as a pure function.

``event_deltas`` turns a row of a ticket (its action and payload, the ticket's facts, whether the
ticket is in an overdue episode) into ``+1``/``-1`` per metric. The incremental path and the
catch-up call it row by row; the rebuild states the same rules in SQL (``rebuild._event_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from zhiwang.analytics.models import COUNTER_FIELDS
from zhiwang.tickets.models import Satisfaction, Ticket
from zhiwang.tickets.services.clock import URGE_OVERDUE_KEY
from zhiwang.tickets.workflow import TicketAction as A

#: Kept for the alert and dashboard code: the whole city is node 0.
CITY_NODE = 0

#: Metrics, each a count of events on the day (``open`` and ``overdue_open`` are +1/−1 flows whose
#: running sum is the stock: open tickets, and open tickets in an overdue episode).
METRICS = COUNTER_FIELDS
FINAL_ACTIONS = {A.CLOSE: "closed", A.ANSWER_DIRECTLY: "closed", A.REJECT: "rejected", A.MERGE: "merged"}
#: Actions that end a ticket here: the final ones, and a transfer to another procedure (移交), which
#: leaves the open and overdue stocks without counting as closed, rejected or merged (the unit did
#: not close it; docs/indicators.md).
ENDS_OPEN = {*FINAL_ACTIONS, A.TRANSFER}
SIMPLE = {
    A.RECEIVE: "received",
    A.DISPATCH: "dispatched",
    A.REASSIGN: "reassigned",
    A.APPROVE_RETURN: "returned",
    A.REPLY: "replied",
    A.URGE: "urged",
    A.SUPERVISE: "supervised",
    A.REOPEN: "reopened",
    A.TRANSFER: "transferred",
}
#: Events that end an overdue episode (the deadline met its answer, moved, or no longer applies).
OVERDUE_ENDS = {A.REPLY, A.APPROVE_EXTENSION, A.REOPEN, A.APPROVE_RETURN, *ENDS_OPEN}
#: The columns of a ticket the rollups read (``TicketFacts``).
_TICKET_FIELDS = (
    "pk",
    "grid_id",
    "address_id",
    "community_id",
    "subdistrict_id",
    "district_id",
    "category_id",
    "channel",
    "kind",
    "replied_at",
    "due_at",
)


@dataclass
class TicketFacts:
    """The columns of a ticket that the rollups use. Its place, channel and kind never change;
    its category may (改分类), and ``writes._count`` then moves the ticket's counts along."""

    pk: int
    grid_id: int | None
    address_id: int | None
    community_id: int | None
    subdistrict_id: int | None
    district_id: int | None
    category_id: int
    channel: str
    kind: str
    replied_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> TicketFacts:
        return cls(**{name: getattr(ticket, name) for name in _TICKET_FIELDS})

    def place(self) -> dict[str, int]:
        return {
            "district_id": self.district_id or 0,
            "subdistrict_id": self.subdistrict_id or 0,
            "community_id": self.community_id or 0,
            "grid_id": self.grid_id or 0,
        }


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, _tz()).date() if timezone.is_aware(moment) else moment.date()


def went_overdue(action: str, payload: dict | None) -> bool:
    """Whether a row starts an overdue episode (unless the ticket is in one already).

    The sweep's overdue warning and a supervision (督办, only after the deadline) do; an urge (催办)
    does when the deadline had passed (``payload["overdue"]`` true). An urge row without the key
    was written before urges recorded it and keeps the meaning it was counted with (it counts),
    so a rebuild of old history equals what was counted then. The rebuild and the ticket list
    state the same rule in SQL (``rebuild._went_overdue``, ``tickets.selectors._went_overdue``).
    """
    payload = payload or {}
    if action == A.URGE:
        return URGE_OVERDUE_KEY not in payload or payload[URGE_OVERDUE_KEY] is True
    return action == A.SUPERVISE or (action == A.WARN and payload.get("kind") == "overdue")


def event_deltas(
    action: str, payload: dict | None, facts: TicketFacts, overdue: bool
) -> tuple[list[str], list[str], bool]:
    """``(metrics +1, metrics −1, overdue after)`` for one timeline row of a ticket.

    Pure: the same row, ticket and overdue flag always give the same answer, which is what
    makes the rebuild equal to the incremental result.
    """
    payload = payload or {}
    plus: list[str] = []
    minus: list[str] = []
    if action in SIMPLE:
        plus.append(SIMPLE[action])
    if action == A.RECEIVE:
        plus.append("open")
    if action in ENDS_OPEN:
        minus.append("open")
    final = FINAL_ACTIONS.get(action)
    if final:
        plus.append(final)
        if final == "closed" and (
            action == A.ANSWER_DIRECTLY
            or facts.due_at is None
            or (facts.replied_at is not None and facts.replied_at <= facts.due_at)
        ):
            plus.append("closed_on_time")
    if action in (A.CLOSE, A.REOPEN):
        plus.append("follow_ups")
        if not payload.get("unreachable") and payload.get("satisfaction") in Satisfaction.values:
            plus += ["rated", payload["satisfaction"]]
            if payload.get("resolved"):
                plus.append("resolved")
    if went_overdue(action, payload) and not overdue:
        plus += ["overdue", "overdue_open"]
        overdue = True
    elif overdue and action in OVERDUE_ENDS:
        minus.append("overdue_open")
        overdue = False
    return plus, minus, overdue
