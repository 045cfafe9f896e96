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
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import Division, Grid, StandardAddress
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Category,
    RequestStatus,
    Ticket,
    TicketEvent,
    TicketRequest,
    TicketStatus,
    normalize_phone,
)
from zhiwang.tickets.workflow import HANDLING, TicketAction

#: The states in which the unit holds the work and its deadline can be missed ("overdue").
OVERDUE_STATES = HANDLING
#: A handling unit's inbox: what it must sign for or is working on.
INBOX_STATES = (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED, TicketStatus.SUSPENDED)
#: What a citizen's view of the timeline shows (no internal notes, requests or audit rows).
PUBLIC_ACTIONS = (
    TicketAction.RECEIVE,
    TicketAction.DISPATCH,
    TicketAction.ACCEPT,
    TicketAction.APPROVE_EXTENSION,
    TicketAction.REPLY,
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
_LIST_RELATED = ("category", "handling_unit", "division", "community", "subdistrict", "district")


def _visible(user) -> QuerySet[Ticket]:
    return Ticket.objects.visible_to(user).select_related(*_LIST_RELATED)


def is_staff_viewer(user) -> bool:
    """Staff see the whole timeline; citizens (and integration users acting for them) see public rows."""
    role = "administrator" if getattr(user, "is_superuser", False) else getattr(user, "role", "")
    return role not in ("", "citizen")


# --- lists --------------------------------------------------------------------


@dataclass
class TicketFilters:
    """What a ticket list can be narrowed by; every field optional.

    ``status`` is a status, or ``open`` / ``final``; ``category`` and ``division`` are
    codes and include their whole subtree; ``grid`` is a grid code; ``address`` a standard
    address code (a building includes its units and rooms); ``handling_unit`` is a unit code; ``q``
    matches the number (exactly or its start) or the title.
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
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    ordering: str = "-received_at"

    @classmethod
    def from_dict(cls, data: dict | None) -> TicketFilters:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known and v is not None})


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


def ticket_list(*, user, filters: TicketFilters | dict | None = None, now: datetime | None = None):
    """Tickets the user may see, filtered and ordered (newest first by default).

    An unknown category, division or handling unit code, or an unknown ordering, is a
    ``ServiceError`` naming the field (a typo must not silently answer "no tickets").
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
    for name in ("kind", "channel", "urgency"):
        if value := getattr(f, name):
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
        unit = OrgUnit.objects.filter(code=f.handling_unit).first()
        if unit is None:
            raise ServiceError(
                "tickets.unit_unknown",
                _("There is no unit %(value)s.") % {"value": f.handling_unit},
                field="handling_unit",
            )
        qs = qs.filter(handling_unit=unit)
    if f.division:
        division = Division.objects.filter(code=f.division).first()
        if division is None:
            raise ServiceError(
                "tickets.division_unknown",
                _("There is no division %(value)s.") % {"value": f.division},
                field="division",
            )
        subtree = Division.objects.descendants_of(division, include_self=True).values("pk")
        qs = qs.filter(division__in=subtree)
    if f.grid:
        grid = Grid.objects.filter(code=f.grid).only("pk").first()
        if grid is None:
            raise ServiceError(
                "tickets.grid_unknown", _("There is no grid %(value)s.") % {"value": f.grid}, field="grid"
            )
        qs = qs.filter(grid=grid)
    if f.address:
        address = StandardAddress.objects.filter(code=f.address).only("pk").first()
        if address is None:
            raise ServiceError(
                "tickets.address_unknown",
                _("There is no standard address %(code)s.") % {"code": f.address},
                field="address",
            )
        # A building's tickets include those located at its units and rooms.
        qs = qs.filter(Q(address=address) | Q(address__parent=address) | Q(address__parent__parent=address))
    if f.overdue is True:
        qs = qs.filter(status__in=OVERDUE_STATES, due_at__lt=now)
    elif f.overdue is False:
        qs = qs.exclude(status__in=OVERDUE_STATES, due_at__lt=now)
    if f.due_before is not None:
        qs = qs.filter(due_at__lte=f.due_before)
    if f.received_from is not None:
        qs = qs.filter(received_at__gte=f.received_from)
    if f.received_to is not None:
        qs = qs.filter(received_at__lt=f.received_to)
    if q := (f.q or "").strip():
        qs = qs.filter(Q(number__istartswith=q) | Q(title__icontains=q))
    ordering = ORDERINGS.get(f.ordering or "-received_at")
    if ordering is None:
        raise ServiceError(
            "tickets.ordering_unknown",
            _("Order by one of: %(choices)s.") % {"choices": ", ".join(ORDERINGS)},
            field="ordering",
        )
    return qs.order_by(*ordering)


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
    requests = (
        TicketRequest.objects.filter(status=RequestStatus.PENDING, ticket__in=visible.values("pk"))
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
        breaching=breaching.order_by("due_at", "pk"),
    )


def handler_inbox(*, user) -> QuerySet[Ticket]:
    """The tickets the user's unit must sign for or is handling, the nearest deadline first.

    ``sent_back`` marks tickets whose reply was sent back (or failed on-site
    verification) since the unit accepted them.
    """
    unit_id = getattr(user, "org_unit_id", None)
    if not unit_id:
        return Ticket.objects.none()
    sent_back = TicketEvent.objects.filter(
        ticket=OuterRef("pk"),
        action__in=(TicketAction.SEND_BACK, TicketAction.VERIFY_FAIL),
        at__gte=OuterRef("accepted_at"),
    )
    return (
        _visible(user)
        .filter(handling_unit_id=unit_id, status__in=INBOX_STATES)
        .annotate(sent_back=Exists(sent_back))
        .order_by("due_at", "received_at", "pk")
    )


# --- one ticket ---------------------------------------------------------------


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
    try:
        return ticket.requests.get(pk=request_id)
    except TicketRequest.DoesNotExist:
        raise Http404(request_id) from None


def merged_duplicates(*, ticket: Ticket) -> QuerySet[Ticket]:
    """Tickets merged into this one (it is their master)."""
    return ticket.duplicates.select_related("category").order_by("received_at", "pk")


# --- intake helpers -----------------------------------------------------------


def caller_history(*, user, phone: str, limit: int = 10, exclude: Ticket | None = None) -> list[Ticket]:
    """Earlier tickets from the same phone number, newest first (the operator sees who calls again)."""
    normalized = normalize_phone(phone)
    if not normalized:
        return []
    qs = _visible(user).filter(reporter_phone=normalized)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs.order_by("-received_at", "-pk")[:limit])


