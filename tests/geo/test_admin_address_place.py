"""The standard-address admin keeps an address where its grid and its parent are.

Before: an address saved with another community's grid was counted under its ``community``
(building and room counts) and routed by its ``grid``, in two places at once; a unit or room
could be put in another community than the building it is read under, and a building could
be hung under a room. The form now refuses each on its field, with a stable code.
"""

from __future__ import annotations

import pytest

from zhiwang.geo.models import AddressLevel, Division, Grid, StandardAddress
from zhiwang.geo.services import division_stats_refresh

pytestmark = pytest.mark.django_db

ADD = "/admin/geo/standardaddress/add/"


def change_url(address: StandardAddress) -> str:
    return f"/admin/geo/standardaddress/{address.pk}/change/"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def form_of(address: StandardAddress, **changes) -> dict:
    """The admin form as it shows ``address``, with ``changes`` typed over it."""
    data = {
        f: getattr(address, f)
        for f in ("code", "level", "house_code", "road", "road_number", "estate", "name", "full_name")
    }
    data.update(
        community=address.community_id,
        grid=address.grid_id or "",
        parent=address.parent_id or "",
        floor="" if address.floor is None else address.floor,
        lon="" if address.lon is None else address.lon,
        lat="" if address.lat is None else address.lat,
    )
    data.update({"aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"}, **changes)
    return data


def refused(response) -> dict[str, list[str]]:
    """The refused form's errors as {field: [code, …]}."""
    assert response.status_code == 200, "the form was accepted"
    errors = response.context["adminform"].form.errors.as_data()
    return {field: [e.code for e in found] for field, found in errors.items()}


def accepted(response) -> None:
    assert response.status_code == 302, response.context["adminform"].form.errors


def a_building(community: Division) -> StandardAddress:
    return StandardAddress.objects.filter(community=community, level=AddressLevel.BUILDING).order_by("code")[
        0
    ]


def a_unit(building: StandardAddress) -> StandardAddress:
    return StandardAddress.objects.filter(parent=building, level=AddressLevel.UNIT).order_by("code")[0]


def a_room(unit: StandardAddress) -> StandardAddress:
    return StandardAddress.objects.filter(parent=unit, level=AddressLevel.ROOM).order_by("code")[0]


@pytest.fixture
def elsewhere(city) -> Division:
    """Another community of the demo city that has grids and buildings."""
    return (
        Division.objects.filter(level="community", grids__isnull=False, addresses__isnull=False)
        .exclude(pk=city.community.pk)
        .distinct()
        .order_by("code")[0]
    )


def other_grid(community: Division) -> Grid:
    return Grid.objects.exclude(community=community).order_by("code")[0]


# --- the grid lies in the address's community ------------------------------------------------


def test_a_building_added_with_another_communitys_grid_is_refused_on_the_grid(staff, city, english):
    model = a_building(city.community)
    foreign = other_grid(city.community)
    data = form_of(
        model, code="TEST-PLACE-1", name="99栋", full_name="测试99栋", house_code="", grid=foreign.pk
    )
    response = staff.post(ADD, data)
    assert refused(response) == {"grid": ["geo.address_grid_community"]}
    message = response.context["adminform"].form.errors["grid"][0]
    assert foreign.code in message and foreign.community.code in message and city.community.code in message
    assert not StandardAddress.objects.filter(code="TEST-PLACE-1").exists()

    accepted(staff.post(ADD, {**data, "grid": city.grids[0].pk}))
    accepted(staff.post(ADD, {**data, "code": "TEST-PLACE-2", "grid": ""}))  # no grid yet: nothing to check
    assert StandardAddress.objects.filter(code__startswith="TEST-PLACE-").count() == 2


def test_a_grid_changed_to_another_communitys_is_refused_and_nothing_moves(staff, city):
    division_stats_refresh()
    building = a_building(city.community)
    before = (building.grid_id, building.community_id)
    counts = list(Division.objects.order_by("pk").values_list("building_count", "room_count"))
    response = staff.post(change_url(building), form_of(building, grid=other_grid(city.community).pk))
    assert refused(response) == {"grid": ["geo.address_grid_community"]}
    building.refresh_from_db()
    assert (building.grid_id, building.community_id) == before
    assert list(Division.objects.order_by("pk").values_list("building_count", "room_count")) == counts


