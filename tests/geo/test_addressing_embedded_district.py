"""A district's short form inside a longer name is part of that name, not a district.

深业上城 is a complex in Futian; the parser read its 上城 as Hangzhou's 上城区 (and kept only 深业 as
the estate). A short district name that comes after the start of a place name, with no province
or city written before it and no smaller division or road after it, is now read as part of the
name. Written out (上城区), at the start (上城, 南山书城) or after a province or city (杭州上城), it
is still a district.
"""

from __future__ import annotations

import pytest

from zhiwang.geo.addressing import match_address, parse_address, reset_address_index
from zhiwang.geo.models import AddressAlias, AddressLevel, Division, StandardAddress


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("深业上城", {"estate": "深业上城"}),
        ("深业上城3栋1201", {"estate": "深业上城", "building": "3栋", "room": "1201"}),
        ("福田区深业上城", {"district": "福田区", "estate": "深业上城"}),
        ("深圳深业上城", {"city": "深圳", "estate": "深业上城"}),  # 上城区 is not in 深圳
        ("广东深业上城3栋", {"province": "广东", "estate": "深业上城", "building": "3栋"}),
        # Shenzhen's own district names inside Shenzhen names: the name stays whole
        ("天安龙岗数码新城", {"estate": "天安龙岗数码新城"}),
        ("锦绣江南11幢", {"estate": "锦绣江南", "building": "11幢"}),
    ],
)
def test_a_district_short_name_inside_a_longer_name_is_part_of_it(text, expected):
    assert parse_address(text).components == expected


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("上城", "上城"),  # alone: the district
        ("上城区", "上城区"),
        ("杭州市上城区解放路1号", "上城区"),
        ("杭州上城解放路1号", "上城"),  # after a city: the text says where it is
        ("浙江深业上城", "上城"),  # after a province, likewise
        ("南山书城", "南山"),  # at the start
        ("南山", "南山"),
        ("深圳南山区海岸城", "南山区"),
        ("原单号黄岩北城经济开发区", "黄岩"),  # noise, then a district and what lies in it
        ("杭州深业上城", "上城"),  # after the city it lies in
    ],
)
def test_a_district_written_as_one_is_still_a_district(text, district):
    assert parse_address(text).get("district") == district


# -- the matcher ------------------------------------------------------------------------------


@pytest.fixture
def _fresh_address_index():
    reset_address_index()
    yield
    reset_address_index()


@pytest.fixture
def shenye(city, _fresh_address_index) -> StandardAddress:
    futian = Division.objects.filter(level="community", code__startswith="440304").order_by("code").first()
    building = StandardAddress.objects.create(
        code="TEST-SHENYE-3",
        level=AddressLevel.BUILDING,
        community=futian,
        road="皇岗路",
        road_number="5001",
        estate="深业上城",
        name="3栋",
        full_name="深圳市福田区皇岗路5001号深业上城3栋",
    )
    AddressAlias.objects.create(address=building, alias="深业上城LOFT")
    return building


@pytest.mark.django_db
def test_shenye_upper_town_is_found_in_futian(shenye):
    m = match_address("深业上城3栋")
    assert m.note != "outside_city"
    assert m.address == shenye and m.district.code == "440304000000"
    assert "district" not in m.components and m.components["estate"] == "深业上城"
    assert match_address("深业上城LOFT").address == shenye  # its alias, as before


@pytest.mark.django_db
def test_hangzhous_district_is_still_elsewhere(shenye):
    m = match_address("浙江省杭州市上城区解放路1号")
    assert (m.level, m.note) == ("none", "outside_city")


@pytest.mark.django_db
def test_a_shenzhen_district_inside_a_name_still_places_the_text(city, _fresh_address_index):
    m = match_address("天安龙岗数码新城")
    assert "district" not in m.components
    assert m.district is not None and m.district.code == "440307000000"  # 龙岗区: the resolver's own scan
