"""Reading and writing the tables the ``classify`` command works on (CSV or Excel).

CSV comes in UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030 (what Excel
on a Chinese Windows saves); the encoding is detected, not asked for. The delimiter
(comma, tab, semicolon, bar) is sniffed. ``.xlsx`` is read with openpyxl, in a child
process under a memory and time limit (``core.xlsx_child``; first sheet, first row = column
names); a merged range's value fills every cell of the range (Excel
keeps it in the first cell only: a category merged over a block of rows would leave them
unlabelled), and the sheet's recorded size is not trusted (some exporters write a wrong
one, which would cut the sheet to its first cell). Output is CSV in UTF-8 with BOM, which
Excel opens correctly, or ``.xlsx`` when the output name ends so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.spreadsheet import xlsx_row
from zhiwang.core.xlsx_child import XlsxUnreadable, open_xlsx
from zhiwang.core.xlsx_guard import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, too_many_columns, too_many_rows

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}


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
    try:
        # The guard first (a small file can unzip to gigabytes), then openpyxl in a child
        # process under a memory and time limit (``core.xlsx_child``), which also fills the
        # merged ranges as the rows pass and reads every row whatever <dimension> claims.
        sheet = open_xlsx(path, field=None, reset_dimensions=True, fill_merged=True)
    except ServiceError as exc:
        raise _refused(path, exc) from None
    except XlsxUnreadable as exc:  # openpyxl failed on a broken or foreign file
        raise _unreadable(path, exc.detail) from None
    columns: list[str] | None = None
    rows: list[dict[str, str]] = []
    read = 0
    with sheet:
        if not sheet.worksheets:
            raise _unreadable(path, _("the workbook has no worksheet (only charts)"))
        cells_of = iter(sheet)
        while True:
            try:
                row = next(cells_of)
            except StopIteration:
                break
            except ServiceError as exc:
                raise _refused(path, exc) from None
            except XlsxUnreadable as exc:  # a broken sheet inside a readable archive
                raise _unreadable(path, exc.detail) from None
            # openpyxl fills a gap in the row numbers (or columns) with empty cells, and
            # every row is kept: a row numbered 1,000,000,000 would be a billion of them.
            if read >= EXCEL_MAX_ROWS:
                raise _refused(path, too_many_rows(None))
            if len(row) > EXCEL_MAX_COLUMNS:
                raise _refused(path, too_many_columns(None))
            read += 1
            # Each row becomes its dict as it comes (merged ranges are filled already): the
            # sheet is not held twice.
            if columns is None:
                columns = [_cell(c).strip() for c in row]
                continue
            cells = [_cell(v) for v in row]
            if any(c.strip() for c in cells):
                rows.append(dict(zip(columns, (cells + [""] * len(columns))[: len(columns)], strict=True)))
    if columns is None:
        raise ServiceError("classifier.empty_file", _("%(path)s is empty.") % {"path": path})
    return columns, rows


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
