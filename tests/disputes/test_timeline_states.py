# ruff: noqa: F811 (a pytest fixture imported from tests.browser)
"""The case page says "from → to" only for a timeline row that moved the case: a note, a look at the
parties' data, a correction leave the state as it was and show their action (and what they changed)
alone, never "调解中 → 调解中". The API keeps both states on every row (clients rely on them)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.browser.test_dispute_flows import dispute_city  # noqa: F401 (fixture of the browser test)
from zhiwang.disputes.services import case_note, case_reveal_parties, case_update

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"


def _page(client, user, case, language="zh-hans") -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()


def _rows(html: str, action: str) -> list[str]:
    timeline = re.search(r'data-testid="timeline">(.*?)</ul>', html, re.S).group(1)
    return re.findall(rf'<li data-action="{action}">(.*?)</li>', timeline, re.S)


def test_rows_that_keep_the_state_show_no_transition(client, mediating_case, world):
    case = mediating_case()
    assert case.status == "mediating"
    case_note(case=case, actor=world.mediator, note="已电话联系双方")
    case_reveal_parties(case=case, actor=world.mediator, reason="需要电话联系当事人")
    case_update(case=case, actor=world.mediator, risk="red", note="当事人情绪激动")

    html = _page(client, world.mediator, case)
    assert "调解中 → 调解中" not in html
    for action in ("note", "reveal_parties", "update"):
        (row,) = _rows(html, action)[-1:]
        assert "→ 调解中" not in row and 'data-testid="event-states"' not in row, (action, row)
    (note,) = _rows(html, "note")[-1:]
    assert "已电话联系双方" in note  # the row still says what happened
    (update,) = _rows(html, "update")
    assert 'data-testid="event-change"' in update and "红色" in update


def test_rows_that_move_the_case_still_show_from_and_to(client, mediating_case, world):
    case = mediating_case()
    html = _page(client, world.mediator, case)
    (assign,) = _rows(html, "assign")
    assert re.search(r'data-testid="event-states">待分派 → 已分派</span>', assign)
    (session,) = _rows(html, "record_session")
    assert re.search(r'data-testid="event-states">已分派 → 调解中</span>', session)
    english = _page(client, world.mediator, case, "en")
    (assign,) = _rows(english, "assign")
    assert "Awaiting assignment → Assigned" in assign
    # the first row comes from no state: "→ 待分派", not "— → 待分派"
    first = re.search(r'data-testid="timeline">\s*<li[^>]*>(.*?)</li>', html, re.S).group(1)
    assert re.search(r'data-testid="event-states">→ 待分派</span>', first), first
    assert "— →" not in html


def test_an_old_row_without_a_change_keeps_only_its_action(client, assigned_case, world):
    from django.utils import timezone

    from zhiwang.disputes.models import CaseEvent

    case = assigned_case()
    CaseEvent.objects.create(
        case=case,
        actor=world.sub_dispatcher,
        action="remind",
        from_state=case.status,
        to_state=case.status,
        note="",
        payload={},
        at=timezone.now(),
    )
    (row,) = _rows(_page(client, world.mediator, case, "en"), "remind")
    assert "Assigned → Assigned" not in row and "→" not in row
    assert "<strong>" in row  # the action is still named


def test_the_api_keeps_both_states_on_every_row(client, mediating_case, world):
    case = mediating_case()
    case_note(case=case, actor=world.mediator, note="已电话联系双方")
    client.force_login(world.mediator)
    events = client.get(f"{API}/cases/{case.number}").json()["events"]
    note = next(e for e in events if e["action"] == "note")
    assert note["from_state"] == note["to_state"] == "mediating"
    session = next(e for e in events if e["action"] == "record_session")
    assert (session["from_state"], session["to_state"]) == ("assigned", "mediating")


def test_the_linked_tickets_history_names_a_state_only_when_it_changed(
    client, world, hotline, nanshan_building
):
    from tests.disputes.conftest import parties
    from zhiwang.disputes.services import case_from_ticket
    from zhiwang.tickets.models import TicketEvent
    from zhiwang.tickets.services import ticket_note, ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居长期占用楼道堆放杂物，多次沟通无果。",
        address_code=nanshan_building.code,
        reporter_name="林晓",
        reporter_phone="13800138000",
        external_id="timeline-states-t1",
        actor=hotline,
    ).ticket
    ticket_note(ticket=ticket, actor=hotline, note="来电人补充：楼道堆放物已影响通行")
    case = case_from_ticket(
        actor=hotline, ticket_number=ticket.number, category="neighbours", parties=parties()
    ).case
    events = list(TicketEvent.objects.filter(ticket=ticket))
    kept = [e for e in events if e.from_state == e.to_state]
    moved = [e for e in events if e.from_state != e.to_state]
    assert kept and moved  # the ticket's history has both kinds of row
    history = _page(client, hotline, case, "en").split("History of ticket", 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<li>(.*?)</li>", history, re.S)
    assert len(rows) == len(events)
    assert sum("→" in row for row in rows) == len(moved)


# --- in a real browser, at 1280 and 390 px ------------------------------------------------------------


def _timeline_in_browser(base: str, username: str, url: str, shots) -> dict[int, dict]:
    """What the timeline reads at 1280 and 390 px. In a thread of its own: Playwright's sync API
    refuses a thread where another session (tests/browser's ``browser`` fixture) runs its loop."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path
    from tests.browser.test_dispute_flows import login, shot

    seen = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(15_000)
            login(page, base, username)
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(url)
                timeline = page.get_by_test_id("timeline")
                timeline.wait_for()
                shot(page, shots, f"timeline-{width}")
                seen[width] = {
                    "note": timeline.locator('li[data-action="note"]').last.inner_text(),
                    "states": timeline.get_by_test_id("event-states").all_inner_texts(),
                    "overflow": page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"),
                }
        finally:
            browser.close()
    return seen


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_timeline_reads_well_in_a_browser(dispute_city, live_server, tmp_path):
    import os
    from concurrent.futures import ThreadPoolExecutor

    from tests.browser.conftest import _chromium_path
    from zhiwang.disputes.models import DisputeCase

    if not _chromium_path():
        if os.environ.get("CI"):
            pytest.fail("CI=true but no chromium was found (apt-get install chromium)")
        pytest.skip("no chromium found: install Debian's chromium package to run the browser tests")
    case = DisputeCase.objects.filter(status="agreed", mediator__isnull=False).order_by("pk").first()
    case_note(case=case, actor=case.mediator, note="已电话联系双方")
    url = f"{live_server.url}/disputes/cases/{case.number}/"
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(
            _timeline_in_browser, live_server.url, case.mediator.username, url, tmp_path
        ).result()
    for width, row in seen.items():
        assert "已电话联系双方" in row["note"] and "→" not in row["note"], (width, row)
        assert row["states"], width  # the rows that moved the case still say from → to
        moves = [s.split("→") for s in row["states"]]
        assert all(a.strip() != b.strip() for a, b in moves), (width, row)
        assert row["overflow"] <= 1, width
