# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_ticket_flows)
"""The top bar on a 390 px phone, in a real browser: the menu folds under one "Menu" button (it took
150–290 px of the screen), opens and closes from the keyboard, and is a plain row again on a desktop;
the home page leads the role to its work above its jurisdiction; no page load asks for a missing
file (the favicon was a 404 in every first page's console)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_ticket_flows import city, login, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}


@pytest.mark.parametrize("username", ["demo_admin", "demo_ns_dispatcher"])
def test_the_menu_folds_on_a_phone(page, city, tmp_path, username):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    base = page.base_url
    page.set_viewport_size(PHONE)
    login(page, base, username)
    nav = page.get_by_role("navigation", name="主导航")
    toggle = page.get_by_test_id("nav-toggle")
    topbar = page.locator("header.topbar")
    assert toggle.is_visible() and not nav.is_visible()
    # the top bar is the brand, the button and one line of the user's menu: not a wall of links
    height = topbar.bounding_box()["height"]
    assert height <= 120, height
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 1
    shot(page, tmp_path, f"{username}-home-phone")

    # the keyboard opens it (a <summary>: focusable, Enter toggles) and closes it again
    toggle.focus()
    page.keyboard.press("Enter")
    assert nav.is_visible()
    assert nav.get_by_role("link", name="工单", exact=True).is_visible()
    shot(page, tmp_path, f"{username}-menu-open-phone")
    page.keyboard.press("Enter")
    assert not nav.is_visible()

    # a link of the open menu takes one there, and the button says where one is
    toggle.click()
    nav.get_by_role("link", name="工单", exact=True).click()
    page.wait_for_url("**/tickets/")
    assert "工单" in page.get_by_test_id("nav-toggle").inner_text()
    assert not page.get_by_role("navigation", name="主导航").is_visible()

    # a desktop: the links in a row, no button
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.get_by_role("navigation", name="主导航")).to_be_visible()  # opened on the resize
    expect(page.get_by_test_id("nav-toggle")).to_be_hidden()
    page.goto(f"{base}/admin/")  # a page without the shell's icon link: /favicon.ico answers
    assert not missing, missing


def test_the_home_page_leads_to_the_work(page, city, tmp_path):
    base = page.base_url
    login(page, base, "demo_leader")
    work = page.get_by_test_id("my-work")
    assert work.is_visible()
    # the dashboard one click away, above the jurisdiction's table
    dashboard = work.get_by_test_id("entry-dashboard")
    assert (
        dashboard.bounding_box()["y"] < page.get_by_role("heading", name="我的管辖范围").bounding_box()["y"]
    )
    shot(page, tmp_path, "leader-home")
    dashboard.click()
    page.wait_for_url("**/analytics/")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/")
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 1
    shot(page, tmp_path, "leader-home-phone")
