"""Every admin save and delete reaches the address index and the locate index, in every process.

Renaming a division alias or a building's estate, or giving a grid a new boundary in the admin
left both indexes as they were: nothing told them, and the address index's fingerprint only
counts rows and their highest ids.
"""

from __future__ import annotations

import json

import pytest

from zhiwang.geo.addressing import match_address, reset_address_index
from zhiwang.geo.addressing.resolver import _fingerprint
from zhiwang.geo.locator import current_version, locate
from zhiwang.geo.models import (
    AddressAlias,
    AddressLevel,
    Division,
    DivisionAlias,
    DivisionLevel,
    GeoIndexVersion,
    Grid,
    StandardAddress,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_address_index():
    # rolled-back tests can leave another test's rows behind the same counts and ids
    reset_address_index()
    yield
    reset_address_index()


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def addresses_version() -> int:
    return GeoIndexVersion.objects.filter(key="addresses").values_list("version", flat=True).first() or 0


def nanshan_community() -> Division:
    return (
        Division.objects.filter(level=DivisionLevel.COMMUNITY, code__startswith="440305")
        .order_by("code")
        .first()
    )


def nanshan_building() -> StandardAddress:
    return (
        StandardAddress.objects.filter(level=AddressLevel.BUILDING, community__code__startswith="440305")
        .order_by("code")
        .first()
    )


def test_a_division_alias_renamed_in_the_admin_is_matched_at_once(staff, city):
    community = nanshan_community()
    alias = DivisionAlias.objects.create(division=community, alias="琉璃坊片区")
    assert match_address("琉璃坊片区").division == community  # the index holds the alias
    before, fingerprint = addresses_version(), _fingerprint()
    response = staff.post(
        f"/admin/geo/divisionalias/{alias.pk}/change/", {"alias": "翡翠湾片区", "division": community.pk}
    )
    assert response.status_code == 302
    # what other processes read: the version in their fingerprint moved
    assert addresses_version() == before + 1 and _fingerprint() != fingerprint
    assert match_address("翡翠湾片区").division == community
    assert match_address("琉璃坊片区").division is None


def test_division_aliases_deleted_in_bulk_are_forgotten(staff, city):
    community = nanshan_community()
    alias = DivisionAlias.objects.create(division=community, alias="琉璃坊片区")
    other = DivisionAlias.objects.create(division=community, alias="玛瑙湾片区")
    assert match_address("琉璃坊片区").division == community
    before = addresses_version()
    response = staff.post(
        "/admin/geo/divisionalias/",
        {"action": "delete_selected", "_selected_action": [alias.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not DivisionAlias.objects.filter(pk__in=[alias.pk, other.pk]).exists()
    assert addresses_version() == before + 1  # the bulk action tells the indexes too
    assert match_address("琉璃坊片区").division is None


def test_an_alias_added_and_removed_in_a_divisions_inline_is_seen(staff, city):
    community = nanshan_community()
    match_address("南山")  # builds the index
    before = addresses_version()
    data = {
        "name": community.name,
        "short_name": community.short_name,
        "special": community.special,
        "geometry": community.geometry,
        "geometry_source": community.geometry_source,
        "lon": community.lon or "",
        "lat": community.lat or "",
        "aliases-TOTAL_FORMS": "1",
        "aliases-INITIAL_FORMS": "0",
        "aliases-0-alias": "琥珀谷片区",
        "aliases-0-division": community.pk,
    }
    response = staff.post(f"/admin/geo/division/{community.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert addresses_version() > before  # the inline's new row tells the index
    assert match_address("琥珀谷片区").division == community


def building_form(b: StandardAddress, **changes) -> dict:
    data = {
        f: getattr(b, f)
        for f in ("code", "level", "house_code", "road", "road_number", "estate", "name", "full_name")
    }
    data.update(community=b.community_id, grid=b.grid_id or "", parent="", floor="", lon=b.lon, lat=b.lat)
    data.update({"aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"}, **changes)
    return data


def test_a_buildings_estate_renamed_in_the_admin_is_matched_at_once(staff, city):
    b = nanshan_building()
    assert match_address(f"南山区{b.estate}{b.name}").address == b
    response = staff.post(f"/admin/geo/standardaddress/{b.pk}/change/", building_form(b, estate="星光名苑"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert match_address(f"南山区星光名苑{b.name}").address == b


def test_an_address_alias_renamed_in_the_inline_is_matched_at_once(staff, city):
    b = nanshan_building()
    alias = AddressAlias.objects.create(address=b, alias="琉璃大厦")
    assert match_address("琉璃大厦").address == b
    data = building_form(
        b,
        **{
            "aliases-TOTAL_FORMS": "1",
            "aliases-INITIAL_FORMS": "1",
            "aliases-0-id": alias.pk,
            "aliases-0-address": b.pk,
            "aliases-0-alias": "翡翠大厦",
        },
    )
    # other aliases of the building (the demo gives each one) are left out of the form: unchanged
    data["aliases-TOTAL_FORMS"] = data["aliases-INITIAL_FORMS"] = "1"
    response = staff.post(f"/admin/geo/standardaddress/{b.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert match_address("翡翠大厦").address == b
    assert match_address("琉璃大厦").address is None


def test_a_rooms_edit_does_not_rebuild_every_process_index(staff, city):
    room = StandardAddress.objects.filter(level=AddressLevel.ROOM).order_by("code").first()
    before = addresses_version()
    data = {
        f: getattr(room, f)
        for f in ("code", "level", "house_code", "road", "road_number", "estate", "name", "full_name")
    }
    data.update(
        community=room.community_id,
        grid=room.grid_id or "",
        parent=room.parent_id,
        floor=room.floor if room.floor is not None else "",
        lon=room.lon if room.lon is not None else "",
        lat=room.lat if room.lat is not None else "",
        full_name=room.full_name + "（改）",
        **{"aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"},
    )
    response = staff.post(f"/admin/geo/standardaddress/{room.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert addresses_version() == before  # the index holds buildings only


def test_a_grids_new_boundary_in_the_admin_is_located_at_once(staff, city):
    g = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    other = (
        Grid.objects.filter(code__startswith="440305").exclude(community=g.community).order_by("code").first()
    )
    assert locate(other.lon, other.lat).grid.code == other.code  # the index is built
    version = current_version()
    d = 0.0005
    ring = [
        [other.lon - d, other.lat - d],
        [other.lon + d, other.lat - d],
        [other.lon + d, other.lat + d],
        [other.lon - d, other.lat + d],
        [other.lon - d, other.lat - d],
    ]
    response = staff.post(
        f"/admin/geo/grid/{g.pk}/change/",
        {
            "name": g.name,
            "geometry": json.dumps({"type": "Polygon", "coordinates": [ring]}),
            "geometry_source": "imported",
            "lon": other.lon,
            "lat": other.lat,
            "area_m2": 1,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert current_version() == version + 1  # every process rebuilds its locate index
    assert locate(other.lon, other.lat).grid.code == g.code


def test_a_divisions_rename_reaches_the_locate_answer(staff, city):
    grid = city.grids[0]
    community = grid.community
    assert locate(grid.lon, grid.lat).community.name == community.display_name
    data = {
        "name": "改名社区",
        "short_name": "",
        "special": community.special,
        "geometry": community.geometry,
        "geometry_source": community.geometry_source,
        "lon": community.lon or "",
        "lat": community.lat or "",
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
    }
    response = staff.post(f"/admin/geo/division/{community.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert locate(grid.lon, grid.lat).community.name == "改名社区"
