"""The Excel summary names the period by its first and **last** day, as the PDF's line under the
title does: it said "止（不含） 2025-11-01" (the stored, exclusive end) while the PDF said
"2025-10-01 至 2025-10-31", and a reader looked for 1 November in the figures."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from django.utils import translation

from zhiwang.analytics import reports
from zhiwang.analytics.models import Report
from zhiwang.geo.models import Division
from zhiwang.tickets.notify import city_language

pytestmark = pytest.mark.django_db


def _summary_period_row(report) -> list:
    from openpyxl import load_workbook

    with city_language():
        book = load_workbook(BytesIO(reports.build_xlsx(report, reports.report_figures(report))))
    return [cell.value for cell in book.worksheets[0][2]][:4]


@pytest.mark.parametrize(
    ("period", "start", "end", "last"),
    [
        ("2025-10", date(2025, 10, 1), date(2025, 11, 1), "2025-10-31"),
        ("2025-Q4", date(2025, 10, 1), date(2026, 1, 1), "2025-12-31"),
        ("2024-02", date(2024, 2, 1), date(2024, 3, 1), "2024-02-29"),
    ],
)
def test_the_excel_summary_names_the_periods_last_day_as_the_pdf_does(city_leader, period, start, end, last):
    report = Report.objects.create(
        division=Division.objects.get(code="440305000000"),
        period=period,
        start=start,
        end=end,
        idempotency_key=f"last-day-{period}",
        requested_by=city_leader,
    )
    row = _summary_period_row(report)
    with city_language():
        assert row == [translation.gettext("From"), start.isoformat(), reports._last_day_label(), last]
        # the PDF's line names the same two days
        assert reports._period_line(report) == (
            translation.pgettext("a report's period: its first and last day", "%(first)s to %(last)s")
            % {"first": start.isoformat(), "last": last}
        )
        assert row[2] != translation.gettext("To (exclusive)")
    assert "不含" not in str(row[2]) and "exclusive" not in str(row[2])
    assert end.isoformat() not in row
