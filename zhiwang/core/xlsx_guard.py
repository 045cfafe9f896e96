"""Refuse an Excel file that would make openpyxl spend far more memory than its size suggests.

An ``.xlsx`` file is a zip archive of XML parts, and openpyxl, even in read-only mode, reads
some parts whole: the shared strings (every text of the workbook), the styles, and, for a sheet
that does not state its size, every row element before the first row is returned. Rows are
streamed, but each row element stays in the parser's tree until the sheet ends, and a row is
held whole until it ends. Nothing checked the unzipped size: a 311 KB upload whose shared
strings unzip to 300 MB took 518 MB before its header was even looked at.

``check_xlsx`` runs before every openpyxl load of a file a person supplied and refuses, with a
``ServiceError`` on the caller's ``field`` (codes ``file.xlsx_unreadable``,
``file.xlsx_too_large_unzipped``, ``file.xlsx_too_many_rows``):

* a file that is not a zip archive Python reads, or a part compressed otherwise than with
  deflate or not at all (Excel writes deflate; bzip2 and LZMA inflate with no size bound), a
  part in UTF-16 or one declaring entities (``&e;`` can stand for a thousand rows: 10 KB of
  them made a million; Office Open XML allows no DTD, Excel writes none);
* a central directory over 1 MiB (Python builds an object of about 0.5 KB per entry before it
  answers anything: 82 MB of empty entries took 530 MB; a workbook has tens of parts);
* more than 2 GiB unzipped in all. An Excel-style people file of 1,000,000 rows and 10 columns
  of mostly distinct texts is 93 MB zipped and 606 MB unzipped (a 405 MB sheet, 200 MB of
  shared strings); the 200 MB registry upload limit at that ratio is 1.3 GB;
* a part over 4 MiB compressed more than 100:1. Real parts compress 4–20:1 (that file's sheet
  8.6:1, its shared strings 4.4:1); a bomb uses deflate's limit, about 1,030:1. Small parts
  may compress well and are left to the counts below;
* from one pass over every part that counts tags in the bytes (nothing is parsed; 4 s for
  that 606 MB, against 75 s for openpyxl to open it): more row elements in a part than
  Excel's 1,048,576 rows (openpyxl kept 5 million empty rows of a 570 KB file: 466 MB); more
  than 8,388,608 shared strings, more than one per compressed byte beyond 65,536 (2 million
  empty ones in 373 KB took 228 MB; that file has 4.5 million, about 10 bytes each; numbered
  codes take 2.6), or shared strings over 512 MiB; a row or string of more than 262,144 tags
  (16,384 cells with formulas take 98,304); ``xl/styles.xml``, the part openpyxl reads the
  styles from, with more than 262,144 elements (about 1 KB of objects each: 300,000 in 390 KB
  took 276 MB; Excel allows 64,000 cell formats).

What the counts do not bound: elements that are neither rows nor shared strings in a part
openpyxl parses (a sheet's views, merged ranges and conditional formats; the workbook,
relations, external links, chart sheets) are limited only by the size and ratio rules.
Measured: a million empty elements ahead of a sheet's rows, 188 KB zipped, cost 85 MB at
opening; a million merged ranges, 4.6 MB zipped, cost 650 MB once every row is read. Telling
them from the cells of a sheet (20 million tags in that people file), a formula chain or a
pivot cache takes parsing; the sure bound is a memory limit on the process that parses.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import zipfile
import zlib
from pathlib import Path

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError

MiB = 1 << 20

#: Excel's own limit on the rows of a worksheet.
EXCEL_MAX_ROWS = 1_048_576
#: Excel's own limit on the columns of a worksheet (XFD).
EXCEL_MAX_COLUMNS = 16_384

#: Bytes read from a part at a time; a row that starts and ends within one read is at most
#: this long, which is why it equals ``max_record_tags`` (at least one byte per tag).
SCAN_CHUNK = 1 << 18
#: Part names openpyxl reads as the styles (``openpyxl.xml.constants.ARC_STYLE``).
STYLES_PART = "xl/styles.xml"

# Row and shared-string tags start the spans a parser holds whole; ``</sheetData>`` and
# ``</sst>`` end the last one (what follows, such as merged ranges, belongs to no row; the
# opening tags match too, harmlessly). Excel writes no namespace prefix and is counted with
# ``bytes.count``, which also counts the odd ``<rowBreaks>`` (more, never fewer). A read that
# holds a prefixed tag (``<x:row>``, some .NET writers; or a bomb with several prefixes) is
# read with the exact expression instead.
_PLAIN_RECORDS = (b"<row", b"<si")
_ENDS = (b"sheetData>", b"sst>")
_PREFIXED = (b":row", b":si")
_MARKS = re.compile(rb"<(?:[^\s<>/:!?]+:)?(?:(row)|(si))[\s/>]|(?:sheetData|sst)>")
# Entities declared in a part's own DTD are expanded by the parser: ``&e;`` can stand for a
# thousand rows or a megabyte of text, which no count of the bytes sees. Excel writes none
# (Office Open XML forbids DTDs); an SVG picture from Illustrator declares some and is refused.
_ENTITY = b"<!ENTITY"
#: Bytes of one read carried into the next, so a tag cut by a read's end is seen whole.
_OVERLAP = 15


@dataclasses.dataclass(frozen=True)
class XlsxLimits:
    """What an uploaded workbook may hold (the defaults are explained in the module docstring)."""

    max_unzipped: int = 2048 * MiB
    max_central_directory: int = 1 * MiB
    max_ratio: int = 100
    ratio_floor: int = 4 * MiB
    max_rows: int = EXCEL_MAX_ROWS + 1024  # a few ``<rowBreaks>``-like tags are counted as rows
    max_shared_strings: int = 1 << 23
    # and at most one per compressed byte of their part beyond the first 65,536
    min_string_bytes: int = 1
    free_strings: int = 1 << 16
    max_shared_strings_bytes: int = 512 * MiB
    max_record_tags: int = SCAN_CHUNK
    max_style_elements: int = 1 << 18


DEFAULT_LIMITS = XlsxLimits()


def check_xlsx(path: Path | str, *, field: str | None = "file", limits: XlsxLimits = DEFAULT_LIMITS) -> None:
    """Refuse (``ServiceError`` on ``field``) a workbook openpyxl should not open; read nothing into memory.

    Call it before ``openpyxl.load_workbook`` on any file a person supplied. Memory stays at a
    read buffer whatever the file holds.
    """
    try:
        with open(path, "rb") as handle:
            # Python reads the whole central directory before it answers anything; its size is
            # in the end record, so it is checked first (``ZipFile`` reads it the same way).
            end = zipfile._EndRecData(handle)  # private, but what ZipFile itself reads
        if not end:
            raise zipfile.BadZipFile
        if end[zipfile._ECD_SIZE] > limits.max_central_directory:
            raise _structure(field)
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_sizes(members, field, limits)
            for member in members:
                if member.file_size:
                    _scan(archive, member, field, limits)
    except ServiceError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        zipfile.BadZipFile,
        zlib.error,
        struct.error,
    ):
        # Not a zip, a damaged or encrypted one: openpyxl could not read it either.
        raise _unreadable(field) from None


def _check_sizes(members: list[zipfile.ZipInfo], field: str | None, limits: XlsxLimits) -> None:
    """The rules that need only the central directory: compression, total size, ratio."""
    total = 0
    for member in members:
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise zipfile.BadZipFile  # Excel writes deflate; others inflate with no size bound
        total += member.file_size
        if total > limits.max_unzipped:
            raise ServiceError(
                "file.xlsx_too_large_unzipped",
                _(
                    "The Excel file unpacks to more than %(limit)d MB; split it into smaller files, "
                    "or save it as CSV."
                )
                % {"limit": limits.max_unzipped // MiB},
                field=field,
            )
        if member.file_size > limits.ratio_floor and member.file_size > limits.max_ratio * max(
            member.compress_size, 1
        ):
            raise ServiceError(
                "file.xlsx_too_large_unzipped",
                _(
                    "The Excel file is compressed far more than real workbooks are (a part unpacks to "
                    "more than %(ratio)d times its size), so it was not opened; save it again in Excel "
                    "or WPS, or as CSV."
                )
                % {"ratio": limits.max_ratio},
                field=field,
            )


def _scan(archive: zipfile.ZipFile, member: zipfile.ZipInfo, field: str | None, limits: XlsxLimits) -> None:
    """Count one part's row and string tags, and the tags of its longest row or string, in one pass.

    ``bytes.count`` and ``find`` on each read: nothing is parsed. A row's tags are summed over
    the reads it spans; a row that begins and ends within one read has at most ``SCAN_CHUNK``
    tags. The bytes carried from one read to the next may be counted twice (a handful per
    read: more, never fewer).
    """
    rows = strings = elements = 0
    max_strings = min(
        limits.max_shared_strings, max(limits.free_strings, member.compress_size // limits.min_string_bytes)
    )
    in_record, record_tags = False, 0
    carried = b""
    with archive.open(member) as handle:
        while chunk := handle.read(SCAN_CHUNK):
            if not carried and _utf16_markup(chunk):
                raise _unreadable(field)
            block = carried + chunk
            if _ENTITY in block:
                raise _unreadable(field)
            found_rows, found_strings, first, last, last_is_record = _marks(block)
            rows += found_rows
            strings += found_strings
            if member.filename == STYLES_PART:
                elements += chunk.count(b"<") - chunk.count(b"</")
            if in_record:  # the row or string that went on from the last read
                record_tags += block.count(b"<", len(carried), max(first, len(carried)))
            if last != -1:
                in_record = last_is_record
                record_tags = block.count(b"<", last + 1) if in_record else 0
            if in_record and record_tags > limits.max_record_tags:
                raise _structure(field)
            if rows > limits.max_rows:  # as soon as known: a bomb is not read to its end
                raise too_many_rows(field)
            if strings > max_strings:
                raise _too_many_strings(field)
            carried = block[-_OVERLAP:]
    if strings and member.file_size > limits.max_shared_strings_bytes:
        raise _too_many_strings(field)
    if elements > limits.max_style_elements:
        raise _structure(field)


def _utf16_markup(head: bytes) -> bool:
    """Whether a part starts as UTF-16 XML (expat reads it so, even without a byte-order mark)."""
    for codec in ("utf-16-le", "utf-16-be"):
        if head[:256].decode(codec, errors="ignore").lstrip("\ufeff \t\r\n").startswith("<"):
            return True
    return False


def _marks(block: bytes) -> tuple[int, int, int, int, bool]:
    """(row tags, string tags, first mark, last mark, whether the last one starts a row or string).

    A position is -1 … ``len(block)`` when there is no mark: ``first`` is ``len(block)``, ``last`` -1.
    """
    if any(tag in block for tag in _PREFIXED):
        rows = strings = 0
        first, last, last_is_record = len(block), -1, False
        for match in _MARKS.finditer(block):
            rows += match.start(1) != -1
            strings += match.start(2) != -1
            first = min(first, match.start())
            last, last_is_record = match.start(), match.lastindex is not None
        return rows, strings, first, last, last_is_record
    first, last, last_is_record = len(block), -1, False
    for tag in _PLAIN_RECORDS + _ENDS:
        found = block.find(tag)
        if found != -1:
            first = min(first, found)
            found = block.rfind(tag)
            if found > last:
                last, last_is_record = found, tag in _PLAIN_RECORDS
    return block.count(b"<row"), block.count(b"<si"), first, last, last_is_record


def too_many_rows(field: str | None = "file") -> ServiceError:
    """The error for a sheet longer than Excel allows (readers raise it too: a row number may jump)."""
    return ServiceError(
        "file.xlsx_too_many_rows",
        _(
            "A worksheet of the Excel file has more than %(limit)s rows, the most Excel allows; "
            "split it into smaller files, or save it as CSV."
        )
        % {"limit": f"{EXCEL_MAX_ROWS:,}"},
        field=field,
    )


def too_many_columns(field: str | None = "file") -> ServiceError:
    """The error for a row wider than Excel allows (readers raise it: openpyxl fills the gaps)."""
    return ServiceError(
        "file.xlsx_too_many_columns",
        _(
            "A row of the Excel file has more than %(limit)s columns, the most Excel allows; "
            "save it again in Excel or WPS, or as CSV."
        )
        % {"limit": f"{EXCEL_MAX_COLUMNS:,}"},
        field=field,
    )


def _unreadable(field: str | None) -> ServiceError:
    return ServiceError(
        "file.xlsx_unreadable",
        _("The file is not a readable Excel workbook (.xlsx); save it again in Excel or WPS, or as CSV."),
        field=field,
    )


def _too_many_strings(field: str | None) -> ServiceError:
    return ServiceError(
        "file.xlsx_too_large_unzipped",
        _(
            "The Excel file holds more different texts than can be read at once; split it into "
            "smaller files, or save it as CSV."
        ),
        field=field,
    )


def _structure(field: str | None) -> ServiceError:
    return ServiceError(
        "file.xlsx_too_large_unzipped",
        _(
            "The Excel file is built unusually (too many parts, cell formats or cells in one row) and "
            "was not opened; save it again in Excel or WPS, or as CSV."
        ),
        field=field,
    )
