"""Fourth analytics walkthrough in a real browser: the alerts table's headers on one line at 1280 px
(地点 and 工单 were one character a line) and, on a phone, the buttons at the end of each card
(they sat between 状态 and 预警时间). One test, one city build."""

from __future__ import annotations

import pytest

from tests.browser.analytics_data import calls_and_address_alert
from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}
WIDE = {"width": 1280, "height": 900}

#: The lines each header's text takes (a text node's client rects: one per line box).
HEADER_LINES = """() => [...document.querySelectorAll('[data-testid=alert-table] thead th')]
    .filter(th => th.textContent.trim())
    .map(th => { const r = document.createRange(); r.selectNodeContents(th);
                 return [th.textContent.trim(), r.getClientRects().length]; })"""


def test_alert_headers_on_one_line_and_buttons_last_on_a_phone(page, building, tmp_path):  # noqa: F811
    alert = calls_and_address_alert(
        building,
        "r4-call",
        # a long explanation, as the detectors write them: it takes the table's width
        explanation="测试地址：3天内3件，预期0.2；主题：噪音、施工、夜间、扰民、投诉、反复、多次、居民" * 2,
    )
    base = page.base_url
    login(page, base, "demo_leader")

    page.set_viewport_size(WIDE)
    page.goto(f"{base}/analytics/alerts/")
    page.get_by_test_id(f"alert-{alert.pk}").wait_for()
    lines = dict(page.evaluate(HEADER_LINES))
    assert lines and all(n == 1 for n in lines.values()), lines
    shot(page, tmp_path, "alerts-1280")

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/analytics/alerts/")
    row = page.get_by_test_id(f"alert-{alert.pk}")
    tops = row.evaluate(
        """r => [...r.children].map(td => [td.dataset.testid || td.className || td.dataset.label,
                                         Math.round(td.getBoundingClientRect().top)])"""
    )
    actions = row.get_by_test_id("alert-actions").bounding_box()
    assert all(actions["y"] >= top - 1 for _name, top in tops), (tops, actions)  # the last line of the card
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shot(page, tmp_path, "alerts-390")
