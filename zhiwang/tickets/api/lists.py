"""Lists: tickets visible to me, the dispatcher queue, the unit inbox, callers' and addresses' history."""

from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from pydantic import model_serializer
from pydantic.json_schema import SkipJsonSchema

from zhiwang.core.errors import PermissionDeniedError
from zhiwang.core.pagination import COUNT_CAP, LimitOffsetPagination, count_up_to, paginate
from zhiwang.tickets import selectors
from zhiwang.tickets.api.base import (
    require_reader,
    router,
)
from zhiwang.tickets.api.schemas import (
    InboxTicketOut,
    RequestOut,
    TicketOut,
)
from zhiwang.tickets.catalogue_selectors import search_text
from zhiwang.tickets.intake_selectors import ADDRESS_TEXT_LENGTH
from zhiwang.tickets.workflow import may_search_by_contact

# --- lists ------------------------------------------------------------------------


class TicketListFilter(Schema):
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


def _no_default(schema: dict) -> None:
    # present with a value or absent, never null: the document shows no "default: null" either
    schema.pop("default", None)


class TicketListPagination(LimitOffsetPagination):
    """The list's pages (``LimitOffsetPagination``) with, under an ``event`` filter, how many
    timeline rows its tickets have in the window (``selectors.ticket_list_event_rows``), as the web
    list says it: a figure counts events, the list tickets ("9 tickets (10 ratings
    “Unsatisfied”)"). ``event_count`` and ``event_count_exact`` are in the answer only then; the
    count is bounded like ``count`` (one more ``count_up_to``)."""

    class Output(LimitOffsetPagination.Output):
        event_count: int | SkipJsonSchema[None] = Field(
            None,
            description="Only with an event filter: how many timeline rows of that event (in "
            "event_from/event_to, at event_unit) the listed tickets have — a ticket rated twice "
            f"counts twice —, exact up to {COUNT_CAP:,}, like count.",
            json_schema_extra=_no_default,
        )
        event_count_exact: bool | SkipJsonSchema[None] = Field(
            None,
            description="Only with an event filter: whether event_count is exact "
            f"(false: more than {COUNT_CAP:,}).",
            json_schema_extra=_no_default,
        )

        # without a return type, so that the document describes the fields (not "any object")
        @model_serializer(mode="wrap")
        def _events_only_with_an_event(self, handler):
            data = handler(self)
            if data.get("event_count") is None:
                data.pop("event_count", None)
                data.pop("event_count_exact", None)
            return data

    def paginate_queryset(self, queryset, pagination, request, **params) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        filters = params.get("filters")
        if filters is not None and filters.event:
            # the list's queryset, its filters already checked: the rows of the listed tickets only
            rows = selectors.ticket_list_event_rows(
                user=request.user, filters=_ticket_filters(filters), tickets=queryset
            )
            counted = count_up_to(rows)
            page["event_count"], page["event_count_exact"] = counted.value, counted.exact
        return page


def _ticket_filters(filters: TicketListFilter) -> selectors.TicketFilters:
    return selectors.TicketFilters(**filters.dict())


@router.get("/", response=list[TicketOut], summary="Tickets visible to me, filtered")
@paginate(TicketListPagination)
def ticket_list(request, filters: Query[TicketListFilter]):
    """``status``: a status, ``open`` or ``final``; ``category``: a code and its subtree; ``division``:
    a division code, the tickets counted in it (below the city: the ticket's place column of that
    level, as the dashboards count them);
    ``grid``: a grid code; ``address``: a standard address code (a building with its rooms);
    ``alert``: an alert's id, the tickets it counted (an alert the caller may not see: 400);
    ``event`` (received, dispatched, closed, overdue, …) with ``event_from``/``event_to`` and
    ``event_unit``: tickets with such a timeline row in that window, naming that unit;
    ``open_at``: tickets open at that moment; ``overdue_at``: tickets in an overdue episode then
    ``unlocated``: only the tickets of ``division`` (the city without one) located in none of its
    children (the dashboards' figures link with these);
    ``q``: at most 200 characters; dates between the years 1900 and 9998 (without an offset:
    Beijing time);
    ``ordering``: received_at, due_at, number, status (``-`` for descending). An unknown value
    of any filter is 400 naming the field.

    Under an ``event`` filter the answer also says how many such rows the listed tickets have
    (``event_count``, ``event_count_exact``): "10 unsatisfied ratings" may be 9 tickets."""
    return selectors.ticket_list(user=request.user, filters=_ticket_filters(filters))


class DispatcherQueueOut(Schema):
    pending: list[TicketOut]
    pending_count: int
    requests: list[RequestOut]
    requests_count: int
    review: list[TicketOut]
    review_count: int
    follow_up: list[TicketOut]
    follow_up_count: int
    breaching: list[TicketOut]
    breaching_count: int
    #: each count is exact up to ``core.pagination.COUNT_CAP`` (10,000); past it, the cap and false
    pending_count_exact: bool = True
    requests_count_exact: bool = True
    review_count_exact: bool = True
    follow_up_count_exact: bool = True
    breaching_count_exact: bool = True


