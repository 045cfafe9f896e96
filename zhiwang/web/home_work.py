"""The home page's "today's work" tiles: what the signed-in user's role must act on, counted.

A dispatcher, a handler or a grid worker lands on the home page after signing in; before these
tiles it showed only the divisions of their jurisdiction, and the work was one click further
(the queue, the inbox). Each tile counts the same queryset its target page lists (the tickets
selectors, so the same scope), and links there. Counts stop at ``COUNT_CAP`` ("10,000+"), as the
pages' do: the home page of a city dispatcher must not count a city's millions of tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zhiwang.core.pagination import BoundedCount, count_up_to
from zhiwang.tickets import selectors
from zhiwang.tickets.models import TicketStatus
from zhiwang.web.tickets.access import DISPATCH_ROLES, GRID_ROLES, HANDLER_ROLES, role_of


@dataclass(frozen=True)
class Tile:
    """One count on the home page, with the page that lists what it counts."""

    label: str
    count: BoundedCount  # shown "1,234" or "10,000+"; false when zero
    link: str
    warn: bool = False  # drawn in the warning colour when the count is not zero


def work_tiles(user, *, now: datetime, grids=()) -> list[Tile]:
    """The tiles for ``user``'s role (none for roles without a work list of their own)."""
    role = role_of(user)
    if role in DISPATCH_ROLES:
        return _dispatcher(user, now)
    if role in HANDLER_ROLES:
        return _handler(user, now)
    if role in GRID_ROLES:
        return _grid_worker(user, grids)
    return []


def _dispatcher(user, now) -> list[Tile]:
    # the queue tabs' own names: a tile and the tab it opens say the same words
    queue = selectors.dispatcher_queue(user=user, now=now)
    base = reverse("web:dispatch_queue")
    return [
        Tile(_("Awaiting dispatch"), count_up_to(queue.pending), f"{base}?tab=pending"),
        Tile(_("Handler requests"), count_up_to(queue.requests), f"{base}?tab=requests"),
        Tile(_("Replies to review"), count_up_to(queue.review), f"{base}?tab=review"),
        Tile(_("Follow-ups"), count_up_to(queue.follow_up), f"{base}?tab=follow_up"),
        Tile(_("Due soon or overdue"), count_up_to(queue.breaching), f"{base}?tab=breaching", warn=True),
    ]


def _handler(user, now) -> list[Tile]:
    inbox = selectors.handler_inbox(user=user)
    link = reverse("web:handler_inbox")
    overdue = count_up_to(inbox.filter(selectors.inbox_overdue(now)))  # the inbox's own rule
    return [
        Tile(_("To sign for"), count_up_to(inbox.filter(status=TicketStatus.DISPATCHED)), link),
        Tile(_("Being handled"), count_up_to(inbox.exclude(status=TicketStatus.DISPATCHED)), link),
        Tile(_("Sent back to redo"), count_up_to(inbox.filter(sent_back=True)), link, warn=True),
        Tile(_("Past the deadline"), overdue, link, warn=True),
    ]


def _grid_worker(user, grids) -> list[Tile]:
    verify = count_up_to(selectors.ticket_list(user=user, filters={"status": TicketStatus.VERIFYING}))
    tiles = [Tile(_("On-site checks to do"), verify, reverse("web:verify_list"))]
    for grid in grids:
        count = count_up_to(selectors.ticket_list(user=user, filters={"grid": grid.code, "status": "open"}))
        query = urlencode({"grid": grid.code, "status": "open"})
        label = gettext("Open in %(grid)s") % {"grid": grid.name}
        tiles.append(Tile(label, count, f"{reverse('web:ticket_list')}?{query}"))
    return tiles
