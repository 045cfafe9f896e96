"""The one submit pipeline every channel goes through.

validate → idempotency → locate → deadline rule → route → (auto-)dispatch → timeline,
in one transaction. A retry with the same (channel, external id) returns the
ticket the first call made; nothing is ever half-written.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.geo.addressing import match_address
from zhiwang.geo.locator import locate
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.classify import Classification, classify
from zhiwang.tickets.models import (
    Category,
    CategoryCorrection,
    CategorySource,
    Channel,
    CorrectionSource,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketKind,
    TicketStatus,
    Urgency,
    normalize_phone,
)
from zhiwang.tickets.routing import route
from zhiwang.tickets.selectors import open_duplicates
from zhiwang.tickets.services.clock import dispatch_deadlines
from zhiwang.tickets.services.dispatching import dispatch_fields, dispatch_payload, notify_dispatched
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction

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
    """Where a ticket is, as precisely as the input allows; ``how`` says what located it."""

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
    """The ticket, whether this call created it (False: a retry), and open duplicates found at intake."""

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
        address = StandardAddress.objects.select_related("grid").filter(code=address_code).first()
        if address is None:
            raise ServiceError(
                "tickets.address_unknown",
                _("There is no standard address %(code)s.") % {"code": address_code},
                field="address_code",
            )
        chain = _ancestors(routing_config().division(address.community_id))
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
        config = routing_config()
        grid = Grid.objects.filter(pk=located.grid.id).first() if located.grid else None
        return Place(
            None,
            grid,
            config.division(located.community.id) if located.community else None,
            config.division(located.subdistrict.id) if located.subdistrict else None,
            config.division(located.district.id) if located.district else None,
            located.lon,
            located.lat,
            "point",
        )
    if address_text.strip():
        match = match_address(address_text)
        if match.address is not None:
            place = locate_place(address_code=match.address.code)
            place.how = "text:address"
            return place
        if match.division is not None:
            chain = _ancestors(routing_config().division(match.division.pk))
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
    table = routing_config().kind_deadlines
    row = table.get((kind, urgency))
    if row is None and urgency == Urgency.URGENT:
        return Decimal(2), LimitUnit.WORKING_HOURS
    if row is None:
        row = table.get((kind, Urgency.NORMAL))
    if row is not None:
        return row
    amount, unit = DEFAULT_LIMITS.get(kind, (10, LimitUnit.WORKING_DAYS))
    return Decimal(amount), unit


def next_number(now: datetime) -> str:
    """ZW + local date + 6-digit sequence, from the day's counter row (one ``UPDATE … RETURNING``).

    The row stays locked until the caller's transaction ends, so numbers are never given
    twice and a rolled-back submission gives its number back.
    """
    day = timezone.localtime(now).date()
    value = _counter_increment(day)
    if value is None:
        TicketCounter.objects.get_or_create(day=day)
        value = _counter_increment(day)
    return f"ZW{day:%Y%m%d}{value:06d}"


def _counter_increment(day) -> int | None:
    table = connection.ops.quote_name(TicketCounter._meta.db_table)
    params = [connection.ops.adapt_datefield_value(day)]
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:  # UPDATE … RETURNING as well
            cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE day = %s RETURNING value", params)
            row = cursor.fetchone()
            return row[0] if row else None
        cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE day = %s", params)
        if not cursor.rowcount:
            return None
        cursor.execute(f"SELECT value FROM {table} WHERE day = %s", params)
        return cursor.fetchone()[0]


def find_duplicates(
    *, category: Category, place: Place, at: datetime, exclude_pk: int | None = None
) -> list[Ticket]:
    """Open tickets of the same category at the same building, or near the point in the window."""
    return open_duplicates(
        category_id=category.pk,
        address=place.address,
        community_id=place.community.pk if place.community else None,
        lon=place.lon,
        lat=place.lat,
        at=at,
        exclude_pk=exclude_pk,
    )


def _clean(value: str | None) -> str:
    return (value or "").strip()


#: Longest accepted values; the database columns are the hard limit, this answers with a field error.
MAX_LENGTHS = {
    "title": 200,
    "description": 4000,
    "reporter_name": 64,
    "address_text": 255,
    "external_id": 120,
}


def _category(category: Category | str | None) -> tuple[Category | None, bool]:
    """The active category (by code or instance) with its ancestors, and whether it has active children.

    Both "active" and "a leaf" are read from the table (one small query); the category
    itself comes from the process's snapshot of the catalogue (shared: read-only).
    """
    if category is None or category == "":
        return None, False
    if isinstance(category, Category) and not category.is_active:
        return None, False
    qn = connection.ops.quote_name
    table = qn(Category._meta.db_table)
    column = "code" if isinstance(category, str) else "id"
    sql = (
        f"SELECT c.id, EXISTS (SELECT 1 FROM {table} k WHERE k.parent_id = c.id AND k.is_active) "
        f"FROM {table} c WHERE c.{qn(column)} = %s AND c.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [category.strip() if isinstance(category, str) else category.pk])
        row = cursor.fetchone()
    if row is None:
        return None, False
    return routing_config().category(row[0]), bool(row[1])


def _validate(
    *,
    channel: str,
    kind: str,
    category,
    urgency: str,
    texts: dict[str, str],
    reporter_phone: str,
    received_at: datetime | None,
    now: datetime,
) -> tuple[Category | None, str]:
    """Every field rule at once (so a form shows all problems together); returns (category, phone)."""
    errors = ErrorList()
    if channel not in Channel.values:
        errors.add("channel", "tickets.channel_unknown", _("Unknown channel %(value)s.") % {"value": channel})
    if kind not in TicketKind.values:
        errors.add("kind", "tickets.kind_unknown", _("Unknown kind %(value)s.") % {"value": kind})
    if urgency not in Urgency.values:
        errors.add("urgency", "tickets.urgency_unknown", _("Unknown urgency %(value)s.") % {"value": urgency})
    category, has_active_children = _category(category)
    if category is None:
        errors.add("category", "tickets.category_unknown", _("Choose a category from the catalogue."))
    elif has_active_children:
        errors.add(
            "category",
            "tickets.category_not_leaf",
            _("Choose the most specific category (%(name)s has subcategories).") % {"name": category.name},
        )
    elif category.kinds and kind in TicketKind.values and kind not in category.kinds:
        errors.add(
            "kind",
            "tickets.kind_not_allowed",
            _("The category %(name)s is not used for this kind.") % {"name": category.name},
        )
    if len(texts["description"]) < 5:
        errors.add(
            "description", "tickets.description_short", _("Describe the problem in at least 5 characters.")
        )
    for name, limit in MAX_LENGTHS.items():
        if len(texts[name]) > limit:
            errors.add(
                name,
                f"tickets.{name}_long",
                _("At most %(limit)s characters, please (%(length)s given).")
                % {"limit": f"{limit:,}", "length": f"{len(texts[name]):,}"},
            )
    phone = normalize_phone(reporter_phone)
    if _clean(reporter_phone) and not phone:
        errors.add("reporter_phone", "tickets.phone_invalid", _("The phone number is not valid."))
    if received_at is not None:
        if timezone.is_naive(received_at):
            errors.add(
                "received_at", "tickets.received_naive", _("Give the time received with its time zone.")
            )
        elif received_at > now + timedelta(minutes=5):
            errors.add("received_at", "tickets.received_in_future", _("The time received is in the future."))
    errors.raise_if_any("tickets.invalid", _("The ticket has invalid fields."))
    return category, phone


def _existing(key: str) -> Ticket | None:
    """The ticket an earlier call with the same idempotency key made (a seam for the race test)."""
    return Ticket.objects.filter(idempotency_key=key).first()


def ticket_submit(
    *,
    channel: str,
    kind: str,
    category: Category | str | None = None,
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
    the web form's one-time token); (channel, external_id) is the idempotency key: a
    retry, even one racing the first call, gets the first call's ticket and
    ``created=False`` (the retry's own fields are not compared). ``category`` is a
    ``Category`` or its code; a channel sending free text may leave it out and the
    classify step (``tickets.classify``) chooses one: only a confident model category
    may be dispatched automatically, a guess waits in the dispatcher's queue. The place is the standard address ``address_code``, else
    the point (``lon``, ``lat`` in ``crs``), else ``address_text`` matched against the
    standard addresses and division names; complaints, reports, requests for help and
    incidents must have one. Routing suggests a unit and a dispatcher queue; a certain
    rule dispatches at once unless open duplicates were found (the operator looks first).

    Raises ``ServiceError`` ``tickets.invalid`` with every field error, or a single
    error (``tickets.address_unknown``, ``tickets.place_required``, ``geo.outside_city``,
    ``geo.not_a_number``, …) naming its field. Nothing is written then.
    """
    now = timezone.now()
    texts = {
        "description": _clean(description),
        "title": _clean(title),
        "reporter_name": _clean(reporter_name),
        "address_text": _clean(address_text),
        "external_id": _clean(external_id),
    }
    classification = classify(
        title=texts["title"], description=texts["description"], kind=kind, category=category
    )
    category, phone = _validate(
        channel=channel,
        kind=kind,
        category=classification.category,
        urgency=urgency,
        texts=texts,
        reporter_phone=reporter_phone,
        received_at=received_at,
        now=now,
    )
    external_id = texts["external_id"]
    key = f"{channel}:{external_id}" if external_id else f"{channel}:auto:{uuid.uuid4().hex}"
    # No lookup of the key first: a retry is rare, and the unique key catches it below.
    try:
        place = locate_place(
            address_code=_clean(address_code), lon=lon, lat=lat, crs=crs, address_text=texts["address_text"]
        )
        if kind in PLACE_KINDS and place.finest is None:
            raise ServiceError(
                "tickets.place_required",
                _("Say where: a standard address, a point on the map, or an address we can recognise."),
                field="address_text",
            )
    except ServiceError:
        # A retry gets its ticket even if the place no longer resolves as it did the first time.
        existing = _existing(key) if external_id else None
        if existing is None:
            raise
        return SubmitResult(existing, False)
    amount, unit = deadline_rule(category=category, kind=kind, urgency=urgency)
    decided = route(category=category, place=place.finest)
    received = received_at or now
    description = texts["description"]
    ticket = Ticket(
        kind=kind,
        category=category,
        channel=channel,
        idempotency_key=key,
        urgency=urgency,
        title=texts["title"] or description[:40],
        description=description,
        status=TicketStatus.PENDING_DISPATCH,
        reporter_name=texts["reporter_name"],
        reporter_phone=phone,
        reporter=reporter if getattr(reporter, "pk", None) else None,
        address_text=texts["address_text"] or (place.address.full_name if place.address else ""),
        address=place.address,
        lon=place.lon,
        lat=place.lat,
        grid=place.grid,
        community=place.community,
        subdistrict=place.subdistrict,
        district=place.district,
        division=place.finest,
        dispatch_center=decided.dispatch_center,
        suggested_unit=decided.unit,
        route_explanation=decided.explanation[:255],
        category_source=classification.source,
        classification=classification.record,
        received_at=received,
        deadline_amount=amount,
        deadline_unit=unit,
    )
    try:
        with transaction.atomic():
            duplicates = find_duplicates(category=category, place=place, at=received)
            certain = decided.auto_dispatch and classification.may_auto_dispatch
            dispatch_to = decided.unit if certain and not duplicates else None
            if dispatch_to is not None and dispatch_to.is_active:
                # Dispatched by the system in the same transaction: the ticket is written once, in
                # its final state, with both timeline rows (what ticket_dispatch would have done).
                dispatched_at = timezone.now()
                ticket.status = TICKET_WORKFLOW.target(TicketStatus.PENDING_DISPATCH, TicketAction.DISPATCH)
                ticket.version = 2
                dispatch_fields(ticket, unit=dispatch_to, now=dispatched_at)
            else:
                dispatch_to = None
            ticket.number = next_number(received)
            ticket.save(force_insert=True)
            TicketEvent.objects.create(
                ticket=ticket,
                actor=actor if getattr(actor, "pk", None) else None,
                action=TicketAction.RECEIVE,
                from_state="",
                to_state=TicketStatus.PENDING_DISPATCH,
                note=_("Received via %(channel)s.") % {"channel": Channel(channel).label},
                payload={
                    "located_by": place.how,
                    "route": decided.explanation,
                    "rule_id": decided.rule_id,
                    "suggested_unit_id": decided.unit.pk if decided.unit else None,
                    "duplicates": [d.number for d in duplicates],
                    "category_source": classification.source,
                },
                at=received,
            )
            _record_intake_choice(ticket, classification, actor=actor, at=received)
            if dispatch_to is not None:
                TicketEvent.objects.create(
                    ticket=ticket,
                    actor=None,
                    action=TicketAction.DISPATCH,
                    from_state=TicketStatus.PENDING_DISPATCH,
                    to_state=ticket.status,
                    note=_("Dispatched automatically: %(why)s")
                    % {"why": _why(decided.explanation, classification)},
                    payload=dispatch_payload(ticket, dispatch_to),
                    unit_id=dispatch_to.pk,
                    at=dispatched_at,
                )
                notify_dispatched(ticket, dispatch_to)
    except IntegrityError:
        # The same key was submitted before (a retry), or by a call racing this one that committed first.
        existing = _existing(key)
        if existing is None:
            raise
        return SubmitResult(existing, False)
    return SubmitResult(ticket, True, duplicates)


