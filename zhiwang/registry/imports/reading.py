"""Read department files as a stream of rows: CSV (UTF-8 or GBK, detected) and Excel (read-only).

Headers are found among the first rows (Excel files often have a title row and merged
group headers above the real ones) and mapped to registry fields through a mapping
template. Memory stays flat: one row at a time. openpyxl reads an Excel file in a child process
under a memory and time limit (``core.xlsx_child``), after ``core.xlsx_guard``'s check.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.xlsx_child import XlsxUnreadable, open_xlsx
from zhiwang.core.xlsx_guard import (
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    check_xlsx,
    too_many_columns,
    too_many_rows,
)

HEADER_SEARCH_ROWS = 6
_CONTROL_RE = re.compile(r"[\x00-\x1f]")
SNIFF_BYTES = 1 << 20


def normalize_header(value) -> str:
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    text = _CONTROL_RE.sub("", "".join(text.split())).strip("*＊:：")  # PostgreSQL stores no NUL
    for noise in ("(必填)", "(选填)"):
        text = text.replace(noise, "")
    return text


@dataclass
class Header:
    row: int  # 1-based number of the (last) header row
    fields: dict[int, str]  # column index → field
    labels: dict[int, str]  # column index → header text
    ignored: list[str] = field(default_factory=list)  # headers that map to nothing (reported)


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the start decodes as UTF-8 (with or without BOM), else ``gb18030`` (GBK superset)."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def resolve_header(rows: list[tuple], columns: dict[str, str], known_fields) -> Header:
    """Pick the header row (most mapped cells) among the first rows; merged cells above fill gaps."""
    mapping = {normalize_header(k): v for k, v in columns.items()}
    for name in known_fields:
        mapping.setdefault(name, name)

    def field_of(value):
        return mapping.get(normalize_header(value)) if value not in (None, "") else None

    best, best_score = None, 0
    for index, row in enumerate(rows):
        score = sum(1 for value in row if field_of(value))
        if score > best_score:
            best, best_score = index, score
    if best is None:
        raise ServiceError(
            "import.no_header",
            _("No column of the file matches the mapping template; check the template or the header row."),
            field="file",
        )
    fields, labels, ignored, taken = {}, {}, [], set()
    width = max(len(r) for r in rows[: best + 1])
    for col in range(width):
        # The header cell itself, else (vertically merged) the nearest non-empty cell above it.
        label = None
        for index in range(best, -1, -1):
            row = rows[index]
            value = row[col] if col < len(row) else None
            if value not in (None, ""):
                if field_of(value) or index == best:
                    label = value
                    break
        if label is None:
            continue
        name = field_of(label)
        if name is None or name in taken:
            ignored.append(normalize_header(label))
            continue
        taken.add(name)
        fields[col] = name
        labels[col] = normalize_header(label)
    return Header(row=best + 1, fields=fields, labels=labels, ignored=ignored)


class SourceFile:
    """A CSV or Excel file: ``header`` once, then ``rows()`` as (row number, {field: raw value})."""

    def __init__(self, path: Path | str, columns: dict[str, str], known_fields):
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
            raise ServiceError("import.format", _("Upload a CSV or an Excel (.xlsx) file."), field="file")
        if not self.is_csv:
            # Before openpyxl opens it: a small file can unzip to gigabytes, which openpyxl
            # would read into memory (shared strings, styles) before any header check.
            check_xlsx(self.path, field="file")
        self.encoding = detect_encoding(self.path) if self.is_csv else ""
        self._max_row: int | None = None  # Excel: the first sheet's <dimension>, once read
        self._columns = columns
        self._known = list(known_fields)
        head = []
        for row in self._raw_rows():
            head.append(row)
            if len(head) >= HEADER_SEARCH_ROWS:
                break
        if not head:
            raise ServiceError("import.empty", _("The file is empty."), field="file")
        self.header = resolve_header(head, columns, self._known)

    @property
    def is_csv(self) -> bool:
        return self.suffix in (".csv", ".txt")

    def _raw_rows(self) -> Iterator[tuple]:
        read = 0  # rows read so far: the next one is row ``read + 1`` of the file
        if self.is_csv:
            try:
                with open(self.path, encoding=self.encoding, newline="") as handle:
                    for row in csv.reader(handle):
                        read += 1
                        yield tuple(row)
            except UnicodeDecodeError as error:
                raise ServiceError(
                    "import.encoding",
                    _(
                        "The file mixes encodings (byte %(position)d is neither UTF-8 nor GBK); save it again as UTF-8."
                    )
                    % {"position": error.start},
                    field="file",
                ) from None
            except csv.Error:  # e.g. a cell longer than csv.field_size_limit() (131,072 characters)
                raise _unreadable_row(read + 1) from None
            return
        # openpyxl runs in a child process under a memory and time limit (``core.xlsx_child``):
        # what the guard cannot count (merged ranges, formats) is bounded there.
        try:
            sheet = open_xlsx(self.path, field="file", guard=False)  # checked in __init__
        except XlsxUnreadable:
            raise ServiceError("import.format", _("The Excel file cannot be read."), field="file") from None
        with sheet:
            if not sheet.worksheets:
                raise _no_worksheet()
            self._max_row = sheet.max_row
            rows = iter(sheet)
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except XlsxUnreadable:  # a damaged cell or sheet
                    raise _unreadable_row(read + 1) from None
                read += 1
                # openpyxl fills a gap in the row numbers (or columns) with empty cells: a row
                # numbered 1,000,000,000 would yield a billion rows.
                if read > EXCEL_MAX_ROWS:
                    raise too_many_rows("file")
                if len(row) > EXCEL_MAX_COLUMNS:
                    raise too_many_columns("file")
                yield row

    def count_rows(self) -> int | None:
        """Data rows (an upper bound: blank rows are counted), cheaply: bytes for CSV, dimensions for Excel."""
        if self.is_csv:
            lines, last = 0, b"\n"
            with open(self.path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    lines += block.count(b"\n")
                    last = block[-1:]
            lines += last != b"\n"  # a last line without a newline
            return max(0, lines - self.header.row)
        # the sheet's <dimension>, as the child reported it when the header was read
        return max(0, (self._max_row or 0) - self.header.row)

    def rows(self) -> Iterator[tuple[int, dict]]:
        fields = self.header.fields
        columns, names = list(fields), list(fields.values())
        width = max(columns) + 1
        pick = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        for number, row in enumerate(self._raw_rows(), start=1):
            if number <= self.header.row:
                continue
            if self.is_csv:  # cells are text: one join tells a blank row (the common case, fast)
                if not "".join(row).strip():
                    continue
            elif not any(value not in (None, "") and str(value).strip() for value in row):
                continue
            if len(row) >= width:
                yield number, dict(zip(names, pick(row), strict=True))
            else:
                yield number, {name: (row[col] if col < len(row) else None) for col, name in fields.items()}


def _no_worksheet() -> ServiceError:
    """``import.format`` for a workbook with no worksheet (only chart sheets)."""
    return ServiceError(
        "import.format",
        _("The Excel file has no worksheet (only charts); put the rows on a worksheet."),
        field="file",
    )


def _unreadable_row(number: int) -> ServiceError:
    return ServiceError(
        "import.format",
        _(
            "Row %(row)d of the file cannot be read (a damaged cell, or a cell longer than 131,072 characters); "
            "fix the file and upload it again."
        )
        % {"row": number},
        field="file",
    )


def sample_csv(text: str, encoding: str = "utf-8") -> io.BytesIO:
    """A file-like CSV from text (tests and the wizard's example download)."""
    return io.BytesIO(text.encode(encoding))
