"""The ledger's rows and its Excel export read each case's risk colour and amount involved as of
the same moment as the figures above them: the end of a period that has ended (headed so); as
they are today otherwise, and always on the case's own page.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from zhiwang.disputes.selectors import ledger_rows
from zhiwang.disputes.services import case_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def raised_after_the_period(make_case, world):
    """A blue case for 3,500 received 40 days ago, raised to red and 90,000 today; the period
    [60 days ago, 10 days ago) as the ledger's dates."""
    now = timezone.now()
    case = make_case(received_at=now - timedelta(days=40), amount="3500")
    case_update(case=case, actor=world.sub_dispatcher, risk="red", amount="90000", note="升级")
    dates = {
        "received_from": timezone.localdate(now - timedelta(days=60)).isoformat(),
        "received_to": timezone.localdate(now - timedelta(days=10)).isoformat(),
    }
    return case, dates


def _english(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"


def _row_risk(html: str) -> str:
    start = html.index('data-testid="row-risk"')
    return html[start : html.index("</td>", start)]


def test_the_rows_show_the_risk_at_the_end_of_an_ended_period(client, world, raised_after_the_period):
    case, dates = raised_after_the_period
    _english(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert case.number in html
    assert "risk-blue" in _row_risk(html) and "Blue" in _row_risk(html)
    assert "<th>Risk at the end of the period</th>" in html
    # a period still running (or none): as the case is today, under the usual heading
    today = client.get(reverse("disputes:ledger")).content.decode()
    assert "risk-red" in _row_risk(today) and "<th>Risk</th>" in today
    # the case's own page keeps the current colour
    detail = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert '<span class="risk risk-red">Red</span>' in detail


def _sheet(response):
    from openpyxl import load_workbook

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header, first = rows[2], rows[3]
    return rows[1][0], dict(zip(header, first, strict=True))


def test_the_export_writes_the_risk_and_amount_at_the_end_of_an_ended_period(
    client, world, raised_after_the_period
):
    case, dates = raised_after_the_period
    _english(client, world.sub_dispatcher)
    note, row = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert row["Case number"] == case.number
    assert row["Amount involved at the end of the period (yuan)"] == 3500
    assert row["Risk at the end of the period"] == "Blue"
    last_day = (timezone.localdate() - timedelta(days=11)).isoformat()
    assert f"judicial confirmation and performance as of the end of {last_day};" in note
    # without an ended period: today's values under the usual headers, no such line
    note, row = _sheet(client.get(reverse("disputes:ledger_export")))
    assert row["Amount involved (yuan)"] == 90000 and row["Risk"] == "Red"
    assert "as of the end" not in note


def test_the_full_export_reads_them_as_of_the_end_too(client, world, raised_after_the_period):
    case, dates = raised_after_the_period
    _english(client, world.sub_dispatcher)
    url = reverse("disputes:ledger_export") + "?" + "&".join(f"{k}={v}" for k, v in dates.items())
    _note, row = _sheet(client.post(url, {"reason": "月度报表"}))
    assert row["Amount involved at the end of the period (yuan)"] == 3500
    assert row["Risk at the end of the period"] == "Blue"


def test_the_rows_values_come_from_the_one_query(make_case, world, raised_after_the_period):
    _case, dates = raised_after_the_period
    end = timezone.now() - timedelta(days=10)
    filters = {"received_from": end - timedelta(days=50), "received_to": end}
    with CaptureQueriesContext(connection) as one:
        rows = list(ledger_rows(user=world.sub_dispatcher, filters=filters))
    assert [(r.period_risk, r.period_amount) for r in rows] == [("blue", Decimal("3500.00"))]
    for _ in range(4):
        other = make_case(received_at=timezone.now() - timedelta(days=30), amount="100")
        case_update(case=other, actor=world.sub_dispatcher, risk="orange", amount="200")
    with CaptureQueriesContext(connection) as more:
        rows = list(ledger_rows(user=world.sub_dispatcher, filters=filters))
    assert len(more) == len(one)  # no query per row
    assert sorted((r.period_risk, r.period_amount) for r in rows) == [
        ("blue", Decimal("100.00")),
        ("blue", Decimal("100.00")),
        ("blue", Decimal("100.00")),
        ("blue", Decimal("100.00")),
        ("blue", Decimal("3500.00")),
    ]
    # the case rows themselves keep the current values
    assert sorted(r.risk for r in rows) == ["orange"] * 4 + ["red"]