def _why(explanation: str, classification: Classification) -> str:
    if classification.source != CategorySource.MODEL or classification.suggestion is None:
        return explanation
    return _("%(route)s (category by %(model)s, %(percent)s%% confident)") % {
        "route": explanation,
        "model": classification.suggestion.model,
        "percent": round(100 * classification.suggestion.confidence),
    }


def _record_intake_choice(ticket: Ticket, classification: Classification, *, actor, at) -> None:
    """An intake operator's category beside the model's suggestion: a training example.

    Only staff choices count (a citizen's pick of a category is not a dispatcher's
    judgement), and only when there was a suggestion to compare with: no model, no row.
    """
    suggestion = classification.suggestion
    role = getattr(actor, "role", "") if getattr(actor, "pk", None) else ""
    if suggestion is None or classification.source != CategorySource.REPORTER or role in ("", "citizen"):
        return
    CategoryCorrection.objects.create(
        ticket=ticket,
        text=ticket_text_of(ticket),
        suggested_label=suggestion.label,
        suggested_confidence=suggestion.confidence,
        model=suggestion.model,
        from_category=None,
        final_category=ticket.category,
        source=CorrectionSource.INTAKE,
        actor=actor,
        at=at,
    )


def ticket_text_of(ticket: Ticket) -> str:
    from zhiwang.tickets.classify import ticket_text

    return ticket_text(title=ticket.title, description=ticket.description)


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
