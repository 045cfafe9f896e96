"""Reads of the tickets app, always scoped to who is asking.

Every staff read starts from ``Ticket.objects.visible_to(user)``: the user's
jurisdiction (finest division of the ticket's place) and grids, plus — for a
handler — every ticket of their own unit, plus the tickets the user reported.
A ticket outside that answers 404, exactly like one that does not exist. The one
unscoped read is ``public_ticket_lookup``: a citizen proves ownership with the
number and the phone, and gets public fields only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.core.phones import comparable_phone
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress

# Parts of this module kept in their own files (every name importable from here as before).
from zhiwang.tickets.catalogue_selectors import (  # noqa: F401
    HANDLING_UNIT_KINDS,
    SUGGESTION_FLOOR,
    CategorySuggestion,
    category_list,
    category_name,
    category_suggestions,
    classification_view,
    handling_unit_choices,
    keyword_suggestions,
    search_text,
    shown_suggestions,
)
from zhiwang.tickets.disclosure import master_number_for_reporter
from zhiwang.tickets.intake_selectors import (  # noqa: F401
    AddressHistory,
    _visible,
    address_history,
    address_in_scope,
    at_building,
    caller_history,
    duplicate_candidates,
    open_duplicates,
    twins_among,
    visible_among,
)
from zhiwang.tickets.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Category,
    Channel,
    RequestKind,
    RequestStatus,
    Satisfaction,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketRequest,
    TicketStatus,
    Urgency,
)
from zhiwang.tickets.scope_checks import address_known, division_known, grid_known, unit_known
from zhiwang.tickets.workflow import HANDLING, TicketAction

#: The states in which the unit holds the work and its deadline can be missed ("overdue").
OVERDUE_STATES = HANDLING
#: A handling unit's inbox: what it must sign for or is working on.
INBOX_STATES = (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED, TicketStatus.SUSPENDED)
#: The unit's requests its inbox marks while the dispatcher has not decided them.
INBOX_REQUEST_KINDS = (RequestKind.RETURN, RequestKind.EXTENSION)
#: What a citizen's view of the timeline shows (no internal notes, requests or audit rows).
PUBLIC_ACTIONS = (
    TicketAction.RECEIVE,
    TicketAction.DISPATCH,
    TicketAction.REASSIGN,
    TicketAction.ACCEPT,
    TicketAction.APPROVE_EXTENSION,
    TicketAction.REPLY,
    TicketAction.APPROVE_REPLY,  # the answer is released: the list must not end on "being checked"
    TicketAction.CLOSE,
    TicketAction.REOPEN,
    TicketAction.MERGE,
    TicketAction.REJECT,
    TicketAction.ANSWER_DIRECTLY,
)
ORDERINGS = {
    "received_at": ("received_at", "pk"),
    "-received_at": ("-received_at", "-pk"),
    "due_at": ("due_at", "pk"),
    "-due_at": ("-due_at", "-pk"),
    "number": ("number",),
    "-number": ("-number",),
    "status": ("status", "-received_at", "-pk"),
}


#: What a list's ``event`` filter names: the timeline rows behind each flow the dashboards count
#: (``analytics.rollups.rules``; a test keeps the two in step). A ticket is listed once however
#: many such rows it has; a figure counting events (urges, dispatches) counts each row.
EVENT_ACTIONS = {
    "received": (TicketAction.RECEIVE,),
    "dispatched": (TicketAction.DISPATCH,),
    "reassigned": (TicketAction.REASSIGN,),
    "returned": (TicketAction.APPROVE_RETURN,),
    "replied": (TicketAction.REPLY,),
    "closed": (TicketAction.CLOSE, TicketAction.ANSWER_DIRECTLY),
    "rejected": (TicketAction.REJECT,),
    "merged": (TicketAction.MERGE,),
    "transferred": (TicketAction.TRANSFER,),
    "urged": (TicketAction.URGE,),
    "supervised": (TicketAction.SUPERVISE,),
    "reopened": (TicketAction.REOPEN,),
    "follow_ups": (TicketAction.CLOSE, TicketAction.REOPEN),
}
#: ``event=overdue``: the row that starts an overdue episode (below).
WENT_OVERDUE = "overdue"
#: The events behind the figures that count only some rows of an action (the rates' parts):
#: ``name`` → the actions, read by the index on ``(action, at)``, then the row's condition
#: (``_event_condition``). The closures on time and late, and the ratings by value.
FOLLOW_UP_ACTIONS = (TicketAction.CLOSE, TicketAction.REOPEN)
CONDITIONAL_EVENTS = {
    "closed_on_time": (TicketAction.CLOSE, TicketAction.ANSWER_DIRECTLY),
    "closed_late": (TicketAction.CLOSE,),
    "rated": FOLLOW_UP_ACTIONS,
    "resolved": FOLLOW_UP_ACTIONS,
    "unresolved": FOLLOW_UP_ACTIONS,
    **{value: FOLLOW_UP_ACTIONS for value in Satisfaction.values},
}
EVENT_NAMES = (*EVENT_ACTIONS, WENT_OVERDUE, *CONDITIONAL_EVENTS)
#: The rows that end a ticket here (it leaves the open stock): the final ones and a transfer (移交).
ENDS_OPEN = (
    TicketAction.CLOSE,
    TicketAction.ANSWER_DIRECTLY,
    TicketAction.REJECT,
    TicketAction.MERGE,
    TicketAction.TRANSFER,
)
#: An overdue episode, as the dashboards count "overdue" (docs/analytics.md): it starts with the
#: sweep's overdue warning, an urge (催办) made after the deadline or a supervision (督办), and ends
#: with a reply, an approved extension or return, a reopening, or the end of the ticket here.
OVERDUE_ENDS = (
    TicketAction.REPLY,
    TicketAction.APPROVE_EXTENSION,
    TicketAction.REOPEN,
    TicketAction.APPROVE_RETURN,
    *ENDS_OPEN,
)


#: An urge's payload key: whether the deadline had passed when it was urged (the clock's
#: ``services.clock.URGE_OVERDUE_KEY``, not imported: the services import this module).
URGE_OVERDUE_KEY = "overdue"


def _went_overdue() -> Q:
    """Rows that start an overdue episode unless the ticket is in one already (the rollups'
    ``went_overdue``): a supervision, the overdue warning, an urge made after the deadline
    (``payload.overdue`` true) or one written before urges said (no key: it counts; tested with
    ``has_key``, since a missing key compares as NULL, which would be false)."""
    urge_overdue = Q(**{f"payload__{URGE_OVERDUE_KEY}": True}) | ~Q(payload__has_key=URGE_OVERDUE_KEY)
    return (
        Q(action=TicketAction.SUPERVISE)
        | Q(action=TicketAction.WARN, payload__kind="overdue")
        | (Q(action=TicketAction.URGE) & urge_overdue)
    )


def _reachable() -> Case:
    """The follow-up reached the reporter: the row's ``payload.unreachable`` is not ``true``.

    As a ``CASE`` (the rebuild's ``unreachable``): a row without the key compares as NULL on both
    backends, and ``NOT (NULL = true)`` is NULL, which would drop the row; the ``CASE`` gives it
    the default, reachable."""
    return Case(
        When(payload__unreachable=True, then=Value(False)), default=Value(True), output_field=BooleanField()
    )


def _event_condition(name: str) -> Q:
    """The condition on a row of ``CONDITIONAL_EVENTS[name]``'s actions: ``rollups.rules.event_deltas``
    in SQL, as the rebuild states it (``rebuild._event_rows``; the ticket's ``due_at`` and
    ``replied_at`` are final at closure).

    ``closed_on_time``: a direct answer, or a close of a ticket without a deadline or replied by it;
    ``closed_late``: every other close (a deadline, and no reply or one after it). ``rated``: a
    follow-up that reached the reporter and records one of the three satisfaction values;
    ``resolved`` / ``unresolved``: such a rating whose ``payload.resolved`` is / is not ``true``;
    ``satisfied`` / ``basically_satisfied`` / ``unsatisfied``: a rating of that value.
    """
    if name == "closed_on_time":
        return (
            Q(action=TicketAction.ANSWER_DIRECTLY)
            | Q(ticket__due_at__isnull=True)
            | Q(ticket__replied_at__lte=F("ticket__due_at"))
        )
    if name == "closed_late":
        # stated positively: "NOT replied_at <= due_at" is NULL for a ticket never replied to
        late_reply = Q(ticket__replied_at__isnull=True) | Q(ticket__replied_at__gt=F("ticket__due_at"))
        return Q(action=TicketAction.CLOSE, ticket__due_at__isnull=False) & late_reply
    if name in Satisfaction.values:
        return Q(_reachable()) & Q(payload__satisfaction=name)
    rated = Q(_reachable()) & Q(*[Q(payload__satisfaction=v) for v in Satisfaction.values], _connector=Q.OR)
    resolved = Case(
        When(payload__resolved=True, then=Value(True)), default=Value(False), output_field=BooleanField()
    )
    if name == "resolved":
        return rated & Q(resolved)
    if name == "unresolved":
        return rated & ~Q(resolved)
    return rated


def _last_row(condition: Q, ticket, **before) -> Subquery:
    """The pk of the ticket's last row matching ``condition`` (``before``: ``pk__lt``/``at__lt``)."""
    rows = TicketEvent.objects.filter(condition, ticket_id=ticket, **before)
    return Subquery(rows.order_by("-pk").values("pk")[:1])


def _episode_starts() -> QuerySet[TicketEvent]:
    """The rows that start an overdue episode: no episode open before them (by row order)."""
    before = {"pk__lt": OuterRef("pk")}
    return (
        TicketEvent.objects.filter(_went_overdue())
        .alias(
            last_in=_last_row(_went_overdue(), OuterRef("ticket_id"), **before),
            last_out=_last_row(Q(action__in=OVERDUE_ENDS), OuterRef("ticket_id"), **before),
        )
        .filter(Q(last_in__isnull=True) | Q(last_out__gt=F("last_in")))
    )


def _open_at(qs: QuerySet[Ticket], moment: datetime, now: datetime) -> QuerySet[Ticket]:
    """Tickets received before ``moment`` and not ended (closed, answered, rejected, merged,
    transferred) before it: the open stock at that moment. A moment not yet passed: open now.

    Read from the ticket's columns (indexed; the receive row's time is ``received_at``, the
    ending row's ``closed_at``); a ticket that ended without a ``closed_at`` (none should) is
    judged by its timeline rows.
    """
    if moment > now:
        return qs.filter(status__in=OPEN_STATUSES)
    ended_unstamped = Q(closed_at__isnull=True) & ~Q(status__in=OPEN_STATUSES)
    ended_rows = TicketEvent.objects.filter(action__in=ENDS_OPEN, at__lt=moment).values("ticket_id")
    return (
        qs.filter(received_at__lt=moment)
        .exclude(closed_at__lt=moment)
        .exclude(ended_unstamped & Q(pk__in=ended_rows))
    )


def _overdue_at(qs: QuerySet[Ticket], moment: datetime, now: datetime) -> QuerySet[Ticket]:
    """Tickets in an overdue episode at ``moment``: their last row starting one before it is later
    than their last row ending one (the dashboards' "overdue" stock at that moment)."""
    # An episode ends with the ticket: the same tickets are open then (fewer to look at).
    qs = _open_at(qs, moment, now)
    entered = TicketEvent.objects.filter(_went_overdue(), at__lt=moment)
    return (
        qs.filter(pk__in=entered.values("ticket_id"))
        .alias(
            last_in=_last_row(_went_overdue(), OuterRef("pk"), at__lt=moment),
            last_out=_last_row(Q(action__in=OVERDUE_ENDS), OuterRef("pk"), at__lt=moment),
        )
        .filter(Q(last_out__isnull=True) | Q(last_out__lt=F("last_in")))
    )


#: Years a list's date filters may name (as the web list's): a time near year 1 or 9999 with its
#: UTC offset leaves the range a database (or Python's datetime, on SQLite) keeps.
FILTER_YEARS = (1900, 9998)
#: The messages for an unknown value of a choice filter (the same as the submit pipeline's).
UNKNOWN_CHOICE = {
    "kind": gettext_lazy("Unknown kind %(value)s."),
    "channel": gettext_lazy("Unknown channel %(value)s."),
    "urgency": gettext_lazy("Unknown urgency %(value)s."),
}


def is_staff_viewer(user) -> bool:
    """Staff see the whole timeline; citizens (and anonymous callers) see the public rows.

    Integration clients count as staff: another government system (the 12345 platform, a
    department's system) acting through its own service user, scoped to that client's
    jurisdiction like any staff account — it pushes hotline tickets, submits batches and
    syncs their progress. No integration acts for a citizen (citizens' own apps sign in
    as the citizen).
    """
    role = "administrator" if getattr(user, "is_superuser", False) else getattr(user, "role", "")
    return role not in ("", "citizen")


# --- lists --------------------------------------------------------------------


@dataclass
class TicketFilters:
    """What a ticket list can be narrowed by; every field optional.

    ``status`` is a status, or ``open`` / ``final``; ``category`` and ``division`` are
    codes and include their whole subtree; ``grid`` is a grid code; ``address`` a standard
    address code (a building includes its units and rooms); ``handling_unit`` is a unit code; ``q``
    matches the number (exactly or its start) or the title; ``alert`` (an alert's id) keeps the
    tickets the alert counted (``TICKET_SETS["alert"]``).

    The filters behind the dashboards' figures: ``event`` (one of ``EVENT_NAMES``) keeps the
    tickets with such a timeline row in ``[event_from, event_to)``, naming the unit
    ``event_unit`` (a unit code) if given (for the rates' parts, ``CONDITIONAL_EVENTS``, a row of
    the action that meets the rollups' condition: a late close, an "unsatisfied" rating …); ``open_at`` the tickets open at that moment;
    ``overdue_at`` those in an overdue episode at that moment. ``unlocated`` keeps the tickets of
    the division (the city without one) located in none of its current children (``UNLOCATED_BELOW``:
    an inquiry with no district, a ticket of a community in no grid, or one whose column still names
    a division moved elsewhere; ``_unlocated_below``): the dashboards' "Unlocated" row. Below the
    city, ``division`` is the ticket's column of the division's level, as the dashboards count it.
    """

    status: str = ""
    kind: str = ""
    category: str = ""
    channel: str = ""
    urgency: str = ""
    handling_unit: str = ""
    division: str = ""
    grid: str = ""
    address: str = ""
    alert: int | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    event: str = ""
    event_from: datetime | None = None
    event_to: datetime | None = None
    event_unit: str = ""
    open_at: datetime | None = None
    overdue_at: datetime | None = None
    unlocated: bool = False
    ordering: str = "-received_at"

    @classmethod
    def from_dict(cls, data: dict | None) -> TicketFilters:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known and v is not None})


