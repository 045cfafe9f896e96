"""The one-screen view of a place: a building (units, rooms, residents, entities, rental status,
eligibility suggestions, tickets) and a room. Reads through each app's selectors.

The registry's readers open these pages (``registry.views.readers_only``); the tickets raised at
the place are listed only to those of them who read tickets (``tickets.access.reads_tickets``,
the rule of the ticket pages and the tickets API), and only the tickets of their jurisdiction
(``tickets.selectors.address_history``, scoped like every ticket list)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from zhiwang.core.errors import NotFound
from zhiwang.geo.models import AddressLevel
from zhiwang.registry import selectors as registry
from zhiwang.registry.views import readers_only
from zhiwang.tickets import selectors as tickets
from zhiwang.tickets.access import reads_tickets
from zhiwang.web.breadcrumbs import division_breadcrumbs


def _ancestors(user, address) -> list[tuple]:
    """City → … → the address's community, each crumb a link only if the user may open it."""
    if address.community is None:
        return []
    return division_breadcrumbs(user, address.community, including_self=True)


def _eligibility(people, user):
    """Services each resident may be entitled to; rules on sensitive key groups only for need-to-know roles."""
    found = registry.eligibility_for_people(people=people, user=user)
    return {pk: [r.service for r in rules] for pk, rules in found.items()}


def _tickets_at(user, address, *, limit: int) -> list | None:
    """The tickets at ``address``'s building the user may read, newest first; ``None`` when the
    user's role does not read tickets (the page then has no ticket section: "no ticket here"
    would be a claim about tickets they may not read)."""
    if not reads_tickets(user):
        return None
    return tickets.address_history(user=user, address=address, limit=limit).tickets


@readers_only
def place_detail(request, code: str):
    """A building page; a room's code opens the room page, a unit's its building."""
    try:
        address = registry.address_get(user=request.user, code=code)
    except NotFound:
        raise Http404 from None
    if address.level == AddressLevel.ROOM:
        return room_detail(request, address)
    building = registry.building_of(address)
    view = registry.building_view(user=request.user, building=building)
    people = [r.person for unit in view.units for room in unit.rooms for r in room.residents]
    eligible = _eligibility(people, request.user)
    for unit in view.units:
        for room in unit.rooms:
            for residence in room.residents:
                residence.eligible_for = eligible.get(residence.person_id, [])
    context = {
        "building": building,
        "view": view,
        "ancestors": _ancestors(request.user, building),
        "tickets": _tickets_at(request.user, building, limit=20),
        "eligible_count": len(eligible),
    }
    return render(request, "web/places/building.html", context)


def room_detail(request, room):
    view = registry.room_view(user=request.user, room=room)
    people = [r.person for r in view.residents]
    eligible = _eligibility(people, request.user)
    for residence in view.residents:
        residence.eligible_for = eligible.get(residence.person_id, [])
    building = registry.building_of(room)
    at_building = _tickets_at(request.user, room, limit=50)
    context = {
        "room": room,
        "building": building,
        "view": view,
        "past": [r for r in registry.room_history(user=request.user, room=room) if not r.is_current],
        "ancestors": _ancestors(request.user, room),
        "tickets": None if at_building is None else [t for t in at_building if t.address_id == room.pk],
    }
    return render(request, "web/places/room.html", context)
