# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The ticket list opened from a dashboard figure that counts events: the figure said "不满意 10",
the list said "共 9 件" and nothing more, and a district's "重办 2" opening a list of one ticket
read as a bug. Under an ``event`` filter the line says both: "9 件工单（10 次评价“不满意”）".
Also from the same walkthrough: the short columns (类型, 状态, 期限) no longer break one character a
line at 1280 px, and a filter's label and value join with the reader's colon ("发生事项：…").

Strings new in this change are compared with their ``gettext`` in Chinese (they read English until
the catalogs have them); one test gives the catalog the new entries to show the Chinese line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    hotline,
    luohu_building,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from tests.tickets.test_list_event_rows import rated_twice, window  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[2] / "zhiwang" / "web" / "static" / "web" / "tickets.css"


def _list(client, user, language, window, event="unsatisfied", **more):
    """The list as a figure's link opens it: the event and its window as whole local days."""
    client.force_login(user)
    client.cookies["django_language"] = language
    start, end = window
    return client.get(
        "/tickets/",
        {"event": event, "event_from": f"{start:%Y-%m-%d}", "event_to": f"{end:%Y-%m-%d}", **more},
    )


def _count(response) -> str:
    return re.search(r'data-testid="ticket-count">(.*?)</strong>', response.content.decode(), re.S).group(1)


def _chips(response) -> list[str]:
    return re.findall(r'<span class="filter-chip">(.*?)</span>', response.content.decode(), re.S)


def test_the_line_counts_the_tickets_and_the_events_behind_them(
    client, rated_twice, window, nanshan_dispatcher
):
    # Nanshan: two tickets, three ratings in the window (one ticket rated twice; the row the day
    # before and Luohu's row are not counted)
    response = _list(client, nanshan_dispatcher, "en", window)
    assert not response.context["form"].errors
    assert _count(response) == "2 tickets (3 ratings “Unsatisfied”)"
    # narrowed to one ticket with one row: both singular
    response = _list(client, nanshan_dispatcher, "en", window, q=rated_twice["once"].number)
    assert _count(response) == "1 ticket (1 rating “Unsatisfied”)"
    # another event, its own noun: "twice" was also rated satisfied once
    response = _list(client, nanshan_dispatcher, "en", window, event="follow_ups")
    assert _count(response) == "2 tickets (4 follow-ups)"


