"""Where a record is: a standard address from a code or free text, copied onto the record for scoping."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.services.access import _denied


def resolve_address(value) -> StandardAddress | None:
    """A standard address from its code, a StandardAddress, or free text (at least a building)."""
    if value is None or value == "":
        return None
    if isinstance(value, StandardAddress):
        return value
    text = str(value).strip()
    found = StandardAddress.objects.filter(code=text).first()
    if found is not None:
        return found
    result = match_address(text)
    if result.address is not None and result.level in (
        AddressLevel.ROOM,
        AddressLevel.UNIT,
        AddressLevel.BUILDING,
    ):
        return result.address
    return None


def _address_or_error(value, field: str = "address") -> StandardAddress | None:
    if value in (None, ""):
        return None
    address = resolve_address(value)
    if address is None:
        raise ServiceError(
            "address.unmatched",
            _("No standard address (building, unit or room) matches “%(text)s”.") % {"text": str(value)[:80]},
            field=field,
        )
    return address


def _place(record, address: StandardAddress | None) -> None:
    record.community_id = address.community_id if address else None
    record.grid_id = address.grid_id if address else None


def _check_place_allowed(actor, address: StandardAddress | None) -> None:
    if actor is None or address is None:
        return
    scope = scope_of(actor)
    if not (scope.everything or scope.allows_grid(address.grid_id, address.community_id)):
        raise _denied(_("This address is outside your jurisdiction."))


def move_end(since: date, start: date | None) -> date:
    """The last day of a stay (a residence, an operation) that a move to a new place from ``since``
    ends: the day before, so the two stays never share a day; never before the stay's own
    ``start`` (a stay that began that day or later, such as one an import or a registration
    recorded today when the person moved in earlier, ends on its start day)."""
    day_before = since - timedelta(days=1)
    return day_before if start is None or day_before >= start else start
