"""Where a submitted ticket is (standard address, point or text) and its time limit.

Part of the submit pipeline (``services.submit``): locate, then the deadline rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.geo.addressing import match_address
from zhiwang.geo.locator import locate
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.models import Category, TicketKind, Urgency
from zhiwang.tickets.services.intake_memo import MISSING, remembered

#: Kinds that are about a place: a location is required.
PLACE_KINDS = {TicketKind.COMPLAINT, TicketKind.REPORT, TicketKind.HELP, TicketKind.INCIDENT}
DEFAULT_LIMITS = {
    TicketKind.INQUIRY: (2, LimitUnit.WORKING_DAYS),
    TicketKind.HELP: (10, LimitUnit.WORKING_DAYS),
    TicketKind.SUGGESTION: (10, LimitUnit.WORKING_DAYS),
    TicketKind.PRAISE: (10, LimitUnit.WORKING_DAYS),
    TicketKind.COMPLAINT: (15, LimitUnit.WORKING_DAYS),
    TicketKind.REPORT: (15, LimitUnit.WORKING_DAYS),
    TicketKind.INCIDENT: (5, LimitUnit.WORKING_DAYS),
}


@dataclass
class Place:
    """Where a ticket is, as precisely as the input allows; ``how`` says what located it."""

    address: StandardAddress | None = None
    grid: Grid | None = None
    community: Division | None = None
    subdistrict: Division | None = None
    district: Division | None = None
    lon: float | None = None
    lat: float | None = None
    how: str = "none"

    @property
    def finest(self) -> Division | None:
        return self.community or self.subdistrict or self.district


def _ancestors(division: Division | None) -> dict[str, Division]:
    out, node = {}, division
    while node is not None:
        out[node.level] = node
        node = node.parent
    return out


def point_given(lon, lat) -> bool:
    """Whether a map point was given: both coordinates, or neither (``tickets.point_incomplete``)."""
    if lon in (None, "") and lat in (None, ""):
        return False
    if lon in (None, "") or lat in (None, ""):
        missing = "lat" if lon not in (None, "") else "lon"
        raise ServiceError("tickets.point_incomplete", _("Give both longitude and latitude."), field=missing)
    return True


def locate_place(
    *, address_code: str = "", lon=None, lat=None, crs: str = "wgs84", address_text: str = ""
) -> Place:
    """Standard address code, else point, else free text: the most specific place known."""
    if address_code:
        address = remembered("address", address_code)  # read for the whole batch, if in one
        if address is MISSING:
            address = StandardAddress.objects.select_related("grid").filter(code=address_code).first()
        if address is None:
            raise ServiceError(
                "tickets.address_unknown",
                _("There is no standard address %(code)s.") % {"code": address_code},
                field="address_code",
            )
        chain = _ancestors(routing_config().division(address.community_id))
        return Place(
            address,
            address.grid,
            chain.get(DivisionLevel.COMMUNITY),
            chain.get(DivisionLevel.SUBDISTRICT),
            chain.get(DivisionLevel.DISTRICT),
            address.lon,
            address.lat,
            "address",
        )
    if point_given(lon, lat):
        located = locate(lon, lat, crs=crs)
        config = routing_config()
        grid = Grid.objects.filter(pk=located.grid.id).first() if located.grid else None
        return Place(
            None,
            grid,
            config.division(located.community.id) if located.community else None,
            config.division(located.subdistrict.id) if located.subdistrict else None,
            config.division(located.district.id) if located.district else None,
            located.lon,
            located.lat,
            "point",
        )
    if address_text.strip():
        match = match_address(address_text)
        if match.address is not None:
            place = locate_place(address_code=match.address.code)
            place.how = "text:address"
            return place
        if match.division is not None:
            chain = _ancestors(routing_config().division(match.division.pk))
            return Place(
                None,
                None,
                chain.get(DivisionLevel.COMMUNITY),
                chain.get(DivisionLevel.SUBDISTRICT),
                chain.get(DivisionLevel.DISTRICT),
                match.division.lon,
                match.division.lat,
                f"text:{match.level}",
            )
    return Place()


def deadline_rule(*, category: Category, kind: str, urgency: str) -> tuple[Decimal, str]:
    """The time limit for a ticket: the category's (urgent variant), else the kind's default table."""
    node = category
    while node is not None:
        if urgency == Urgency.URGENT and node.urgent_deadline_amount and node.urgent_deadline_unit:
            return node.urgent_deadline_amount, node.urgent_deadline_unit
        if urgency != Urgency.URGENT and node.deadline_amount and node.deadline_unit:
            return node.deadline_amount, node.deadline_unit
        node = node.parent
    table = routing_config().kind_deadlines
    row = table.get((kind, urgency))
    if row is None and urgency == Urgency.URGENT:
        return Decimal(2), LimitUnit.WORKING_HOURS
    if row is None:
        row = table.get((kind, Urgency.NORMAL))
    if row is not None:
        return row
    amount, unit = DEFAULT_LIMITS.get(kind, (10, LimitUnit.WORKING_DAYS))
    return Decimal(amount), unit
