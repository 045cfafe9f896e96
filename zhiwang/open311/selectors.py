"""Reads behind the Open311 endpoints: the service catalogue and the public service requests.

Open311 reads are anonymous, so there is no user to scope by; the scope is what a city
publishes. ``public_tickets()`` is that scope, and every request read starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q, QuerySet

from zhiwang.open311.models import ServiceAttribute
from zhiwang.tickets.disclosure import (
    DEFAULT_PRIVATE_CATEGORIES,
    DEFAULT_PRIVATE_CHANNELS,
    DEFAULT_PUBLIC_KINDS,
)
from zhiwang.tickets.models import FINAL_STATUSES, OPEN_STATUSES, Category, Ticket, TicketEvent

# What is never published (confidential kinds, channels, category subtrees) is the tickets floor's
# rule, which the workflow applies too (``tickets.disclosure``): one definition, re-exported here.
#: Channels whose free text (description, address as typed, the answer) is published. Their
#: reporters wrote for a public API or are staff on patrol; a hotline caller or a web-form user
#: did not, so their tickets show the category, place and state only.
#: ``ZHIWANG_OPEN311_TEXT_CHANNELS``.
DEFAULT_TEXT_CHANNELS = ("open311", "patrol", "video")


def publishes_text(ticket: Ticket) -> bool:
    """Whether the ticket's free text may be published (see ``DEFAULT_TEXT_CHANNELS``)."""
    return ticket.channel in getattr(settings, "ZHIWANG_OPEN311_TEXT_CHANNELS", DEFAULT_TEXT_CHANNELS)


@dataclass(frozen=True)
class Service:
    """One entry of the Open311 service list: an active leaf of the category tree."""

    category: Category
    group: str
    has_attributes: bool
    path: str  # "城乡建设 / 安全生产 / 事故处理"


def _catalogue_rows() -> dict[int, Category]:
    return {
        c.pk: c
        for c in Category.objects.only(
            "id", "code", "name", "parent_id", "description", "keywords", "is_active", "sort_order", "kinds"
        ).order_by("sort_order", "code")
    }


def service_list(*, group: str = "") -> list[Service]:
    """The active leaves whose ancestors are all active, in catalogue order (two queries).

    ``group`` (an extension) keeps the services of one top-level category, named by its
    name or its code.
    """
    rows = _catalogue_rows()
    with_active_children = {c.parent_id for c in rows.values() if c.is_active and c.parent_id}
    with_attributes = set(
        ServiceAttribute.objects.filter(is_active=True).values_list("category_id", flat=True).distinct()
    )
    services = []
    for category in rows.values():
        if not category.is_active or category.pk in with_active_children:
            continue
        chain, node = [], category
        while node is not None:
            chain.append(node)
            node = rows.get(node.parent_id) if node.parent_id else None
        if not all(node.is_active for node in chain):
            continue
        top = chain[-1]
        if group and group not in (top.name, top.code):
            continue
        path = " / ".join(node.name for node in reversed(chain))
        services.append(Service(category, top.name, category.pk in with_attributes, path))
    return services


def service_get(code: str) -> Service | None:
    """One service by its code, or None when the code is not an active leaf of an active branch."""
    category = Category.objects.filter(code=code, is_active=True).first()
    if category is None or category.children.filter(is_active=True).exists():
        return None
    chain, node = [category], category.parent
    while node is not None:
        if not node.is_active:
            return None
        chain.append(node)
        node = node.parent
    has_attributes = category.open311_attributes.filter(is_active=True).exists()
    path = " / ".join(node.name for node in reversed(chain))
    return Service(category, chain[-1].name, has_attributes, path)


def service_attributes(category: Category) -> list[ServiceAttribute]:
    """The active attributes of a service, in the order a form shows them."""
    return list(category.open311_attributes.filter(is_active=True).order_by("order", "pk"))


# --- service requests ------------------------------------------------------------


