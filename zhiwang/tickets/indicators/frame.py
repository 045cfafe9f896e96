"""The common frame of the ticket indicators: actions that count, result types, settings, grouping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import (
    Coalesce,
    TruncDay,
    TruncMonth,
    TruncWeek,
)
from django.utils import timezone

from zhiwang.core.scoping import scope_of
from zhiwang.tickets.models import Ticket, TicketEvent, TicketStatus
from zhiwang.tickets.workflow import TicketAction as A

#: A new unit (or the same one again) must act: the start of a handling round.
HANDOVER_ACTIONS = (A.DISPATCH, A.REASSIGN, A.REOPEN)
#: What counts as the unit's response to a hand-over.
RESPONSE_ACTIONS = (A.ACCEPT, A.REQUEST_RETURN, A.REPLY)
#: The ticket leaves the units altogether (merged as a duplicate, transferred to another procedure).
WITHDRAWAL_ACTIONS = (A.MERGE, A.TRANSFER)
#: The citizen's follow-up (回访): closing, or reopening when unresolved or unsatisfied.
FOLLOW_UP_ACTIONS = (A.CLOSE, A.REOPEN)
#: The unit has answered (the reply stands, possibly awaiting review, verification or follow-up).
ANSWERED_STATUSES = (
    TicketStatus.REPLIED,
    TicketStatus.VERIFYING,
    TicketStatus.FOLLOW_UP,
    TicketStatus.CLOSED,
)

#: Beijing's 接诉即办 assessment: 响应率 30 %, 解决率 35 %, 满意率 35 % (an example composite).
BEIJING_WEIGHTS = {"response_rate": 0.30, "resolution_rate": 0.35, "satisfaction_rate": 0.35}

GROUPINGS = ("unit", "district", "subdistrict", "community", "day", "week", "month", None)
_NO_ROUND_END = 2**62


@dataclass(frozen=True)
class Rate:
    """numerator ÷ denominator; ``value`` is None when nothing was due."""

    numerator: float
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Average:
    """A mean of ``count`` samples summing to ``total``; ``value`` is None without samples."""

    total: float
    count: int

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


# --- settings --------------------------------------------------------------------


def basic_satisfaction_weight() -> float:
    """``ZHIWANG_BASIC_SATISFACTION_WEIGHT``: how much a "basically satisfied" counts (default 0.8)."""
    return float(getattr(settings, "ZHIWANG_BASIC_SATISFACTION_WEIGHT", 0.8))


def response_hours() -> float:
    """``ZHIWANG_RESPONSE_HOURS``: natural hours a unit has to respond to a hand-over (default 24)."""
    return float(getattr(settings, "ZHIWANG_RESPONSE_HOURS", 24))


# --- the common frame ------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _visible_tickets(user):
    return Ticket.objects.visible_to(user)


def _events(user):
    """Timeline rows of the tickets ``user`` may see (no subquery for city-wide roles)."""
    scope = scope_of(user)
    if scope.everything:
        return TicketEvent.objects.all()
    if scope.is_empty:
        return TicketEvent.objects.none()
    return TicketEvent.objects.filter(ticket__in=_visible_tickets(user).values("pk"))


@dataclass(frozen=True)
class _Frame:
    """How one indicator's rows map onto the groupings: which columns hold the unit, time and place."""

    unit_field: str
    time_field: str
    place_prefix: str  # "" on Ticket, "ticket__" on TicketEvent

    def restrict(self, qs, *, start, end, division=None, unit=None):
        qs = qs.filter(**{f"{self.time_field}__gte": start, f"{self.time_field}__lt": end})
        if division is not None and division.level in ("district", "subdistrict", "community"):
            qs = qs.filter(**{f"{self.place_prefix}{division.level}_id": division.pk})
        if unit is not None:
            qs = qs.filter(**{self.unit_field: getattr(unit, "pk", unit)})
        return qs

    def key(self, by: str | None, time_field: str | None = None):
        time_field = time_field or self.time_field
        if by is None:
            return Value(0)
        if by == "unit":
            return F(self.unit_field)
        if by in ("district", "subdistrict", "community"):
            return F(f"{self.place_prefix}{by}_id")
        trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}.get(by)
        if trunc is None:
            raise ValueError(f"unknown grouping {by!r}: use one of {GROUPINGS}")
        return trunc(time_field, tzinfo=_tz())


_EVENTS = _Frame(unit_field="unit_id", time_field="at", place_prefix="ticket__")
_TICKETS = _Frame(unit_field="handling_unit_id", time_field="due_at", place_prefix="")


