"""Match every row of a CSV or Excel file: the engine of ``zhiwang match-address``.

Input: CSV in UTF-8 (with or without BOM) or GBK/GB18030, or ``.xlsx`` (read by openpyxl in
a child process under a memory and time limit: ``core.xlsx_child``); the first row is the
header. Output: the same rows with ``OUTPUT_COLUMNS`` appended, as CSV
(UTF-8 with BOM, so Excel opens it) or ``.xlsx`` when the output name says so.
Rows are streamed in chunks through ``match_many``; the output appears under its
name only when complete.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.spreadsheet import xlsx_row
from zhiwang.core.xlsx_child import XlsxUnreadable, open_xlsx
from zhiwang.core.xlsx_guard import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, too_many_columns, too_many_rows
from zhiwang.geo.addressing.resolver import match_many

OUTPUT_COLUMNS = (
    "district_code",
    "district_name",
    "subdistrict_code",
    "subdistrict_name",
    "community_code",
    "community_name",
    "address_code",
    "address_name",
    "match_level",
    "match_confidence",
)


@dataclass
class MatchFileReport:
    encoding: str
    rows: int = 0
    levels: Counter = field(default_factory=Counter)


def _rows_xlsx(path: Path) -> tuple[Iterator[list[str]], int]:
    try:
        # The guard first (a small file can unzip to gigabytes), then openpyxl in a child
        # process under a memory and time limit (``core.xlsx_child``).
        sheet = open_xlsx(path, field="input")
    except ServiceError as exc:
        raise _refused(path, exc) from None
    except XlsxUnreadable as exc:  # openpyxl raises many kinds on a damaged file
        raise _unreadable_workbook(path, exc.detail) from None
    if not sheet.worksheets:
        sheet.close()
        raise _unreadable_workbook(path, _("the workbook has no worksheet (only charts)"))
    total = sheet.max_row or 0

    def rows() -> Iterator[list[str]]:
        with sheet:
            values_of = iter(sheet)
            number = 0
            while True:
                try:
                    values = next(values_of)
                except StopIteration:
                    return
                except ServiceError as exc:
                    raise _refused(path, exc) from None
                except XlsxUnreadable as exc:  # a damaged row
                    raise _unreadable_workbook(path, exc.detail) from None
                number += 1
                # openpyxl fills a gap in the row numbers (or columns) with empty cells: a row
                # numbered 1,000,000,000 would be a billion rows to match.
                if number > EXCEL_MAX_ROWS:
                    raise _refused(path, too_many_rows("input"))
                if len(values) > EXCEL_MAX_COLUMNS:
                    raise _refused(path, too_many_columns("input"))
                yield ["" if v is None else str(v) for v in values]

    return rows(), total


def _unreadable_workbook(path: Path, detail: str) -> ServiceError:
    return ServiceError(
        "geo.file_unreadable",
        _("Cannot read %(path)s as an Excel workbook: %(error)s") % {"path": path.name, "error": detail},
        field="input",
    )


def _refused(path: Path, error: ServiceError) -> ServiceError:
    """A refusal of the spreadsheet guard, naming the file and keeping the guard's code."""
    return ServiceError(
        error.code,
        _("Cannot read %(path)s as an Excel workbook: %(error)s")
        % {"path": path.name, "error": error.message},
        field="input",
    )


def _rows_csv(path: Path, delimiter: str) -> tuple[Iterator[list[str]], int, str]:
    from zhiwang.geo.management.commands.locate import detect_encoding

    encoding, lines = detect_encoding(path)

    def rows() -> Iterator[list[str]]:
        with path.open(encoding=encoding, newline="") as fh:
            yield from csv.reader(fh, delimiter=delimiter)

    return rows(), lines, encoding


def match_file(
    *,
    input_path: Path | str,
    output_path: Path | str,
    column: str,
    chunk_size: int = 2_000,
    delimiter: str = ",",
    progress: Callable[[int, int], None] | None = None,
) -> MatchFileReport:
    """Copy a CSV / xlsx file, appending ``OUTPUT_COLUMNS`` from matching ``column`` of each row.

    Raises ``ServiceError`` (``geo.file_unreadable``, ``geo.file_encoding``, ``geo.csv_empty``,
    ``geo.column_missing``, ``geo.column_conflict``, ``geo.output_is_input``, and for a workbook
    ``core.xlsx_guard``'s and ``core.xlsx_child``'s ``file.xlsx_*``) before writing anything.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise ServiceError(
            "geo.file_unreadable",
            _("Cannot read %(path)s: no such file.") % {"path": input_path},
            field="input",
        )
    if output_path.resolve() == input_path.resolve():
        raise ServiceError(
            "geo.output_is_input", _("The output must be another file than the input."), field="output"
        )
    if input_path.suffix.lower() in (".xlsx", ".xlsm"):
        rows, expected = _rows_xlsx(input_path)
        encoding = "xlsx"
    else:
        rows, expected, encoding = _rows_csv(input_path, delimiter)
    report = MatchFileReport(encoding=encoding)
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise ServiceError(
            "geo.csv_empty", _("%(path)s has no header row.") % {"path": input_path.name}, field="input"
        )
    names = [name.strip() for name in header]
    if column not in names:
        raise ServiceError(
            "geo.column_missing",
            _("The input has no column %(missing)s; its columns are: %(columns)s.")
            % {"missing": column, "columns": ", ".join(names)},
            field="column",
        )
    clashes = [name for name in OUTPUT_COLUMNS if name in names]
    if clashes:
        raise ServiceError(
            "geo.column_conflict",
            _("The input already has the output columns %(columns)s; rename them first.")
            % {"columns": ", ".join(clashes)},
            field="input",
        )
    at, width = names.index(column), len(header)
    as_xlsx = output_path.suffix.lower() == ".xlsx"
    partial = output_path.with_name(output_path.name + ".part")
    try:
        writer = _XlsxWriter(partial) if as_xlsx else _CsvWriter(partial, delimiter)
        with writer:
            writer.write([*header, *OUTPUT_COLUMNS])
            chunk: list[list[str]] = []
            for row in rows:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                chunk.append(row)
                if len(chunk) >= chunk_size:
                    _match_chunk(chunk, at, writer, report)
                    chunk = []
                    if progress:
                        progress(report.rows, max(expected - 1, report.rows))
            if chunk:
                _match_chunk(chunk, at, writer, report)
            if progress:
                progress(report.rows, report.rows)
        os.replace(partial, output_path)
    finally:
        partial.unlink(missing_ok=True)
    return report


def _match_chunk(chunk: list[list[str]], at: int, writer, report: MatchFileReport) -> None:
    for row, match in zip(chunk, match_many([row[at] for row in chunk]), strict=True):
        cells = []
        for ref in (match.district, match.subdistrict, match.community):
            cells += (ref.code, ref.name) if ref else ("", "")
        address = match.address
        cells += (
            match.address_code,
            address.full_name if address else "",
            match.level,
            f"{match.confidence:.2f}",
        )
        writer.write([*row, *cells])
        report.levels[match.level] += 1
    report.rows += len(chunk)


class _CsvWriter:
    def __init__(self, path: Path, delimiter: str):
        self.fh = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh, delimiter=delimiter)

    def write(self, row: list) -> None:
        self.writer.writerow(row)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


class _XlsxWriter:
    def __init__(self, path: Path):
        from openpyxl import Workbook

        self.path = path
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet()

    def write(self, row: list) -> None:
        # the user's own addresses come back as text, even one that starts with "="
        self.sheet.append(xlsx_row(self.sheet, row))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.book.save(self.path)