def test_without_an_event_the_line_counts_tickets_only(client, rated_twice, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    assert _count(client.get("/tickets/", {"kind": "complaint"})) == "2 tickets"
    # a broken filter: no line claiming events the list did not count
    response = client.get("/tickets/", {"event": "late_closures"})
    assert response.context["form"].errors and "(" not in _count(response)


def test_a_capped_count_says_so(client, rated_twice, window, city_leader, monkeypatch):
    monkeypatch.setattr("zhiwang.core.pagination.COUNT_CAP", 2)
    assert _count(_list(client, city_leader, "en", window)) == "2+ tickets (2+ ratings “Unsatisfied”)"


def test_the_line_in_chinese(client, rated_twice, window, nanshan_dispatcher, monkeypatch):
    # as the catalog will give it (the entries the lead adds)
    catalog = translation.trans_real.translation("zh-hans")._catalog._catalogs[0]
    context = "the tickets a list shows, beside the events behind them"
    monkeypatch.setitem(catalog, (f"{context}\x04%(count)s ticket", 0), "%(count)s 件工单")
    monkeypatch.setitem(catalog, ("%(count)s rating “Unsatisfied”", 0), "%(count)s 次评价“不满意”")
    monkeypatch.setitem(
        catalog, "tickets and the events behind them\x04%(tickets)s (%(events)s)", "%(tickets)s（%(events)s）"
    )
    response = _list(client, nanshan_dispatcher, "zh-hans", window)
    assert _count(response) == "2 件工单（3 次评价“不满意”）"


def test_a_filter_s_label_and_value_join_with_the_reader_s_colon(
    client, rated_twice, window, nanshan_dispatcher
):
    chips = _chips(_list(client, nanshan_dispatcher, "zh-hans", window))
    with translation.override("zh-hans"):
        from django.utils.translation import gettext

        label, value = gettext("What happened"), gettext("Rated “Unsatisfied”")
    assert f"{label}：{value}" in chips
    assert all(": " not in chip for chip in chips), chips
    chips = _chips(_list(client, nanshan_dispatcher, "en", window))
    assert "What happened: Rated “Unsatisfied”" in chips
    assert f"Happened from: {window[0]:%Y-%m-%d}" in chips


def test_a_ticked_box_shows_its_label_alone(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    chips = _chips(client.get("/tickets/", {"division": "440305000000", "unlocated": "on"}))
    assert "Only those located in none of its parts" in chips


def test_the_short_columns_keep_their_words_on_one_line(client, rated_twice, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    html = client.get("/tickets/").content.decode()
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert head.count('class="col-short"') == 3 and head.count('class="col-name"') == 3
    assert html.count('class="later col-short" data-label=') == 2  # the kind cell of each ticket
    css = re.sub(r"\s+", " ", CSS.read_text(encoding="utf-8"))
    assert "table.ticket-list td.col-short { white-space:nowrap; }" in css
    assert "table.ticket-list td.col-name { min-width:6em; }" in css


def _lines_in_browser(html: str, width: int) -> dict[str, list[int]]:
    """How many lines each short column's header and cells take in headless Chromium at ``width``."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path

    script = """() => {
        // the lines of a cell's text: the tops of its text's boxes, a line apart (badges' padding aside)
        const lines = el => {
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), tops = [];
            while (walker.nextNode()) { const r = document.createRange(); r.selectNodeContents(walker.currentNode);
                for (const b of r.getClientRects()) if (b.width > 0) tops.push(b.top); }
            tops.sort((a, b) => a - b);
            return tops.filter((t, i) => i === 0 || t - tops[i - 1] > 8).length; };
        const out = {};
        document.querySelectorAll('table.ticket-list tr').forEach(tr => [...tr.children].forEach((c, i) => {
            (out[i] = out[i] || []).push(lines(c)); }));
        return out; }"""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.set_content(html)
            return page.evaluate(script)
        finally:
            browser.close()


def test_at_1280_px_the_kind_column_reads_on_one_line(client, make_ticket, nanshan_dispatcher):
    """The walkthrough's page: long titles and category names, "类型" and "投诉" one character a
    line. Rendered with the shell's and the list's style sheets (inlined), measured in Chromium."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from tests.browser.conftest import _chromium_path
    from zhiwang.tickets.models import Ticket

    if not _chromium_path():
        if os.environ.get("CI"):
            pytest.fail("CI=true but no chromium was found (apt-get install chromium)")
        pytest.skip("no chromium found: install Debian's chromium package to run the browser tests")
    for n in range(3):
        ticket = make_ticket(urgency="urgent") if n == 0 else make_ticket()
        long_title = "南山区某某街道某某社区某某花园小区门口垃圾桶满溢多日无人清理气味很大影响居民出行" * 2
        Ticket.objects.filter(pk=ticket.pk).update(title=long_title)
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/tickets/").content.decode()
    static = CSS.parent
    styles = "".join(
        f"<style>{(static / name).read_text(encoding='utf-8')}</style>"
        for name in ("zhiwang.css", "tickets.css")
    )
    html = re.sub(r'<link rel="stylesheet"[^>]*>', "", html).replace("</head>", f"{styles}</head>")
    html = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    with ThreadPoolExecutor(max_workers=1) as pool:
        lines = pool.submit(_lines_in_browser, html, 1280).result()
    # status, kind, deadline (columns 1, 2, 6): the header and every cell on one line
    for column in ("1", "2", "6"):
        assert set(lines[column]) == {1}, (column, lines)


def test_the_events_cost_one_bounded_count(client, rated_twice, window, nanshan_dispatcher):
    """One more query than the list's own: a COUNT over at most COUNT_CAP + 1 rows, like the list's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from zhiwang.core.pagination import COUNT_CAP

    _list(client, nanshan_dispatcher, "en", window)  # warm the session and the caches
    with CaptureQueriesContext(connection) as queries:
        _list(client, nanshan_dispatcher, "en", window)
    # count_up_to's shape: SELECT COUNT(*) FROM (SELECT … LIMIT cap + 1) (the bell counts otherwise)
    counts = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*) FROM (SELECT")
    ]
    assert len(counts) == 2, counts  # the tickets and the rows behind them
    assert all(f"LIMIT {COUNT_CAP + 1}" in sql for sql in counts), counts
    assert sum("tickets_ticketevent" in sql.split(" WHERE ")[0] for sql in counts) == 1, counts
