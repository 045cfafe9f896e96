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
  part openpyxl parses in UTF-16 or declaring entities (``&e;`` can stand for a thousand rows:
  10 KB of them made a million; Office Open XML allows no DTD, Excel writes none). Pictures,
  embedded documents, custom XML data and binaries (``xl/media/``, ``xl/embeddings/``,
  ``customXml/``, ``*.bin``) are not parsed: an SVG logo that declares entities passes;
* a central directory over 1 MiB (Python builds an object of about 0.5 KB per entry before it
  answers anything: 82 MB of empty entries took 530 MB; a workbook has tens of parts);
* more than 2 GiB unzipped in all. An Excel-style people file of 1,000,000 rows and 10 columns
  of mostly distinct texts is 93 MB zipped and 606 MB unzipped (a 405 MB sheet, 200 MB of
  shared strings); the 200 MB registry upload limit at that ratio is 1.3 GB;
* a part over 4 MiB compressed more than 100:1. Real parts compress 4–20:1 (that file's sheet
  8.6:1, its shared strings 4.4:1); a bomb uses deflate's limit, about 1,030:1. Small parts
  may compress well and are left to the counts below;
* from one pass over each part openpyxl reads, counting tags in the bytes (not parsed; 4 s for
  that 606 MB, against 75 s for openpyxl to open it): more row elements in a sheet than
  Excel's 1,048,576 rows (openpyxl kept 5 million empty rows of a 570 KB file: 466 MB); more
  than 8,388,608 shared strings, more than one per compressed byte beyond 65,536 (2 million
  empty ones in 373 KB took 228 MB; that file has 4.5 million, about 10 bytes each; numbered
  codes take 2.6), or shared strings over 512 MiB; a row or string of more than 262,144 tags
  (16,384 cells with formulas take 98,304); ``xl/styles.xml``, the part openpyxl reads the
  styles from, with more than 393,216 elements (six per format Excel allows: it allows 65,430
  cell formats and named styles together, each an ``xf`` with its alignment and protection, a
  named style also a ``cellStyle``; 65,000 named styles so formatted, with 512 fonts and 1,000
  fills and borders, are 279,395 elements, a 14 MB part of 888 KB, and took openpyxl 366 MB;
  about 1 KB of objects each: 393,000 bare formats, 111 KB zipped, take 349 MB).

Rows are counted in the sheets and strings in the shared strings only, found as openpyxl finds
them (``[Content_Types].xml`` and the workbook's relationships, the only parts parsed here,
after their own checks; any part they name, not only ``xl/worksheets/``): a pivot table's
``<rowItems>`` or a row of custom XML data is no row of a sheet. A tag is its whole name
(``<row>``, ``<x:row …>``, not ``<rowBreaks>``).

What the counts do not bound: elements that are neither rows nor shared strings in a part
openpyxl parses (a sheet's views, merged ranges and conditional formats; the workbook,
relations, external links, chart sheets) are limited only by the size and ratio rules.
Measured: a million empty elements ahead of a sheet's rows, 188 KB zipped, cost 85 MB at
opening; a million merged ranges, 4.6 MB zipped, cost 650 MB once every row is read. Telling
them from the cells of a sheet (20 million tags in that people file), a formula chain or a
pivot cache takes parsing; the sure bound is a memory limit on the process that parses, which
``core.xlsx_child.open_xlsx`` sets: it runs this check first (cheap), then openpyxl in a child
process limited in memory and time (``file.xlsx_too_complex`` beyond). The readers of people's
files open workbooks through it.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import struct
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError

MiB = 1 << 20

#: Excel's own limit on the rows of a worksheet.
EXCEL_MAX_ROWS = 1_048_576
#: Excel's own limit on the columns of a worksheet (XFD).
EXCEL_MAX_COLUMNS = 16_384
#: Excel's own limit on the cell formats and named styles of a workbook together (the ``xf``
#: elements of ``cellXfs`` and ``cellStyleXfs``: [MS-OI29500] 2.1.727).
EXCEL_MAX_FORMATS = 65_430

