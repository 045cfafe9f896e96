# ruff: noqa: F811 (pytest fixtures imported from other test modules)
"""What is typed into the forms never reaches a URL the browser requests.

The as-you-type panels (the intake page's suggestions and place, the citizen form's suggestions)
post what was typed; every request the page makes while somebody types is recorded and no URL
may hold the words, the phone in them or the address, in any encoding.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, quote_plus, unquote

import pytest

from tests.browser.test_ticket_flows import RUBBISH, building, city, login, submit  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13812345678"
WORDS = f"我是张三，电话{PHONE}，楼下的暴露垃圾一直没人清理"


def _record(page) -> list:
    seen = []
    page.on("request", lambda request: seen.append(request))
    return seen


def _assert_nothing_typed_in_urls(requests, *typed: str) -> None:
    assert requests
    for request in requests:
        url = request.url
        for text in typed:
            for form in {text, quote(text), quote_plus(text)}:
                assert form not in url and form not in unquote(url), url
        referer = request.headers.get("referer", "")
        for text in typed:
            assert quote(text) not in referer and text not in unquote(referer), referer


def _panel_posts(requests, path: str) -> list[dict]:
    found = [r for r in requests if r.url.split("?")[0].endswith(path)]
    assert all(r.method == "POST" for r in found), [(r.method, r.url) for r in found]
    return [parse_qs(r.post_data or "") for r in found]


def test_typing_sends_nothing_typed_in_a_url(page, building, live_server):
    earlier = submit(building, category=RUBBISH, description="楼下暴露垃圾没人管")
    base = live_server.url

    # an intake operator takes a call
    login(page, base, "demo_hotline")
    requests = _record(page)
    page.goto(f"{base}/intake/")
    page.locator("#id_description").click()
    page.keyboard.type(WORDS)
    chip = page.locator(f"[data-pick-category='{RUBBISH}']")
    chip.wait_for()
    chip.click()
    page.locator("#id_address_text").click()
    page.keyboard.type(building.full_name)
    page.wait_for_selector("[data-testid=duplicates]")
    assert earlier.number in page.get_by_test_id("duplicates").inner_text()
    assert earlier.number in page.get_by_test_id("address-history").inner_text()
    _assert_nothing_typed_in_urls(requests, WORDS, PHONE, "张三", building.full_name)
    suggested = _panel_posts(requests, "/intake/panels/suggest/")
    assert suggested and suggested[-1]["description"] == [WORDS]
    assert set(suggested[-1]) <= {"description", "kind", "csrfmiddlewaretoken"}
    placed = _panel_posts(requests, "/intake/panels/place/")
    assert placed and placed[-1]["address_text"] == [building.full_name]
    assert placed[-1]["category"] == [RUBBISH]
    assert "reporter_phone" not in placed[-1] and "description" not in placed[-1]

    # a citizen reports, signed out
    page.context.clear_cookies()
    requests = _record(page)
    page.goto(f"{base}/report/")
    page.locator("#id_description").click()
    page.keyboard.type(WORDS)
    page.locator(f"[data-pick-category='{RUBBISH}']").wait_for()
    _assert_nothing_typed_in_urls(requests, WORDS, PHONE, "张三")
    reported = _panel_posts(requests, "/report/panels/suggest/")
    assert reported and reported[-1]["description"] == [WORDS]
    assert set(reported[-1]) <= {"description", "kind", "csrfmiddlewaretoken"}
    assert reported[-1]["csrfmiddlewaretoken"][0]  # the anonymous form's token went with it
