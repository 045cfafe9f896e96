"""The citizen's public view: look a ticket up by number and phone, and rate the answer."""

from datetime import datetime

from django.http import Http404
from ninja import Schema
from ninja.throttling import AnonRateThrottle

from zhiwang.tickets import selectors, services
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
    """No sign-in: the number and the phone given when reporting must both match (404 otherwise)."""
    found = selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
    if found is None:
        raise Http404
    return found


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
    services.ticket_rate_by_citizen(
        number=payload.number,
        phone=payload.phone,
        resolved=payload.resolved,
        satisfaction=payload.satisfaction,
        note=payload.note,
    )
    return selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
