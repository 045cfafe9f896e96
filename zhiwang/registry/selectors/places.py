"""Reads about places: standard addresses in scope, free-text place search, the building and room pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import NO_MATCH, match_address
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.models import STAY_ORDER, Housing, LegalEntity, Operation, Residence
from zhiwang.registry.selectors.common import _current
from zhiwang.registry.selectors.people import person_visible
from zhiwang.registry.services import not_found


def address_visible(*, user) -> QuerySet[StandardAddress]:
    return StandardAddress.objects.visible_to(user)


def address_get(*, user, code: str) -> StandardAddress:
    address = (
        address_visible(user=user)
        .select_related("community", "grid", "parent", "parent__parent")
        .filter(code=code)
        .first()
    )
    if address is None:
        raise not_found()
    return address


def place_search(*, user, q: str) -> tuple[object, StandardAddress | None]:
    """Free-text address → (the match, its standard address), both inside the user's jurisdiction.

    A match outside it — a standard address the user may not see, or (no address) a division
    outside their division subtrees and grids' communities — answers ``NO_MATCH``, exactly as a
    text that names nothing: the page and the API then say the same for both.
    """
    result = match_address(q or "")
    address = result.address
    if address is not None:
        if not address_visible(user=user).filter(pk=address.pk).exists():
            return NO_MATCH, None
    elif result.division is not None and not scope_of(user).allows_division(result.division.pk):
        return NO_MATCH, None
    return result, address


def building_of(address: StandardAddress) -> StandardAddress:
    while address.parent_id is not None:
        address = address.parent
    return address


@dataclass
class RoomView:
    room: StandardAddress
    housing: Housing | None
    residents: list[Residence] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)


@dataclass
class UnitView:
    unit: StandardAddress | None
    rooms: list[RoomView] = field(default_factory=list)


@dataclass
class BuildingView:
    building: StandardAddress
    units: list[UnitView]
    building_housing: Housing | None
    building_operations: list[Operation]
    people: int
    migrants: int
    rentals: int
    entities: int


def building_view(*, user, building: StandardAddress, today: date | None = None) -> BuildingView:
    """Units, rooms, who lives in each, entities operating there, rental status: a fixed number of queries.

    The caller fetched ``building`` through ``address_get`` (scoped). Residents are the
    current residences at the building's rooms, read through the person scope.
    """
    today = today or timezone.localdate()
    # Descendants through the parent links (indexed), not a code prefix: on PostgreSQL a
    # LIKE 'code-%' cannot use the code's unique index and scans every address of the city.
    children = list(StandardAddress.objects.filter(parent_id=building.pk))
    unit_ids = [a.pk for a in children if a.level == AddressLevel.UNIT]
    grandchildren = list(StandardAddress.objects.filter(parent_id__in=unit_ids)) if unit_ids else []
    places = sorted([building, *children, *grandchildren], key=lambda a: a.code)
    ids = [a.pk for a in places]
    housing = {h.address_id: h for h in Housing.objects.filter(address_id__in=ids)}
    visible_people = person_visible(user=user)
    residences: dict[int, list[Residence]] = {}
    for r in (
        _current(Residence.objects.filter(address_id__in=ids), today)
        .filter(person__in=visible_people)
        .select_related("person")
        .order_by("person__name", "pk")
    ):
        residences.setdefault(r.address_id, []).append(r)
    operations: dict[int, list[Operation]] = {}
    for o in (
        _current(Operation.objects.filter(address_id__in=ids), today)
        .filter(entity__in=LegalEntity.objects.visible_to(user))
        .select_related("entity")
    ):
        operations.setdefault(o.address_id, []).append(o)
    units: dict[int | None, UnitView] = {}
    for a in places:
        if a.level == AddressLevel.UNIT:
            units[a.pk] = UnitView(unit=a)
    for a in places:
        if a.level == AddressLevel.ROOM:
            view = RoomView(
                room=a,
                housing=housing.get(a.pk),
                residents=residences.get(a.pk, []),
                operations=operations.get(a.pk, []),
            )
            unit = units.get(a.parent_id)
            if unit is None:
                unit = units.setdefault(None, UnitView(unit=None))
            unit.rooms.append(view)
    for unit in units.values():
        unit.rooms.sort(key=lambda v: (v.room.floor or 0, v.room.name))
    all_res = [r for rs in residences.values() for r in rs]
    return BuildingView(
        building=building,
        units=[units[k] for k in units if k is not None] + ([units[None]] if None in units else []),
        building_housing=housing.get(building.pk),
        building_operations=operations.get(building.pk, [])
        + [o for a in places if a.level == AddressLevel.UNIT for o in operations.get(a.pk, [])],
        people=len({r.person_id for r in all_res}),
        migrants=len({r.person_id for r in all_res if r.person.household_type == "migrant"}),
        rentals=sum(1 for h in housing.values() if h.is_rental),
        entities=len({o.entity_id for os in operations.values() for o in os}),
    )


def room_view(*, user, room: StandardAddress) -> RoomView:
    housing = Housing.objects.filter(address=room).first()
    residents = list(
        _current(Residence.objects.filter(address=room))
        .filter(person__in=person_visible(user=user))
        .select_related("person")
    )
    operations = list(
        _current(Operation.objects.filter(address=room))
        .filter(entity__in=LegalEntity.objects.visible_to(user))
        .select_related("entity")
    )
    return RoomView(room=room, housing=housing, residents=residents, operations=operations)


def room_history(*, user, room: StandardAddress) -> list[Residence]:
    """Everybody who ever lived in the room (past residences too), within the person scope."""
    return list(
        Residence.objects.filter(address=room, person__in=person_visible(user=user))
        .select_related("person")
        .order_by(*STAY_ORDER)
    )
