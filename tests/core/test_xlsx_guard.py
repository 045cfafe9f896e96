"""A workbook that would make openpyxl spend far more memory than its size is refused first
(zhiwang.core.xlsx_guard): before openpyxl sees it, with little memory, and real workbooks pass."""

from __future__ import annotations

import dataclasses
import io
import time
import tracemalloc
import zipfile

import openpyxl
import pytest
from django.utils.translation import gettext

from tests.xlsx_bombs import CONTENT_TYPES, NS, WORKBOOK_RELS, header_row, shared_strings_bomb, write_workbook
from zhiwang.core.errors import ServiceError
from zhiwang.core.xlsx_guard import DEFAULT_LIMITS, SCAN_CHUNK, check_xlsx

#: Far below what openpyxl would take for the bombs below (the 64 MiB one: over 128 MiB).
LOW_MEMORY = 4 << 20


def refused(path, **limits) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, **limits))
    assert caught.value.field == "file"
    return caught.value


def peak_memory(call) -> int:
    tracemalloc.start()
    try:
        call()
    except ServiceError:
        pass
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# --- real workbooks pass ---------------------------------------------------------------------


@pytest.mark.parametrize("write_only", [False, True])
def test_a_workbook_written_by_openpyxl_passes(tmp_path, write_only):
    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet() if write_only else book.active
    sheet.append(["姓名", "公民身份号码", "居住地址"])
    for number in range(3000):
        sheet.append([f"张{number}", f"44030519900101{number:04d}", "深圳市南山区科技南路18号"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    check_xlsx(path)


def test_an_excel_style_workbook_with_shared_strings_a_prefix_and_many_merged_ranges_passes(tmp_path):
    # Shared strings, an "x:" prefix (some .NET writers), 300,000 merged ranges after the rows
    # (tags of no row) and a row of 16,384 cells: all real.
    rows = [
        b'<x:row r="%d"><x:c r="A%d" t="s"><x:v>%d</x:v></x:c></x:row>' % (n, n, n - 1)
        for n in range(1, 2001)
    ]
    wide = b"".join(b"<x:c><x:v>%d</x:v></x:c>" % n for n in range(16_384))
    rows.append(b'<x:row r="2001">' + wide + b"</x:row>")
    merged = b"<x:mergeCells>" + b"".join(b'<x:mergeCell ref="B%d:C%d"/>' % (n, n) for n in range(300_000))
    path = write_workbook(
        tmp_path / "excel.xlsx",
        rows=rows,
        strings=(f"<x:si><x:t>{n}号</x:t></x:si>".encode() for n in range(2000)),
        after_rows=merged + b"</x:mergeCells>",
    )
    raw = path.read_bytes()  # the helper writes no prefix on the root: give the sheet and strings one
    path = _prefixed(tmp_path / "prefixed.xlsx", raw)
    check_xlsx(path)
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    assert next(sheet.iter_rows(values_only=True)) == ("0号",)  # openpyxl reads the prefixed tags


def _prefixed(path, raw: bytes):
    with (
        zipfile.ZipFile(io.BytesIO(raw)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
                data = data.replace(b"<worksheet xmlns=", b"<x:worksheet xmlns:x=").replace(
                    b"</worksheet>", b"</x:worksheet>"
                )
                data = data.replace(b"<sheetData>", b"<x:sheetData>").replace(
                    b"</sheetData>", b"</x:sheetData>"
                )
                data = data.replace(b"<sst xmlns=", b"<x:sst xmlns:x=").replace(b"</sst>", b"</x:sst>")
            target.writestr(info.filename, data)
    return path


def test_a_small_part_may_compress_very_well(tmp_path):
    path = write_workbook(
        tmp_path / "blank.xlsx", rows=header_row("a"), extra={"docProps/custom.xml": b" " * (1 << 20)}
    )
    check_xlsx(path)


# --- not a workbook --------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"PK not really a workbook", "姓名,电话\n张三,1\n".encode("gbk")])
def test_a_file_that_is_no_zip_is_refused(tmp_path, content):
    path = tmp_path / "calls.xlsx"
    path.write_bytes(content)
    assert refused(path).code == "file.xlsx_unreadable"


def test_a_part_compressed_other_than_with_deflate_is_refused(tmp_path):
    # bzip2 and LZMA inflate a whole read at once, with no bound; Excel writes deflate
    path = write_workbook(tmp_path / "bz.xlsx", rows=header_row("a"), compression=zipfile.ZIP_BZIP2)
    assert refused(path).code == "file.xlsx_unreadable"


def test_a_part_in_utf_16_is_refused_but_a_binary_part_with_nul_bytes_passes(tmp_path):
    # expat reads UTF-16 (even without a byte-order mark, after a space), where no "<row" is
    # seen in the bytes; printer settings start with a UTF-16 printer name, an EMF with 01 00
    binary = {"xl/printerSettings/printerSettings1.bin": "HP LaserJet".encode("utf-16-le") + bytes(100)}
    binary["xl/media/image1.emf"] = b"\x01\x00\x00\x00" + bytes(100)
    check_xlsx(write_workbook(tmp_path / "printer.xlsx", rows=header_row("a"), extra=binary))
    text = "<worksheet " + NS.decode() + "><sheetData><row/></sheetData></worksheet>"
    for name, sheet in [
        ("utf16.xlsx", (" " + text).encode("utf-16-le")),
        ("bom.xlsx", text.encode("utf-16")),
    ]:
        path = write_workbook(tmp_path / name, extra={"xl/worksheets/sheet1.xml": sheet})
        assert refused(path).code == "file.xlsx_unreadable"


def test_a_part_that_declares_entities_is_refused(tmp_path):
    # 10 KB of entity and references are a million rows to the parser
    dtd = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY e "' + b"<row/>" * 1000 + b'">]>'
    sheet = dtd + b"<worksheet " + NS + b"><sheetData>" + b"&e;" * 1000 + b"</sheetData></worksheet>"
    path = write_workbook(tmp_path / "entities.xlsx", extra={"xl/worksheets/sheet1.xml": sheet})
    assert refused(path).code == "file.xlsx_unreadable"


# --- the review's bomb and the size rules ----------------------------------------------------


def test_the_shared_strings_bomb_is_refused_at_once_with_little_memory(tmp_path):
    path = shared_strings_bomb(tmp_path / "bomb.xlsx", mebibytes=64)
    assert path.stat().st_size < 200_000
    started = time.monotonic()
    error = refused(path)
    assert error.code == "file.xlsx_too_large_unzipped" and "100" in error.message
    assert time.monotonic() - started < 1  # from the central directory alone: nothing inflated
    assert peak_memory(lambda: check_xlsx(path)) < LOW_MEMORY


def test_the_total_unzipped_size_is_capped(tmp_path):
    path = write_workbook(tmp_path / "big.xlsx", rows=header_row("a" * 5000))
    check_xlsx(path)
    error = refused(path, max_unzipped=4096)
    assert error.code == "file.xlsx_too_large_unzipped"


def test_a_huge_central_directory_is_refused_before_it_is_read(tmp_path):
    path = write_workbook(tmp_path / "parts.xlsx", extra={f"xl/media/{n}.bin": b"x" for n in range(300)})
    check_xlsx(path)
    assert refused(path, max_central_directory=8192).code == "file.xlsx_too_large_unzipped"


# --- structures openpyxl holds whole, within the size rules -----------------------------------


def _noisy(piece: bytes, count: int, every: int = 16):
    """``count`` copies of ``piece`` with a varying comment every ``every``: about 30:1, not 1,000:1."""
    for start in range(0, count, every):
        yield piece * min(every, count - start) + b"<!--%x-->" % (start * 2654435761 % 4093)


def test_more_row_elements_than_excel_allows_are_refused(tmp_path):
    # openpyxl keeps every row element of a sheet (and parses them all at opening when the
    # sheet states no size): 5 million empty rows in a 570 KB file took 466 MB.
    path = write_workbook(tmp_path / "rows.xlsx", rows=_noisy(b"<row/>", 3000))
    check_xlsx(path)
    error = refused(path, max_rows=2999)
    assert error.code == "file.xlsx_too_many_rows" and "1,048,576" in error.message


def test_rows_are_counted_whatever_their_prefix(tmp_path):
    # two prefixes for one namespace (an exact count, not one prefix guessed from the first tag)
    rows = [b'<a:row xmlns:a="urn:x"/>' * 5, b'<b:row xmlns:b="urn:x"/>' * 5, b"<row/>" * 5]
    path = write_workbook(tmp_path / "mixed.xlsx", rows=rows)
    check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=15))
    assert refused(path, max_rows=14).code == "file.xlsx_too_many_rows"


@pytest.mark.parametrize("tag", [b"<row/>", b'<b:row xmlns:b="urn:x"/>'])
def test_a_row_tag_cut_by_the_end_of_a_read_is_counted(tmp_path, tag):
    head = b"<worksheet " + NS + b"><sheetData>"
    pad = b"<!--" + b"-" * (SCAN_CHUNK - 3 - len(head) - 7) + b"-->"  # the tag starts 3 bytes before the end
    sheet = head + pad + tag + b"</sheetData></worksheet>"
    assert sheet.index(tag) == SCAN_CHUNK - 3
    path = write_workbook(tmp_path / "cut.xlsx", extra={"xl/worksheets/sheet1.xml": sheet})
    assert refused(path, max_rows=0).code == "file.xlsx_too_many_rows"


def test_too_many_shared_strings_or_too_large_ones_are_refused(tmp_path):
    path = write_workbook(tmp_path / "strings.xlsx", rows=header_row("a"), strings=_noisy(b"<si/>", 1000))
    check_xlsx(path)
    assert refused(path, max_shared_strings=999).code == "file.xlsx_too_large_unzipped"
    assert refused(path, max_shared_strings_bytes=1000).code == "file.xlsx_too_large_unzipped"


def test_a_row_with_too_many_tags_is_refused(tmp_path):
    # openpyxl holds a row whole until it ends: 300,000 cells in one row, about 1.2 MB unzipped
    path = write_workbook(tmp_path / "wide.xlsx", rows=[b'<row r="1">', _noisy(b"<c/>", 300_000), b"</row>"])
    error = refused(path)
    assert error.code == "file.xlsx_too_large_unzipped"
    assert error.message == gettext(
        "The Excel file is built unusually (too many parts, cell formats or cells in one row) and was not "
        "opened; save it again in Excel or WPS, or as CSV."
    )
    assert peak_memory(lambda: check_xlsx(path)) < LOW_MEMORY


def test_a_styles_part_with_too_many_elements_is_refused(tmp_path):
    # about 1 KB of objects per format: 300,000 formats in a 390 KB file took 276 MB
    styles = [
        b"<styleSheet " + b"xmlns:s='x'><cellXfs>",
        _noisy(b'<xf numFmtId="1"/>', 2000),
        b"</cellXfs></styleSheet>",
    ]
    path = write_workbook(tmp_path / "styles.xlsx", rows=header_row("a"), extra={"xl/styles.xml": styles})
    check_xlsx(path)
    assert refused(path, max_style_elements=1999).code == "file.xlsx_too_large_unzipped"


def test_a_scan_refusal_keeps_memory_at_a_read_buffer(tmp_path):
    path = write_workbook(tmp_path / "rows.xlsx", rows=_noisy(b"<row/>", 400_000))
    assert path.stat().st_size < 400_000
    peak = peak_memory(lambda: check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=1000)))
    assert peak < LOW_MEMORY