#: Sets of tickets named by an upper floor, which this app cannot import: ``name`` →
#: ``resolve(user, value)``, the ids of the set's tickets or ``None`` when ``user`` may not see
#: it. ``alert``: the tickets an alert counted (set by the analytics app in its ``ready()``).
TICKET_SETS: dict = {}


def category_subtree_ids(category: Category) -> set[int]:
    """The category and every category below it (the catalogue is a few hundred rows: one query)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = set(), [category.pk]
    while stack:
        pk = stack.pop()
        found.add(pk)
        stack.extend(children.get(pk, ()))
    return found


#: The ticket column naming the child of a place of each level (``unlocated``: it is empty).
UNLOCATED_BELOW = {
    DivisionLevel.CITY: "district",
    DivisionLevel.DISTRICT: "subdistrict",
    DivisionLevel.SUBDISTRICT: "community",
    DivisionLevel.COMMUNITY: "grid",
}

#: The level of the children of a place (``unlocated``); a community's children are its grids.
CHILD_LEVEL = {
    DivisionLevel.CITY: DivisionLevel.DISTRICT,
    DivisionLevel.DISTRICT: DivisionLevel.SUBDISTRICT,
    DivisionLevel.SUBDISTRICT: DivisionLevel.COMMUNITY,
}


def _unlocated_below(place: Division | None) -> Q:
    """The place's tickets in none of its current children: the dashboard's "Unlocated" row.

    The child column is empty (an inquiry with no district, a ticket of a community in no grid),
    or names a division that is no longer a child of the place (a community moved to another
    subdistrict while its tickets' columns still name the old one): the dashboard sums the
    rollup rows of the place whose child is not among the current children, so does this.
    """
    level = place.level if place is not None else DivisionLevel.CITY
    column = UNLOCATED_BELOW[level]
    empty = Q(**{f"{column}__isnull": True})
    if place is None or level == DivisionLevel.COMMUNITY:
        # a grid never changes community (its code holds the community's, docs/geo.md)
        return empty
    # The divisions of the child level that are not the place's children, as a literal list
    # (at most the city's ~800 communities): "column IS NULL OR column IN (…)" lets PostgreSQL
    # combine two index scans, where "NOT IN (subquery)" under an OR read every ticket.
    elsewhere = list(
        Division.objects.filter(level=CHILD_LEVEL[level]).exclude(parent=place).values_list("pk", flat=True)
    )
    return empty | Q(**{f"{column}__in": elsewhere}) if elsewhere else empty


#: The filters holding a moment (a date-time; a plain date is its local midnight).
MOMENT_FILTERS = (
    "due_before",
    "received_from",
    "received_to",
    "event_from",
    "event_to",
    "open_at",
    "overdue_at",
)


def ticket_list(*, user, filters: TicketFilters | dict | None = None, now: datetime | None = None):
    """Tickets the user may see, filtered and ordered (newest first by default).

    An unknown category, division or handling unit code, or an unknown ordering, is a
    ``ServiceError`` naming the field (a typo must not silently answer "no tickets"). A division,
    grid, address or unit the user may not know of (``scope_checks``) is answered the same, so an
    empty list never tells that a code outside their sight exists.
    """
    f = filters if isinstance(filters, TicketFilters) else TicketFilters.from_dict(filters)
    now = now or timezone.now()
    qs = _visible(user)
    if f.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif f.status == "final":
        qs = qs.filter(status__in=FINAL_STATUSES)
    elif f.status:
        if f.status not in TicketStatus.values:
            raise ServiceError(
                "tickets.status_unknown", _("Unknown status %(value)s.") % {"value": f.status}, field="status"
            )
        qs = qs.filter(status=f.status)
    for name, choices in (("kind", TicketKind), ("channel", Channel), ("urgency", Urgency)):
        if value := getattr(f, name):
            if value not in choices.values:
                raise ServiceError(
                    f"tickets.{name}_unknown", UNKNOWN_CHOICE[name] % {"value": value}, field=name
                )
            qs = qs.filter(**{name: value})
    if f.category:
        category = Category.objects.filter(code=f.category).first()
        if category is None:
            raise ServiceError(
                "tickets.category_unknown",
                _("There is no category %(value)s.") % {"value": f.category},
                field="category",
            )
        qs = qs.filter(category_id__in=category_subtree_ids(category))
    if f.handling_unit:
        qs = qs.filter(handling_unit=_unit_named(f.handling_unit, "handling_unit", user=user))
    event_unit = _unit_named(f.event_unit, "event_unit", user=user) if f.event_unit else None
    if f.division:
        division = Division.objects.filter(code=f.division).first()
        if division is None:
            in_division = None
        elif division.level == DivisionLevel.CITY:
            subtree = Division.objects.descendants_of(division, include_self=True).values("pk")
            in_division = Q(division__in=subtree)
        else:
            # the place column the dashboards count the place by (the rollups are keyed by the
            # same columns), so a figure's link lists what it counts even while the columns of
            # tickets inside a moved division still name the old parent (docs/geo.md)
            in_division = Q(**{division.level: division})
        # out of the caller's sight: answered exactly like a code that does not exist
        if in_division is None or not division_known(user=user, division=division, tickets_there=in_division):
            raise ServiceError(
                "tickets.division_unknown",
                _("There is no division %(value)s.") % {"value": f.division},
                field="division",
            )
        qs = qs.filter(in_division)
    if f.unlocated:
        place = (
            division
            if f.division
            else Division.objects.filter(level=DivisionLevel.CITY).order_by("code").first()
        )
        qs = qs.filter(_unlocated_below(place))
    if f.grid:
        grid = Grid.objects.filter(code=f.grid).only("pk", "community").first()
        if grid is None or not grid_known(user=user, grid=grid):
            raise ServiceError(
                "tickets.grid_unknown", _("There is no grid %(value)s.") % {"value": f.grid}, field="grid"
            )
        qs = qs.filter(grid=grid)
    if f.address:
        address = StandardAddress.objects.filter(code=f.address).only("pk", "community", "grid").first()
        # A building's tickets include those located at its units and rooms.
        at_address = (
            Q(address=address) | Q(address__parent=address) | Q(address__parent__parent=address)
            if address is not None
            else None
        )
        if at_address is None or not address_known(user=user, address=address, tickets_there=at_address):
            raise ServiceError(
                "tickets.address_unknown",
                _("There is no standard address %(code)s.") % {"code": f.address},
                field="address",
            )
        qs = qs.filter(at_address)
    if f.alert is not None:
        resolve = TICKET_SETS.get("alert")
        ids = resolve(user, f.alert) if resolve is not None else None
        if ids is None:  # no such alert, or not one the user may see: nothing, and said so
            raise ServiceError(
                "tickets.alert_unknown",
                _("There is no alert %(value)s in your jurisdiction.") % {"value": f.alert},
                field="alert",
            )
        qs = qs.filter(pk__in=ids)
    if f.overdue is True:
        qs = qs.filter(status__in=OVERDUE_STATES, due_at__lt=now)
    elif f.overdue is False:
        qs = qs.exclude(status__in=OVERDUE_STATES, due_at__lt=now)
    f = _checked_moments(f)
    if f.due_before is not None:
        qs = qs.filter(due_at__lte=f.due_before)
    if f.received_from is not None:
        qs = qs.filter(received_at__gte=f.received_from)
    if f.received_to is not None:
        qs = qs.filter(received_at__lt=f.received_to)
    if f.event or f.event_from or f.event_to or event_unit:
        qs = qs.filter(pk__in=_event_rows(f, event_unit).values("ticket_id"))
    if f.open_at is not None:
        qs = _open_at(qs, f.open_at, now)
    if f.overdue_at is not None:
        qs = _overdue_at(qs, f.overdue_at, now)
    if q := search_text(f.q):
        qs = qs.filter(Q(number__istartswith=q) | Q(title__icontains=q))
    ordering = ORDERINGS.get(f.ordering or "-received_at")
    if ordering is None:
        raise ServiceError(
            "tickets.ordering_unknown",
            _("Order by one of: %(choices)s.") % {"choices": ", ".join(ORDERINGS)},
            field="ordering",
        )
    return qs.order_by(*ordering)


def _checked_moments(f: TicketFilters) -> TicketFilters:
    """The filters with their moments checked (years in ``FILTER_YEARS``, else
    ``tickets.date_out_of_range`` on the field) and made aware: a plain date or a time without an
    offset (the analytics API's links give "open_at=2026-11-24") is the city's local time, as on
    the web list."""
    local: dict[str, datetime] = {}
    for name in MOMENT_FILTERS:
        moment = getattr(f, name)
        if moment is not None and not FILTER_YEARS[0] <= moment.year <= FILTER_YEARS[1]:
            raise ServiceError(
                "tickets.date_out_of_range",
                _("Enter a date between the years %(low)s and %(high)s.")
                % {"low": FILTER_YEARS[0], "high": FILTER_YEARS[1]},
                field=name,
            )
        if moment is not None and timezone.is_naive(moment):
            local[name] = timezone.make_aware(moment, timezone.get_default_timezone())
    return replace(f, **local) if local else f


def ticket_list_event_rows(
    *, user, filters: TicketFilters | dict | None, tickets: QuerySet[Ticket] | None = None
) -> QuerySet[TicketEvent] | None:
    """The timeline rows behind a list's ``event`` filter: the rows ``_event_rows`` names (the
    event, in its window, at its unit) of the tickets the list shows (``tickets``, the answer of
    ``ticket_list`` for the same user and filters; computed when not given), so never a row of a
    ticket outside the user's sight or outside the list's other filters. ``None`` without an
    ``event`` filter.

    The dashboards count events, the list counts tickets: "10 unsatisfied ratings" may be 9
    tickets, one of them rated twice, and the list says both (the caller counts these rows with
    ``core.pagination.count_up_to``, as it counts the list).
    """
    f = filters if isinstance(filters, TicketFilters) else TicketFilters.from_dict(filters)
    if not f.event:
        return None
    if tickets is None:
        tickets = ticket_list(user=user, filters=f)  # checks every filter, as the list does
    # the unit by its code in the same statement: the list has already checked it is one the
    # user may know of (an unknown code would have been its error, and names no row here)
    rows = _event_rows(_checked_moments(f), None)
    if f.event_unit:
        rows = rows.filter(unit__in=OrgUnit.objects.filter(code=f.event_unit).values("pk"))
    return rows.filter(ticket__in=tickets.order_by().values("pk"))


def _event_rows(f: TicketFilters, unit: OrgUnit | None) -> QuerySet[TicketEvent]:
    """The timeline rows an ``event`` filter names, in its window, naming its unit."""
    if not f.event:
        raise ServiceError("tickets.event_required", _("Choose what happened."), field="event")
    if f.event == WENT_OVERDUE:
        rows = _episode_starts()
    elif f.event in EVENT_ACTIONS:
        rows = TicketEvent.objects.filter(action__in=EVENT_ACTIONS[f.event])
    elif f.event in CONDITIONAL_EVENTS:
        rows = TicketEvent.objects.filter(_event_condition(f.event), action__in=CONDITIONAL_EVENTS[f.event])
    else:
        raise ServiceError(
            "tickets.event_unknown",
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(EVENT_NAMES)},
            field="event",
        )
    if f.event_from is not None:
        rows = rows.filter(at__gte=f.event_from)
    if f.event_to is not None:
        rows = rows.filter(at__lt=f.event_to)
    if unit is not None:
        rows = rows.filter(unit=unit)
    return rows


@dataclass
class DispatcherQueue:
    """The lists of a dispatcher's working day, each scoped to the dispatcher's jurisdiction."""

    pending: QuerySet[Ticket]  # waiting for dispatch, urgent first, oldest first
    requests: QuerySet[TicketRequest]  # returns, extensions, suspensions to decide
    review: QuerySet[Ticket]  # replies to review
    follow_up: QuerySet[Ticket]  # follow-ups to record
    breaching: QuerySet[Ticket]  # past 80 % of their time, overdue, or not accepted in time


def dispatcher_queue(*, user, now: datetime | None = None) -> DispatcherQueue:
    """What the dispatcher must act on, in their jurisdiction (``Ticket.objects.visible_to``)."""
    now = now or timezone.now()
    visible = _visible(user)
    # each pending request's ticket looked up in the scope (a few requests), not the scope's
    # ids listed for them: "ticket IN (SELECT id …)" made SQLite walk the ids of every ticket in
    # scope, 1,000,000 for the city (0.13 s on every queue page and home page)
    in_scope = Ticket.objects.visible_to(user).filter(pk=OuterRef("ticket_id"))
    requests = (
        TicketRequest.objects.filter(Exists(in_scope), status=RequestStatus.PENDING)
        .select_related("ticket", "ticket__handling_unit", "ticket__category", "requested_by")
        .order_by("requested_at", "pk")
    )
    breaching = visible.filter(status__in=HANDLING).filter(
        Q(warn_at__lte=now) | Q(due_at__lte=now) | Q(status=TicketStatus.DISPATCHED, accept_due_at__lte=now)
    )
    return DispatcherQueue(
        pending=visible.filter(status=TicketStatus.PENDING_DISPATCH)
        .select_related("suggested_unit")
        .order_by("-urgency", "received_at", "pk"),
        requests=requests,
        review=visible.filter(status=TicketStatus.REPLIED).order_by("replied_at", "pk"),
        follow_up=visible.filter(status=TicketStatus.FOLLOW_UP).order_by("replied_at", "pk"),
        breaching=breaching.order_by(*_by_deadline()),
    )


def _by_deadline() -> tuple:
    """The breaching tab's order, nearest deadline first. PostgreSQL reads it from the partial
    index of the tickets being handled (``tickets_handling_due``). SQLite cannot use that index
    for a query with parameters, and walked the due_at index in order through the whole closed
    history instead (5 s at 1,000,000 tickets): ordered by an expression (the same order), it
    finds the tickets being handled by status first and sorts those (0.2 s)."""
    if connection.vendor == "sqlite":
        return (Coalesce("due_at", "due_at"), "pk")
    return ("due_at", "pk")


def inbox_overdue(now: datetime) -> Q:
    """The inbox tickets that are overdue, as the inbox shows them (``deadline_of``) and the
    handler's home page counts them: not signed for by the accept deadline, or dispatched or
    being handled past the deadline. A suspended ticket is not: its clock is stopped."""
    return Q(status=TicketStatus.DISPATCHED, accept_due_at__lte=now) | Q(
        status__in=(TicketStatus.DISPATCHED, TicketStatus.ACCEPTED), due_at__lte=now
    )


def handler_inbox(*, user) -> QuerySet[Ticket]:
    """The tickets the user's unit must sign for or is handling, the nearest deadline first.

    ``sent_back`` marks tickets whose reply was sent back (or failed on-site
    verification) since the unit accepted them; ``awaiting_decision`` is the kind of the unit's
    return (退单) or extension (延期) request the dispatcher has not decided yet, or ``None``
    (a ticket has at most one pending request: ``tickets_one_pending_request``).
    """
    unit_id = getattr(user, "org_unit_id", None)
    if not unit_id:
        return Ticket.objects.none()
    sent_back = TicketEvent.objects.filter(
        ticket=OuterRef("pk"),
        action__in=(TicketAction.SEND_BACK, TicketAction.VERIFY_FAIL),
        at__gte=OuterRef("accepted_at"),
    )
    # one correlated subquery on the pending-request index, in the same statement as the list
    pending = TicketRequest.objects.filter(
        ticket=OuterRef("pk"),
        status=RequestStatus.PENDING,
        kind__in=INBOX_REQUEST_KINDS,
    ).values("kind")[:1]
    return (
        _visible(user)
        .filter(handling_unit_id=unit_id, status__in=INBOX_STATES)
        .annotate(sent_back=Exists(sent_back), awaiting_decision=Subquery(pending))
        .order_by("due_at", "received_at", "pk")
    )


# --- one ticket ---------------------------------------------------------------


def _unit_named(code: str, field: str, *, user) -> OrgUnit:
    """The unit a list filter names, or ``tickets.unit_unknown`` on that field, also for a unit
    the user may not know of (``scope_checks.unit_known``)."""
    unit = OrgUnit.objects.filter(code=code).select_related("division").first()
    if unit is None or not unit_known(user=user, unit=unit):
        raise ServiceError(
            "tickets.unit_unknown", _("There is no unit %(value)s.") % {"value": code}, field=field
        )
    return unit


def unit_names(codes) -> dict[str, str]:
    """``{code: name}`` of the units with these codes, in one query; a code no unit has is left
    out. No scope: only for codes a scoped check has already accepted (the ticket list's unit
    filters, which ``ticket_list`` refuses through ``_unit_named`` for a unit the user may not
    know of)."""
    codes = {code for code in codes if code}
    if not codes:
        return {}
    return dict(OrgUnit.objects.filter(code__in=codes).values_list("code", "name"))


def ticket_get(*, user, number: str) -> Ticket:
    """One ticket by number, or ``Http404`` when it does not exist or lies outside the user's scope."""
    ticket = (
        _visible(user)
        .select_related("suggested_unit", "dispatch_center", "address", "grid", "merged_into", "reporter")
        .filter(number=(number or "").strip().upper())
        .first()
    )
    if ticket is None:
        raise Http404(number)
    return ticket


def ticket_timeline(*, user, ticket: Ticket) -> QuerySet[TicketEvent]:
    """The ticket's events, oldest first; a citizen sees the public rows only."""
    events = ticket.events.select_related("actor", "unit").order_by("at", "pk")
    if not is_staff_viewer(user):
        events = events.filter(action__in=PUBLIC_ACTIONS)
    return events


def ticket_requests(*, ticket: Ticket) -> QuerySet[TicketRequest]:
    """The handler's requests on a ticket (already checked by ``ticket_get``), newest first."""
    return ticket.requests.select_related("requested_by", "decided_by").order_by("-requested_at", "-pk")


def ticket_request_get(*, user, ticket: Ticket, request_id: int) -> TicketRequest:
    """One of the handler's requests on a ticket ``user`` sees (``ticket_get``); staff only, as the
    detail's ``requests`` list: to the reporter a request id is simply not there (404)."""
    if not is_staff_viewer(user):
        raise Http404(request_id)
    try:
        return ticket.requests.get(pk=request_id)
    except TicketRequest.DoesNotExist:
        raise Http404(request_id) from None


def merged_duplicates(*, user, ticket: Ticket) -> QuerySet[Ticket]:
    """Tickets merged into this one (it is their master) that the user may see.

    Other people's reports: a citizen (the master's reporter) sees none of them, staff those in
    their scope (``visible_to``), so a duplicate reported elsewhere does not show its number and title.
    """
    if not is_staff_viewer(user):
        return Ticket.objects.none()
    return (
        Ticket.objects.visible_to(user)
        .filter(merged_into=ticket)
        .select_related("category")
        .order_by("received_at", "pk")
    )


# --- intake helpers -----------------------------------------------------------


# --- the citizen's view -------------------------------------------------------


@dataclass(frozen=True)
class PublicEvent:
    at: datetime
    action: str
    label: str


@dataclass(frozen=True)
class PublicTicket:
    """What a citizen who knows the number and the phone may read: no names, no units' people, no notes."""

    id: int  # for the page's follow-up service call; never shown
    number: str
    kind: str
    kind_label: str
    category: str
    title: str
    status: str
    status_label: str
    received_at: datetime
    due_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    reply: str
    merged_into: str
    can_rate: bool
    events: list[PublicEvent] = field(default_factory=list)


#: The states in which the unit's reply was released to the citizen (reviewed, or the ticket ended).
ANSWERED_STATUSES = (TicketStatus.FOLLOW_UP, TicketStatus.CLOSED, TicketStatus.REJECTED)


def reply_is_public(ticket: Ticket) -> bool:
    """The reply may be shown to the citizen: only once answered (a reply not yet reviewed, or sent
    back to the unit, is internal)."""
    return ticket.status in ANSWERED_STATUSES


#: The actions that end the review of a reply: released to the citizen, or not.
_RELEASE = (TicketAction.APPROVE_REPLY, TicketAction.VERIFY_PASS)
_WITHHOLD = (TicketAction.SEND_BACK, TicketAction.VERIFY_FAIL)


def released_reply_events(*, ticket: Ticket) -> set[int]:
    """The ids of the ``reply`` events whose text reached the citizen (approved, or verified on site).

    A reply sent back or failed on site stays internal forever, even once a later reply is released.
    """
    released: set[int] = set()
    pending = None
    rows = ticket.events.filter(action__in=(TicketAction.REPLY, *_RELEASE, *_WITHHOLD)).order_by("at", "pk")
    for pk, action in rows.values_list("pk", "action"):
        if action == TicketAction.REPLY:
            pending = pk
        elif action in _RELEASE and pending is not None:
            released.add(pending)
            pending = None
        elif action in _WITHHOLD:
            pending = None
    return released


def public_reply(ticket: Ticket) -> tuple[str, datetime | None]:
    """The reply the citizen may read, and when it was given: the ticket's reply once answered;
    while a reopened ticket is worked again, the last reply released to them before (they read it
    already, and the rework is about it); else nothing."""
    if reply_is_public(ticket):
        return ticket.reply, ticket.replied_at
    released = released_reply_events(ticket=ticket)
    if not released:
        return "", None
    last = ticket.events.filter(pk__in=released).order_by("-at", "-pk").values_list("note", "at").first()
    return (last[0], last[1]) if last else ("", None)


def citizen_status_label(ticket: Ticket) -> str:
    """The status in a citizen's words (fewer than the staff's: "received", "being handled", …)."""
    if ticket.status == TicketStatus.CLOSED:
        return _("Closed")
    if ticket.status in (TicketStatus.REJECTED, TicketStatus.MERGED):
        return str(ticket.get_status_display())
    if ticket.status == TicketStatus.FOLLOW_UP:
        return _("Answered, awaiting your rating")
    if ticket.status == TicketStatus.PENDING_DISPATCH:
        return _("Received")
    return _("Being handled")


def phone_matches(ticket: Ticket, phone: str) -> bool:
    """The reporter's phone equals ``phone`` (normalized, compared in constant time).

    ``comparable_phone``, not ``normalize_phone``: a ticket reported before the mobile rule with
    "1381234567" stays the citizen's to follow and rate with the number they gave."""
    given = comparable_phone(phone)
    return bool(given and ticket.reporter_phone) and hmac.compare_digest(
        ticket.reporter_phone.encode(), given.encode()
    )


def public_ticket_lookup(*, number: str, phone: str) -> PublicTicket | None:
    """A ticket for its citizen: number and phone given at reporting must both match, else None."""
    ticket = (
        Ticket.objects.select_related("category", "merged_into")
        .filter(number=(number or "").strip().upper())
        .first()
    )
    if ticket is None or not phone_matches(ticket, phone):
        return None
    reply, replied_at = public_reply(ticket)
    events = [
        PublicEvent(e.at, e.action, str(TicketAction(e.action).label))
        for e in ticket.events.filter(action__in=PUBLIC_ACTIONS).order_by("at", "pk")
    ]
    return PublicTicket(
        id=ticket.pk,
        number=ticket.number,
        kind=ticket.kind,
        kind_label=str(ticket.get_kind_display()),
        category=ticket.category.name,
        title=ticket.title,
        status=ticket.status,
        status_label=citizen_status_label(ticket),
        received_at=ticket.received_at,
        due_at=ticket.due_at,
        replied_at=replied_at,
        closed_at=ticket.closed_at,
        reply=reply,
        merged_into=master_number_for_reporter(ticket),
        can_rate=ticket.status == TicketStatus.FOLLOW_UP,
        events=events,
    )
