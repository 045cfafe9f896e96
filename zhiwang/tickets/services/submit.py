"""The one submit pipeline every channel goes through.

validate → idempotency → locate → deadline rule → route → (auto-)dispatch → timeline,
in one transaction. A retry with the same (channel, external id) returns the
ticket the first call made; nothing is ever half-written.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.geo.addressing import match_address
from zhiwang.geo.locator import locate
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress
from zhiwang.tickets.models import (
    OPEN_STATUSES,
    Category,
    Channel,
    KindDeadline,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketKind,
    TicketStatus,
    Urgency,
)
from zhiwang.tickets.routing import route
from zhiwang.tickets.services.clock import dispatch_deadlines
from zhiwang.tickets.workflow import TicketAction

#: Kinds that are about a place: a location is required.
PLACE_KINDS = {TicketKind.COMPLAINT, TicketKind.REPORT, TicketKind.HELP, TicketKind.INCIDENT}
DEFAULT_LIMITS = {
    TicketKind.INQUIRY: (2, LimitUnit.WORKING_DAYS),
    TicketKind.HELP: (10, LimitUnit.WORKING_DAYS),
    TicketKind.SUGGESTION: (10, LimitUnit.WORKING_DAYS),
    TicketKind.PRAISE: (10, LimitUnit.WORKING_DAYS),
    TicketKind.COMPLAINT: (15, LimitUnit.WORKING_DAYS),
    TicketKind.REPORT: (15, LimitUnit.WORKING_DAYS),
    TicketKind.INCIDENT: (5, LimitUnit.WORKING_DAYS),
}


@dataclass
class Place:
    address: StandardAddress | None = None
    grid: Grid | None = None
    community: Division | None = None
    subdistrict: Division | None = None
    district: Division | None = None
    lon: float | None = None
    lat: float | None = None
    how: str = "none"

    @property
    def finest(self) -> Division | None:
        return self.community or self.subdistrict or self.district


@dataclass
class SubmitResult:
    ticket: Ticket
    created: bool
    duplicates: list[Ticket] = field(default_factory=list)


def _ancestors(division: Division | None) -> dict[str, Division]:
    out, node = {}, division
    while node is not None:
        out[node.level] = node
        node = node.parent
    return out


def locate_place(
    *, address_code: str = "", lon=None, lat=None, crs: str = "wgs84", address_text: str = ""
) -> Place:
    """Standard address code, else point, else free text: the most specific place known."""
    if address_code:
        address = (
            StandardAddress.objects.select_related("grid", "community__parent__parent")
            .filter(code=address_code)
            .first()
        )
        if address is None:
            raise ServiceError(
                "tickets.address_unknown",
                _("There is no standard address %(code)s.") % {"code": address_code},
                field="address_code",
            )
        chain = _ancestors(address.community)
        return Place(
            address,
            address.grid,
            chain.get(DivisionLevel.COMMUNITY),
            chain.get(DivisionLevel.SUBDISTRICT),
            chain.get(DivisionLevel.DISTRICT),
            address.lon,
            address.lat,
            "address",
        )
    if lon not in (None, "") or lat not in (None, ""):
        if lon in (None, "") or lat in (None, ""):
            missing = "lat" if lon not in (None, "") else "lon"
            raise ServiceError(
                "tickets.point_incomplete", _("Give both longitude and latitude."), field=missing
            )
        located = locate(lon, lat, crs=crs)
        ids = [p.id for p in (located.community, located.subdistrict, located.district) if p]
        divisions = Division.objects.in_bulk(ids)
        grid = Grid.objects.filter(pk=located.grid.id).first() if located.grid else None
        return Place(
            None,
            grid,
            divisions.get(located.community.id) if located.community else None,
            divisions.get(located.subdistrict.id) if located.subdistrict else None,
            divisions.get(located.district.id) if located.district else None,
            located.lon,
            located.lat,
            "point",
        )
    if address_text.strip():
        match = match_address(address_text)
        if match.address is not None:
            return locate_place(address_code=match.address.code)
        if match.division is not None:
            chain = _ancestors(match.division)
            return Place(
                None,
                None,
                chain.get(DivisionLevel.COMMUNITY),
                chain.get(DivisionLevel.SUBDISTRICT),
                chain.get(DivisionLevel.DISTRICT),
                match.division.lon,
                match.division.lat,
                f"text:{match.level}",
            )
    return Place()


def deadline_rule(*, category: Category, kind: str, urgency: str) -> tuple[Decimal, str]:
    """The time limit for a ticket: the category's (urgent variant), else the kind's default table."""
    node = category
    while node is not None:
        if urgency == Urgency.URGENT and node.urgent_deadline_amount and node.urgent_deadline_unit:
            return node.urgent_deadline_amount, node.urgent_deadline_unit
        if urgency != Urgency.URGENT and node.deadline_amount and node.deadline_unit:
            return node.deadline_amount, node.deadline_unit
        node = node.parent
    row = KindDeadline.objects.filter(kind=kind, urgency=urgency).first()
    if row is None and urgency == Urgency.URGENT:
        return Decimal(2), LimitUnit.WORKING_HOURS
    if row is None:
        row = KindDeadline.objects.filter(kind=kind, urgency=Urgency.NORMAL).first()
    if row is not None:
        return row.amount, row.unit
    amount, unit = DEFAULT_LIMITS.get(kind, (10, LimitUnit.WORKING_DAYS))
    return Decimal(amount), unit


def next_number(now: datetime) -> str:
    """ZW + local date + 6-digit sequence, from a counter row updated atomically."""
    day = timezone.localtime(now).date()
    TicketCounter.objects.get_or_create(day=day)
    TicketCounter.objects.filter(day=day).update(value=F("value") + 1)
    value = TicketCounter.objects.get(day=day).value
    return f"ZW{day:%Y%m%d}{value:06d}"


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def find_duplicates(
    *, category: Category, place: Place, at: datetime, exclude_pk: int | None = None
) -> list[Ticket]:
    """Open tickets of the same category at the same standard address, or near the point in the window."""
    radius = getattr(settings, "ZHIWANG_DUPLICATE_RADIUS_M", 100)
    window = timedelta(days=getattr(settings, "ZHIWANG_DUPLICATE_WINDOW_DAYS", 7))
    qs = Ticket.objects.filter(category=category, status__in=OPEN_STATUSES).exclude(pk=exclude_pk)
    found: dict[int, Ticket] = {}
    if place.address is not None:
        building = place.address
        while building.parent_id is not None:
            building = building.parent
        same = qs.filter(address__code__startswith=building.code)
        for ticket in same.order_by("received_at")[:20]:
            found[ticket.pk] = ticket
    if place.lon is not None and place.community is not None:
        nearby = qs.filter(community=place.community, received_at__gte=at - window, lon__isnull=False)
        for ticket in nearby.order_by("received_at")[:200]:
            if _distance_m(place.lon, place.lat, ticket.lon, ticket.lat) <= radius:
                found.setdefault(ticket.pk, ticket)
    return sorted(found.values(), key=lambda t: t.received_at)


def _clean(value: str | None) -> str:
    return (value or "").strip()


def ticket_submit(
    *,
    channel: str,
    kind: str,
    category: Category | str | None,
    description: str,
    title: str = "",
    external_id: str = "",
    urgency: str = Urgency.NORMAL,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter=None,
    address_text: str = "",
    address_code: str = "",
    lon=None,
    lat=None,
    crs: str = "wgs84",
    received_at: datetime | None = None,
    actor=None,
) -> SubmitResult:
    """Create a ticket from any channel (or return the one an earlier identical call created).

    ``external_id`` is the channel's own id (hotline call id, Open311 client request id,
    the web form's one-time token); (channel, external_id) is the idempotency key.
    Raises ``ServiceError`` with field errors when the input is invalid; nothing is written then.
    """
    errors = ErrorList()
    description = _clean(description)
    title = _clean(title)
    if channel not in Channel.values:
        errors.add("channel", "tickets.channel_unknown", _("Unknown channel %(value)s.") % {"value": channel})
    if kind not in TicketKind.values:
        errors.add("kind", "tickets.kind_unknown", _("Unknown kind %(value)s.") % {"value": kind})
    if urgency not in Urgency.values:
        errors.add("urgency", "tickets.urgency_unknown", _("Unknown urgency %(value)s.") % {"value": urgency})
    if isinstance(category, str):
        category = Category.objects.filter(code=category, is_active=True).first() if category else None
        if category is None:
            errors.add("category", "tickets.category_unknown", _("Choose a category from the catalogue."))
    elif category is None or not category.is_active:
        errors.add("category", "tickets.category_unknown", _("Choose a category from the catalogue."))
    if category is not None and category.children.filter(is_active=True).exists():
        errors.add(
            "category",
            "tickets.category_not_leaf",
            _("Choose the most specific category (%(name)s has subcategories).") % {"name": category.name},
        )
    if category is not None and category.kinds and kind in TicketKind.values and kind not in category.kinds:
        errors.add(
            "kind",
            "tickets.kind_not_allowed",
            _("The category %(name)s is not used for this kind.") % {"name": category.name},
        )
    if len(description) < 5:
        errors.add(
            "description", "tickets.description_short", _("Describe the problem in at least 5 characters.")
        )
    if len(description) > 4000:
        errors.add(
            "description", "tickets.description_long", _("The description may have at most 4,000 characters.")
        )
    phone = "".join(ch for ch in _clean(reporter_phone) if ch.isdigit() or ch in "+-")
    if reporter_phone and not (7 <= len(phone.replace("-", "").replace("+", "")) <= 15):
        errors.add("reporter_phone", "tickets.phone_invalid", _("The phone number is not valid."))
    now = timezone.now()
    if received_at is not None and received_at > now + timedelta(minutes=5):
        errors.add("received_at", "tickets.received_in_future", _("The time received is in the future."))
    if len(external_id) > 120:
        errors.add(
            "external_id", "tickets.external_id_long", _("The external id may have at most 120 characters.")
        )
    errors.raise_if_any("tickets.invalid", _("The ticket has invalid fields."))

    key = f"{channel}:{external_id}" if external_id else f"{channel}:auto:{uuid.uuid4().hex}"
    existing = Ticket.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return SubmitResult(existing, False)

    place = locate_place(address_code=address_code, lon=lon, lat=lat, crs=crs, address_text=address_text)
    if kind in PLACE_KINDS and place.finest is None:
        raise ServiceError(
            "tickets.place_required",
            _("Say where: a standard address, a point on the map, or an address we can recognise."),
            field="address_text",
        )
    amount, unit = deadline_rule(category=category, kind=kind, urgency=urgency)
    decided = route(category=category, place=place.finest)
    received = received_at or now
    try:
        with transaction.atomic():
            duplicates = find_duplicates(category=category, place=place, at=received)
            ticket = Ticket.objects.create(
                number=next_number(received),
                kind=kind,
                category=category,
                channel=channel,
                idempotency_key=key,
                urgency=urgency,
                title=title or description[:40],
                description=description,
                status=TicketStatus.PENDING_DISPATCH,
                reporter_name=_clean(reporter_name)[:64],
                reporter_phone=phone,
                reporter=reporter if getattr(reporter, "pk", None) else None,
                address_text=_clean(address_text)[:255] or (place.address.full_name if place.address else ""),
                address=place.address,
                lon=place.lon,
                lat=place.lat,
                grid=place.grid,
                community=place.community,
                subdistrict=place.subdistrict,
                district=place.district,
                dispatch_center=decided.dispatch_center,
                suggested_unit=decided.unit,
                route_explanation=decided.explanation[:255],
                received_at=received,
                deadline_amount=amount,
                deadline_unit=unit,
            )
            TicketEvent.objects.create(
                ticket=ticket,
                actor=actor if getattr(actor, "pk", None) else None,
                action=TicketAction.RECEIVE,
                from_state="",
                to_state=TicketStatus.PENDING_DISPATCH,
                note=_("Received via %(channel)s.") % {"channel": Channel(channel).label},
                payload={"located_by": place.how, "duplicates": [d.number for d in duplicates]},
                at=received,
            )
            if decided.auto_dispatch and decided.unit is not None and not duplicates:
                from zhiwang.tickets.services.actions import ticket_dispatch

                ticket_dispatch(
                    ticket=ticket,
                    unit=decided.unit,
                    actor=None,
                    note=_("Dispatched automatically: %(why)s") % {"why": decided.explanation},
                )
    except IntegrityError:
        # Two identical retries raced: the other one won; answer with its ticket.
        existing = Ticket.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return SubmitResult(existing, False)
    ticket.refresh_from_db()
    return SubmitResult(ticket, True, duplicates)


def submission_token() -> str:
    """A one-time token for a web form, so a double click submits once."""
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()[:32]


__all__ = [
    "Place",
    "SubmitResult",
    "deadline_rule",
    "dispatch_deadlines",
    "find_duplicates",
    "locate_place",
    "ticket_submit",
]