def _building(address: StandardAddress) -> StandardAddress:
    while address.parent_id is not None:
        address = address.parent
    return address


def _inside_building(building: StandardAddress) -> QuerySet[StandardAddress]:
    """The addresses inside a building (its code then "-"), as an index range on the code."""
    prefix = f"{building.code}-"
    if connection.vendor == "sqlite":
        # SQLite does not use an index for LIKE … ESCAPE; a range on the (binary) code does.
        inside = Q(code__gte=prefix, code__lt=f"{building.code}.")
    else:
        inside = Q(code__startswith=prefix)  # the varchar_pattern_ops index of the unique code
    return StandardAddress.objects.filter(inside).values("pk")


def at_building(address: StandardAddress) -> Q:
    """Tickets at the building of ``address`` or anywhere inside it ("-" ends a building's code)."""
    building = _building(address)
    return Q(address=building) | Q(address__in=_inside_building(building))


class AddressHistory(NamedTuple):
    address: StandardAddress | None
    tickets: list[Ticket]


def address_history(
    *,
    user,
    address: StandardAddress | str | None = None,
    address_text: str = "",
    limit: int = 10,
    exclude: Ticket | None = None,
) -> AddressHistory:
    """Earlier tickets at the same building, newest first.

    ``address`` is a standard address or its code; else ``address_text`` is matched
    (at least a building must be recognised). Answers the address found and the tickets.
    """
    if isinstance(address, str):
        address = StandardAddress.objects.filter(code=address.strip()).first() if address.strip() else None
    if address is None and len((address_text or "").strip()) >= 4:
        address = match_address(address_text).address
    if address is None:
        return AddressHistory(None, [])
    qs = _visible(user).filter(at_building(address))
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return AddressHistory(address, list(qs.order_by("-received_at", "-pk")[:limit]))


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def open_duplicates(
    *,
    category_id: int,
    address: StandardAddress | None,
    community_id: int | None,
    lon: float | None,
    lat: float | None,
    at: datetime,
    exclude_pk: int | None = None,
) -> list[Ticket]:
    """Open tickets of the same category at the same building, or near the point within the window.

    Unscoped (the submit pipeline's read); ``duplicate_candidates`` is the scoped one.
    Radius and window: ``ZHIWANG_DUPLICATE_RADIUS_M`` (100 m), ``ZHIWANG_DUPLICATE_WINDOW_DAYS`` (7).
    The nearby search stays inside the community (index ``tickets_dup_area``); a twin
    across a community border is found by its address, not its point.
    """
    radius = getattr(settings, "ZHIWANG_DUPLICATE_RADIUS_M", 100)
    window = timedelta(days=getattr(settings, "ZHIWANG_DUPLICATE_WINDOW_DAYS", 7))
    building = _building(address) if address is not None else None
    nearby = lon is not None and lat is not None and community_id is not None
    where = Q()
    if building is not None:
        where |= at_building(building)
    if nearby:
        where |= Q(
            community_id=community_id,
            received_at__gte=at - window,
            received_at__lte=at + window,
            lon__isnull=False,
            lat__isnull=False,
        )
    if not where:
        return []
    qs = Ticket.objects.filter(category_id=category_id, status__in=OPEN_STATUSES).filter(where)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    # One narrow query for both tests (usually empty); whole tickets only for what matched.
    rows = qs.order_by("received_at", "pk").values_list(
        "pk", "address_id", "address__code", "community_id", "received_at", "lon", "lat"
    )[:_DUPLICATE_ROWS]
    at_address, close_by, seen_nearby = [], [], 0
    for pk, address_id, code, community, received, t_lon, t_lat in rows:
        if building is not None and len(at_address) < 20:
            if address_id == building.pk or (code or "").startswith(f"{building.code}-"):
                at_address.append(pk)
        if (
            nearby
            and seen_nearby < 200
            and community == community_id
            and at - window <= received <= at + window
            and t_lon is not None
            and t_lat is not None
        ):
            seen_nearby += 1
            if _distance_m(lon, lat, t_lon, t_lat) <= radius:
                close_by.append(pk)
    found = {*at_address, *close_by}
    if not found:
        return []
    return sorted(Ticket.objects.filter(pk__in=found), key=lambda t: (t.received_at, t.pk))


