# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_ticket_flows)
"""On a 390 px phone, in a real browser: the handler's inbox and the ticket list show each ticket's
status, deadline and sign-for button without a sideways scroll (a card a row), the ticket page fits
the phone (no zoomed-out page, the 签收 button in view), and the citizen's home, list and status
page fit too, with the "rate" button blue. One city build, one test."""

from __future__ import annotations

import pytest

from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}
BRAND = "rgb(15, 76, 129)"  # --brand in zhiwang.css
WHITE = "rgb(255, 255, 255)"


def _page_overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def _in_view_sideways(locator) -> bool:
    """The element lies inside the phone's width (nothing to scroll sideways to reach it)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def test_work_lists_ticket_page_and_citizen_pages_fit_a_phone(page, building, tmp_path):
    from zhiwang.accounts.models import User
    from zhiwang.tickets import services

    dispatcher = User.objects.get(username="demo_ns_dispatcher")
    handler = User.objects.get(username="demo_sub_handler")
    citizen = User.objects.get(username="demo_citizen")
    ticket = submit(building)
    ticket = services.ticket_dispatch(ticket=ticket, unit=handler.org_unit, actor=dispatcher)
    answered = submit(
        building, external_id="call-2", reporter=citizen, description="小区门口路灯不亮好几天了"
    )
    answered = services.ticket_dispatch(ticket=answered, unit=handler.org_unit, actor=dispatcher)
    answered = services.ticket_accept(ticket=answered, actor=handler)
    answered = services.ticket_reply(ticket=answered, actor=handler, reply="已修复路灯。")
    answered = services.ticket_review(ticket=answered, actor=dispatcher, approve=True)
    assert answered.status == "follow_up"
    base = page.base_url

    # The handler's inbox on a phone: one card a ticket, the key cells on the screen
    login(page, base, "demo_sub_handler")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/inbox/")
    assert _page_overflow(page) <= 1
    table = page.get_by_test_id("inbox-table")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")  # nothing hidden to the right
    row = table.locator("tbody tr", has_text=ticket.number)
    for cell in (row.get_by_test_id("status"), row.locator(".deadline"), row.get_by_test_id("accept-submit")):
        assert _in_view_sideways(cell), cell
    # the deadline and the button come before the category and the place (marked "later")
    assert (
        row.get_by_test_id("accept-submit").bounding_box()["y"]
        < row.locator("td.later").first.bounding_box()["y"]
    )
    shot(page, tmp_path, "inbox-phone")

    # The ticket list: the status of each row without a sideways scroll
    page.goto(f"{base}/tickets/")
    assert _page_overflow(page) <= 1
    row = page.get_by_test_id("ticket-table").locator("tbody tr", has_text=ticket.number)
    assert _in_view_sideways(row.get_by_test_id("status"))
    shot(page, tmp_path, "tickets-phone")

    # The ticket page fits the phone: no page wider than the screen, the sign-for button in view
    page.goto(f"{base}/tickets/{ticket.number}/")
    page.wait_for_selector("[data-testid=actions]")
    assert _page_overflow(page) <= 1, "the page is wider than the phone (it zooms out)"
    accept = page.get_by_test_id("accept-submit")
    accept.scroll_into_view_if_needed()
    assert _in_view_sideways(accept)
    timeline = page.get_by_test_id("timeline")
    assert _in_view_sideways(timeline)  # the wide table scrolls inside itself instead
    shot(page, tmp_path, "ticket-detail-phone")

    # On a desktop the inbox is still a table with its header row
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/inbox/")
    assert (
        page.get_by_test_id("inbox-table").locator("thead").evaluate("h => getComputedStyle(h).display")
        == "table-header-group"
    )

    # The citizen: a home of their own, their requests with the status in view, a blue rate button
    login(page, base, "demo_citizen")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/")
    assert page.get_by_test_id("citizen-home").is_visible()
    assert page.get_by_role("link", name="区划与网格").count() == 0
    assert _page_overflow(page) <= 1
    shot(page, tmp_path, "citizen-home-phone")
    page.goto(f"{base}/my/requests/")
    assert _page_overflow(page) <= 1
    status = page.get_by_test_id("my-tickets").locator("tbody tr", has_text=answered.number)
    assert _in_view_sideways(status.get_by_test_id("my-ticket-status"))
    shot(page, tmp_path, "my-requests-phone")
    page.goto(f"{base}/track/{answered.number}/")
    assert _page_overflow(page) <= 1
    rate = page.get_by_test_id("rate-link")
    colours = rate.evaluate("a => [getComputedStyle(a).backgroundColor, getComputedStyle(a).color]")
    assert colours == [BRAND, WHITE], colours  # not white on white
    shot(page, tmp_path, "track-phone")
