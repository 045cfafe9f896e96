"""match_address on texts that broke it: thousands of digits, landmarks named after other
provinces, numbers apart only by a space, basement rooms; and match_many's query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.geo.addressing import (
    clean,
    cn_to_int,
    match_address,
    match_many,
    number_key,
    parse_address,
    reset_address_index,
)
from zhiwang.geo.addressing.parser import _room_key
from zhiwang.geo.models import AddressAlias, AddressLevel, StandardAddress

pytestmark = pytest.mark.django_db

LONG = "1" * 4400  # past int()'s 4,300-digit limit


@pytest.fixture(autouse=True)
def _fresh_address_index():
    reset_address_index()
    yield
    reset_address_index()


def building(prefix: str = "440305") -> StandardAddress:
    return (
        StandardAddress.objects.filter(level=AddressLevel.BUILDING, community__code__startswith=prefix)
        .order_by("code")
        .first()
    )


def first_room(b: StandardAddress) -> StandardAddress:
    return StandardAddress.objects.filter(level=AddressLevel.ROOM, parent__parent=b).order_by("code").first()


# --- a run of thousands of digits is no number --------------------------------------------------


def test_numbers_too_long_to_be_an_address_number_are_not_numbers():
    assert cn_to_int(LONG) is None and cn_to_int("一" * 20) is None
    assert cn_to_int("123456789") == 123456789
    assert number_key(LONG + "栋") == LONG  # its own key, matching nothing
    assert _room_key(LONG, "") == (LONG, "")
    parsed = parse_address(f"南山区翠苑大厦{LONG}栋{LONG}单元{LONG}楼{LONG}")
    assert parsed.get("district") == "南山区"


@pytest.mark.parametrize(
    "text",
    [
        f"南山区翠苑大厦{LONG}栋",
        f"南山区科苑大道{LONG}号",
        f"{LONG}",
        f"南山区{LONG}楼01",
        f"翠苑大厦1栋{LONG}",
    ],
)
def test_match_address_answers_no_match_for_a_long_digit_run(city, text):
    found = match_address(text)
    assert (found.address, found.division, found.note) == (None, None, "too_long")
    assert [m.level for m in match_many([text, "南山区"])] == ["none", "district"]


def test_a_number_too_long_for_a_building_or_room_names_none(city):
    b = building()
    digits = "9" * 300  # an address still, but no building, unit or room has such a number
    found = match_address(f"南山区{b.estate}{digits}栋")
    assert found.address is None and found.district.code == "440305000000"
    found = match_address(f"南山区{b.estate}{b.name}{digits}")
    assert found.address == b and found.level == "building"  # the room is not found, the building is


def test_the_registry_place_match_api_answers_cleanly(client, admin_user, city):
    client.force_login(admin_user)
    client.raise_request_exception = False
    response = client.post(
        "/api/v1/registry/places/match", {"q": f"南山区{LONG}栋"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["address"] is None


# --- Shenzhen landmarks named after other provinces and cities ----------------------------------


@pytest.mark.parametrize("name", ["上海宾馆", "江西宾馆", "湖南商会大楼", "潮州会馆"])
def test_a_landmark_named_after_another_province_is_not_outside_the_city(city, name):
    b = building("440304")
    AddressAlias.objects.create(address=b, alias=name)
    found = match_address(name)
    assert found.address == b, found.note
    assert match_address(f"福田区{name}").address == b
    assert parse_address(name).get("estate") == name  # no province or city read in it


def test_an_alias_holding_another_citys_name_keeps_its_building(city):
    """A landmark word the parser does not know (烤鸭店): the local alias holds the name."""
    b = building("440304")
    AddressAlias.objects.create(address=b, alias="北京烤鸭店")
    assert parse_address("北京烤鸭店").get("province") == "北京"
    assert match_address("北京烤鸭店").address == b


def test_another_city_written_before_a_local_estate_stays_outside(city):
    b = building()
    assert match_address(f"南山区{b.estate}{b.name}").address == b
    found = match_address(f"广州市{b.estate}{b.name}")
    assert found.level == "none" and found.note == "outside_city"
    assert match_address("广州市天河区体育西路1号").note == "outside_city"


def test_futian_cbd_is_still_futian(city):
    assert match_address("福田中心区").district.code == "440304000000"


# --- numbers apart only by whitespace -------------------------------------------------------------


def test_whitespace_between_two_numbers_keeps_them_apart(city):
    b = building()
    room = first_room(b)
    assert b.road and b.road_number
    glued = match_address(f"南山区{b.road}{b.road_number}号{b.name}{room.name}")
    assert glued.address == room
    spaced = match_address(f"南山区{b.road} {b.road_number} {b.name} {room.name}")
    assert spaced.address == room, spaced.components
    assert spaced.components["road_number"] == b.road_number
    assert match_address(f"南山区{b.road}{b.road_number}，{b.name}").address == b  # a comma, too
    assert clean("翠苑大厦 1 栋 2 单元") == "翠苑大厦1栋2单元"  # digits beside words: joined as before
    assert clean("电话 138 1234 5678 翠苑大厦") == "翠苑大厦"  # a spaced phone number is still cut out


# --- basement rooms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["B1-01", "B101", "负一层01", "地下一层01", "B1层01", "地下室01", "负1层1号"]
)
def test_a_basement_room_has_one_key_however_written(written):
    parsed = parse_address(f"翠苑大厦1栋{written}")
    assert (parsed.keys["room"], parsed.keys["floor"]) == ("B101", "-1"), parsed
    for stored in ("B1-01", "-101", "B101"):
        assert _room_key(stored, "")[0] == "B101"


def test_a_basement_room_is_matched(city):
    b = building()
    unit = StandardAddress.objects.filter(parent=b, level=AddressLevel.UNIT).order_by("code").first()
    room = StandardAddress.objects.create(
        code=f"{unit.code}-B101",
        level=AddressLevel.ROOM,
        parent=unit,
        community=b.community,
        grid=b.grid,
        name="B1-01",
        floor=-1,
        full_name=f"{unit.full_name}B1-01",
    )
    assert match_address(f"南山区{b.estate}{b.name}{unit.name}负一层01").address == room
    assert match_address(f"南山区{b.estate}{b.name}{unit.name}B101").address == room


# --- match_many: the same few queries for 3 texts or 60 ---------------------------------------------


def test_match_many_makes_the_same_few_queries_for_any_number_of_rooms(city, settings):
    rooms = list(StandardAddress.objects.filter(level=AddressLevel.ROOM).order_by("code")[:60])
    texts = [r.full_name for r in rooms]
    match_many(texts[:1])  # the index is built
    settings.ZHIWANG_GEO_INDEX_CHECK_SECONDS = 3600  # no fingerprint check inside the measure
    with CaptureQueriesContext(connection) as few:
        small = match_many(texts[:3])
    with CaptureQueriesContext(connection) as many:
        found = match_many(texts)
    # children of the buildings, rooms of the units, then the addresses and divisions answered
    assert len(many.captured_queries) == len(few.captured_queries) == 4
    assert [m.address for m in found] == rooms
    assert small == found[:3]
    assert match_many(texts[:5]) == [match_address(t) for t in texts[:5]]
