"""The ledger of a period that has ended shows each case's status as of the period's end (期末状态),
as its figures count it: a case closed after the end is in the open status it was in then (here
已达成协议) in its row, on the page and in both exports, and its closing date (and outcome) are kept but marked as after the period. The figures and
the Excel headings use the same words for the amount involved. An amount involved raised to an
agreement's is the system's timeline row, still read by the amounts as of a moment.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from zhiwang.disputes.models import CaseEvent, DisputeCase
from zhiwang.disputes.selectors import case_list, ledger_rows
from zhiwang.disputes.selectors.cases import amount_as_of
from zhiwang.disputes.services import agreement_reach, case_close, case_refer

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(agreed_case, mediating_case, world):
    """A past "month" [end - 31 days, end), ``end`` a local midnight 10 days ago (like 1 November),
    with two cases received in it: ``later`` agreed before the end and closed (mediated
    successfully) the morning after it, ``within`` closed (failed) two days before it."""
    end_day = timezone.localdate() - timedelta(days=10)
    as_of = timezone.make_aware(datetime.combine(end_day, time.min))
    later = agreed_case(received_at=as_of - timedelta(days=12))
    _lived_then(later, as_of - timedelta(days=11))
    case_close(case=later, actor=world.mediator, outcome="success")
    DisputeCase.objects.filter(pk=later.pk).update(closed_at=as_of + timedelta(hours=9))
    within = mediating_case(received_at=as_of - timedelta(days=20))
    _lived_then(within, as_of - timedelta(days=19))  # assigned and mediated before its closing
    case_close(case=within, actor=world.mediator, outcome="failed")
    DisputeCase.objects.filter(pk=within.pk).update(closed_at=as_of - timedelta(days=2))
    dates = {
        "received_from": (end_day - timedelta(days=31)).isoformat(),
        "received_to": end_day.isoformat(),
    }
    later.refresh_from_db()
    within.refresh_from_db()
    return later, within, dates, as_of


def _lived_then(case, at):
    """Move the case's rows that kept it open (assignment, sessions, agreement…) to ``at``: the
    fixtures backdate its reception, and the timeline says which open status it was in at the end."""
    QuerySet.update(
        CaseEvent.objects.filter(case=case).exclude(action__in=("receive", "close", "refer")), at=at
    )
    return case


def _login(client, user, language="en"):
    client.force_login(user)
    client.cookies["django_language"] = language


def _row(html: str, number: str) -> str:
    """The list row of case ``number``."""
    for row in html.split('data-testid="case-row"')[1:]:
        if number in row:
            return row[: row.index("</tr>")]
    raise AssertionError(f"{number} not listed")


def _cell(row: str, testid: str) -> str:
    start = row.index(f'data-testid="{testid}"')
    return re.sub(r"<[^>]+>", " ", row[row.index(">", start) + 1 : row.index("</td>", start)])


def _tile_label(html: str, testid: str) -> str:
    end = html.index(f'data-testid="{testid}"')
    start = html.rindex("<span>", 0, end)
    return html[start + len("<span>") : html.index("</span>", start)]


# --- the page -------------------------------------------------------------------------------------


def test_a_case_closed_after_the_end_is_open_in_the_rows_as_in_the_figures(client, world, month):
    later, within, dates, as_of = month
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert 'data-testid="tile-open">1<' in html and 'data-testid="tile-closed">1<' in html
    assert "<th>Status at the end of the period</th>" in html
    # the case closed the morning after the end: agreed (open) in its row, its closing marked as after it
    row = _row(html, later.number)
    closed_on = timezone.localdate(later.closed_at).isoformat()
    assert _cell(row, "row-status").split("Closed on")[0].strip() == "Agreement reached"
    assert f"Closed on {closed_on}, after the period" in _cell(row, "row-status")
    # the case closed inside the period: closed, nothing after it
    row = _row(html, within.number)
    assert _cell(row, "row-status").strip() == "Closed" and "after the period" not in row


def test_without_an_ended_period_the_rows_show_the_status_today(client, world, month):
    later, _within, dates, _as_of = month
    _login(client, world.sub_dispatcher)
    running = {"received_from": dates["received_from"]}  # open-ended: read as it stands today
    html = client.get(reverse("disputes:ledger"), running).content.decode()
    assert "<th>Status</th>" in html and "Status at the end of the period" not in html
    row = _row(html, later.number)
    assert _cell(row, "row-status").strip() == "Closed" and "after the period" not in row


def test_the_chinese_rows_say_open_and_the_tiles_and_workbook_say_the_same_amount(client, world, month):
    later, _within, dates, _as_of = month
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert _cell(_row(html, later.number), "row-status").split()[0] == "已达成协议"
    tile = _tile_label(html, "tile-amount-involved")
    _note, header, _rows = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert tile == "期末涉及金额（元）" and tile in header
    # a period still running: both say the amount involved, without "at the end"
    running = {"received_from": dates["received_from"]}
    tile = _tile_label(
        client.get(reverse("disputes:ledger"), running).content.decode(), "tile-amount-involved"
    )
    _note, header, _rows = _sheet(client.get(reverse("disputes:ledger_export"), running))
    assert tile == "涉及金额（元）" and tile in header


def test_the_tiles_and_the_workbook_head_the_amount_alike_in_english(client, world, month):
    _later, _within, dates, _as_of = month
    _login(client, world.sub_dispatcher)
    for query, words in (
        (dates, "Amount involved at the end of the period (yuan)"),
        ({"received_from": dates["received_from"]}, "Amount involved (yuan)"),
    ):
        html = client.get(reverse("disputes:ledger"), query).content.decode()
        assert _tile_label(html, "tile-amount-involved") == words
        assert f'<th class="num">{words}</th>' in html  # the summary's column too
        _note, header, _rows = _sheet(client.get(reverse("disputes:ledger_export"), query))
        assert words in header


def test_a_case_referred_after_the_end_is_open_in_its_row(client, world, mediating_case, month):
    _later, _within, dates, as_of = month
    referred = _lived_then(mediating_case(received_at=as_of - timedelta(days=5)), as_of - timedelta(days=4))
    case_refer(case=referred, actor=world.mediator, kind="litigation", reason="一方起诉")
    DisputeCase.objects.filter(pk=referred.pk).update(referred_at=as_of + timedelta(days=1))
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    status = _cell(_row(html, referred.number), "row-status")
    day = timezone.localdate(as_of + timedelta(days=1)).isoformat()
    assert status.split("Referred on")[0].strip() == "Being mediated"
    assert f"Referred on {day}, after the period" in status
    # referred before the end: referred in its row
    DisputeCase.objects.filter(pk=referred.pk).update(referred_at=as_of - timedelta(days=1))
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert _cell(_row(html, referred.number), "row-status").strip() == "Referred"


# --- the exports ----------------------------------------------------------------------------------


def _sheet(response):
    """(the line under the title, the header, {case number: (row by header, fonts by header)})."""
    from openpyxl import load_workbook

    assert response.status_code == 200, response.content[:300]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[2]]
    found = {}
    for row in rows[3:]:
        values = dict(zip(header, (cell.value for cell in row), strict=True))
        fonts = dict(
            zip(header, (cell.font.color.rgb if cell.font.color else None for cell in row), strict=True)
        )
        found[row[1].value] = (values, fonts)  # by case number (the second column)
    return rows[1][0].value, header, found


def _assert_export_reads_the_end(note, found, later, within, as_of):
    last_day = timezone.localdate(as_of - timedelta(microseconds=1)).isoformat()
    assert f"judicial confirmation and performance as of the end of {last_day};" in note
    row, fonts = found[later.number]
    closed_on = timezone.localdate(later.closed_at).isoformat()
    assert row["Status at the end of the period"] == "Agreement reached"
    assert row["Closed on"] == f"{closed_on} (after the period)"
    assert row["Outcome"] == "Mediated successfully (after the period)"
    assert fonts["Closed on"] == fonts["Outcome"] == "FF808080"  # in grey
    row, fonts = found[within.number]
    assert row["Status at the end of the period"] == "Closed"
    assert row["Closed on"] == timezone.localdate(within.closed_at).isoformat()
    assert row["Outcome"] == "Mediation failed" and fonts["Closed on"] != "FF808080"


def test_the_masked_export_writes_the_status_at_the_end(client, world, month):
    later, within, dates, as_of = month
    _login(client, world.sub_dispatcher)
    note, header, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert "Status" not in header and "Status at the end of the period" in header
    _assert_export_reads_the_end(note, found, later, within, as_of)
    # without an ended period: today's status and date, unmarked
    _note, header, found = _sheet(client.get(reverse("disputes:ledger_export")))
    row, _fonts = found[later.number]
    assert "Status" in header and row["Status"] == "Closed"
    assert row["Closed on"] == timezone.localdate(later.closed_at).isoformat()


def test_the_full_export_writes_the_status_at_the_end(client, world, month):
    later, within, dates, as_of = month
    _login(client, world.sub_dispatcher)
    url = reverse("disputes:ledger_export") + "?" + "&".join(f"{k}={v}" for k, v in dates.items())
    note, _header, found = _sheet(client.post(url, {"reason": "十月台账"}))
    _assert_export_reads_the_end(note, found, later, within, as_of)


# --- the selector ---------------------------------------------------------------------------------


def test_the_period_status_is_the_figures_and_comes_from_the_one_query(world, month, make_case):
    later, within, _dates, as_of = month
    filters = {"received_from": as_of - timedelta(days=31), "received_to": as_of}
    with CaptureQueriesContext(connection) as one:
        rows = {r.number: r.period_status for r in ledger_rows(user=world.sub_dispatcher, filters=filters)}
    assert rows == {later.number: "agreed", within.number: "closed"}
    open_then = case_list(user=world.sub_dispatcher, filters={**filters, "status": "open"})
    assert {c.number for c in open_then} == {n for n, s in rows.items() if s != "closed"}
    for _ in range(3):
        make_case(received_at=as_of - timedelta(days=3))
    with CaptureQueriesContext(connection) as more:
        rows = list(ledger_rows(user=world.sub_dispatcher, filters=filters))
    assert len(more) == len(one) and len(rows) == 5  # no query per row
    # a period still running: the status as it is
    running = {r.number: r.period_status for r in ledger_rows(user=world.sub_dispatcher)}
    assert running[later.number] == "closed" and running[rows[0].number] == rows[0].status


# --- the amount raised by an agreement: the system's row ------------------------------------------


def test_the_raise_is_the_systems_row_with_its_own_label(client, world, mediating_case):
    case = mediating_case(amount="3500")
    agreement = agreement_reach(
        case=case,
        actor=world.mediator,
        form="written",
        terms="被申请人支付五千八百元。",
        performance_manner="银行转账",
        performance_deadline="2099-12-31",
        amount="5800",
    )
    row = CaseEvent.objects.get(case=case, action="raise_amount")
    assert row.actor is None and row.payload["raised_by"] == world.mediator.username
    assert row.payload["before"] == {"amount": "3500.00"} and row.payload["after"] == {"amount": "5800.00"}
    assert not CaseEvent.objects.filter(case=case, action="update").exists()
    _login(client, world.mediator)
    html = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    start = html.index('data-action="raise_amount"')
    item = html[start : html.index("</li>", start)]
    assert " · system<br><strong>Amount involved raised with the agreement</strong>" in item
    assert world.mediator.display_name not in item and "Update the case" not in item
    assert "Amount involved (yuan): 3,500.00 → 5,800.00" in item and agreement.number in item


def test_the_amount_as_of_a_moment_reads_the_raise(client, world, mediating_case):
    now = timezone.now()
    case = mediating_case(amount="3500", received_at=now - timedelta(days=20))
    agreement_reach(
        case=case,
        actor=world.mediator,
        form="written",
        terms="被申请人支付五千八百元。",
        performance_manner="银行转账",
        performance_deadline="2099-12-31",
        amount="5800",
    )
    raised_at = now - timedelta(days=5)
    QuerySet.update(CaseEvent.objects.filter(case=case, action="raise_amount"), at=raised_at)

    def as_of(moment):
        return DisputeCase.objects.filter(pk=case.pk).annotate(a=amount_as_of(moment)).get().a

    assert as_of(raised_at - timedelta(days=1)) == Decimal("3500.00")
    assert as_of(raised_at + timedelta(days=1)) == Decimal("5800.00")
    # and the ledger of a period ending before the raise reads the amount before it, row and tile
    end_day = timezone.localdate(raised_at) - timedelta(days=1)
    dates = {"received_from": (end_day - timedelta(days=30)).isoformat(), "received_to": end_day.isoformat()}
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert 'data-testid="tile-amount-involved">3,500.00<' in html
    (row,) = ledger_rows(user=world.sub_dispatcher)
    assert row.period_amount == Decimal("5800.00")  # no period: as it is
