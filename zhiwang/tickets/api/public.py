"""The citizen's public view: look a ticket up by number and phone, and rate the answer."""

from datetime import datetime

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.throttling import AnonRateThrottle

from zhiwang.core.client_address import client_address
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets import lookup_limits, selectors, services
from zhiwang.tickets.api.base import (
    PUBLIC_RATE,
    router,
)

# --- the citizen's public view ------------------------------------------------------


class PublicLookupIn(Schema):
    number: str
    phone: str


class PublicEventOut(Schema):
    at: datetime
    action: str
    label: str


class PublicTicketOut(Schema):
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
    events: list[PublicEventOut]


@router.post(
    "/public/lookup",
    response=PublicTicketOut,
    auth=None,
    throttle=[AnonRateThrottle(PUBLIC_RATE)],
    summary="Follow my ticket (number + phone)",
)
def public_lookup(request, payload: PublicLookupIn):
    """No sign-in: the number and the phone given when reporting must both match (404 otherwise).

    After 10 wrong phones for one number within an hour from one client, or 100 from all clients,
    that number answers 429 ``tickets.lookup_locked`` until the hour is over (here and on
    ``/public/rate``; ``tickets.lookup_limits``)."""
    address = client_address(request)
    _refuse_locked(payload.number, address)
    found = selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
    if found is None:
        lookup_limits.record_number_failure(payload.number, address)
        raise Http404
    return found


def _refuse_locked(number: str, address: str) -> None:
    if lookup_limits.number_locked(number, address):
        raise ServiceError(
            "tickets.lookup_locked",
            _("Too many attempts for this request number. Try again in an hour."),
            field="number",
            status=429,
        )


class PublicRateIn(PublicLookupIn):
    resolved: bool
    satisfaction: str
    note: str = ""


@router.post(
    "/public/rate",
    response=PublicTicketOut,
    auth=None,
    throttle=[AnonRateThrottle(PUBLIC_RATE)],
    summary="Rate the answer to my ticket",
)
def public_rate(request, payload: PublicRateIn):
    """The same proof as ``/public/lookup`` (a wrong phone counts against the number there too)."""
    address = client_address(request)
    _refuse_locked(payload.number, address)
    try:
        services.ticket_rate_by_citizen(
            number=payload.number,
            phone=payload.phone,
            resolved=payload.resolved,
            satisfaction=payload.satisfaction,
            note=payload.note,
        )
    except NotFound:
        lookup_limits.record_number_failure(payload.number, address)
        raise
    return selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