# --- what is counted where: rows in the sheets, strings in the shared strings, XML checks in parsed parts


def _pivot_table(items: int) -> bytes:
    """A pivot table as Excel writes it: ``<rowFields>`` and ``<rowItems>``, one ``<i>`` per row item."""
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><pivotTableDefinition ' + NS + b' name="P" '
        b'cacheId="1"><location ref="A3:B%d" firstHeaderRow="1" firstDataRow="1" firstDataCol="1"/>'
        % items
        + b'<rowFields count="1"><field x="0"/></rowFields><rowItems count="%d">' % items
        + b"".join(b'<i><x v="%d"/></i>' % n for n in range(items))
        + b'</rowItems><colItems count="1"><i/></colItems><dataFields count="1"><dataField name="n" fld="1"/>'
        b"</dataFields></pivotTableDefinition>"
    )


def test_a_pivot_table_with_many_row_items_passes(tmp_path):
    # <rowFields> and <rowItems> were read as rows that never ended: 90,000 items (270,000 tags)
    # made one "row" of more tags than Excel allows cells
    path = write_workbook(
        tmp_path / "pivot.xlsx",
        rows=header_row("a"),
        extra={"xl/pivotTables/pivotTable1.xml": _pivot_table(90_000)},
    )
    check_xlsx(path)
    check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=1, max_record_tags=100))


