"""`zhiwang classify` refuses an Excel input that unzips to far more than it weighs, before
openpyxl reads it (``core.xlsx_guard``), and stops where Excel's sheet ends."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext

from tests.core.xlsx_child_files import NORMAL_ROWS, SMALL_LIMIT_MB, merged_ranges_bomb, normal_workbook
from tests.xlsx_bombs import header_row, shared_strings_bomb, write_workbook
from zhiwang.classifier.ml import tabular
from zhiwang.core.errors import ServiceError

RATIO_MESSAGE = (
    "The Excel file is compressed far more than real workbooks are (a part unpacks to more than %(ratio)d "
    "times its size), so it was not opened; save it again in Excel or WPS, or as CSV."
)


def test_train_refuses_a_shared_strings_bomb_naming_the_file(tmp_path):
    path = shared_strings_bomb(tmp_path / "bomb.xlsx", header=("内容", "类别"))
    with pytest.raises(CommandError, match=r"bomb\.xlsx") as refused:
        call_command(
            "classify",
            "train",
            "--input",
            str(path),
            "--text-column",
            "内容",
            "--label-column",
            "类别",
            "--output",
            str(tmp_path / "model"),
            verbosity=0,
        )
    assert not (tmp_path / "model").exists()
    # the guard's own reason (in the reader's language), not openpyxl's
    assert gettext(RATIO_MESSAGE).split("%")[0] in str(refused.value)


def test_the_reader_stops_at_excels_last_row_when_row_numbers_jump(tmp_path, monkeypatch):
    # the whole grid is kept: openpyxl's empty rows up to row 1,000,000,000 would be a billion lists
    monkeypatch.setattr(tabular, "EXCEL_MAX_ROWS", 20)
    path = write_workbook(tmp_path / "jump.xlsx", rows=header_row("内容", "类别") + b'<row r="1000000000"/>')
    with pytest.raises(ServiceError) as caught:
        tabular.read_table(path)
    assert caught.value.code == "file.xlsx_too_many_rows" and "jump.xlsx" in caught.value.message


def test_a_merged_ranges_bomb_is_refused_in_the_child_naming_the_file(tmp_path, settings):
    # under every limit of the guard: only the child's memory limit refuses it (core.xlsx_child)
    settings.ZHIWANG_XLSX_CHILD_MEMORY_MB = SMALL_LIMIT_MB
    path = merged_ranges_bomb(tmp_path / "merged.xlsx", header=("内容", "类别"))
    with pytest.raises(ServiceError) as caught:
        tabular.read_table(path)
    assert caught.value.code == "file.xlsx_too_complex"
    assert "merged.xlsx" in caught.value.message and f"{SMALL_LIMIT_MB} MB" in caught.value.message


def test_a_normal_workbook_reads_as_before(tmp_path):
    path = normal_workbook(tmp_path / "people.xlsx")
    columns, rows = tabular.read_table(path)
    assert columns == [str(c) for c in NORMAL_ROWS[0]]
    assert len(rows) == 3  # the blank row is left out
    assert rows[0]["编号"] == "000123" and rows[0]["出生日期"] == "1990-01-02 00:00:00"
    assert rows[0]["金额"] == "12.5" and rows[0]["人数"] == "3" and rows[0]["备注"] == ""
    assert rows[2]["编号"] == "=不是公式" and rows[2]["金额"] == "100000000000000000000"
