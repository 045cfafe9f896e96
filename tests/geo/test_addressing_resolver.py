"""match_address on the tiny demo city: buildings, units, rooms, divisions, ambiguity."""

from __future__ import annotations

import pytest

from zhiwang.geo.addressing import match_address, match_many, reset_address_index
from zhiwang.geo.models import AddressLevel, StandardAddress

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_address_index():
    reset_address_index()
    yield
    reset_address_index()


def _room(city):
    return (
        StandardAddress.objects.filter(level=AddressLevel.ROOM, community=city.community)
        .select_related("parent__parent", "community__parent__parent")
        .order_by("code")
        .last()
    )


def test_full_name_of_a_room(city):
    room = _room(city)
    match = match_address(room.full_name)
    assert match.level == "room" and match.address == room, match
    assert match.confidence >= 0.9
    assert match.community.code == city.community.code
    assert match.subdistrict.code == city.subdistrict.code
    assert match.district.code == city.district.code


def _parts(room):
    unit = room.parent
    building = unit.parent
    return building, unit


def test_room_written_the_way_people_write_it(city):
    room = _room(city)
    building, unit = _parts(room)
    district = city.district.display_name.removesuffix("区")
    sub = city.subdistrict.display_name
    number = building.name.removesuffix("栋")
    floor, seq = room.name[:-2], room.name[-2:]
    cn = "零一二三四五六七八九"
    forms = [
        f"{district}{building.estate}{number}座{unit.name}{floor}楼{seq}",
        f"{building.road}{building.road_number}号{building.estate}{cn[int(number)]}栋{unit.name}{floor}-{seq}",
        f"{sub}{building.estate}{number}号楼{unit.name}{room.name}房（电话13800138000）",
        f"深圳市 {city.community.display_name} {building.estate} {number}幢 {unit.name} {room.name}室 附近",
    ]
    for text in forms:
        match = match_address(text)
        assert (match.level, match.address) == ("room", room), (text, match)
    # The demo city reuses estate names: without any division the building is ambiguous.
    vague = match_address(f"{building.estate}{number}号楼{unit.name}{room.name}")
    if vague.address is None:
        assert vague.note == "building_ambiguous"


def test_building_by_alias_and_by_road_number(city):
    from django.db.models import Count

    from zhiwang.geo.models import AddressAlias

    unique = AddressAlias.objects.values("alias").annotate(n=Count("id")).filter(n=1).values("alias")
    row = AddressAlias.objects.filter(alias__in=unique).select_related("address").order_by("id").first()
    building, alias = row.address, row.alias
    by_alias = match_address(alias)
    assert (by_alias.level, by_alias.address) == ("building", building)
    by_road = match_address(f"{building.road}{building.road_number}号{building.name}")
    assert by_road.address == building and by_road.confidence >= 0.85
    assert by_road.address_code == building.code


def test_divisions_by_full_short_and_common_names(city):
    sub = city.subdistrict
    short = sub.display_name.removesuffix("街道")
    assert match_address(f"深圳市{city.district.name}{sub.name}").division == sub
    m = match_address(short + "某某路")
    assert (m.level, m.division) == ("subdistrict", sub)
    m = match_address("南山")
    assert (m.level, m.division.code) == ("district", "440305000000")
    m = match_address("龙华新区清湖金銮国际大厦")  # a former name, from the shipped alias list
    assert m.district.code == "440309000000"
    m = match_address("深圳南山科技园科苑路6号")  # 科技园: common name of 粤海街道
    assert (m.level, m.division.code) == ("subdistrict", "440305007000")
    community = city.community
    m = match_address(f"{community.display_name}")
    assert (m.level, m.division) == ("community", community)


def test_same_road_and_number_in_two_districts_decided_by_the_district(city):
    from zhiwang.geo.models import Division

    futian = Division.objects.filter(level="community", code__startswith="440304").order_by("code").first()
    luohu = Division.objects.filter(level="community", code__startswith="440303").order_by("code").first()
    made = {}
    for n, community in enumerate((futian, luohu)):
        made[community.code[:6]] = StandardAddress.objects.create(
            code=f"TEST-{n}",
            level=AddressLevel.BUILDING,
            community=community,
            road="同名路",
            road_number="8",
            estate="",
            name="1栋",
            full_name=f"同名路8号1栋 {n}",
        )
    assert match_address("福田区同名路8号1栋").address == made["440304"]
    assert match_address("罗湖同名路8号1栋").address == made["440303"]
    ambiguous = match_address("同名路8号1栋")
    assert ambiguous.address is None and ambiguous.note == "building_ambiguous"


def test_other_cities_unknown_text_and_noise(city):
    assert match_address("广州市天河区体育西路1号").level == "none"
    assert match_address("").level == "none"
    assert match_address("   ").confidence == 0.0
    nothing = match_address("不知道在哪里")
    assert nothing.level == "none" and nothing.address is None and nothing.division is None


def test_batch_matches_like_single(city):
    room = _room(city)
    texts = [room.full_name, "南山", "", "广州市"]
    many = match_many(texts)
    assert [m.level for m in many] == ["room", "district", "none", "none"]
    assert many[0] == match_address(room.full_name)


def test_index_sees_a_new_building_without_a_restart(city):
    match_address("南山")  # builds the index
    StandardAddress.objects.create(
        code="TEST-NEW",
        level=AddressLevel.BUILDING,
        community=city.community,
        road="新建路",
        road_number="99",
        estate="新建花园",
        name="2栋",
        full_name="新建路99号新建花园2栋",
    )
    match = match_address("新建花园2栋")
    assert match.address is not None and match.address.code == "TEST-NEW"
    assert match.community.code == city.community.code


@pytest.mark.shared_data
def test_district_and_subdistrict_on_real_shenzhen_company_addresses(shared_data, city):
    """Gold from the text by the benchmark's rule (a district or subdistrict written in full)."""
    import csv
    import sys
    from pathlib import Path

    path = shared_data / "addresses" / "company_addresses_shenzhen.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        from address_bench import company_gold
    finally:
        sys.path.pop(0)
    with path.open(encoding="utf-8") as fh:
        texts = [row["raw_address"] for row in csv.DictReader(fh)]
    gold = company_gold(texts)
    found = match_many(texts)
    districts = [
        (g[0], m.district.name if m.district else None) for g, m in zip(gold, found, strict=True) if g[0]
    ]
    subs = [
        (g[1], m.subdistrict.code if m.subdistrict else None)
        for g, m in zip(gold, found, strict=True)
        if g[1]
    ]
    assert len(districts) > 900 and len(subs) > 100
    assert sum(a == b for a, b in districts) / len(districts) >= 0.97
    assert sum(a == b for a, b in subs) / len(subs) >= 0.95
