"""Third analytics walkthrough in a real browser: what only a browser shows. The dashboard's period
form on one line and its error in red on its field; the eight figures four a row; the map's fills
as opaque as the legend's swatches and the legend folded on a phone; the trend straight, from 0,
its cut weeks marked; the kinds' shares inside the ring; the alerts as cards on a phone, and a
false alarm that asks first. One test, one city build."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.analytics_data import calls_and_address_alert
from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}
WIDE = {"width": 1280, "height": 900}


def _option(page, chart_id: str) -> dict:
    return page.evaluate(
        f"""() => {{ const o = echarts.getInstanceByDom(document.getElementById('{chart_id}')).getOption();
        return {{series: o.series.map(s => ({{smooth: s.smooth, label: s.label, data: s.data}})),
                 yAxis: o.yAxis, xAxis: o.xAxis}}; }}"""
    )


def test_dashboard_layout_map_trend_and_alerts(page, building, tmp_path):  # noqa: F811
    alert = calls_and_address_alert(building, "r3-call")
    base = page.base_url
    login(page, base, "demo_leader")
    page.set_viewport_size(WIDE)
    page.goto(f"{base}/analytics/")
    page.wait_for_selector("#map[data-ready='1']")
    page.wait_for_selector("#chart-trend canvas")

    # 6. the period form is one line, not half the screen; the eight figures four a row
    form = page.get_by_test_id("dashboard-form").bounding_box()
    assert form["height"] < 130, form
    tops = page.evaluate(
        "[...document.querySelectorAll('[data-testid=kpis] .kpi')].map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(tops) == 8 and len(set(tops)) == 2 and tops.count(tops[0]) == 4, tops

    # 5. the map: fills as opaque as the legend's swatches, five distinct colours
    fills = page.evaluate(
        "[...document.querySelectorAll('#map path.leaflet-interactive')].map(p => p.getAttribute('fill-opacity'))"
    )
    swatches = page.evaluate(
        "[...document.querySelectorAll('[data-testid=map-legend] i')].map(i => i.style.opacity)"
    )
    assert fills and set(fills) == set(swatches) and float(fills[0]) >= 0.9, (fills, swatches)
    colours = page.evaluate(
        "[...document.querySelectorAll('[data-testid=map-legend] i')].map(i => i.dataset.colour)"
    )
    assert len(colours) == len(set(colours))
    assert page.get_by_test_id("map-legend").evaluate("d => d.open") is True  # open on a wide screen

    # 5. the trend: straight lines (a smoothed curve dipped below 0), the axis from 0
    trend = _option(page, "chart-trend")
    assert all(s["smooth"] is False for s in trend["series"]) and trend["yAxis"][0]["min"] == 0
    # the kinds' shares inside the ring (an outside label was cut on a phone)
    kinds = _option(page, "chart-kinds")
    assert kinds["series"][0]["label"]["position"] == "inside"
    shot(page, tmp_path, "dashboard-1280")

    # 5. a week the period cuts says so on its axis label
    today = timezone.localdate()
    thursday = today - timedelta(days=(today.weekday() - 3) % 7 + 14)
    page.goto(f"{base}/analytics/?start={thursday}&end={thursday + timedelta(days=13)}&by=week")
    page.wait_for_selector("#chart-trend canvas")
    partial = page.evaluate("JSON.parse(document.getElementById('analytics-labels').textContent).partial")
    labels = _option(page, "chart-trend")["xAxis"][0]["data"]
    assert partial in labels[0] and partial in labels[-1] and partial not in labels[1], labels

    # 1. a period it cannot show: the message red under the field, the dates kept, no figures
    page.goto(f"{base}/analytics/?start=2026-11-10&end=2026-11-01")
    error = page.get_by_test_id("period-error")
    assert error.is_visible()
    assert error.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    assert page.locator("#dash-start").input_value() == "2026-11-10"
    assert page.locator("#dash-end").input_value() == "2026-11-01"
    assert page.locator("[data-testid=kpis]").count() == 0
    assert page.get_by_test_id("no-figures").is_visible()
    shot(page, tmp_path, "dashboard-error")

    # 5, 6. a phone: the legend folded to its title, small over the map; figures two a row
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/analytics/")
    page.wait_for_selector("#map[data-ready='1']")
    legend = page.get_by_test_id("map-legend")
    assert legend.evaluate("d => d.open") is False
    box, area = legend.bounding_box(), page.get_by_test_id("map").bounding_box()
    assert box["width"] * box["height"] < 0.15 * area["width"] * area["height"], (box, area)
    legend.locator("summary").click()
    assert legend.evaluate("d => d.open") is True
    tops = page.evaluate(
        "[...document.querySelectorAll('[data-testid=kpis] .kpi')].map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 4, tops
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shot(page, tmp_path, "dashboard-390")

    # 8. the alerts as cards on a phone, each with its place and window; a false alarm asks first
    page.goto(f"{base}/analytics/alerts/")
    row = page.get_by_test_id(f"alert-{alert.pk}")
    assert row.evaluate("r => getComputedStyle(r).display") == "flex"
    assert row.get_by_test_id("alert-place").is_visible() and row.get_by_test_id("alert-window").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shot(page, tmp_path, "alerts-390")
    row.get_by_test_id("mark-false").click()
    page.get_by_test_id("alert-confirm").wait_for()
    alert.refresh_from_db()
    assert alert.status == "open"
    page.get_by_test_id("confirm-false").click()
    page.wait_for_url("**/analytics/alerts/**")
    alert.refresh_from_db()
    assert alert.status == "false"
