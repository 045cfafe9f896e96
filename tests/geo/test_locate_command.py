"""`zhiwang locate`: a CSV of points in, the same rows with their grid and divisions out."""

from __future__ import annotations

import codecs
import csv

import pytest
from django.core.management import CommandError, call_command

from zhiwang.geo.crs import wgs84_to_gcj02
from zhiwang.geo.management.commands.locate import OUTPUT_COLUMNS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _run(tmp_path, rows, *options, encoding="utf-8", lon="lon", lat="lat"):
    source = tmp_path / "points.csv"
    with source.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "located.csv"
    call_command(
        "locate",
        "--input", str(source),
        "--output", str(out),
        "--lon-column", lon,
        "--lat-column", lat,
        "--no-progress",
        *options,
    )  # fmt: skip
    raw = out.read_bytes()
    with out.open(encoding="utf-8-sig", newline="") as fh:
        return raw, list(csv.DictReader(fh))


def test_every_row_keeps_its_columns_and_gets_its_place(city, tmp_path, capsys):
    grid = city.grids[0]
    rows = [
        ["id", "lon", "lat", "备注"],
        ["1", grid.lon, grid.lat, "甲"],
        ["2", "120.0", "30.0", "乙"],
        ["3", "abc", "22.5", "丙"],
        ["4", "114.05", "", "丁"],
        ["5", "114.05", "95", "戊"],
    ]

    raw, out = _run(tmp_path, rows)

    assert raw.startswith(codecs.BOM_UTF8)  # Excel opens it with the Chinese intact
    assert list(out[0]) == ["id", "lon", "lat", "备注", *OUTPUT_COLUMNS]
    first = out[0]
    assert (first["id"], first["备注"], first["locate_status"]) == ("1", "甲", "ok")
    assert first["grid_code"] == grid.code and first["grid_name"] == grid.name
    assert first["community_code"] == city.community.code
    assert first["subdistrict_code"] == city.subdistrict.code
    assert first["district_code"] == city.district.code
    assert first["district_name"] == city.district.display_name
    assert out[1]["locate_status"] == "outside_city" and out[1]["grid_code"] == ""
    assert [r["locate_status"] for r in out[2:]] == ["invalid_coordinate"] * 3
    assert "lon" in out[2]["locate_note"] and "abc" in out[2]["locate_note"]
    assert "lat" in out[3]["locate_note"] and "lat" in out[4]["locate_note"]
    assert "5 rows" in capsys.readouterr().out


def test_a_gbk_file_with_chinese_headers(city, tmp_path):
    grid = city.grids[1]
    rows = [["名称", "经度", "纬度"], ["网格点", grid.lon, grid.lat], ["坏点", "东经114", "22.5"]]

    _raw, out = _run(tmp_path, rows, encoding="gbk", lon="经度", lat="纬度")

    assert out[0]["名称"] == "网格点" and out[0]["grid_code"] == grid.code
    assert out[1]["名称"] == "坏点" and out[1]["locate_status"] == "invalid_coordinate"
    assert "经度" in out[1]["locate_note"]


def test_gcj02_points_and_small_chunks(city, tmp_path):
    grids = city.grids
    rows = [["lon", "lat"]]
    for grid in grids * 4:
        rows.append(list(wgs84_to_gcj02(grid.lon, grid.lat)))

    _raw, out = _run(tmp_path, rows, "--crs", "gcj02", "--chunk-size", "3")

    assert [r["grid_code"] for r in out] == [g.code for g in grids * 4]


def test_short_rows_and_blank_lines(city, tmp_path):
    source = tmp_path / "points.csv"
    source.write_text(f"a,lon,lat\n\nx,{city.grids[0].lon}\n", encoding="utf-8")
    out = tmp_path / "out.csv"

    call_command(
        "locate", "--input", str(source), "--output", str(out), "--lon-column", "lon", "--lat-column", "lat",
        "--no-progress",
    )  # fmt: skip

    with out.open(encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["a"] == "x" and row["locate_status"] == "invalid_coordinate"


def test_missing_columns_are_named(city, tmp_path):
    with pytest.raises(CommandError) as error:
        _run(tmp_path, [["x", "y"], ["114.05", "22.55"]], lon="经度", lat="y")

    assert "geo.column_missing" in str(error.value)
    assert "经度" in str(error.value) and "x, y" in str(error.value)
    assert not (tmp_path / "located.csv").exists()


def test_output_columns_already_in_the_input_are_refused(city, tmp_path):
    with pytest.raises(CommandError, match="geo.column_conflict"):
        _run(tmp_path, [["lon", "lat", "grid_code"], ["114.05", "22.55", ""]])


def test_an_unknown_crs_is_refused(city, tmp_path):
    with pytest.raises(CommandError, match="geo.unknown_crs"):
        _run(tmp_path, [["lon", "lat"], ["114.05", "22.55"]], "--crs", "bd09")


def test_a_missing_input_file_is_refused(city, tmp_path):
    with pytest.raises(CommandError, match="geo.file_unreadable"):
        call_command(
            "locate", "--input", str(tmp_path / "none.csv"), "--output", str(tmp_path / "o.csv"),
            "--lon-column", "lon", "--lat-column", "lat", "--no-progress",
        )  # fmt: skip