def test_only_whole_row_tags_are_rows_and_each_is_counted_once(tmp_path):
    # <rowBreaks> and <rowFields>-like names are no rows; a <row> carried into the next read
    # (it lies whole in the read's last bytes) is counted in one read only
    head = b"<worksheet " + NS + b"><sheetData>"
    pad = b"<!--" + b"-" * (SCAN_CHUNK - len(head) - 4 - 3 - 10) + b"-->"
    sheet = (
        head + pad + b'<row r="1"/>' + b'<row r="2"><c r="A2"><v>1</v></c></row></sheetData>'
        b'<rowBreaks count="1" manualBreakCount="1"><brk id="1" max="16383" man="1"/></rowBreaks>'
        b'<colBreaks count="1"><brk id="1" max="1048575" man="1"/></colBreaks></worksheet>'
    )
    assert SCAN_CHUNK - 15 <= sheet.index(b'<row r="1"/>') and sheet.index(b"<row r=") + 5 <= SCAN_CHUNK
    path = write_workbook(tmp_path / "breaks.xlsx", extra={"xl/worksheets/sheet1.xml": sheet})
    check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=2))
    assert refused(path, max_rows=1).code == "file.xlsx_too_many_rows"


def test_rows_of_other_parts_are_not_counted_but_a_sheet_is_wherever_the_package_puts_it(tmp_path):
    # custom XML data may hold <row> elements (openpyxl never reads it); a sheet renamed out of
    # xl/worksheets is found as openpyxl finds it, through the workbook's relationships
    rows = [b"<row/>"] * 10
    data = b"<data>" + b"".join(rows) + b"</data>"
    path = write_workbook(tmp_path / "custom.xlsx", rows=rows, extra={"customXml/item1.xml": data})
    check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=10))
    assert refused(path, max_rows=9).code == "file.xlsx_too_many_rows"

    rels = WORKBOOK_RELS.replace(b'Target="worksheets/sheet1.xml"', b'Target="/xl/media/rows.xml"')
    rows = [b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 11)]
    sheet = b"<worksheet " + NS + b"><sheetData>" + b"".join(rows) + b"</sheetData></worksheet>"
    renamed = write_workbook(
        tmp_path / "renamed.xlsx",
        extra={"xl/_rels/workbook.xml.rels": rels, "xl/media/rows.xml": sheet},
    )
    read = openpyxl.load_workbook(renamed, read_only=True).worksheets[0]
    assert [row for (row,) in read.iter_rows(values_only=True)] == list(range(1, 11))  # the premise
    check_xlsx(renamed, limits=dataclasses.replace(DEFAULT_LIMITS, max_rows=10))
    assert refused(renamed, max_rows=9).code == "file.xlsx_too_many_rows"


