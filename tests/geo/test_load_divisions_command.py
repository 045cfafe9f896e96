"""``zhiwang load-divisions``: the divisions of a real install (no demo), idempotent, all or nothing."""

from __future__ import annotations

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from zhiwang.geo.models import Division
from zhiwang.geo.services import SHIPPED_DIVISIONS

pytestmark = pytest.mark.django_db
HEADER = [
    "level",
    "code",
    "name",
    "parent_code",
    "short_code",
    "short_name",
    "special",
    "approx_lon_wgs84",
    "approx_lat_wgs84",
]


def load(*args) -> str:
    out = StringIO()
    call_command("load_divisions", *args, stdout=out)
    return out.getvalue()


def write(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_the_shipped_divisions_load_again_without_change():
    with SHIPPED_DIVISIONS.open(encoding="utf-8-sig") as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    before = Division.objects.count()
    assert f"divisions: {rows} in the file, 0 created, 0 updated" in load()
    assert Division.objects.count() == before
    assert Division.objects.filter(level="subdistrict").count() >= 74


def test_a_new_community_is_added_under_its_subdistrict(tmp_path):
    subdistrict = Division.objects.get(code="440305001000")
    path = write(
        tmp_path / "more.csv",
        [["community", "440305001099", "测试社区", subdistrict.code, "", "", "", "113.9", "22.5"]],
    )
    assert "1 created" in load("--csv", str(path))
    assert Division.objects.get(code="440305001099").parent == subdistrict


def test_a_bad_file_loads_nothing_and_lists_every_problem(tmp_path):
    path = write(
        tmp_path / "bad.csv",
        [
            ["community", "440305001098", "好社区", "440305001000", "", "", "", "113.9", "22.5"],
            ["community", "4403050010", "短代码", "440305001000", "", "", "", "", ""],
            ["community", "440305001097", "坏坐标", "440305001000", "", "", "", "东经", "22.5"],
        ],
    )
    with pytest.raises(CommandError) as refused:
        load("--csv", str(path))
    assert "4403050010" in str(refused.value) and "东经" in str(refused.value)
    assert not Division.objects.filter(code__in=["440305001098", "440305001097"]).exists()
    with pytest.raises(CommandError):
        load("--csv", str(tmp_path / "missing.csv"))
