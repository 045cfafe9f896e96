"""load-divisions checks that each code fits its level and its parent, and that points are points.

A subdistrict 440305001777 was accepted (its code prefix 440305001 is 南头街道's: a jurisdiction
on it would have seen all of 南头), so was a community straight under a district and an
approximate point at longitude 500, latitude -300.
"""

from __future__ import annotations

import csv

import pytest

from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division
from zhiwang.geo.services import SHIPPED_DIVISIONS, divisions_load_csv

pytestmark = pytest.mark.django_db
HEADER = [
    "level",
    "code",
    "name",
    "parent_code",
    "short_name",
    "special",
    "approx_lon_wgs84",
    "approx_lat_wgs84",
]


def write(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def refused(path) -> dict[str, str]:
    """The load's field errors, {field: code}; nothing may have been written."""
    before = Division.objects.count()
    with pytest.raises(ServiceError) as error:
        divisions_load_csv(path)
    assert error.value.code == "geo.divisions_invalid"
    assert Division.objects.count() == before
    return {f.field: f.code for f in error.value.fields}


@pytest.mark.parametrize(
    ("row", "field", "code"),
    [
        # a subdistrict inside 南头街道's prefix
        (["street", "440305001777", "测试街道", "440305000000"], "code", "geo.division_code_level"),
        # a community whose code is a subdistrict's
        (["community", "440305001000", "测试社区", "440305001000"], "code", "geo.division_code_level"),
        (["district", "440305001000", "测试区", "440300000000"], "code", "geo.division_code_level"),
        (["city", "440305000000", "测试市", ""], "code", "geo.division_code_level"),
    ],
)
def test_a_code_that_does_not_fit_its_level_is_refused(tmp_path, city, row, field, code):
    errors = refused(write(tmp_path / "d.csv", [[*row, "", "", "", ""]]))
    assert errors == {f"d.csv:2.{field}": code}


def test_a_community_straight_under_a_district_is_refused(tmp_path, city):
    path = write(
        tmp_path / "d.csv", [["community", "440305001555", "跳级社区", "440305000000", "", "", "", ""]]
    )
    assert refused(path) == {"440305001555.parent_code": "geo.division_parent_level"}
    assert not Division.objects.filter(code="440305001555").exists()


def test_a_point_that_is_not_a_longitude_latitude_pair_is_refused(tmp_path, city):
    path = write(
        tmp_path / "d.csv", [["community", "440305001555", "坐标社区", "440305001000", "", "", "500", "-300"]]
    )
    assert refused(path) == {
        "d.csv:2.approx_lon_wgs84": "geo.out_of_range",
        "d.csv:2.approx_lat_wgs84": "geo.out_of_range",
    }


def test_every_problem_of_a_file_is_listed(tmp_path, city, english):
    path = write(
        tmp_path / "d.csv",
        [
            ["street", "440305001777", "测试街道", "440305000000", "", "", "", ""],
            ["community", "440305001000", "测试社区", "440305001000", "", "", "113.9", "95"],
        ],
    )
    with pytest.raises(ServiceError) as error:
        divisions_load_csv(path)
    messages = [f.message for f in error.value.fields]
    assert len(messages) == 3
    assert "440305001777 is not a subdistrict code" in messages[0] and "then 000" in messages[0]
    assert "approx_lat_wgs84 is out of range: 95" in messages[2]


def test_the_shipped_divisions_and_a_fitting_new_community_load(tmp_path, city):
    assert divisions_load_csv(SHIPPED_DIVISIONS)["created"] == 0
    path = write(
        tmp_path / "d.csv",
        [["community", "440305001555", "新社区", "440305001000", "", "", "113.93", "22.53"]],
    )
    assert divisions_load_csv(path)["created"] == 1
    assert Division.objects.get(code="440305001555").parent.code == "440305001000"


@pytest.mark.shared_data
def test_the_real_shenzhen_file_in_shared_data_loads(shared_data, city):
    path = shared_data / "shenzhen_divisions.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    result = divisions_load_csv(path)
    assert result["moved"] == [] and result["total"] > 800
