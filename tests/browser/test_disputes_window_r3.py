"""The window in a real browser (third walkthrough): in a queue card the "已办结" button keeps its
label on one line, and "叫号" says which visitor was called. Screenshots go to the pytest tmp dir."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_dispute_flows import dispute_city, login, shot  # noqa: F401  (fixture reused)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_done_stays_on_one_line_and_call_says_who(page, dispute_city, live_server, tmp_path, width):  # noqa: F811
    base = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    login(page, base, "demo_window")
    page.goto(f"{base}/disputes/window/")
    visit = page.get_by_test_id("visit").first
    done = visit.locator("form:has(input[name=action][value=complete]) button")
    expect(done).to_be_visible()
    line = done.evaluate("b => parseFloat(getComputedStyle(b).lineHeight) || 20")
    height = done.evaluate("b => b.getBoundingClientRect().height")
    assert height < 2 * line, f"the button's label wraps ({height}px for a {line}px line)"
    shot(page, tmp_path, f"window-{width}")
    number = visit.locator("code").inner_text().strip()
    visit.locator("form:has(input[name=action][value=call]) button").click()
    expect(page.locator("ul.messages")).to_contain_text(number)