#: At most this many open tickets are read per duplicate search (the earliest; 20 at the building
#: and 200 in the area are considered, as before).
_DUPLICATE_ROWS = 500


def duplicate_candidates(*, user, ticket: Ticket | None = None, tickets=None) -> list[Ticket]:
    """Open duplicates of ``ticket`` the user may see (or, of ``tickets`` already found, the visible ones)."""
    if ticket is not None:
        tickets = open_duplicates(
            category_id=ticket.category_id,
            address=ticket.address,
            community_id=ticket.community_id,
            lon=ticket.lon,
            lat=ticket.lat,
            at=ticket.received_at,
            exclude_pk=ticket.pk,
        )
    ids = [t.pk for t in tickets or ()]
    if not ids:
        return []
    return list(_visible(user).filter(pk__in=ids).order_by("received_at", "pk"))


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
    """The reporter's phone equals ``phone`` (normalized, compared in constant time)."""
    given = normalize_phone(phone)
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
    answered = ticket.status in (TicketStatus.FOLLOW_UP, TicketStatus.CLOSED, TicketStatus.REJECTED)
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
        replied_at=ticket.replied_at if answered else None,
        closed_at=ticket.closed_at,
        reply=ticket.reply if answered else "",
        merged_into=ticket.merged_into.number if ticket.merged_into_id else "",
        can_rate=ticket.status == TicketStatus.FOLLOW_UP,
        events=events,
    )


