# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_ticket_flows)
"""In a real browser: a refused review on the dispatcher queue comes back in its row, the queue stays."""

from __future__ import annotations

import pytest

from tests.browser.test_ticket_flows import building, city, login, submit  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_review_sent_back_without_a_note_shows_the_error_in_its_row(page, building, live_server):
    from zhiwang.accounts.models import User
    from zhiwang.tickets import services

    dispatcher = User.objects.get(username="demo_ns_dispatcher")
    handler = User.objects.get(username="demo_sub_handler")
    ticket = submit(building)
    ticket = services.ticket_dispatch(ticket=ticket, unit=handler.org_unit, actor=dispatcher)
    ticket = services.ticket_accept(ticket=ticket, actor=handler)
    ticket = services.ticket_reply(ticket=ticket, actor=handler, reply="已清理。")

    base = live_server.url
    login(page, base, "demo_ns_dispatcher")
    page.goto(f"{base}/dispatch/?tab=review")
    row_form = page.locator(f"#inline-review-{ticket.number}")
    row_form.get_by_test_id("review-no").click()  # send back, but no note
    error = page.locator(f"#id_{ticket.number}_review-note_errors")
    error.wait_for()
    assert "缺少" in error.inner_text()  # the service's message, next to the row's note field
    assert page.url == f"{base}/dispatch/?tab=review"
    assert ticket.number in page.get_by_test_id("review-table").inner_text()  # still the queue
    assert page.get_by_test_id("actions").count() == 0  # not the ticket page

    page.fill(f"#id_{ticket.number}_review-note", "请补充现场照片。")
    row_form.get_by_test_id("review-no").click()
    page.wait_for_selector(".messages li.success")
    assert ticket.number not in page.get_by_test_id("review-table").inner_text()
    ticket.refresh_from_db()
    assert ticket.status == "accepted"
