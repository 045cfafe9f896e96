"""Buildings and rooms added, moved or deleted in the admin recount their divisions at once.

Before: ``building_count`` and ``room_count`` changed only at the next full
``division_stats_refresh`` (a boundary import or a divisions load), so the dashboards and the
division pages showed the old counts. Now the admin recounts the chains concerned (the old and
the new community's when an address moves), and the result is what a full refresh gives.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.threads import needs_row_locks
from zhiwang.geo.models import AddressLevel, Division, DivisionLevel, StandardAddress
from zhiwang.geo.services import division_address_counts_refresh, division_stats_refresh

COUNTS = ("grid_count", "building_count", "room_count")


def counts() -> dict[str, tuple[int, int, int]]:
    return {code: tuple(rest) for code, *rest in Division.objects.values_list("code", *COUNTS)}


def chain(division: Division) -> list[str]:
    found = []
    while division is not None:
        found.append(division.code)
        division = division.parent
    return found


def delta(before: dict, after: dict) -> dict[str, tuple[int, int, int]]:
    """Per division code, how the (grids, buildings, rooms) counts moved; unchanged ones left out."""
    changed = {}
    for code, now in after.items():
        moved = tuple(a - b for a, b in zip(now, before[code], strict=True))
        if any(moved):
            changed[code] = moved
    return changed


def assert_as_a_full_refresh_leaves_them() -> None:
    after = counts()
    division_stats_refresh()
    assert counts() == after


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def counted(city):
    """The demo city with its counts as a full refresh leaves them (what every test starts from)."""
    division_stats_refresh()
    return city


def a_building(district_prefix: str) -> StandardAddress:
    return (
        StandardAddress.objects.filter(
            level=AddressLevel.BUILDING, community__code__startswith=district_prefix
        )
        .select_related("community__parent__parent__parent")
        .order_by("code")
        .first()
    )


def address_form(address: StandardAddress, **changes) -> dict:
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


def rooms_below(building: StandardAddress) -> list[StandardAddress]:
    units = StandardAddress.objects.filter(parent=building)
    return list(StandardAddress.objects.filter(level=AddressLevel.ROOM, parent__in=units)) + list(
        StandardAddress.objects.filter(level=AddressLevel.ROOM, parent=building)
    )


@pytest.mark.django_db
def test_a_building_added_in_the_admin_counts_at_every_level(staff, counted):
    model = a_building("440305")
    community = model.community
    before = counts()
    data = address_form(model, code="TEST-B-1", name="99栋", full_name="测试99栋", house_code="", grid="")
    response = staff.post("/admin/geo/standardaddress/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    assert delta(before, counts()) == {code: (0, 1, 0) for code in chain(community)}
    assert len(chain(community)) == 4  # community, subdistrict, district, city
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_a_room_added_under_a_unit_counts_as_a_room(staff, counted):
    room = (
        StandardAddress.objects.filter(level=AddressLevel.ROOM)
        .select_related("community")
        .order_by("code")[0]
    )
    before = counts()
    data = address_form(room, code="TEST-R-1", name="9901", full_name=room.full_name + "9901", house_code="")
    response = staff.post("/admin/geo/standardaddress/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    assert delta(before, counts()) == {code: (0, 0, 1) for code in chain(room.community)}
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_a_unit_added_counts_nothing_and_recounts_nothing(staff, counted):
    unit = StandardAddress.objects.filter(level=AddressLevel.UNIT).order_by("code")[0]
    before = counts()
    with CaptureQueriesContext(connection) as queries:
        data = address_form(
            unit, code="TEST-U-1", name="9单元", full_name=unit.full_name + "9单元", house_code=""
        )
        response = staff.post("/admin/geo/standardaddress/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert counts() == before
    assert not any("geo_division" in q["sql"] and "UPDATE" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_a_building_moved_to_another_district_leaves_one_chain_for_the_other(staff, counted):
    building = a_building("440305")
    there = (
        Division.objects.filter(level=DivisionLevel.COMMUNITY, code__startswith="440304")
        .select_related("parent__parent__parent")
        .order_by("code")
        .first()
    )
    old = chain(building.community)
    before = counts()
    response = staff.post(
        f"/admin/geo/standardaddress/{building.pk}/change/",
        address_form(building, community=there.pk, grid=""),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    expected = {code: (0, -1, 0) for code in old[:-1]}
    expected |= {code: (0, 1, 0) for code in chain(there)[:-1]}
    assert old[-1] == chain(there)[-1]  # one city: its count does not move
    assert delta(before, counts()) == expected
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_a_room_made_a_building_moves_between_the_counters(staff, counted):
    room = (
        StandardAddress.objects.filter(level=AddressLevel.ROOM)
        .select_related("community")
        .order_by("code")[0]
    )
    before = counts()
    response = staff.post(
        f"/admin/geo/standardaddress/{room.pk}/change/",
        address_form(room, level=AddressLevel.BUILDING, parent=""),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert delta(before, counts()) == {code: (0, 1, -1) for code in chain(room.community)}
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_an_edit_that_keeps_community_and_level_recounts_nothing(staff, counted):
    building = a_building("440305")
    with CaptureQueriesContext(connection) as queries:
        response = staff.post(
            f"/admin/geo/standardaddress/{building.pk}/change/", address_form(building, estate="改名花园")
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not any("geo_division" in q["sql"] and "UPDATE" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_a_building_deleted_takes_its_rooms_out_of_the_counts(staff, counted):
    building = a_building("440305")
    rooms = rooms_below(building)
    assert rooms  # the demo's buildings have units and rooms
    assert {r.community_id for r in rooms} == {building.community_id}
    before = counts()
    response = staff.post(f"/admin/geo/standardaddress/{building.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not StandardAddress.objects.filter(pk=building.pk).exists()

    assert delta(before, counts()) == {code: (0, -1, -len(rooms)) for code in chain(building.community)}
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_addresses_of_two_districts_deleted_in_bulk_recount_both_chains(staff, counted):
    here, there = a_building("440305"), a_building("440304")
    room = rooms_below(there)[0]
    victims = [here, room]
    here_rooms = len(rooms_below(here))
    before = counts()
    response = staff.post(
        "/admin/geo/standardaddress/",
        {"action": "delete_selected", "_selected_action": [a.pk for a in victims], "post": "yes"},
    )
    assert response.status_code == 302
    assert not StandardAddress.objects.filter(pk__in=[a.pk for a in victims]).exists()

    city_code = chain(here.community)[-1]
    expected = {code: (0, -1, -here_rooms) for code in chain(here.community)[:-1]}
    expected |= {code: (0, 0, -1) for code in chain(room.community)[:-1]}
    expected[city_code] = (0, -1, -here_rooms - 1)
    assert delta(before, counts()) == expected
    assert_as_a_full_refresh_leaves_them()


@pytest.mark.django_db
def test_the_address_recount_reads_the_chain_only(counted):
    community = a_building("440305").community
    StandardAddress.objects.filter(community=community, level=AddressLevel.ROOM).order_by("code")[
        :1
    ].get().delete()
    with CaptureQueriesContext(connection) as queries:
        division_address_counts_refresh([community.pk])
    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    assert "geo_grid" not in sql  # grid counts are not touched
    # the chain walk, the lock, then per level a grouped count, a sum and an update (+ savepoint)
    assert len(queries.captured_queries) <= 2 + 4 * 3 + 2
    assert_as_a_full_refresh_leaves_them()


# -- a full refresh and an admin recount at once (PostgreSQL: row locks) ----------------------


@pytest.fixture
def little_city(transactional_db):
    """A four-level chain of committed rows other connections see, with one building in it
    (the database is emptied after a transactional test: nothing here relies on the demo city)."""
    city = Division.objects.create(code="990100000000", name="测试市", level=DivisionLevel.CITY)
    district = Division.objects.create(code="990101000000", name="测试区", level="district", parent=city)
    sub = Division.objects.create(code="990101001000", name="测试街道", level="subdistrict", parent=district)
    community = Division.objects.create(code="990101001001", name="测试社区", level="community", parent=sub)
    StandardAddress.objects.create(
        code="RACE-B-1", level=AddressLevel.BUILDING, community=community, name="1栋", full_name="测试1栋"
    )
    division_stats_refresh()
    return [community, sub, district, city]


def building_counts(divisions) -> list[int]:
    return [Division.objects.get(pk=d.pk).building_count for d in divisions]


@needs_row_locks
def test_a_full_refresh_during_an_admin_recount_waits_and_counts_its_building(little_city):
    """The refresh that starts while a saved building's recount holds the chain must not count
    before that save commits and then write its older count over the recount's."""
    community = little_city[0]
    assert building_counts(little_city) == [1, 1, 1, 1]
    finished = threading.Event()

    def refresh():
        try:
            division_stats_refresh()
        finally:
            connection.close()
            finished.set()

    with transaction.atomic():
        StandardAddress.objects.create(
            code="RACE-B-2", level=AddressLevel.BUILDING, community=community, name="2栋", full_name="测试2栋"
        )
        division_address_counts_refresh([community.pk])
        thread = threading.Thread(target=refresh)
        thread.start()
        time.sleep(0.5)
        assert not finished.is_set()  # it waits for the chain's locks
    thread.join(timeout=30)
    assert finished.is_set()
    assert building_counts(little_city) == [2, 2, 2, 2]


@needs_row_locks
def test_an_admin_recount_during_a_full_refresh_waits_and_counts_after_it(little_city):
    community = little_city[0]
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def refresh():
        try:
            with transaction.atomic():
                division_stats_refresh()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def save():
        try:
            with transaction.atomic():
                StandardAddress.objects.create(
                    code="RACE-B-3",
                    level=AddressLevel.BUILDING,
                    community=community,
                    name="3栋",
                    full_name="测试3栋",
                )
                division_address_counts_refresh([community.pk])
        finally:
            connection.close()
            done.set()

    first = threading.Thread(target=refresh)
    first.start()
    assert locked.wait(timeout=30)
    second = threading.Thread(target=save)
    second.start()
    time.sleep(0.5)
    assert not done.is_set()  # the insert went through; the recount waits for the refresh
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert done.is_set()
    assert building_counts(little_city) == [2, 2, 2, 2]
