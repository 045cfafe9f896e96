# ruff: noqa: F811 (pytest fixtures imported from other test modules)
"""An operator in the middle of a call: the session ends, or the CSRF token changes, as they type.

The panels never draw the sign-in page or Django's CSRF page: a one-line notice (role="alert")
says what to do, what was typed stays in the fields, and nothing else is swapped in. Signing in
again in another tab lets the page work on (the CSRF cookie's token is sent); with no CSRF
cookie at all the panel says the page expired.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from tests.browser.test_ticket_flows import city, login  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUGGEST = "/intake/panels/suggest/"
CALLER = "/intake/panels/caller/"


def _type(page, selector: str, text: str, path: str):
    """Type ``text`` into ``selector`` and wait for the panel request at ``path`` it causes."""
    with page.expect_response(lambda r: r.url.endswith(path)) as answer:
        page.locator(selector).click()
        page.keyboard.type(text)
    return answer.value


def _no_page_drawn_inside(page) -> None:
    for panel in ("#suggestions", "#caller-panel", "#place-panel"):
        html = page.locator(panel).inner_html()
        assert "<form" not in html and "id_username" not in html and "DEBUG" not in html, html
        assert "<h1" not in html and "403" not in html, html


def test_a_session_that_ends_and_a_token_that_changes_while_typing(page, city, live_server, settings):
    from django.contrib.sessions.models import Session

    settings.CSRF_FAILURE_VIEW = "zhiwang.web.views.csrf_failure"
    base = live_server.url
    login(page, base, "demo_hotline")
    page.goto(f"{base}/intake/")
    assert _type(page, "#id_description", "楼上噪音扰民", SUGGEST).status == 200

    # the session ends on the server (12 h): the next keystroke is refused, not redirected
    Session.objects.all().delete()
    assert _type(page, "#id_description", "，半夜装修", SUGGEST).status == 401
    notice = page.locator("#suggestions [data-testid=panel-notice]")
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_have_attribute("data-panel-notice", "signed-out")
    # the words the page rendered (translated by the template) for this notice
    expect(notice).to_have_text(page.locator("form.intake").get_attribute("data-notice-signed-out"))
    expect(page.locator("#id_description")).to_have_value("楼上噪音扰民，半夜装修")
    expect(page.locator("#suggestions")).to_have_class(
        re.compile(r"\bpanel-stale\b")
    )  # earlier answer dimmed
    assert page.locator("#id_username").count() == 0
    assert page.url == f"{base}/intake/"
    _no_page_drawn_inside(page)

    # the operator signs in again in another tab (the CSRF token rotates) and comes back
    other = page.context.new_page()
    login(other, base, "demo_hotline")
    other.close()
    answer = _type(page, "#id_description", "，请尽快处理", SUGGEST)
    assert answer.status == 200
    expect(page.locator("#suggestions [data-testid=panel-notice]")).to_have_count(0)
    expect(page.locator("#suggestions")).not_to_have_class(re.compile(r"\bpanel-stale\b"))
    expect(page.locator("#id_description")).to_have_value("楼上噪音扰民，半夜装修，请尽快处理")
    _no_page_drawn_inside(page)

    # a partial number: "incomplete", not "none"; a whole number is posted once, leaving the field too
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith(CALLER) else None)
    assert _type(page, "#id_reporter_phone", "1385", CALLER).status == 200
    expect(page.locator("#caller-panel")).to_contain_text(re.compile("号码不完整|not complete"))
    page.locator("#id_reporter_phone").fill("")
    assert _type(page, "#id_reporter_phone", "13812345678", CALLER).status == 200
    page.keyboard.press("Tab")
    page.wait_for_timeout(1200)
    posted = [parse_qs(r.post_data or "").get("reporter_phone", [""])[0] for r in requests]
    assert posted.count("13812345678") == 1, posted

    # no CSRF cookie at all (cleared by the browser): the page expired, the panel says so
    page.evaluate("document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'")
    page.locator("#id_reporter_phone").fill("")
    answer = _type(page, "#id_reporter_phone", "13812345679", CALLER)
    assert answer.status == 403 and answer.headers.get("zhiwang-refusal") == "csrf"
    notice = page.locator("#caller-panel [data-testid=panel-notice]")
    expect(notice).to_have_attribute("data-panel-notice", "csrf")
    expect(notice).to_have_text(page.locator("form.intake").get_attribute("data-notice-expired"))
    expect(notice).to_have_attribute("role", "alert")
    expect(page.locator("#id_reporter_phone")).to_have_value("13812345679")
    expect(page.locator("#id_description")).to_have_value("楼上噪音扰民，半夜装修，请尽快处理")
    _no_page_drawn_inside(page)