@router.get("/queue", response=DispatcherQueueOut, summary="My dispatcher queue")
def queue(request, limit: int = 50):
    """Pending dispatch, handler requests, replies to review, follow-ups, and what is about to breach
    (past 80 % of its time, overdue, or not accepted in time) — each list capped at ``limit``."""
    require_reader(request.user)
    limit = max(1, min(limit, 200))
    q = selectors.dispatcher_queue(user=request.user)
    out = {}
    for name in ("pending", "requests", "review", "follow_up", "breaching"):
        qs = getattr(q, name)
        out[name] = list(qs[:limit])
        counted = count_up_to(qs)  # a city's queue may hold more than anyone pages through
        out[f"{name}_count"] = counted.value
        out[f"{name}_count_exact"] = counted.exact
    return out


@router.get("/inbox", response=list[InboxTicketOut], summary="My unit's inbox")
@paginate(LimitOffsetPagination)
def inbox(request):
    """Tickets my unit must sign for or is handling, nearest deadline first; ``sent_back`` marks
    replies that came back; ``awaiting_decision`` marks a return or extension the unit asked for
    that the dispatcher has not decided yet (``awaiting_decision_kind``: ``return`` or
    ``extension``), as the web inbox does."""
    require_reader(request.user)
    return selectors.handler_inbox(user=request.user)


def _caller_history(request, phone: str, limit: int):
    if not may_search_by_contact(request.user):
        raise PermissionDeniedError(
            "auth.forbidden", _("Only those who call reporters back may search tickets by phone number.")
        )
    return selectors.caller_history(user=request.user, phone=phone, limit=max(1, min(limit, 50)))


class CallerHistoryIn(Schema):
    phone: str
    limit: int = 10


@router.post(
    "/history/caller", response=list[TicketOut], summary="Earlier tickets from a phone number (in the body)"
)
def caller_history_search(request, payload: CallerHistoryIn):
    """For those who may call the reporter back (intake operators, dispatchers, the handling unit):
    a hit unmasks the phone, so others get 403 ``auth.forbidden`` and every search is logged.
    The number travels in the body: in a query string it would sit in proxy access logs."""
    return _caller_history(request, payload.phone, payload.limit)


@router.get(
    "/history/caller",
    response=list[TicketOut],
    summary="Earlier tickets from a phone number (deprecated: use POST)",
    deprecated=True,
)
def caller_history(request, phone: str, limit: int = 10):
    """The same as ``POST /history/caller``, kept for existing clients: the number sits in the
    URL, and so in every proxy's access log on the way."""
    return _caller_history(request, phone, limit)


class AddressRef(Schema):
    code: str
    full_name: str


class AddressHistoryOut(Schema):
    address: AddressRef | None
    tickets: list[TicketOut]


class AddressHistoryIn(Schema):
    address_code: str = ""
    address_text: str = ""
    limit: int = 10


def _address_history(request, address_code: str, address_text: str, limit: int) -> dict:
    """What both ``/history/address`` answer (``POST``: the address in the body; ``GET``: in the URL)."""
    require_reader(request.user)
    address_text = search_text(address_text, field="address_text", limit=ADDRESS_TEXT_LENGTH)
    address = None
    if address_code.strip():
        address = selectors.address_in_scope(user=request.user, code=address_code)
        if address is None:
            raise Http404(address_code)
    found = selectors.address_history(
        user=request.user,
        address=address,
        address_text=address_text,
        limit=max(1, min(limit, 50)),
    )
    return {"address": found.address, "tickets": found.tickets}


@router.post(
    "/history/address", response=AddressHistoryOut, summary="Earlier tickets at an address (in the body)"
)
def address_history_search(request, payload: AddressHistoryIn):
    """Tickets at the same building, by standard address code or by a free-text address
    (at most 255 characters, as a ticket keeps it), in the caller's jurisdiction only.

    A code outside it answers 404 ``not_found``, exactly like a code that does not exist; a
    text that names an address outside it answers ``address: null``, like a text that names none.
    The address travels in the body: in a query string it would sit in proxy access logs.
    """
    return _address_history(request, payload.address_code, payload.address_text, payload.limit)


@router.get(
    "/history/address",
    response=AddressHistoryOut,
    summary="Earlier tickets at an address (deprecated: use POST)",
    deprecated=True,
)
def address_history(request, address_code: str = "", address_text: str = "", limit: int = 10):
    """The same as ``POST /history/address``, kept for existing clients: the address sits in the
    URL, and so in every proxy's access log on the way."""
    return _address_history(request, address_code, address_text, limit)
