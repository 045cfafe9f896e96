"""A grid worker's patrol report is filed in one of the worker's own grids.

Part of the submit pipeline (``services.intake_prepare``), so every path a patrol report takes —
the web patrol form, ``POST /api/v1/tickets/`` (queued or not), ``POST /tickets/batch``, the
import command — keeps the rule: whatever located the incident (a pin, a standard address, a
text address, the web form's chosen grid, which it sends as that grid's point), the located grid
must be one the worker is assigned to. A pin, an address or a text elsewhere would otherwise file
the incident in somebody else's grid, or district, without a word. A place in another of the
worker's own grids than the one they meant is taken: they patrol both.

The refusal names the place only as far as the worker may see it (``Grid.objects.visible_to``,
``Division.objects.visible_to``: their grids, their grids' communities, their jurisdiction), as
the web form's pin check does: never a neighbour's grid, nor another district.

Before the place, the channel: which roles file through which channel is ``tickets.access``'s rule
(``check_channel``), run here so that every intake path keeps it too.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhiwang.accounts.models import Role
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division, Grid
from zhiwang.tickets import access
from zhiwang.tickets.models import Channel
from zhiwang.tickets.services.intake_place import Place

#: The error code of a patrol report not placed in one of the reporting worker's grids.
OUTSIDE_YOUR_GRIDS = "tickets.outside_your_grids"


def is_grid_patrol(*, channel: str, actor) -> bool:
    """A patrol report submitted by a grid worker (the system, an import without an operator and
    the other roles are not bound to grids)."""
    return (
        channel == Channel.PATROL
        and getattr(actor, "pk", None) is not None
        and getattr(actor, "role", "") == Role.GRID_WORKER
    )


def worker_grid_ids(actor) -> frozenset[int]:
    """The grids ``actor`` is assigned to (from their scope, read once per user object)."""
    scope = scope_of(actor)
    if not scope.everything:
        return scope.grid_ids
    # a city-wide scope lists no grids: the assignments themselves
    return frozenset(Grid.objects.filter(assignments__user=actor).values_list("pk", flat=True))


def check_channel(*, channel: str, actor) -> None:
    """``PermissionDeniedError`` ``tickets.channel_not_allowed`` (on ``channel``) when ``actor`` may
    not file through ``channel`` (``tickets.access.FILING_CHANNELS``: a grid worker through
    ``patrol`` only, and ``patrol`` for grid workers only; ``open311`` through the Open311 endpoint
    only). Needs nothing but the submission's channel, so the API checks it before queueing a
    submission (a 202 then a refusal on the receipt would tell the caller late what it could have
    told at once); the service checks it again (``check_patrol_place``) on every path."""
    access.check_channel(channel=channel, actor=actor)


def check_patrol_place(*, channel: str, actor, place: Place) -> None:
    """``ServiceError`` ``tickets.outside_your_grids`` when a grid worker's patrol report is not
    located in one of the worker's grids; the field is the one that located it (``lon`` for a pin,
    ``address_code``, ``address_text``). A submission through a channel the actor may not file
    through is refused first (``check_channel``). Other submissions pass untouched."""
    check_channel(channel=channel, actor=actor)
    if not is_grid_patrol(channel=channel, actor=actor):
        return
    if place.how == "none":  # nothing located it (a kind that needs no place): say where
        raise ServiceError(
            "tickets.place_required",
            _("Say where: a standard address, a point on the map, or an address we can recognise."),
            field="address_text",
        )
    mine = worker_grid_ids(actor)
    if place.grid is not None and place.grid.pk in mine:
        return
    field = _located_by(place)
    raise ServiceError(OUTSIDE_YOUR_GRIDS, _refusal(actor, place, field, mine), field=field)


def _located_by(place: Place) -> str:
    """The submission field that located ``place`` (``Place.how``)."""
    if place.how == "point":
        return "lon"
    if place.how == "address":
        return "address_code"
    return "address_text"


def _refusal(actor, place: Place, field: str, mine: frozenset[int]) -> str:
    if field == "lon":
        shown = visible_place(actor, place)
        if shown:
            return _("The pin is in %(place)s, outside your grids. Move the pin into one of your grids.") % {
                "place": shown
            }
        return _("The pin is outside your grids. Move the pin into one of your grids.")
    if place.grid is None and place.address is None and place.finest is not None:
        # A text naming a division only (a community, a subdistrict): it may well hold the
        # worker's grids, so "outside" would be wrong; it does not say which grid.
        if _holds_a_grid_of(place.finest, mine):
            return _(
                "“%(place)s” does not say which of your grids: give a building in one of your grids, "
                "or put a pin in one."
            ) % {"place": place.finest.display_name}
    shown = visible_place(actor, place)
    if shown:
        return _(
            "The address is in %(place)s, outside your grids. Give an address in one of your grids, "
            "or put a pin in one."
        ) % {"place": shown}
    return _("The address is outside your grids. Give an address in one of your grids, or put a pin in one.")


def visible_place(user, place: Place) -> str:
    """The finest level of ``place`` that ``user`` may see (its grid, else its community, else its
    subdistrict or district), by name; "" when none is theirs to know. The rule of the web patrol
    form's ``_visible_place``, read from the user's scope instead of the database."""
    scope = scope_of(user)
    grid = place.grid
    if grid is not None and scope.allows_grid(grid.pk, grid.community_id):
        return grid.name
    for division in (place.community, place.subdistrict, place.district):
        if division is not None and scope.allows_division(division.pk):
            return division.display_name
    return ""


def _holds_a_grid_of(division: Division, grid_ids: frozenset[int]) -> bool:
    """Whether ``division`` is, or lies above, the community of one of ``grid_ids``."""
    if not grid_ids:
        return False
    return Grid.objects.filter(pk__in=grid_ids, community__code__startswith=division.code_prefix).exists()