#: Bytes read from a part at a time; a row that starts and ends within one read is at most
#: this long, which is why it equals ``max_record_tags`` (at least one byte per tag).
SCAN_CHUNK = 1 << 18
#: The part openpyxl reads the styles from (``openpyxl.xml.constants.ARC_STYLE``).
STYLES_PART = "xl/styles.xml"
#: Where Excel writes the worksheets and the shared strings. openpyxl finds them through the
#: package (``_record_parts``), which may name other parts; those are counted too.
SHEETS_FOLDER = "xl/worksheets/"
STRINGS_PART = "xl/sharedStrings.xml"
CONTENT_TYPES_PART = "[Content_Types].xml"
WORKBOOK_PART = "xl/workbook.xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
#: The content types openpyxl takes the workbook part from (``reader.excel._find_workbook_part``).
WORKBOOK_TYPES = frozenset(
    f"application/vnd.{kind}.main+xml"
    for kind in (
        "openxmlformats-officedocument.spreadsheetml.sheet",
        "openxmlformats-officedocument.spreadsheetml.template",
        "ms-excel.sheet.macroEnabled",
        "ms-excel.template.macroEnabled",
    )
)
#: A content-types or relationships part larger than this is not read for the names of the
#: sheets (a real one is a few KB): every part is then counted as a sheet and as shared strings.
PACKAGE_PART_LIMIT = 4 * MiB
#: Parts openpyxl never reads as XML, whatever they hold: pictures (an SVG logo may declare
#: entities; openpyxl hands pictures to Pillow), embedded documents, custom XML data, binaries
#: (printer settings, VBA). Unless the package names one as a sheet or the shared strings.
NOT_XML_FOLDERS = ("xl/media/", "xl/embeddings/", "customXml/")
NOT_XML_SUFFIXES = (".bin",)

# Row and shared-string tags start the spans a parser holds whole; ``</sheetData>`` and
# ``</sst>`` end the last one (what follows, such as merged ranges, belongs to no row; the
# opening tags match too, harmlessly). A tag is the name followed by white space, ``/`` or
# ``>``: ``<rowBreaks>``, ``<rowFields>`` and a pivot table's ``<rowItems>`` are no rows (counted
# as one, every tag after them was its cells). Excel writes no namespace prefix and is counted
# with ``bytes.count``; a read that holds a prefixed tag (``<x:row>``, some .NET writers; or a
# bomb with several prefixes) is read with the exact expression instead.
_AFTER_NAME = (b" ", b">", b"/", b"\t", b"\n", b"\r")
#: Each with the form Excel writes first (``<row r="1" …>``, ``<si>``): one count finds them all.
_ROW_TAGS = tuple(b"<row" + after for after in _AFTER_NAME)
_STRING_TAGS = (b"<si>", *(b"<si" + after for after in _AFTER_NAME if after != b">"))
_ROWS_END, _STRINGS_END = b"sheetData>", b"sst>"
_PREFIXED_ROW, _PREFIXED_STRING = b":row", b":si"
_MARKS = re.compile(rb"<(?:[^\s<>/:!?]+:)?(?:(row)|(si))[\s/>]|(sheetData>)|(sst>)")
# Entities declared in a part's own DTD are expanded by the parser: ``&e;`` can stand for a
# thousand rows or a megabyte of text, which no count of the bytes sees. Excel writes none
# (Office Open XML forbids DTDs); a part openpyxl parses that declares some is refused.
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
    max_rows: int = EXCEL_MAX_ROWS
    max_shared_strings: int = 1 << 23
    # and at most one per compressed byte of their part beyond the first 65,536
    min_string_bytes: int = 1
    free_strings: int = 1 << 16
    max_shared_strings_bytes: int = 512 * MiB
    max_record_tags: int = SCAN_CHUNK
    max_style_elements: int = 6 << 16  # six per format Excel allows (``EXCEL_MAX_FORMATS``), rounded up


DEFAULT_LIMITS = XlsxLimits()