def test_a_building_moved_to_another_community_must_take_a_grid_of_it(staff, city, elsewhere):
    building = a_building(city.community)
    # the community changed, the old grid kept: the grid is now another community's
    response = staff.post(change_url(building), form_of(building, community=elsewhere.pk))
    assert refused(response) == {"grid": ["geo.address_grid_community"]}
    there = elsewhere.grids.order_by("code")[0]
    accepted(staff.post(change_url(building), form_of(building, community=elsewhere.pk, grid=there.pk)))
    building.refresh_from_db()
    assert (building.community_id, building.grid_id) == (elsewhere.pk, there.pk)


def test_the_demo_addresses_save_unchanged(staff, city):
    building = a_building(city.community)
    unit = a_unit(building)
    room = a_room(unit)
    for address in (building, unit, room):
        accepted(staff.post(change_url(address), form_of(address)))


# --- a unit or room is in its parent's community ---------------------------------------------


def test_a_unit_added_in_another_community_than_its_building_is_refused(staff, city, elsewhere, english):
    building = a_building(city.community)
    data = form_of(
        a_unit(building),
        code="TEST-UNIT-9",
        name="9单元",
        full_name="测试9单元",
        community=elsewhere.pk,
        grid="",
    )
    response = staff.post(ADD, data)
    assert refused(response) == {"community": ["geo.address_parent_community"]}
    assert building.full_name in response.context["adminform"].form.errors["community"][0]
    assert not StandardAddress.objects.filter(code="TEST-UNIT-9").exists()
    accepted(staff.post(ADD, {**data, "community": city.community.pk}))


def test_a_room_moved_away_from_its_units_community_is_refused(staff, city, elsewhere):
    room = a_room(a_unit(a_building(city.community)))
    there = elsewhere.grids.order_by("code")[0]
    response = staff.post(change_url(room), form_of(room, community=elsewhere.pk, grid=there.pk))
    assert refused(response) == {"community": ["geo.address_parent_community"]}
    room.refresh_from_db()
    assert room.community_id == city.community.pk


def test_a_room_moved_with_its_parent_to_a_unit_of_the_other_community_is_accepted(staff, city, elsewhere):
    room = a_room(a_unit(a_building(city.community)))
    unit_there = a_unit(a_building(elsewhere))
    accepted(
        staff.post(
            change_url(room),
            form_of(room, parent=unit_there.pk, community=elsewhere.pk, grid=unit_there.grid_id or ""),
        )
    )
    room.refresh_from_db()
    assert (room.parent_id, room.community_id) == (unit_there.pk, elsewhere.pk)


def test_an_address_both_off_its_grid_and_off_its_parent_gets_both_errors(staff, city, elsewhere):
    unit = a_unit(a_building(city.community))
    response = staff.post(
        change_url(unit), form_of(unit, community=elsewhere.pk, grid=other_grid(elsewhere).pk)
    )
    assert refused(response) == {
        "grid": ["geo.address_grid_community"],
        "community": ["geo.address_parent_community"],
    }


# --- the address tree: building → unit → room ------------------------------------------------


def test_a_building_has_no_parent(staff, city):
    building = a_building(city.community)
    other = StandardAddress.objects.filter(community=city.community, level=AddressLevel.BUILDING).exclude(
        pk=building.pk
    )[0]
    response = staff.post(change_url(building), form_of(building, parent=other.pk))
    assert refused(response) == {"parent": ["geo.address_parent_level"]}


@pytest.mark.parametrize(
    ("level", "parent_of"),
    [
        (AddressLevel.UNIT, lambda building, unit, room: unit),  # its own level (itself, or a sibling)
        (AddressLevel.UNIT, lambda building, unit, room: room),  # below it
        (AddressLevel.ROOM, lambda building, unit, room: room),  # a room in a room
    ],
)
def test_a_parent_must_be_higher_in_the_tree(staff, city, level, parent_of):
    building = a_building(city.community)
    unit = a_unit(building)
    room = a_room(unit)
    address = unit if level == AddressLevel.UNIT else room
    response = staff.post(change_url(address), form_of(address, parent=parent_of(building, unit, room).pk))
    assert refused(response) == {"parent": ["geo.address_parent_level"]}
    address.refresh_from_db()
    assert address.parent_id == (building.pk if address == unit else unit.pk)


def test_a_room_may_hang_directly_on_a_building(staff, city):
    building = a_building(city.community)
    room = a_room(a_unit(building))
    accepted(staff.post(change_url(room), form_of(room, parent=building.pk)))
    room.refresh_from_db()
    assert room.parent_id == building.pk
