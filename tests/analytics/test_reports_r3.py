"""Third walkthrough, report files: scores print as scores (not "10000.0%"), the PDF's index table
holds every row the Excel file has, rate columns are percentages in Excel, and the dispute section
of an ended period counts as of its end, under names that say so.
"""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

import pytest
from django.utils import timezone

from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from zhiwang.analytics import reports
from zhiwang.analytics.models import GovernanceIndex, Report
from zhiwang.geo.models import Division
from zhiwang.tickets.notify import city_language

pytestmark = pytest.mark.django_db

TZ = timezone.get_fixed_timezone(8 * 60)
MONTH = date(2025, 10, 1)


@pytest.fixture
def report(world):  # noqa: F811
    return Report.objects.create(
        division=Division.objects.get(code="440305000000"),
        period="2025-10",
        start=MONTH,
        end=date(2025, 11, 1),
        idempotency_key="r3-report",
        requested_by=world.leader,
    )


@pytest.fixture
def index_rows(report):
    """An index row for every subdistrict and community of Nanshan: scores 100, 99.17, 98.0, …"""
    places = list(
        Division.objects.filter(code__startswith="440305", level__in=("subdistrict", "community")).order_by(
            "code"
        )
    )
    assert len(places) > 80, "the test city has too few places for the 80-row cut"
    rows = []
    for position, place in enumerate(places):
        score = [100.0, 99.17][position] if position < 2 else round(98.5 - position * 0.25, 2)
        rows.append(
            GovernanceIndex(
                month=MONTH, division=place, level=place.level, score=score, rank=position + 1, values={}
            )
        )
    GovernanceIndex.objects.bulk_create(rows)
    return rows


@pytest.fixture
def disputes_in_october(world, agreed_case, mediating_case):  # noqa: F811
    from zhiwang.disputes.models import DisputeCase
    from zhiwang.disputes.services import case_close

    early = agreed_case(signed_on="2025-10-10", amount="460000")
    case_close(case=early, actor=world.mediator, outcome="success")
    late = agreed_case(signed_on="2025-10-20", amount="800")
    case_close(case=late, actor=world.mediator, outcome="success")
    mediating_case(received_at=datetime(2025, 10, 25, 9, tzinfo=TZ))
    failed = mediating_case(received_at=datetime(2025, 10, 26, 9, tzinfo=TZ))
    case_close(case=failed, actor=world.mediator, outcome="failed")
    DisputeCase.objects.filter(pk=failed.pk).update(closed_at=datetime(2025, 10, 29, 15, tzinfo=TZ))
    DisputeCase.objects.filter(pk=early.pk).update(closed_at=datetime(2025, 10, 28, 15, tzinfo=TZ))
    DisputeCase.objects.filter(pk=late.pk).update(closed_at=datetime(2025, 11, 5, 15, tzinfo=TZ))


def _pdf_tables(report, monkeypatch) -> list[list[list]]:
    """The data of every table the PDF is built with."""
    import reportlab.platypus

    tables = []
    real = reportlab.platypus.Table

    class Spy(real):
        def __init__(self, data, *args, **kwargs):
            tables.append([list(row) for row in data])
            super().__init__(data, *args, **kwargs)

    monkeypatch.setattr(reportlab.platypus, "Table", Spy)
    with city_language():
        figures = reports.report_figures(report)
        content = reports.build_pdf(report, figures)
    assert content.startswith(b"%PDF")
    return tables


def _workbook(report):
    from openpyxl import load_workbook

    with city_language():
        figures = reports.report_figures(report)
        content = reports.build_xlsx(report, figures)
    return load_workbook(BytesIO(content)), figures


def test_the_pdf_prints_scores_as_scores_and_every_index_row(report, index_rows, monkeypatch):
    tables = _pdf_tables(report, monkeypatch)
    index = next(t for t in tables if len(t[0]) == 6 and t[1][0] == "2025-10")
    assert len(index) - 1 == len(index_rows) > 80  # every row, as in Excel
    scores = [row[3] for row in index[1:]]
    assert scores[0] == "100.0" and "99.17" in scores
    assert not any("%" in score for score in scores)


def test_the_excel_index_has_the_same_rows_with_a_score_format(report, index_rows):
    book, _figures = _workbook(report)
    with city_language():
        from django.utils.translation import gettext as _

        sheet = book[_("Governance index")[:31]]
    rows = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "2025-10"]
    assert len(rows) == len(index_rows)
    assert sheet.cell(row=2, column=4).number_format == reports.XLSX_SCORE


def test_every_rate_cell_of_the_workbook_is_a_percentage(report, index_rows, disputes_in_october):
    book, figures = _workbook(report)
    fractions = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, float) and 0 < cell.value <= 1 and cell.column > 1:
                    fractions += 1
                    assert cell.number_format.endswith("%"), (sheet.title, cell.coordinate, cell.value)
    assert fractions  # the disputes' success rate at least
    disputes = book.worksheets[-2]
    amounts = [r for r in disputes.iter_rows(min_row=2) if r[1].number_format == reports.XLSX_AMOUNT]
    assert len(amounts) == 2


def test_the_dispute_section_of_an_ended_month_is_as_of_its_end(report, disputes_in_october, monkeypatch):
    with city_language():
        figures = reports.report_figures(report)
        labels = reports._dispute_labels(ended=True)
        now_labels = reports._dispute_labels(ended=False)
        rows = {label: text for label, _value, text in reports._dispute_rows(figures["disputes"])}
        note = reports._dispute_note(figures["disputes"])
    disputes = figures["disputes"]
    assert disputes["received"] == 4 and disputes["closed"] == 2 and disputes["open"] == 2
    assert rows[labels["closed"]] == "2" and rows[labels["open"]] == "2"
    assert rows[labels["success_rate"]] == "50.0%"
    assert labels["open"] != now_labels["open"] and now_labels["open"] not in rows
    assert "2025-10-31" in note
    assert rows[labels["amount_resolved"]] == "460,000.00"
    tables = _pdf_tables(report, monkeypatch)
    dispute_table = next(t for t in tables if t and t[0][0] == labels["received"])
    assert [labels["open"], "2"] in dispute_table and [labels["closed"], "2"] in dispute_table
