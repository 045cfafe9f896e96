"""Lists in a real browser: the ticket list opened from a figure's link (the finer filters set)
keeps its results in view and says what it shows; on a phone the alerts, notifications and
indicator tables scroll inside themselves with readable columns. One city build, one test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}


def _page_overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def test_ticket_list_from_a_link_and_tables_on_a_phone(page, building, tmp_path):  # noqa: F811
    from django.utils import timezone

    from zhiwang.accounts.models import User
    from zhiwang.analytics.alerts import Finding
    from zhiwang.analytics.indicator_figures import FIGURE_INDICATORS
    from zhiwang.analytics.models import IndicatorFigure
    from zhiwang.analytics.services import alert_raise
    from zhiwang.geo.models import Division
    from zhiwang.tickets import services

    ticket = submit(building)
    services.ticket_dispatch(ticket=ticket, unit=None, actor=User.objects.get(username="demo_ns_dispatcher"))
    now = timezone.now()
    alert, _created = alert_raise(
        finding=Finding(
            kind="address_cluster",
            key=f"address:{building.pk}",
            explanation="测试地址：3天内3件，预期0.2，同一地址反复反映垃圾堆放、噪音扰民和占道经营",
            window_start=now - timedelta(days=3),
            window_end=now + timedelta(hours=1),
            observed=3,
            division_id=building.community_id,
        )
    )
    district = ticket.district
    today = timezone.localdate()
    base = page.base_url

    # Given a leader opens the ticket list from a dashboard figure (finer filters set)
    login(page, base, "demo_leader")
    page.goto(
        f"{base}/tickets/?division={district.code}&event=received"
        f"&event_from={today - timedelta(days=6):%Y-%m-%d}&event_to={today + timedelta(days=1):%Y-%m-%d}"
    )
    # then the "more filters" panel is open as a grid (several fields a row, label above input) ...
    assert page.locator("details.more-filters").get_attribute("open") is not None
    tops = page.evaluate(
        "[...document.querySelectorAll('.filter-grid .field')].map(f => Math.round(f.getBoundingClientRect().top))"
    )
    assert len(tops) > 4 and tops.count(tops[0]) >= 4, tops
    label, field = page.locator("label[for=id_event]"), page.locator("#id_event")
    assert label.bounding_box()["y"] + label.bounding_box()["height"] <= field.bounding_box()["y"] + 1
    # ... the first result is above the fold, with the count and what the list is filtered by
    row = page.get_by_test_id("ticket-table").locator("tbody tr").first
    assert ticket.number in row.inner_text()
    assert row.bounding_box()["y"] < page.viewport_size["height"]
    assert "1" in page.get_by_test_id("ticket-count").inner_text()
    described = page.get_by_test_id("active-filters").inner_text()
    assert district.name in described and f"{today - timedelta(days=6):%Y-%m-%d}" in described
    shot(page, tmp_path, "tickets-from-link")
    page.get_by_test_id("clear-filters").click()
    page.wait_for_url(f"{base}/tickets/")
    assert page.locator("details.more-filters").get_attribute("open") is None
    assert page.get_by_test_id("active-filters").count() == 0

    # On a phone: the alerts table scrolls inside itself and its columns stay readable
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/tickets/?alert={alert.pk}")
    # the finer filters stay folded: the "filtered by" line says what is set, the results show
    assert page.locator("details.more-filters").get_attribute("open") is None
    assert "预警" in page.get_by_test_id("active-filters").inner_text()
    row = page.get_by_test_id("ticket-table").locator("tbody tr").first
    assert row.bounding_box()["y"] < page.viewport_size["height"]
    page.locator("details.more-filters > summary").click()
    assert page.locator(".filter-grid .field").first.bounding_box()["width"] > 250  # one a row
    assert _page_overflow(page) <= 1
    shot(page, tmp_path, "tickets-phone")
    page.goto(f"{base}/analytics/alerts/")
    assert _page_overflow(page) <= 1
    cell = page.get_by_test_id(f"alert-{alert.pk}").locator("td").nth(2)
    assert cell.bounding_box()["width"] >= 75, cell.bounding_box()  # not one character a line
    table = page.get_by_test_id("alert-table")
    # each alert is a card (the shell's stacked table): nothing is a sideways scroll away
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")
    # the top bar's "Sign out" stays on one line
    sign_out = page.locator(".usermenu button.link")
    assert sign_out.bounding_box()["height"] < 30, sign_out.bounding_box()
    shot(page, tmp_path, "alerts-phone")

    # the indicator tables: the place column is wide enough and stays put while the figures scroll
    last = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    places = [("city", None)] + [
        ("district", pk) for pk in Division.objects.filter(level="district").values_list("pk", flat=True)
    ]
    IndicatorFigure.objects.bulk_create(
        IndicatorFigure(month=last, group=group, key=key, indicator=name, numerator=3, denominator=4)
        for group, key in places
        for name in FIGURE_INDICATORS
    )
    page.goto(f"{base}/analytics/indicators/?period={last:%Y-%m}")
    assert _page_overflow(page) <= 1
    table = page.get_by_test_id("division-table")
    first = table.locator("tbody tr").nth(1).locator("td").first
    assert first.bounding_box()["width"] >= 100, first.bounding_box()
    left = first.bounding_box()["x"]
    table.evaluate("t => { t.scrollLeft = 300 }")
    assert table.evaluate("t => t.scrollLeft") > 0
    assert abs(first.bounding_box()["x"] - left) <= 1
    shot(page, tmp_path, "indicators-phone")

    # the notifications of the unit the ticket was dispatched to
    login(page, base, "demo_sub_handler")
    page.goto(f"{base}/notifications/")
    assert _page_overflow(page) <= 1
    message = page.get_by_test_id("notifications").locator("tbody tr").first.locator("td").nth(2)
    assert message.bounding_box()["width"] >= 150, message.bounding_box()  # a message reads in lines
    shot(page, tmp_path, "notifications-phone")

    # the grid worker's on-site checks on a phone: each ticket is a card, the pass / fail buttons
    # within the screen's width (they were a sideways scroll away, in a fourth column)
    from zhiwang.tickets.services import actions

    dispatcher = User.objects.get(username="demo_ns_dispatcher")
    check = submit(building, external_id="call-verify", category="GI0101", description="楼栋旁垃圾堆放")
    check.refresh_from_db()
    if check.status == "pending_dispatch":
        actions.ticket_dispatch(ticket=check, unit=None, actor=dispatcher)
        check.refresh_from_db()
    handler = User.objects.filter(org_unit=check.handling_unit, role="handler").first() or User.objects.get(
        username="demo_sub_handler"
    )
    actions.ticket_accept(ticket=check, actor=handler)
    actions.ticket_reply(ticket=check, actor=handler, reply="已清运完毕。")
    actions.ticket_review(ticket=check, actor=dispatcher, approve=True)
    check.refresh_from_db()
    assert check.status == "verifying"
    login(page, base, "demo_grid_worker")
    page.goto(f"{base}/patrol/verify/")
    assert _page_overflow(page) <= 1
    table = page.get_by_test_id("verify-table")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")
    passed = page.get_by_test_id("verify-yes")
    box = passed.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"], box
    assert check.number in table.inner_text()
    shot(page, tmp_path, "verify-phone")