def _clean_key(by: str | None, value):
    if by is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value, _tz()).date() if timezone.is_aware(value) else value.date()
    return value


def _is_several(by) -> bool:
    """Whether ``by`` is several groupings at once (a tuple), not one grouping (a string or None)."""
    return isinstance(by, tuple)


def _key_columns(by, frame: _Frame, time_field: str | None = None) -> dict:
    """``{alias: expression}`` of the columns to group by for ``by`` (one grouping or a tuple)."""
    if not _is_several(by):
        return {"_key": frame.key(by, time_field)}
    columns = {f"_key{i}": frame.key(one, time_field) for i, one in enumerate(by) if one is not None}
    return columns or {"_key_all": Value(0)}  # only the total: one group, as ``by=None``


def _keys_of(by, row: dict) -> dict:
    """``{grouping: key}`` of one grouped row (a single grouping: ``{by: key}``); pops the columns."""
    if not _is_several(by):
        return {by: _clean_key(by, row.pop("_key"))}
    row.pop("_key_all", None)
    return {
        one: _clean_key(one, row.pop(f"_key{i}")) if one is not None else None for i, one in enumerate(by)
    }


def _grouped(qs, by, frame: _Frame, **aggregates) -> dict:
    """``{key: {name: value}}`` from one GROUP BY query.

    ``by`` may be a tuple of groupings: then ``{grouping: {key: {name: value}}}`` from one query
    grouped by all their columns at once, each grouping summed from its rows (every aggregate is
    a count or a sum, so the sums of the finer groups are the coarser groups' figures). One scan
    of the window instead of one per grouping; a row lacking one grouping's column (a ticket
    without a community) sums into that grouping's ``None`` key, as its own GROUP BY would.
    """
    columns = _key_columns(by, frame)
    rows = qs.annotate(**columns).order_by().values(*columns).annotate(**aggregates)
    out: dict = {one: {} for one in by} if _is_several(by) else {}
    for row in rows:
        for one, key in _keys_of(by, row).items():
            per_key = out[one] if _is_several(by) else out
            current = per_key.setdefault(key, dict.fromkeys(aggregates, 0))
            for name, value in row.items():
                current[name] += value or 0
    return out


def _tallied(qs, by, frame: _Frame, flags: dict, tally) -> dict:
    """``{key: {name: count}}`` (several groupings: as ``_grouped``) of rows classified in Python.

    The rows are grouped by the key columns and by ``flags`` (boolean expressions), so each flag
    is evaluated once per row; a filter and ``Count(filter=…)`` on the same expressions would
    repeat every correlated subquery in them once per use. ``tally({flag: bool})`` returns
    ``{name: bool}``, whether the rows count towards each figure, or None to leave them out (as
    a ``WHERE`` would). A flag that is NULL (a comparison with a missing deadline) is false, as
    it is in a ``WHERE``; so a flag may be used only un-negated where it can be NULL.
    """
    columns = _key_columns(by, frame)
    rows = qs.annotate(**columns, **flags).order_by().values(*columns, *flags).annotate(_n=Count("pk"))
    out: dict = {one: {} for one in by} if _is_several(by) else {}
    for row in rows:
        n = row.pop("_n")
        counted = tally({name: bool(row.pop(name)) for name in flags})
        if counted is None:
            continue
        for one, key in _keys_of(by, row).items():
            per_key = out[one] if _is_several(by) else out
            current = per_key.setdefault(key, dict.fromkeys(counted, 0))
            for name, yes in counted.items():
                current[name] += n if yes else 0
    return out


def _each(by, groups: dict, finish) -> dict:
    """``finish(groups)`` for one grouping; ``{grouping: finish(its groups)}`` for several."""
    if _is_several(by):
        return {one: finish(per_key) for one, per_key in groups.items()}
    return finish(groups)


def _rates(groups: dict, numerator: str, denominator: str) -> dict:
    return {key: Rate(values[numerator], values[denominator]) for key, values in groups.items()}


def _round_end():
    """The pk of the next hand-over of the same ticket (or a number beyond every pk)."""
    following = TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), action__in=HANDOVER_ACTIONS, pk__gt=OuterRef("pk")
    ).order_by("pk")
    return Coalesce(
        Subquery(following.values("pk")[:1]), Value(_NO_ROUND_END), output_field=BigIntegerField()
    )


def _in_round(**filters):
    """Timeline rows of the same ticket after the outer hand-over and before the next one."""
    return TicketEvent.objects.filter(
        ticket=OuterRef("ticket"), pk__gt=OuterRef("pk"), pk__lt=OuterRef("round_end"), **filters
    )
