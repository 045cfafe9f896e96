"""The read-only half of the submit pipeline: from a submission to an unsaved ticket.

validate → classify → idempotency key → locate → deadline rule → route. Nothing is written
here, so the single submit (``services.submit``) and the batch (``services.submit_batch``)
share every rule and differ only in how they write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.sentences import headline
from zhiwang.tickets.classify import Classification, classify
from zhiwang.tickets.models import Category, Ticket, TicketStatus, Urgency
from zhiwang.tickets.routing import Route, route
from zhiwang.tickets.services.intake_patrol import check_patrol_place
from zhiwang.tickets.services.intake_place import PLACE_KINDS, Place, deadline_rule, locate_place
from zhiwang.tickets.services.intake_validation import (
    _clean,
    _validate,
    submission_fingerprint,
    submission_texts,
)


@dataclass
class Prepared:
    """An unsaved ticket (status pending dispatch, no number yet) and what decided it."""

    ticket: Ticket
    key: str
    external_id: str
    place: Place
    decided: Route
    classification: Classification
    received: datetime
    #: of the cleaned content (``submission_fingerprint``): a retry must repeat it
    fingerprint: str = ""


class PlaceError(Exception):
    """The place did not resolve: ``error`` for the caller, unless ``key`` names an earlier ticket (a retry)."""

    def __init__(self, error: ServiceError, key: str, retryable: bool, fingerprint: str = ""):
        super().__init__(error.message)
        self.error, self.key, self.retryable = error, key, retryable
        self.fingerprint = fingerprint


def prepare_submission(
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
) -> Prepared:
    """Validate, classify, locate and route one submission (see ``ticket_submit``); reads only.

    Raises ``ServiceError`` for invalid fields, and ``PlaceError`` (wrapping the ``ServiceError``)
    when the place does not resolve — or, for a grid worker's patrol report (``actor``), does not
    lie in one of the worker's grids (``intake_patrol``) — so the caller can first look for an
    earlier ticket with the same key: a retry gets its ticket even if the place no longer resolves
    as it did (or the worker has since handed the grid over).
    """
    texts = submission_texts(
        description=description,
        title=title,
        reporter_name=reporter_name,
        address_text=address_text,
        external_id=external_id,
        # the fields that are not free text, checked for control characters alike
        channel=channel,
        kind=kind,
        category=category,
        urgency=urgency,
        reporter_phone=reporter_phone,
        address_code=address_code,
        crs=crs,
    )
    now = timezone.now()
    requested_category = category
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
    # Kept with a key a caller can send again; the time received is not part of it.
    fingerprint = (
        submission_fingerprint(
            kind=kind,
            category=requested_category,
            urgency=urgency,
            texts=texts,
            phone=phone,
            address_code=address_code,
            lon=lon,
            lat=lat,
            crs=crs,
        )
        if external_id
        else ""
    )
    # No lookup of the key first: a retry is rare, and the unique key catches it when writing.
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
        check_patrol_place(channel=channel, actor=actor, place=place)
    except ServiceError as error:
        raise PlaceError(error, key, retryable=bool(external_id), fingerprint=fingerprint) from error
    amount, unit = deadline_rule(category=category, kind=kind, urgency=urgency)
    decided = route(category=category, place=place.finest)
    received = received_at or now
    description = texts["description"]
    ticket = Ticket(
        kind=kind,
        category=category,
        channel=channel,
        idempotency_key=key,
        idempotency_fingerprint=fingerprint,
        urgency=urgency,
        title=texts["title"] or headline(description),
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
        route_explanation=decided.stored_explanation,  # in the city's language
        route_reason=decided.reason,  # rendered in each reader's language
        category_source=classification.source,
        classification=classification.record,
        received_at=received,
        deadline_amount=amount,
        deadline_unit=unit,
    )
    return Prepared(ticket, key, external_id, place, decided, classification, received, fingerprint)
