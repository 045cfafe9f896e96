"""The ledger of a period that has ended filters every status as of the period's end (the status
the timeline had the case in then), as its rows and its summary show it: "已达成协议" over October
lists the cases agreed at the end of October, not those agreed today. Its filter chips join name and
value with the reader's colon; the Excel writes the later facts the page shows (a referral after the
end, an extension in the page's words); the amount resolved is headed as on analytics' pages; a date
never breaks on a phone.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta

import pytest
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from zhiwang.disputes.models import CaseEvent, DisputeCase
from zhiwang.disputes.selectors import case_list, ledger_rows, ledger_summary
from zhiwang.disputes.services import agreement_reach, case_close, case_extend, case_refer

pytestmark = pytest.mark.django_db


def _lived_then(case, at):
    """Move the case's rows that kept it open (assignment, sessions, agreement…) to ``at``: the
    fixtures backdate its reception, and the timeline says which open status it was in at the end."""
    QuerySet.update(
        CaseEvent.objects.filter(case=case).exclude(action__in=("receive", "close", "refer")), at=at
    )
    case.refresh_from_db()
    return case


@pytest.fixture
def period(world, agreed_case, mediating_case):
    """A past "month" ending at a local midnight 10 days ago, with cases received in it:

    - ``agreed_then``: agreed before the end, closed (mediated successfully) after it;
    - ``agreed_since``: being mediated at the end, agreed after it (agreed today);
    - ``closed_then``: closed (failed) before the end;
    - ``referred_since``: being mediated at the end, referred after it.
    """
    end_day = timezone.localdate() - timedelta(days=10)
    as_of = timezone.make_aware(datetime.combine(end_day, time.min))
    agreed_then = _lived_then(agreed_case(received_at=as_of - timedelta(days=12)), as_of - timedelta(days=11))
    case_close(case=agreed_then, actor=world.mediator, outcome="success")
    DisputeCase.objects.filter(pk=agreed_then.pk).update(closed_at=as_of + timedelta(hours=9))
    agreed_since = _lived_then(
        mediating_case(received_at=as_of - timedelta(days=8)), as_of - timedelta(days=7)
    )
    agreement_reach(
        case=agreed_since,
        actor=world.mediator,
        form="written",
        terms="被申请人支付三千元。",
        performance_manner="银行转账",
        performance_deadline="2099-12-31",
    )
    closed_then = _lived_then(
        mediating_case(received_at=as_of - timedelta(days=20)), as_of - timedelta(days=19)
    )
    case_close(case=closed_then, actor=world.mediator, outcome="failed")
    DisputeCase.objects.filter(pk=closed_then.pk).update(closed_at=as_of - timedelta(days=2))
    referred_since = _lived_then(
        mediating_case(received_at=as_of - timedelta(days=5)), as_of - timedelta(days=4)
    )
    case_refer(case=referred_since, actor=world.mediator, kind="litigation", reason="一方起诉")
    DisputeCase.objects.filter(pk=referred_since.pk).update(referred_at=as_of + timedelta(days=1))
    cases = {}
    for name, case in (
        ("agreed_then", agreed_then),
        ("agreed_since", agreed_since),
        ("closed_then", closed_then),
        ("referred_since", referred_since),
    ):
        case.refresh_from_db()
        cases[name] = case
    dates = {"received_from": (end_day - timedelta(days=31)).isoformat(), "received_to": end_day.isoformat()}
    filters = {"received_from": as_of - timedelta(days=31), "received_to": as_of}
    return cases, dates, filters, as_of


def _numbers(user, filters) -> set[str]:
    return {c.number for c in case_list(user=user, filters=filters)}


def _login(client, user, language="en"):
    client.force_login(user)
    client.cookies["django_language"] = language


def _row(html: str, number: str) -> str:
    for row in html.split('data-testid="case-row"')[1:]:
        if number in row:
            return row[: row.index("</tr>")]
    raise AssertionError(f"{number} not listed")


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _cell(row: str, testid: str) -> str:
    start = row.index(f'data-testid="{testid}"')
    return row[row.index(">", start) + 1 : row.index("</td>", start)]


# --- 1. every status filter reads the status at the end -------------------------------------------


def test_the_sub_status_filters_read_the_status_at_the_end(world, period):
    cases, _dates, filters, _as_of = period
    user = world.sub_dispatcher
    # agreed at the end of the period: the one agreed then (closed since), not the one agreed today
    assert _numbers(user, {**filters, "status": "agreed"}) == {cases["agreed_then"].number}
    # being mediated at the end: the one agreed since and the one referred since
    assert _numbers(user, {**filters, "status": "mediating"}) == {
        cases["agreed_since"].number,
        cases["referred_since"].number,
    }
    assert _numbers(user, {**filters, "status": "closed"}) == {cases["closed_then"].number}
    assert _numbers(user, {**filters, "status": "referred"}) == set()
    assert _numbers(user, {**filters, "status": "received"}) == set()
    assert _numbers(user, {**filters, "status": "open"}) == {
        cases["agreed_then"].number,
        cases["agreed_since"].number,
        cases["referred_since"].number,
    }
    # without an ended period: the status today
    running = {"received_from": filters["received_from"]}
    assert _numbers(user, {**running, "status": "agreed"}) == {cases["agreed_since"].number}
    assert _numbers(user, {**running, "status": "referred"}) == {cases["referred_since"].number}
    assert _numbers(user, {**running, "status": "mediating"}) == set()


def test_the_filter_the_rows_and_the_summary_agree_for_every_status(world, period):
    _cases, _dates, filters, _as_of = period
    user = world.sub_dispatcher
    rows = {r.number: r.period_status for r in ledger_rows(user=user, filters=filters)}
    summary = {r["key"]: r["total"] for r in ledger_summary(user=user, by="status", filters=filters)}
    assert summary == {"agreed": 1, "mediating": 2, "closed": 1}
    for status in ("received", "assigned", "mediating", "agreed", "referred", "closed"):
        listed = {
            r.number: r.period_status for r in ledger_rows(user=user, filters={**filters, "status": status})
        }
        assert set(listed.values()) <= {status}, status  # every row listed reads the status filtered
        assert set(listed) == {n for n, s in rows.items() if s == status}, status
        narrowed = ledger_summary(user=user, by="status", filters={**filters, "status": status})
        assert {r["key"]: r["total"] for r in narrowed} == (
            {status: summary[status]} if status in summary else {}
        )


def test_an_unknown_status_is_refused_with_its_code(world, period):
    from zhiwang.core.errors import ServiceError

    _cases, _dates, filters, _as_of = period
    with pytest.raises(ServiceError) as refused:
        case_list(user=world.sub_dispatcher, filters={**filters, "status": "agreed-ish"})
    assert refused.value.code == "disputes.filter_invalid" and refused.value.field == "status"


def test_the_page_filtered_by_agreed_lists_the_case_agreed_at_the_end(client, world, period):
    cases, dates, _filters, _as_of = period
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), {**dates, "status": "agreed"}).content.decode()
    assert html.count('data-testid="case-row"') == 1
    row = _row(html, cases["agreed_then"].number)
    assert _text(_cell(row, "row-status")).startswith("已达成协议")
    assert cases["agreed_since"].number not in html
    # the control and the chip say the filter is on the status at the end, with a Chinese colon
    assert '<label for="f-status">期末状态</label>' in html
    chip = re.search(r'data-testid="filter-summary">(.*?)</p>', html, re.S).group(1)
    assert '<span class="tag">期末状态：已达成协议</span>' in chip
    assert ": " not in _text(chip).replace("：", "")


def test_the_chip_joiner_is_the_readers_colon(client, world, period):
    _cases, dates, _filters, _as_of = period
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), {**dates, "status": "agreed"}).content.decode()
    assert '<span class="tag">Status at the end of the period: Agreement reached</span>' in html
    assert '<label for="f-status">Status at the end of the period</label>' in html
    html = client.get(reverse("disputes:ledger"), {"status": "agreed"}).content.decode()
    assert '<span class="tag">Status: Agreement reached</span>' in html
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), {"status": "agreed"}).content.decode()
    assert '<span class="tag">状态：已达成协议</span>' in html


# --- 3. the Excel writes the later facts the page shows -------------------------------------------


def _sheet(response):
    from openpyxl import load_workbook

    assert response.status_code == 200, response.content[:300]
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    header = list(rows[2])
    return header, {row[1]: dict(zip(header, row, strict=True)) for row in rows[3:]}


@pytest.fixture
def extended(world, mediating_case, period):
    """Being mediated at the end, extended after it."""
    _cases, _dates, _filters, as_of = period
    case = _lived_then(mediating_case(received_at=as_of - timedelta(days=25)), as_of - timedelta(days=24))
    before = case.target_at
    case_extend(
        case=case,
        actor=world.mediator,
        until=timezone.localdate(before) + timedelta(days=20),
        reason="双方同意延期",
    )
    case.refresh_from_db()
    return case, before


def test_the_workbook_writes_a_later_referral_and_extension_as_the_page(client, world, period, extended):
    cases, dates, _filters, as_of = period
    case, before = extended
    referred = cases["referred_since"]
    referred_on = timezone.localdate(referred.referred_at).isoformat()
    before_day, after_day = (
        timezone.localdate(before).isoformat(),
        timezone.localdate(case.target_at).isoformat(),
    )
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert f"{referred_on} 移交（期后）" in _text(_cell(_row(html, referred.number), "row-status"))
    assert f"延至 {after_day}（期后）" in _text(_cell(_row(html, case.number), "row-target"))
    header, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert found[referred.number]["期末状态"] == f"调解中；{referred_on} 移交（期后）"
    assert found[case.number]["期末状态"] == "调解中"
    assert found[case.number]["办结期限"] == f"{before_day}；延至 {after_day}（期后）"
    # the full export alike
    url = reverse("disputes:ledger_export") + "?" + "&".join(f"{k}={v}" for k, v in dates.items())
    _header, found = _sheet(client.post(url, {"reason": "月度台账"}))
    assert found[referred.number]["期末状态"] == f"调解中；{referred_on} 移交（期后）"
    assert found[case.number]["办结期限"] == f"{before_day}；延至 {after_day}（期后）"


def test_the_english_workbook_says_the_same(client, world, period, extended):
    cases, dates, _filters, _as_of = period
    case, before = extended
    referred = cases["referred_since"]
    referred_on = timezone.localdate(referred.referred_at).isoformat()
    _login(client, world.sub_dispatcher)
    _header, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert (
        found[referred.number]["Status at the end of the period"]
        == f"Being mediated; Referred on {referred_on}, after the period"
    )
    after_day = timezone.localdate(case.target_at).isoformat()
    assert found[case.number]["Target date"] == (
        f"{timezone.localdate(before).isoformat()}; Extended to {after_day}, after the period"
    )
    # referred before the end: referred, nothing after it
    DisputeCase.objects.filter(pk=referred.pk).update(referred_at=referred.referred_at - timedelta(days=3))
    _header, found = _sheet(client.get(reverse("disputes:ledger_export"), dates))
    assert found[referred.number]["Status at the end of the period"] == "Referred"
    # without an ended period: today's values, nothing marked
    _header, found = _sheet(
        client.get(reverse("disputes:ledger_export"), {"received_from": dates["received_from"]})
    )
    assert found[referred.number]["Status"] == "Referred"
    assert found[case.number]["Target date"] == after_day


# --- 4. the same figure has the same name ---------------------------------------------------------


def test_the_amount_resolved_is_named_as_on_analytics_pages(client, world, period):
    _cases, dates, _filters, _as_of = period
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert "期末化解金额（元）" in html and "调解成功涉及金额" not in html
    assert "期末涉及金额（元）" in html
    html = client.get(reverse("disputes:ledger"), {"received_from": dates["received_from"]}).content.decode()
    assert "化解金额（元）" in html and "调解成功涉及金额" not in html
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    assert "Amount resolved by the end of the period (yuan)" in html and "(CNY)" not in html
    # the hint under the figures names every figure as of the end, not only open and closed
    note = re.search(r'data-testid="as-of-note">(.*?)</p>', html, re.S).group(1)
    last_day = (timezone.localdate() - timedelta(days=11)).isoformat()
    assert note == (
        f"Every figure as of the end of {last_day} (status, risk, amounts): a case closed after that "
        "day counts as open here."
    )


# --- 2. a date never breaks on a phone --------------------------------------------------------------


def test_the_target_cell_keeps_the_date_whole_and_the_extension_on_its_own_line(
    client, world, period, extended
):
    _cases, dates, _filters, _as_of = period
    case, _before = extended
    _login(client, world.sub_dispatcher, "zh-hans")
    html = client.get(reverse("disputes:ledger"), dates).content.decode()
    cell = _cell(_row(html, case.number), "row-target")
    # one item in the cell's flex row: the date (unbreakable) and, as a block under it, the extension
    assert cell.startswith('<span class="dz-cell"><span class="dz-date')
    assert '<span class="hint dz-later" data-testid="row-target-later">' in cell and "<br>" not in cell
    from django.contrib.staticfiles import finders

    css = open(finders.find("disputes/disputes.css"), encoding="utf-8").read()
    assert ".dz-date { white-space:nowrap; }" in css and ".dz-later { display:block; }" in css


def _ledger_in_browser(base, cookie, url):
    """The ledger at a phone's width, in its own thread (Playwright's sync API refuses a thread where
    another session runs its loop): each ``row-target`` cell's date lines and extension position."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 800})
            context.add_cookies(
                [{**cookie, "url": base}, {"name": "django_language", "value": "zh-hans", "url": base}]
            )
            page = context.new_page()
            page.goto(url)
            page.get_by_test_id("case-table").wait_for()
            # the date measured as text (whatever wraps it): its line boxes, and where the extension is
            return page.evaluate(
                """() => [...document.querySelectorAll('[data-testid="row-target"]')].map(td => {
                    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
                    let node, match;
                    while ((node = walker.nextNode())) {
                        if (node.parentElement.closest('.hint')) continue;
                        match = /\\d{4}-\\d{2}-\\d{2}/.exec(node.data);
                        if (match) break;
                    }
                    const range = document.createRange();
                    range.setStart(node, match.index);
                    range.setEnd(node, match.index + match[0].length);
                    const rects = [...range.getClientRects()].filter(r => r.width > 0);
                    const later = td.querySelector('[data-testid="row-target-later"]');
                    return {
                        text: td.innerText,
                        dateLines: new Set(rects.map(r => Math.round(r.top))).size,
                        dateBottom: Math.max(...rects.map(r => r.bottom)),
                        laterTop: later ? later.getBoundingClientRect().top : null,
                        overflow: document.scrollingElement.scrollWidth - window.innerWidth,
                    };
                })"""
            )
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_date_never_breaks(city_restored, client, world, period, extended, live_server):
    # a transactional test: the session's city is restored first (tests/conftest.py), before the
    # fixtures that read it
    import os
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings

    from tests.browser.conftest import _chromium_path

    if not _chromium_path():
        if os.environ.get("CI"):
            pytest.fail("CI=true but no chromium was found (apt-get install chromium)")
        pytest.skip("no chromium found: install Debian's chromium package to run the browser tests")
    _cases, dates, _filters, _as_of = period
    case, _before = extended
    client.force_login(world.sub_dispatcher)
    cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
    }
    url = f"{live_server.url}{reverse('disputes:ledger')}?received_from={dates['received_from']}&received_to={dates['received_to']}"
    with ThreadPoolExecutor(max_workers=1) as pool:
        cells = pool.submit(_ledger_in_browser, live_server.url, cookie, url).result()
    assert cells
    extended_cells = [c for c in cells if c["laterTop"] is not None]
    assert len(extended_cells) == 1 and "延至" in extended_cells[0]["text"], cells
    for cell in cells:
        # "2026-12-24" on one line, never "2026-12-" / "24"
        assert cell["dateLines"] == 1, cell
        assert cell["overflow"] <= 1, cell
    later = extended_cells[0]
    assert timezone.localdate(case.target_at).isoformat() in later["text"]
    assert later["laterTop"] >= later["dateBottom"] - 1, later  # the extension on its own line