def test_shared_strings_are_counted_wherever_the_content_types_put_them(tmp_path):
    types = CONTENT_TYPES.replace(b'PartName="/xl/sharedStrings.xml"', b'PartName="/xl/texts.xml"')
    sst = [b"<sst " + NS + b">", _noisy(b"<si><t>a</t></si>", 1000), b"</sst>"]
    path = write_workbook(
        tmp_path / "texts.xlsx",
        rows=header_row("a"),
        extra={"[Content_Types].xml": types, "xl/texts.xml": sst},
    )
    check_xlsx(path, limits=dataclasses.replace(DEFAULT_LIMITS, max_shared_strings=1000))
    assert refused(path, max_shared_strings=999).code == "file.xlsx_too_large_unzipped"


def test_a_package_the_guard_cannot_read_has_every_part_counted(tmp_path):
    rows = b"<row/>" * 10
    path = write_workbook(
        tmp_path / "broken.xlsx",
        rows=header_row("a"),
        extra={
            "[Content_Types].xml": b"<Types",
            "xl/media/rows.xml": b"<sheetData>" + rows + b"</sheetData>",
        },
    )
    assert refused(path, max_rows=9).code == "file.xlsx_too_many_rows"


SVG_WITH_ENTITIES = (
    b'<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [<!ENTITY ns_svg "http://www.w3.org/2000/svg">]>'
    b'<svg xmlns="&ns_svg;" width="10" height="10"><rect width="10" height="10"/></svg>'
)


