"""A mapping template's sample file as an Excel workbook, from the same rows as the CSV sample.

The CSV sample (``views.import_template_sample``) is read by the importer as text, but a steward
who opens it in Excel and saves it again gets an 18-digit ID number as ``4.4E+17`` (only 15
digits kept), a credit code of digits the same, and a landline's leading 0 dropped: Excel turns
digits into numbers. The workbook stores those cells as strings in columns formatted as text
(``@``), so the sample row survives a save and the rows a steward types or pastes below it stay
text too. Both files come from ``TemplateGuide.sample_rows``: one definition of the sample.
"""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from zhiwang.core.spreadsheet import xlsx_row

#: Fields whose values are digits Excel would turn into numbers (ID numbers, credit codes, phones).
TEXT_FIELDS = frozenset({"id_number", "credit_code", "phone", "owner_phone"})
#: Excel's text number format.
TEXT_FORMAT = "@"

#: Characters a worksheet title may not hold; titles are at most 31 characters.
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sample_workbook(guide) -> bytes:
    """The ``.xlsx`` bytes of ``guide``'s sample (a ``selectors.batches.TemplateGuide``): the header
    row and the invented row of ``sample_rows``, every cell a string (never a formula), and the
    ``TEXT_FIELDS`` columns formatted as text."""
    header, *rows = guide.sample_rows()
    columns = guide.template.columns or {}
    book = Workbook()
    sheet = book.active
    sheet.title = _TITLE_FORBIDDEN.sub(" ", guide.template.name).strip()[:31] or "Sheet1"
    for values in (header, *rows):
        sheet.append(xlsx_row(sheet, [str(value) for value in values]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, title in enumerate(header, start=1):
        letter = get_column_letter(index)
        longest = max(len(str(row[index - 1])) for row in (header, *rows))
        sheet.column_dimensions[letter].width = max(10, min(40, 2 * longest + 2))  # CJK: two widths
        if columns.get(title) in TEXT_FIELDS:
            # the column's format: rows typed below stay text; and each written cell's own
            sheet.column_dimensions[letter].number_format = TEXT_FORMAT
            for (cell,) in sheet.iter_rows(min_row=1, min_col=index, max_col=index):
                cell.number_format = TEXT_FORMAT
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
