"""The citizen's public view: look a ticket up by number and phone, and rate the answer."""

from datetime import datetime

from django.http import Http404, JsonResponse
from ninja import Schema

from zhiwang.core.client_address import client_address
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets import lookup_limits, selectors, services
from zhiwang.tickets.api.base import (
    ANYONE,
    PUBLIC_RATE,
    PublicRateThrottle,
    admits,
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
    throttle=[PublicRateThrottle(PUBLIC_RATE)],
    summary="Follow my ticket (number + phone)",
)
@admits(ANYONE)
def public_lookup(request, payload: PublicLookupIn):
    """No sign-in: the number and the phone given when reporting must both match (404 otherwise).

    Failed look-ups are limited as on the web ``/track/`` page, counted together with it
    (``tickets.lookup_limits``): 10 from one client address in 15 minutes (then 429
    ``tickets.lookup_limited``); 10 wrong phones for one number from one client in an hour, or 100
    from all clients (429 ``tickets.lookup_locked``); 10 with one phone from all clients in a day
    (429 ``tickets.lookup_phone_locked``). A 429 says when to come back: ``Retry-After`` in
    seconds, and its message in the time left (and that the 12345 hotline answers meanwhile)."""
    try:
        attempt = lookup_limits.lookup_admit(
            number=payload.number, phone=payload.phone, address=client_address(request)
        )
    except lookup_limits.LookupRefused as refused:
        return _too_many(refused)
    try:
        found = selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
    except BaseException:
        attempt.take_back()  # our failure, not a wrong guess
        raise
    if found is None:
        raise Http404
    attempt.take_back()
    return found


def _too_many(refused: lookup_limits.LookupRefused) -> JsonResponse:
    """The API's error body (``zhiwang.api``) with ``Retry-After``, which a ``ServiceError`` cannot carry."""
    error = ServiceError(refused.code, refused.message, field=refused.field, status=429)
    response = JsonResponse(
        {"error": error.as_dict()}, status=429, content_type="application/json; charset=utf-8"
    )
    response["Retry-After"] = str(refused.retry_after)
    return response


class PublicRateIn(PublicLookupIn):
    resolved: bool
    satisfaction: str
    note: str = ""


@router.post(
    "/public/rate",
    response=PublicTicketOut,
    auth=None,
    throttle=[PublicRateThrottle(PUBLIC_RATE)],
    summary="Rate the answer to my ticket",
)
@admits(ANYONE)
def public_rate(request, payload: PublicRateIn):
    """The same proof and the same limits as ``/public/lookup``, counted together with it."""
    try:
        attempt = lookup_limits.lookup_admit(
            number=payload.number, phone=payload.phone, address=client_address(request)
        )
    except lookup_limits.LookupRefused as refused:
        return _too_many(refused)
    try:
        services.ticket_rate_by_citizen(
            number=payload.number,
            phone=payload.phone,
            resolved=payload.resolved,
            satisfaction=payload.satisfaction,
            note=payload.note,
        )
    except NotFound:
        raise  # a wrong number or phone: it stays counted
    except BaseException:
        attempt.take_back()  # proved, and refused for another reason (not waiting, a field)
        raise
    attempt.take_back()
    return selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
