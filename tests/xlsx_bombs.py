"""Workbooks written part by part, for the tests of ``zhiwang.core.xlsx_guard`` and its callers.

Parts are written through ``zipfile`` in pieces, so a part that unzips to 64 MiB is never
held in memory: the test process stays small whatever the workbook claims to hold.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook ' + NS + b' xmlns:r="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    b'Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    b'Target="sharedStrings.xml"/></Relationships>'
)

Part = bytes | Iterable  # bytes, or pieces that are bytes or pieces


def write_workbook(
    path: Path,
    *,
    rows: Part = b"",
    strings: Part = b"",
    after_rows: bytes = b"",
    extra: dict[str, Part] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A one-sheet workbook: ``rows`` inside ``<sheetData>``, ``strings`` inside ``<sst>``, more parts."""
    sheet = [b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>", rows]
    sheet.append(b"</sheetData>" + after_rows + b"</worksheet>")
    sst = [b'<?xml version="1.0" encoding="UTF-8"?><sst ' + NS + b">", strings, b"</sst>"]
    parts: dict[str, Part] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": sst,
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in parts.items():
            with archive.open(name, "w", force_zip64=True) as handle:
                for piece in _pieces(content):
                    handle.write(piece)
    return path


def _pieces(content: Part):
    if isinstance(content, bytes):
        yield content
    else:
        for part in content:
            yield from _pieces(part)


def header_row(*texts: str) -> bytes:
    """Row 1 with inline texts (the header a reader looks for)."""
    cells = b"".join(b'<c t="inlineStr"><is><t>' + t.encode() + b"</t></is></c>" for t in texts)
    return b'<row r="1">' + cells + b"</row>"


def shared_strings_bomb(path: Path, *, mebibytes: int = 64, header: tuple[str, ...] = ("诉求内容",)) -> Path:
    """The review's bomb: a valid workbook whose shared strings unzip to ``mebibytes`` MiB of "A".

    About 1,000:1, so the file is ~65 KB; openpyxl would read every string before the header.
    """
    block = b"A" * (1 << 20)
    strings = (b"<si><t>" + block + b"</t></si>" for _ in range(mebibytes))
    return write_workbook(
        path, rows=header_row(*header) + b'<row r="2"><c t="s"><v>0</v></c></row>', strings=strings
    )