def test_a_picture_with_a_dtd_passes_but_not_as_a_sheet(tmp_path):
    # an SVG logo from Illustrator declares entities; openpyxl never parses a picture as XML
    media = {
        "xl/media/image1.svg": SVG_WITH_ENTITIES,
        "xl/embeddings/oleObject1.bin": b"<!ENTITY" + bytes(50),
    }
    check_xlsx(write_workbook(tmp_path / "logo.xlsx", rows=header_row("a"), extra=media))
    # named as the sheet, it is parsed (entities expanded): refused wherever it lies
    rels = WORKBOOK_RELS.replace(b'Target="worksheets/sheet1.xml"', b'Target="media/image1.svg"')
    path = write_workbook(tmp_path / "sheet.xlsx", extra={**media, "xl/_rels/workbook.xml.rels": rels})
    assert refused(path).code == "file.xlsx_unreadable"
    # and a part openpyxl parses (the styles) is checked as before
    styles = {"xl/styles.xml": SVG_WITH_ENTITIES}
    assert refused(write_workbook(tmp_path / "styles.xlsx", extra=styles)).code == "file.xlsx_unreadable"


def test_a_workbook_with_as_many_named_styles_as_excel_allows_passes(tmp_path):
    # Excel allows 65,430 cell formats and named styles together ([MS-OI29500] 2.1.727); each
    # named style here has an alignment and a protection and its name: 4 elements, 261,720 in
    # all, with 512 fonts of 7 (Excel's limit on fonts is 512 per workbook)
    def xf(n, *, named):
        return (
            b'<xf numFmtId="0" fontId="%d" fillId="0" borderId="0"%s applyAlignment="1" applyProtection="1">'
            % (
                n % 512,
                b"" if named else b' xfId="%d"' % (n % 65_000),
            )
            + b'<alignment vertical="center" wrapText="1"/><protection locked="0"/></xf>'
        )

    fonts = (
        b'<font><b/><sz val="%d"/><color rgb="FF%06X"/><name val="SimSun"/><family val="3"/><charset val="134"/></font>'
        % (9 + n % 20, n)
        for n in range(512)
    )
    styles = [
        b"<styleSheet " + NS + b'><fonts count="512">',
        fonts,
        b'</fonts><cellStyleXfs count="65000">',
        (xf(n, named=True) for n in range(65_000)),
        b'</cellStyleXfs><cellXfs count="430">',
        (xf(n, named=False) for n in range(430)),
        b'</cellXfs><cellStyles count="65000">',
        (b'<cellStyle name="S%d" xfId="%d"/>' % (n, n) for n in range(65_000)),
        b"</cellStyles></styleSheet>",
    ]
    path = write_workbook(tmp_path / "styles.xlsx", rows=header_row("a"), extra={"xl/styles.xml": styles})
    with zipfile.ZipFile(path) as archive:
        data = archive.read("xl/styles.xml")
    elements = data.count(b"<") - data.count(b"</")
    assert 1 << 18 < elements < DEFAULT_LIMITS.max_style_elements  # refused under the former 262,144
    check_xlsx(path)
