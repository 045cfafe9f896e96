"""Whether a place or a unit that a caller names by code is one they may know of.

A filter or a look-up that answers "there is no …" for a code that does not exist must answer the
same for a code the caller may not know of: an empty list instead tells them the code exists (a
grid of another district, a building outside their jurisdiction). What a caller may know of is
what their own pages show them, which is wider than their jurisdiction in three ways:

- the divisions above their jurisdiction (their district when they serve a subdistrict): every
  ticket of theirs names them, and the breadcrumbs show them;
- the units that may handle their tickets: the units ``GET /tickets/units`` offers anybody with a
  jurisdiction (those serving the whole city — a city department handles tickets in every
  district), those serving a division in or above their jurisdiction, and their own unit;
- whatever a ticket they see names: a handler sees every ticket of their unit, wherever it lies,
  and a citizen their own reports, so a place or unit on one of those is known to them.

The last is asked of the database only when the others do not settle it (one ``EXISTS``), and
asks exactly "does the caller see a ticket there", which they could learn from their own list.
"""

from __future__ import annotations

from django.db.models import Q

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.scoping import Scope, scope_of
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress
from zhiwang.tickets.models import Ticket, TicketEvent


def _sees_a_ticket(user, where: Q) -> bool:
    """Whether ``user`` sees a ticket matching ``where`` (whatever else a list asks)."""
    return Ticket.objects.visible_to(user).filter(where).exists()


def _served_ids(scope: Scope) -> frozenset[int]:
    """The divisions of the jurisdiction, with the communities of the user's grids."""
    return scope.division_ids | scope.grid_community_ids


def _above_jurisdiction(scope: Scope, division: Division) -> bool:
    """``division`` holds part of the user's jurisdiction (their district, their city)."""
    served = _served_ids(scope)
    if not served or division.level == DivisionLevel.COMMUNITY:
        return False
    return Division.objects.filter(pk__in=served, code__startswith=division.code_prefix).exists()


def division_known(*, user, division: Division, tickets_there: Q) -> bool:
    """In the jurisdiction (``Division.objects.visible_to``), above it, or a seen ticket's place
    (``tickets_there``: the tickets a list filtered by it would hold)."""
    scope = scope_of(user)
    if scope.everything or division.pk in _served_ids(scope):
        return True
    return _above_jurisdiction(scope, division) or _sees_a_ticket(user, tickets_there)


def grid_known(*, user, grid: Grid) -> bool:
    """In the jurisdiction (``Grid.objects.visible_to``: the user's grids and the grids of their
    divisions), or a seen ticket's grid."""
    scope = scope_of(user)
    if scope.everything or grid.pk in scope.grid_ids or grid.community_id in scope.division_ids:
        return True
    return _sees_a_ticket(user, Q(grid=grid))


def address_known(*, user, address: StandardAddress, tickets_there: Q) -> bool:
    """In the jurisdiction (``StandardAddress.objects.visible_to``), or a seen ticket's address
    (``tickets_there``: at the address, or inside the building)."""
    scope = scope_of(user)
    if (
        scope.everything
        or address.community_id in scope.division_ids
        or (address.grid_id is not None and address.grid_id in scope.grid_ids)
    ):
        return True
    return _sees_a_ticket(user, tickets_there)


def unit_known(*, user, unit: OrgUnit) -> bool:
    """The user's own unit; a unit serving the whole city or a division in or above the user's
    jurisdiction; or a unit a ticket the user sees names (handling it, suggested, its dispatch
    centre, or on a timeline row: a unit it was reassigned from)."""
    scope = scope_of(user)
    if scope.everything or (unit.pk == getattr(user, "org_unit_id", None)):
        return True
    division = unit.division if unit.division_id else None
    if division is not None and not scope.is_empty:
        if division.level == DivisionLevel.CITY or division.pk in _served_ids(scope):
            return True
        if _above_jurisdiction(scope, division):
            return True
    if _sees_a_ticket(user, Q(handling_unit=unit) | Q(suggested_unit=unit) | Q(dispatch_center=unit)):
        return True
    seen = Ticket.objects.visible_to(user).values("pk")
    return TicketEvent.objects.filter(unit=unit, ticket__in=seen).exists()


def located_place_known(*, user, place) -> bool:
    """Whether a place the submit pipeline located (``services.intake_place.Place``) lies where the
    user sees tickets by their place: its finest division in the jurisdiction, or its grid one of
    the user's grids (``Ticket.objects.visible_to``). The intake page's duplicate check answers a
    place outside like a text naming no place, as the address history beside it does."""
    scope = scope_of(user)
    if scope.everything:
        return True
    finest = place.finest
    if finest is not None and finest.pk in scope.division_ids:
        return True
    return place.grid is not None and place.grid.pk in scope.grid_ids
