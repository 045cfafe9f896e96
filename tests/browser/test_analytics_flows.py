"""Analytics in a real browser: a leader's dashboard (charts drawn, a figure clicked through to
its tickets) and the alert list (mark handled). One test, one city build, to keep the suite fast."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.analytics_data import calls_and_address_alert
from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_leader_dashboard_and_alerts(page, building, tmp_path):  # noqa: F811
    alert = calls_and_address_alert(building, "call")
    base = page.base_url
    login(page, base, "demo_leader")
    page.goto(f"{base}/analytics/")
    page.wait_for_selector("#chart-trend canvas")
    assert page.locator("#chart-categories canvas").count() == 1
    assert page.locator("[data-testid=kpi-received] strong").inner_text() == "3"
    # the map: stepped colours with a legend naming each step's range, and what a click does
    page.wait_for_selector("#map[data-ready='1']")
    legend = page.get_by_test_id("map-legend")
    assert "本期受理工单" in legend.inner_text()
    assert legend.locator("span").first.inner_text().strip() == "0"
    assert "点击区域进入下级看板" in legend.inner_text()
    shot(page, tmp_path, "dashboard")
    page.locator("[data-testid=kpi-open]").click()
    page.wait_for_url("**/tickets/**")
    assert "status=open" in page.url
    shot(page, tmp_path, "tickets-behind")

    # the indicators page from the dashboard's hint (the same place), marked in the sub-navigation
    page.goto(f"{base}/analytics/")
    page.locator("[data-testid=indicators-link]").click()
    page.wait_for_url("**/analytics/indicators/**")
    assert page.locator(".subnav a[aria-current=page]").get_attribute("href") == "/analytics/indicators/"
    # a phone: wide tables scroll inside themselves, the page does not scroll sideways (English
    # words are the wider; the indicators of last month, stored, fill the widest table)
    from zhiwang.analytics.indicator_figures import FIGURE_INDICATORS
    from zhiwang.analytics.models import IndicatorFigure
    from zhiwang.geo.models import Division

    last = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    places = [("city", None)] + [
        ("district", pk) for pk in Division.objects.filter(level="district").values_list("pk", flat=True)
    ]
    IndicatorFigure.objects.bulk_create(
        IndicatorFigure(month=last, group=group, key=key, indicator=name, numerator=3, denominator=4)
        for group, key in places
        for name in FIGURE_INDICATORS
    )
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.set_viewport_size({"width": 390, "height": 800})
    for path in (
        f"/analytics/indicators/?period={last:%Y-%m}",
        "/analytics/",
        "/analytics/index/",
        "/analytics/alerts/",
    ):
        page.goto(f"{base}{path}")
        page.wait_for_load_state()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        # on failure, say which boxes stick out
        wide = page.evaluate(
            "[...document.querySelectorAll('main table, main .card, main section')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))"
        )
        assert overflow <= 1, (path, overflow, wide)
    shot(page, tmp_path, "phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])

    page.goto(f"{base}/analytics/alerts/")
    row = page.locator(f"[data-testid=alert-{alert.pk}]")
    assert "测试地址" in row.inner_text()
    row.locator("[data-testid=mark-handled]").click()
    page.wait_for_load_state()
    alert.refresh_from_db()
    assert alert.status == "handled"
    shot(page, tmp_path, "alerts")