def public_tickets() -> QuerySet[Ticket]:
    """Every ticket the city publishes through Open311 (see the DEFAULT_* settings above)."""
    kinds = getattr(settings, "ZHIWANG_OPEN311_PUBLIC_KINDS", DEFAULT_PUBLIC_KINDS)
    channels = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CHANNELS", DEFAULT_PRIVATE_CHANNELS)
    prefixes = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CATEGORIES", DEFAULT_PRIVATE_CATEGORIES)
    qs = Ticket.objects.filter(kind__in=list(kinds)).exclude(channel__in=list(channels))
    hidden = Q()
    for prefix in prefixes:
        hidden |= Q(category__code__startswith=prefix)
    if prefixes:
        qs = qs.exclude(hidden)
    return qs


def is_public(ticket: Ticket) -> bool:
    """Whether one ticket is among ``public_tickets()`` (the same rules, without a query)."""
    kinds = getattr(settings, "ZHIWANG_OPEN311_PUBLIC_KINDS", DEFAULT_PUBLIC_KINDS)
    channels = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CHANNELS", DEFAULT_PRIVATE_CHANNELS)
    prefixes = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CATEGORIES", DEFAULT_PRIVATE_CATEGORIES)
    code = ticket.category.code if ticket.category_id else ""
    return (
        ticket.kind in kinds
        and ticket.channel not in channels
        and not any(code.startswith(prefix) for prefix in prefixes)
    )


def _with_related(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return qs.select_related(
        "category",
        "handling_unit",
        "address__parent__parent",
        "merged_into__category",
        "open311",
        "district",
        "subdistrict",
        "community",
    )


def request_list(
    *,
    start: datetime,
    end: datetime,
    service_codes: list[str] | None = None,
    statuses: list[str] | None = None,
    offset: int = 0,
    limit: int = 1000,
    after: tuple[datetime, str] | None = None,
) -> list[Ticket]:
    """Public tickets received in [start, end], newest first, one page (``limit`` rows).

    The order is total (requested time, then number, both descending), so a page boundary is one
    definite row: ``after`` (its time and number) starts the page right behind it whatever arrived,
    changed state or left the filter meanwhile, which an offset would shift.
    Served by the ``received_at`` index: the date window bounds what is read.
    """
    qs = public_tickets().filter(received_at__gte=start, received_at__lte=end)
    if after is not None:
        at, number = after
        qs = qs.filter(Q(received_at__lt=at) | Q(received_at=at, number__lt=number))
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if statuses and set(statuses) != {"open", "closed"}:
        qs = qs.filter(status__in=list(OPEN_STATUSES if "open" in statuses else FINAL_STATUSES))
    return list(_with_related(qs).order_by("-received_at", "-number")[offset : offset + limit])


def request_list_by_numbers(numbers: list[str]) -> list[Ticket]:
    """Public tickets by number, in the order asked; unknown or unpublished numbers are left out."""
    found = {t.number: t for t in _with_related(public_tickets().filter(number__in=numbers))}
    return [found[n] for n in dict.fromkeys(numbers) if n in found]


def request_get(number: str) -> Ticket | None:
    return _with_related(public_tickets().filter(number=number)).first()


class PublicEvent(NamedTuple):
    action: str
    at: datetime


def latest_public_events(tickets: list[Ticket], public_actions: set[str]) -> dict[int, PublicEvent]:
    """For each ticket, its latest timeline row among ``public_actions`` (one query)."""
    latest: dict[int, PublicEvent] = {}
    if not tickets:
        return latest
    rows = (
        TicketEvent.objects.filter(ticket_id__in=[t.pk for t in tickets], action__in=list(public_actions))
        .order_by("ticket_id", "-at", "-pk")
        .values_list("ticket_id", "action", "at")
    )
    for ticket_id, action, at in rows:
        latest.setdefault(ticket_id, PublicEvent(action, at))
    return latest