@dataclasses.dataclass(frozen=True)
class _Reading:
    """How openpyxl reads one part: as XML at all, as a sheet (rows), as the shared strings."""

    markup: bool
    rows: bool
    strings: bool

    @property
    def scanned(self) -> bool:
        return self.markup or self.rows or self.strings


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
            # The package parts first (checked as XML), then read for where the sheets are.
            package = [m for m in members if _is_package_part(m.filename)]
            for member in package:
                if member.file_size:
                    _scan(archive, member, field, limits, _Reading(markup=True, rows=False, strings=False))
            sheets, strings = _record_parts(archive, package)
            for member in members:
                reading = _reading(member.filename, sheets, strings)
                if _is_package_part(member.filename):  # checked as XML above; counted if named
                    reading = dataclasses.replace(reading, markup=False)
                if member.file_size and reading.scanned:
                    _scan(archive, member, field, limits, reading)
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


def _is_package_part(name: str) -> bool:
    return name == CONTENT_TYPES_PART or name.endswith(".rels")


def _reading(name: str, sheets: set[str] | None, strings: set[str] | None) -> _Reading:
    """How openpyxl may read the part ``name`` (``None``: the package was not read, so as anything)."""
    if sheets is None or strings is None:
        return _Reading(markup=True, rows=True, strings=True)
    rows, in_strings = name in sheets, name in strings
    parsed = not (name.startswith(NOT_XML_FOLDERS) or name.endswith(NOT_XML_SUFFIXES))
    return _Reading(markup=parsed or rows or in_strings, rows=rows, strings=in_strings)


def _record_parts(
    archive: zipfile.ZipFile, package: list[zipfile.ZipInfo]
) -> tuple[set[str] | None, set[str] | None]:
    """The parts openpyxl may read rows from and shared strings from, found as it finds them.

    openpyxl takes the shared strings and the workbook part from ``[Content_Types].xml``, and a
    sheet from the workbook's relationships, by any name: a sheet renamed out of
    ``xl/worksheets/`` must be counted all the same. Every target of the workbook's
    relationships is taken as a sheet (openpyxl opens whichever one a ``<sheet>`` names, whatever
    its type); the styles, theme or pivot caches among them hold no row tags. ``(None, None)``
    when a package part is too large or no XML: every part is then counted as both.
    """
    by_name = {m.filename: m for m in package}
    sheets = {name for name in archive.namelist() if name.startswith(SHEETS_FOLDER)}
    strings = {STRINGS_PART}
    workbooks = {WORKBOOK_PART}
    try:
        types = by_name.get(CONTENT_TYPES_PART)
        for element in _elements(archive, types, "Override") if types else ():
            name, kind = (element.get("PartName") or "")[1:], element.get("ContentType")
            if kind == STRINGS_TYPE:
                strings.add(name)
            elif kind in WORKBOOK_TYPES:
                workbooks.add(name)
        for workbook in workbooks:
            folder, base = posixpath.split(workbook)
            rels = by_name.get(posixpath.join(folder, "_rels", base + ".rels"))
            for element in _elements(archive, rels, "Relationship") if rels else ():
                target = element.get("Target") or ""
                if element.get("TargetMode") != "External" and target:
                    # as ``openpyxl.packaging.relationship.get_dependents`` resolves it
                    sheets.add(
                        target[1:]
                        if target.startswith("/")
                        else posixpath.normpath(posixpath.join(folder, target))
                    )
    except (ElementTree.ParseError, ValueError, LookupError, _TooLarge):
        return None, None  # openpyxl may fail on it too; whatever it reads is counted
    return sheets, strings


class _TooLarge(Exception):
    pass


def _elements(archive: zipfile.ZipFile, member: zipfile.ZipInfo, local_name: str):
    """The elements called ``local_name`` (any namespace) of a small part already scanned as XML
    (no entities, not UTF-16), read as a stream and let go one by one."""
    if member.file_size > PACKAGE_PART_LIMIT:
        raise _TooLarge
    with archive.open(member) as handle:
        for _event, element in ElementTree.iterparse(handle):
            if element.tag.rpartition("}")[2] == local_name:
                yield element
            element.clear()


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