# --- catalogue and units -------------------------------------------------------


def category_list(*, kind: str = "", active_only: bool = True) -> list[Category]:
    """The catalogue in tree order (parents before children), with ``depth`` and ``is_leaf`` set."""
    nodes = list(Category.objects.filter(is_active=True) if active_only else Category.objects.all())
    children: dict[int | None, list[Category]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    ordered: list[Category] = []

    def walk(parent_id, depth):
        for node in sorted(children.get(parent_id, ()), key=lambda c: (c.sort_order, c.code)):
            node.depth = depth
            node.is_leaf = node.pk not in children
            node.parent_code = None
            ordered.append(node)
            walk(node.pk, depth + 1)

    walk(None, 0)
    codes = {node.pk: node.code for node in ordered}
    for node in ordered:
        node.parent_code = codes.get(node.parent_id)
    if kind:
        ordered = [n for n in ordered if not n.kinds or kind in n.kinds]
    return ordered


@dataclass(frozen=True)
class CategorySuggestion:
    """One suggested leaf category, with hints for the intake form.

    ``source`` is ``model`` (``confidence`` is the classifier's calibrated probability)
    or ``keywords`` (``score`` 0–1 against the best keyword match; no confidence).
    ``kinds`` are the kinds the category is used for, ``unit`` the handling unit (or tier)
    its routing rule names, ``deadline`` its time limit in words, ``urgency`` "urgent" when
    the category's own limit is counted in hours.
    """

    category: Category
    score: float
    path: str
    source: str = "keywords"
    confidence: float | None = None
    kinds: tuple[str, ...] = ()
    unit: str = ""
    deadline: str = ""
    urgency: str = ""
    auto: bool = False

    @property
    def percent(self) -> int | None:
        return None if self.confidence is None else round(100 * self.confidence)


def _path(category: Category) -> str:
    names, node = [], category
    while node is not None:
        names.append(node.name)
        node = node.parent
    return " / ".join(reversed(names))


def _unit_hint(category: Category) -> str:
    """The unit (or tier) the most specific city-wide rule for the category names."""
    from zhiwang.tickets.routing import category_chain

    config = routing_config()
    for category_id in category_chain(config.category(category.pk)):
        for rule in config.rules.get(category_id, ()):
            if rule.unit_id and rule.unit_id in config.units:
                return config.units[rule.unit_id].name
            if rule.tier:
                return _("%(tier)s office") % {"tier": rule.get_tier_display()}
    return ""


def _hints(category: Category) -> dict:
    deadline = ""
    if category.deadline_amount and category.deadline_unit:
        deadline = f"{category.deadline_amount.normalize():f} {category.get_deadline_unit_display()}"
    return {
        "kinds": tuple(category.kinds or ()),
        "unit": _unit_hint(category),
        "deadline": deadline,
        "urgency": "urgent" if category.deadline_unit == "working_hours" else "",
    }


def category_suggestions(*, text: str, kind: str = "", limit: int = 5) -> list[CategorySuggestion]:
    """The classifier's suggestions first (with confidence), then keyword matches, best first.

    Used by the intake page's as-you-type panel, the citizen form and
    ``GET /api/v1/tickets/categories/suggest``. With no active model only keyword
    matches come back. A category appears once (as the model's, when it suggested it).
    """
    from zhiwang.tickets.classify import allows_kind, leaf_by_code, model_suggestions

    cleaned = " ".join((text or "").split())
    out: list[CategorySuggestion] = []
    seen: set[int] = set()
    if len(cleaned.replace(" ", "")) >= 2:
        for suggestion in model_suggestions([cleaned], top_k=max(limit, 3)):
            for rank, (label, probability) in enumerate(suggestion.choices):
                leaf = leaf_by_code(label)
                if leaf is None or not allows_kind(leaf, kind) or leaf.pk in seen:
                    continue
                seen.add(leaf.pk)
                out.append(
                    CategorySuggestion(
                        leaf,
                        round(float(probability), 3),
                        _path(leaf),
                        source="model",
                        confidence=float(probability),
                        auto=rank == 0 and suggestion.auto,
                        **_hints(leaf),
                    )
                )
    for found in keyword_suggestions(text=text, kind=kind, limit=limit):
        if found.category.pk not in seen and len(out) < limit + 3:
            seen.add(found.category.pk)
            out.append(
                CategorySuggestion(
                    found.category, found.score, found.path, source="keywords", **_hints(found.category)
                )
            )
    return out[: max(limit, 1)]


def keyword_suggestions(*, text: str, kind: str = "", limit: int = 5) -> list[CategorySuggestion]:
    """Leaves whose keywords or names occur in ``text``, best first (no model needed).

    A keyword hit scores 3, a name hit 2; hits on a leaf count double, hits on its
    ancestors count once. Scores are normalized to 0–1 against the best one.
    """
    text = "".join((text or "").split())
    if len(text) < 2:
        return []
    nodes = category_list(kind=kind)
    by_pk = {n.pk: n for n in Category.objects.filter(is_active=True)}
    raw: dict[int, int] = {}
    for node in by_pk.values():
        score = sum(3 for k in node.keywords.split(",") if k.strip() and k.strip() in text)
        if len(node.name) >= 2 and node.name != "其他" and node.name in text:
            score += 2
        if score:
            raw[node.pk] = score
    if not raw:
        return []
    ranked = []
    for leaf in (n for n in nodes if n.is_leaf):
        score, chain, node = 2 * raw.get(leaf.pk, 0), [], by_pk.get(leaf.parent_id)
        while node is not None:
            score += raw.get(node.pk, 0)
            chain.append(node.name)
            node = by_pk.get(node.parent_id)
        if score:
            ranked.append((score, leaf, " / ".join([*reversed(chain), leaf.name])))
    if not ranked:  # hits only on categories not used for this kind
        return []
    ranked.sort(key=lambda item: (-item[0], item[1].sort_order, item[1].code))
    best = ranked[0][0]
    return [CategorySuggestion(leaf, round(score / best, 3), path) for score, leaf, path in ranked[:limit]]


def classification_view(ticket: Ticket) -> dict:
    """What the classifier said about ``ticket``, for the dispatcher: model, decision, top choices.

    ``{"model", "decision", "source", "source_label", "choices": [{"code", "name", "path",
    "confidence", "percent", "chosen"}]}``; ``{}`` when no model looked at it. Names come
    from the routing snapshot (no query).
    """
    from zhiwang.tickets.classify import leaf_by_code

    record = ticket.classification or {}
    if not record.get("choices"):
        return {}
    choices = []
    for code, confidence in record["choices"]:
        leaf = leaf_by_code(code)
        choices.append(
            {
                "code": code,
                "name": leaf.name if leaf else code,
                "path": _path(leaf) if leaf else code,
                "confidence": float(confidence),
                "percent": round(100 * float(confidence)),
                "chosen": code == ticket.category.code,
            }
        )
    return {
        "model": record.get("model", ""),
        "decision": record.get("decision", ""),
        "source": ticket.category_source,
        "source_label": str(ticket.get_category_source_display()),
        "choices": choices,
    }


HANDLING_UNIT_KINDS = (
    OrgUnitKind.DEPARTMENT,
    OrgUnitKind.DIVISION_OFFICE,
    OrgUnitKind.GRID_STATION,
    OrgUnitKind.SERVICE_CENTER,
    OrgUnitKind.OTHER,
)


def handling_unit_choices(*, user, q: str = "") -> QuerySet[OrgUnit]:
    """Units a dispatcher may send tickets to: active handling units serving a division in
    their jurisdiction, or the whole city."""
    scope = scope_of(user)
    qs = OrgUnit.objects.filter(is_active=True, kind__in=HANDLING_UNIT_KINDS).select_related("division")
    if not scope.everything:
        if scope.is_empty:
            return qs.none()
        qs = qs.filter(Q(division_id__in=scope.division_ids) | Q(division__level="city"))
    if q := (q or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(code__istartswith=q))
    return qs.order_by("division__code", "code")
