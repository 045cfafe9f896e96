"""Workbooks for the tests of ``zhiwang.core.xlsx_child`` and of the readers that use it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.xlsx_bombs import NS, WORKBOOK, header_row, write_workbook

#: A child limit far below what openpyxl takes for ``merged_ranges_bomb`` (about 230 MB for
#: 300,000 ranges, 685 MB for a million), far above what it takes for a normal file (60 MB).
SMALL_LIMIT_MB = 200
BOMB_RANGES = 300_000


def merged_ranges_bomb(path: Path, *, ranges: int = BOMB_RANGES, header: tuple[str, ...] = ("地址",)) -> Path:
    """A valid workbook of two rows and ``ranges`` merged ranges (C3:D3, C4:D4, …), about 1.4 MB.

    Under every limit of the guard (the sheet compresses 5:1; merged ranges are not counted):
    only a limit on the memory of the process that parses it refuses it.
    """
    rows = header_row(*header) + b'<row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c></row>'
    merges = (
        b'<mergeCells count="%d">' % ranges,
        (b'<mergeCell ref="C%d:D%d"/>' % (row, row) for row in range(3, ranges + 3)),
        b"</mergeCells>",
    )
    sheet = [
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>",
        rows,
        b"</sheetData>",
        merges,
        b"</worksheet>",
    ]
    return write_workbook(path, extra={"xl/worksheets/sheet1.xml": sheet})


#: What ``normal_workbook`` holds, row by row (what openpyxl gives back: a date cell as a datetime).
NORMAL_ROWS = [
    ("编号", "姓名", "出生日期", "登记时间", "金额", "人数", "在册", "时刻", "备注"),
    (
        "000123",
        "张三",
        dt.datetime(1990, 1, 2),
        dt.datetime(2024, 5, 6, 7, 8, 9),
        12.5,
        3,
        True,
        dt.time(8, 30),
        None,
    ),
    (
        "0042",
        "李四",
        dt.datetime(1985, 12, 31),
        dt.datetime(2023, 1, 1, 0, 0),
        -0.25,
        0,
        False,
        dt.time(23, 59),
        "备注",
    ),
    (None, None, None, None, None, None, None, None, None),
    ("=不是公式", "王五", None, None, 1e20, 10**15, None, None, "  空格  "),
]


def normal_workbook(path: Path) -> Path:
    """A workbook as an office writes it (openpyxl): text with leading zeros, dates, numbers."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in NORMAL_ROWS:
        sheet.append(list(row))
    sheet["A5"].data_type = "s"  # a text that starts with "=" stays text
    book.save(path)
    return path


def long_workbook(path: Path, rows: int, *, columns: int = 8, write_only: bool = True) -> Path:
    """``rows`` rows of text, numbers and dates. Write-only (the test process stays small), the
    sheet states no size (``<dimension>``); else it does, as Excel writes it."""
    import openpyxl

    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet() if write_only else book.active
    sheet.append([f"列{c}" for c in range(columns)])
    start = dt.datetime(2024, 1, 1)
    for number in range(rows):
        cells = [
            f"{number:08d}",
            f"地址{number}号",
            number,
            number * 0.5,
            start + dt.timedelta(minutes=number),
        ]
        sheet.append((cells * columns)[:columns])
    book.save(path)
    return path


def long_texts_workbook(path: Path, rows: int, *, columns: int = 12, length: int = 32_000) -> Path:
    """``rows`` rows of ``columns`` inline texts of ``length`` characters (Excel's limit is 32,767).

    The review's repro was 800 rows of 12: 300 MB of text in 3.4 MB zipped, which the child
    sent as one frame. Texts of one letter repeated compress far better than the repro's: read
    it with ``guard=False``.
    """
    cell = b'<c t="inlineStr"><is><t>' + b"x" * length + b"</t></is></c>"
    body = (b'<row r="%d">' % (number + 2) + cell * columns + b"</row>" for number in range(rows))
    return write_workbook(path, rows=[header_row(*(f"列{c}" for c in range(columns))), body])


def parser_memory_bomb(path: Path, *, elements: int = 10_000_000) -> Path:
    """A workbook whose ``xl/workbook.xml`` holds ``elements`` empty elements, about 120 KB zipped.

    openpyxl parses that part with lxml: 40 MB of text, over a gigabyte of libxml2 nodes. Under
    ``SMALL_LIMIT_MB`` libxml2's allocation fails and lxml raises ``XMLSyntaxError`` (code
    ERR_NO_MEMORY, message "unknown error"), which once read as an unreadable file.
    """
    workbook = WORKBOOK.replace(b"</workbook>", b"")
    chunk = b"<x/>" * 100_000
    part = [workbook, (chunk for _ in range(elements // 100_000)), b"</workbook>"]
    return write_workbook(path, rows=header_row("地址"), extra={"xl/workbook.xml": part})


def slow_sheet(path: Path, *, elements: int = 1_000_000) -> Path:
    """A workbook of one row whose sheet then repeats ``<sheetFormatPr>`` ``elements`` times.

    About 35 KB zipped; openpyxl reads each repetition after the last row, about 5 s for a
    million (and 100 MB), without a row to send: a child that is busy and writes nothing.
    """
    sheet = [
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>",
        header_row("地址"),
        b"</sheetData>",
        (b'<sheetFormatPr defaultRowHeight="15"/>' * 1_000 for _ in range(elements // 1_000)),
        b"</worksheet>",
    ]
    return write_workbook(path, extra={"xl/worksheets/sheet1.xml": sheet})
