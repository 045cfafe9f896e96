"""The validation report of a batch as an Excel workbook (streamed, write-only).

Its values come from department files and its file name from the uploader: every row goes through
``core.spreadsheet.xlsx_row``, so a cell holding ``=HYPERLINK(…)`` stays text (openpyxl would store
it as a formula).
"""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook

from zhiwang.core.spreadsheet import xlsx_row
from zhiwang.registry.models import ImportBatch, ImportIssue
from zhiwang.registry.validation import FIELDS


def report_workbook(batch: ImportBatch, target):
    """Write (to a path or a binary file object) one row per issue (row, field, severity, code, reason, masked value) plus a summary sheet."""
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet(pgettext("registry import", "Summary"))
    for label, value in (
        (_("File"), batch.file_name),
        (_("Source department"), batch.source.name),
        (_("Status"), batch.get_status_display()),
        (_("Rows read"), batch.rows_read),
        (_("Records created"), batch.rows_created),
        (_("Records updated"), batch.rows_updated),
        (_("Records unchanged"), batch.rows_unchanged),
        (_("Rows rejected"), batch.rows_rejected),
    ):
        summary.append(xlsx_row(summary, [str(label), value]))
    sheet = workbook.create_sheet(_("Issues"))
    code, reason = pgettext("registry import", "Code"), pgettext("registry import", "Reason")
    sheet.append(
        xlsx_row(sheet, [str(h) for h in (_("Row"), _("Field"), _("Severity"), code, reason, _("Value"))])
    )
    labels = FIELDS.get(batch.kind, {})
    for issue in ImportIssue.objects.filter(batch=batch).order_by("row", "pk").iterator(chunk_size=2000):
        sheet.append(
            xlsx_row(
                sheet,
                [
                    issue.row,
                    str(labels.get(issue.field, issue.field)),
                    issue.get_severity_display(),
                    issue.code,
                    issue.message,
                    issue.value,
                ],
            )
        )
    workbook.save(str(target) if isinstance(target, Path | str) else target)
    return target