def _scan(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    field: str | None,
    limits: XlsxLimits,
    reading: _Reading,
) -> None:
    """Check one part as ``reading`` says openpyxl reads it, in one pass: as XML (no entities,
    not UTF-16); its row or string tags, and the tags of its longest row or string; the
    elements of the styles.

    ``bytes.count`` and ``find`` on each read: nothing is parsed. A row's tags are summed over
    the reads it spans; a row that begins and ends within one read has at most ``SCAN_CHUNK``
    tags. A row or string tag is counted in the read it ends in, so once.
    """
    rows = strings = elements = 0
    max_strings = min(
        limits.max_shared_strings, max(limits.free_strings, member.compress_size // limits.min_string_bytes)
    )
    counted = reading.rows or reading.strings
    in_record, record_tags = False, 0
    carried = b""
    with archive.open(member) as handle:
        while chunk := handle.read(SCAN_CHUNK):
            block = carried + chunk
            if reading.markup:
                if not carried and _utf16_markup(chunk):
                    raise _unreadable(field)
                if _ENTITY in block:
                    raise _unreadable(field)
            if member.filename == STYLES_PART:
                elements += chunk.count(b"<") - chunk.count(b"</")
            if counted:
                found_rows, found_strings, first, last, last_is_record = _marks(
                    block, len(carried), rows=reading.rows, strings=reading.strings
                )
                rows += found_rows
                strings += found_strings
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


def _marks(block: bytes, seen: int, *, rows: bool, strings: bool) -> tuple[int, int, int, int, bool]:
    """(row tags, string tags, first mark, last mark, whether the last one starts a row or string).

    Only the kinds asked for: a sheet's rows and ``</sheetData>``, the strings and ``</sst>``. A
    tag that lies whole in the first ``seen`` bytes (carried from the last read) was counted
    there and is not counted again. A position is -1 … ``len(block)`` when there is no mark:
    ``first`` is ``len(block)``, ``last`` -1.
    """
    first, last, last_is_record = len(block), -1, False
    if (rows and _PREFIXED_ROW in block) or (strings and _PREFIXED_STRING in block):
        found_rows = found_strings = 0
        for match in _MARKS.finditer(block):
            is_row, is_string, rows_end, strings_end = match.groups()
            if not ((rows and (is_row or rows_end)) or (strings and (is_string or strings_end))):
                continue
            if match.end() > seen:
                found_rows += bool(is_row)
                found_strings += bool(is_string)
            first = min(first, match.start())
            last, last_is_record = match.start(), bool(is_row or is_string)
        return found_rows, found_strings, first, last, last_is_record
    counts = []
    for asked, name, tags, end in (
        (rows, b"<row", _ROW_TAGS, _ROWS_END),
        (strings, b"<si", _STRING_TAGS, _STRINGS_END),
    ):
        counts.append(_count_tags(block, name, tags, max(0, seen - len(tags[0]) + 1)) if asked else 0)
        if not asked:
            continue
        starts = [found for found in (_find_tag(block, name, tags), block.find(end)) if found != -1]
        first = min([first, *starts])
        for is_record, found in ((True, _find_tag(block, name, tags, last=True)), (False, block.rfind(end))):
            if found > last:
                last, last_is_record = found, is_record
    return counts[0], counts[1], first, last, last_is_record


def _count_tags(block: bytes, name: bytes, tags: tuple[bytes, ...], start: int) -> int:
    """How many of ``tags`` (``name`` and what may follow it) start at or after ``start``: two
    passes when every ``name`` is followed by a space, as Excel writes it, else seven."""
    total = block.count(name, start)
    if not total:
        return 0
    common = block.count(tags[0], start)
    return common if common == total else sum(block.count(tag, start) for tag in tags)


def _find_tag(block: bytes, name: bytes, tags: tuple[bytes, ...], *, last: bool = False) -> int:
    """The first (``last``: the last) position of one of ``tags`` in ``block``, or -1."""
    found = block.rfind(name) if last else block.find(name)
    if found == -1 or block[found + len(name) : found + len(name) + 1] in _AFTER_NAME:
        return found
    hits = [hit for hit in (block.rfind(tag) if last else block.find(tag) for tag in tags) if hit != -1]
    return (max(hits) if last else min(hits)) if hits else -1


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
