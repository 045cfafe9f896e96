"""`zhiwang match-address`: a file of free-text addresses in, the same rows with their places out."""

from __future__ import annotations

import codecs
import csv

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from zhiwang.geo.addressing import reset_address_index
from zhiwang.geo.addressing.batch import OUTPUT_COLUMNS
from zhiwang.geo.models import AddressLevel, StandardAddress

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture(autouse=True)
def _fresh_address_index():
    reset_address_index()
    yield
    reset_address_index()


def _room(city):
    return (
        StandardAddress.objects.filter(level=AddressLevel.ROOM, community=city.community)
        .order_by("code")
        .last()
    )


def _write_csv(path, rows, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _run(source, out, column, *options):
    call_command("match_address", "--input", str(source), "--output", str(out), "--column", column,
                 "--no-progress", *options)  # fmt: skip


def test_every_row_keeps_its_columns_and_gets_its_place(city, tmp_path, capsys):
    room = _room(city)
    source = _write_csv(
        tmp_path / "in.csv",
        [["编号", "地址"], ["1", room.full_name], ["2", "南山区"], ["3", "火星某地"], ["4", ""]],
    )
    out = tmp_path / "out.csv"

    _run(source, out, "地址", "--chunk-size", "2")

    assert out.read_bytes().startswith(codecs.BOM_UTF8)
    rows = _read_csv(out)
    assert list(rows[0]) == ["编号", "地址", *OUTPUT_COLUMNS]
    first = rows[0]
    assert first["编号"] == "1" and first["match_level"] == "room"
    assert first["address_code"] == room.code and first["address_name"] == room.full_name
    assert first["community_code"] == city.community.code
    assert first["subdistrict_code"] == city.subdistrict.code
    assert (
        first["district_code"] == city.district.code and first["district_name"] == city.district.display_name
    )
    assert float(first["match_confidence"]) >= 0.9
    assert (rows[1]["match_level"], rows[1]["district_code"], rows[1]["subdistrict_code"]) == (
        "district",
        "440305000000",
        "",
    )
    assert rows[2]["match_level"] == "none" and rows[2]["match_confidence"] == "0.00"
    assert rows[3]["match_level"] == "none"
    assert "4 rows" in capsys.readouterr().out


def test_gbk_input(city, tmp_path):
    source = _write_csv(
        tmp_path / "gbk.csv", [["名称", "住址"], ["甲", "深圳市福田区华强北"]], encoding="gbk"
    )
    out = tmp_path / "out.csv"

    _run(source, out, "住址")

    row = _read_csv(out)[0]
    assert row["名称"] == "甲" and row["subdistrict_code"] == "440304011000"
    assert row["subdistrict_name"] == "华强北街道" and row["match_level"] == "subdistrict"


def test_xlsx_in_and_out(city, tmp_path):
    room = _room(city)
    book = Workbook()
    book.active.append(["地址", "备注"])
    book.active.append([room.full_name, 7])
    source = tmp_path / "in.xlsx"
    book.save(source)
    out = tmp_path / "out.xlsx"

    _run(source, out, "地址")

    values = list(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert list(values[0]) == ["地址", "备注", *OUTPUT_COLUMNS]
    assert values[1][1] == "7" and values[1][2 + OUTPUT_COLUMNS.index("address_code")] == room.code


def test_xlsx_text_that_looks_like_a_formula_comes_back_as_text(city, tmp_path):
    from zhiwang.core.spreadsheet import xlsx_row

    book = Workbook()
    book.active.append(["地址", "备注"])
    book.active.append(xlsx_row(book.active, ["=1+2 南山区", '=HYPERLINK("http://x.example")']))
    source = tmp_path / "in.xlsx"
    book.save(source)
    out = tmp_path / "out.xlsx"

    _run(source, out, "地址")

    row = list(load_workbook(out).worksheets[0].iter_rows(min_row=2, max_row=2))[0]
    assert [c.value for c in row[:2]] == ["=1+2 南山区", '=HYPERLINK("http://x.example")']
    assert all(c.data_type != "f" for c in row)


def test_clear_errors_and_nothing_written(city, tmp_path):
    source = _write_csv(tmp_path / "in.csv", [["a", "b"], ["1", "2"]])
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="geo.column_missing.*no column 地址.*a, b"):
        _run(source, out, "地址")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\xfa\xfb address\n\x81\x20\n")
    with pytest.raises(CommandError, match="geo.file_encoding"):
        _run(bad, out, "address")
    with pytest.raises(CommandError, match="geo.file_unreadable"):
        _run(tmp_path / "missing.csv", out, "a")
    with pytest.raises(CommandError, match="geo.output_is_input"):
        _run(source, source, "a")
    clash = _write_csv(tmp_path / "clash.csv", [["地址", "match_level"], ["x", "y"]])
    with pytest.raises(CommandError, match="geo.column_conflict"):
        _run(clash, out, "地址")
    assert not out.exists() and not list(tmp_path.glob("*.part"))
