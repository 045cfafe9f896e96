"""Reading and writing the tables the ``classify`` command works on (CSV or Excel).

CSV comes in UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030 (what Excel
on a Chinese Windows saves); the encoding is detected, not asked for. The delimiter
(comma, tab, semicolon, bar) is sniffed. ``.xlsx`` is read with openpyxl (first sheet,
first row = column names); a merged range's value fills every cell of the range (Excel
keeps it in the first cell only: a category merged over a block of rows would leave them
unlabelled), and the sheet's recorded size is not trusted (some exporters write a wrong
one, which would cut the sheet to its first cell). Output is CSV in UTF-8 with BOM, which
Excel opens correctly, or ``.xlsx`` when the output name ends so.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.spreadsheet import xlsx_row
from zhiwang.core.xlsx_guard import (
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    check_xlsx,
    too_many_columns,
    too_many_rows,
)

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Za-z]+[0-9]+:[A-Za-z]+[0-9]+)\"")
_SCAN_CHUNK = 1 << 20


def _unreadable(path: Path, reason: object) -> ServiceError:
    return ServiceError(
        "classifier.unreadable_file", _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": reason}
    )


def _refused(path: Path, error: ServiceError) -> ServiceError:
    """A refusal of the spreadsheet guard, naming the file and keeping the guard's code."""
    return ServiceError(
        error.code, _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": error.message}
    )


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding) for CSV bytes: BOMs first, then strict UTF-8, then GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8/gb18030", data[:1], 0, 1, "neither UTF-8 nor GBK/GB18030")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Column names and rows (dicts of strings) of a CSV or Excel file."""
    path = Path(path)
    if path.suffix.lower() == ".xls":
        raise _unreadable(path, _("the old .xls format is not supported; save it as .xlsx or .csv"))
    if not path.is_file():
        raise _unreadable(path, _("no such file"))
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_excel(path)
    try:
        text, _encoding = decode_bytes(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from exc
    if not text.strip():
        raise ServiceError("classifier.empty_file", _("%(path)s is empty.") % {"path": path})
    # Only the delimiter is sniffed, from the header line; quoting stays Excel's (doubled quotes),
    # which a sniffer guessing from one line would get wrong for quoted multi-line fields.
    header_line = text.split("\n", 1)[0]
    delimiter = max(",\t;|", key=header_line.count) if any(d in header_line for d in ",\t;|") else ","
    dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect, delimiter=delimiter)
    try:
        header = next(reader)
        columns = [c.strip().lstrip("\ufeff") for c in header]
        rows = [
            dict(zip(columns, (row + [""] * len(columns))[: len(columns)], strict=True))
            for row in reader
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as exc:
        raise _unreadable(path, exc) from exc
    return columns, rows


def _read_excel(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    import openpyxl

    try:
        # Before openpyxl opens it: a small file can unzip to gigabytes, read into memory whole.
        check_xlsx(path, field=None)
    except ServiceError as exc:
        raise _refused(path, exc) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken or foreign file
        raise _unreadable(path, exc) from exc
    try:
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # read every row and column, whatever <dimension> claims
        grid = []
        for row in sheet.iter_rows(values_only=True):
            # openpyxl fills a gap in the row numbers (or columns) with empty cells, and the
            # whole grid is kept: a row numbered 1,000,000,000 would be a billion lists.
            if len(grid) >= EXCEL_MAX_ROWS:
                raise _refused(path, too_many_rows(None))
            if len(row) > EXCEL_MAX_COLUMNS:
                raise _refused(path, too_many_columns(None))
            grid.append(list(row))
        merged = _merged_ranges(path, getattr(sheet, "_worksheet_path", None))
    except ServiceError:
        raise
    except Exception as exc:  # a broken sheet inside a readable archive
        raise _unreadable(path, exc) from exc
    finally:
        book.close()
    _fill_merged(grid, merged)
    if not grid:
        raise ServiceError("classifier.empty_file", _("%(path)s is empty.") % {"path": path})
    columns = [_cell(c).strip() for c in grid[0]]
    rows = []
    for row in grid[1:]:
        cells = [_cell(v) for v in row]
        if any(c.strip() for c in cells):
            rows.append(dict(zip(columns, (cells + [""] * len(columns))[: len(columns)], strict=True)))
    return columns, rows


def _merged_ranges(path: Path, member: str | None) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of each merged range of a sheet, from its XML.

    The read-only reader streams cells and does not read merges; the sheet's XML is scanned
    for ``<mergeCell ref="…"/>`` instead (in chunks: it comes after the cells).
    """
    from openpyxl.utils.cell import range_boundaries

    if not member:
        return []
    refs: set[bytes] = set()
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member.lstrip("/")) as handle:
            tail = b""
            while chunk := handle.read(_SCAN_CHUNK):
                block = tail + chunk
                refs.update(_MERGE_REF.findall(block))
                tail = block[-256:]  # a tag cut by the chunk boundary is found in the next block
    except (KeyError, OSError, zipfile.BadZipFile):
        return []
    return [range_boundaries(ref.decode("ascii").upper()) for ref in sorted(refs)]


def _fill_merged(grid: list[list[object]], ranges: list[tuple[int, int, int, int]]) -> None:
    """Give every cell of each merged range the value of its top-left cell (in place)."""
    for min_col, min_row, max_col, max_row in ranges:
        if min_row > len(grid):
            continue
        first = grid[min_row - 1]
        value = first[min_col - 1] if min_col <= len(first) else None
        if value is None:
            continue
        for r in range(min_row - 1, min(max_row, len(grid))):  # rows beyond the data stay away
            row = grid[r]
            if len(row) < max_col:
                row.extend([None] * (max_col - len(row)))
            for c in range(min_col - 1, max_col):
                if row[c] is None:
                    row[c] = value


def require_columns(path: str | Path, columns: Sequence[str], needed: Iterable[str]) -> None:
    """A clear error naming every missing column and the ones the file has."""
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ServiceError(
            "classifier.missing_column",
            _("%(path)s has no column %(missing)s. Its columns are: %(columns)s")
            % {"path": path, "missing": ", ".join(missing), "columns": ", ".join(columns) or "-"},
            field=missing[0],
        )


def write_table(path: str | Path, columns: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """Write CSV (UTF-8 with BOM) or, for a ``.xlsx`` name, an Excel workbook."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        import openpyxl
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        def clean(value: object) -> object:
            return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(list(columns))
        for row in rows:
            # a text that starts with "=" stays text (openpyxl would store it as a formula)
            sheet.append(xlsx_row(sheet, [clean(row.get(c, "")) for c in columns]))
        book.save(path)
        return
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
