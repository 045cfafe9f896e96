# ruff: noqa: F811 (fixtures imported from test_indicator_figures)
"""A leader's walkthrough of the analytics pages (browser review, 2026-11-27): the sub-navigation
marks the page it is on, the dashboard's hint opens the indicators of the same place, the
indicators page keeps its sort across drill-down, breadcrumb and period, shows the period it
shows in its menu, and orders tied rows by code in both directions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.analytics.test_indicator_figures import nanshan_figures  # noqa: F401
from zhiwang.analytics.selectors.figures import Figure, FigureRow, sort_rows

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"


def test_tied_rows_keep_the_code_order_in_both_directions():
    rows = [
        FigureRow(kind="unit", pk=i, code=code, name=code, figures={"response_rate": Figure(n, 4)})
        for i, (code, n) in enumerate([("C", 3), ("A", 3), ("B", 1), ("D", 4)])
    ]
    rows.append(FigureRow(kind="unit", pk=9, code="0", name="none"))
    assert [r.code for r in sort_rows(rows, "response_rate", descending=True)] == ["D", "A", "C", "B", "0"]
    assert [r.code for r in sort_rows(rows, "response_rate", descending=False)] == ["B", "A", "C", "D", "0"]


def test_the_subnav_marks_the_page_it_is_on(city_leader, client):
    client.force_login(city_leader)
    for name in ("dashboard", "alerts", "index", "indicators", "reports"):
        html = client.get(reverse(f"analytics:{name}")).content.decode()
        nav = re.search(r'<nav class="subnav".*?</nav>', html, re.S).group(0)
        current = re.findall(r'<a href="([^"]*)" aria-current="page">', nav)
        assert current == [reverse(f"analytics:{name}")], name


def test_the_dashboards_hint_opens_the_indicators_of_the_same_place(city_leader, client):
    client.force_login(city_leader)
    html = client.get(reverse("analytics:dashboard"), {"division": NANSHAN}).content.decode()
    link = re.search(r'<a href="([^"]*)" data-testid="indicators-link">', html).group(1)
    assert link == f"{reverse('analytics:indicators')}?division={NANSHAN}"
    city = client.get(reverse("analytics:dashboard")).content.decode()
    assert f'<a href="{reverse("analytics:indicators")}" data-testid="indicators-link">' in city


def test_the_sort_survives_drill_down_breadcrumb_and_period(nanshan_figures, city_leader, client):
    client.force_login(city_leader)
    query = {"division": NANSHAN, "period": "2026-11", "sort": "response_rate", "dir": "asc"}
    html = client.get(reverse("analytics:indicators"), query).content.decode()
    first = nanshan_figures["first"].code
    assert f"?division={first}&amp;period=2026-11&amp;sort=response_rate&amp;dir=asc" in html  # drill
    assert "?division=440300000000&amp;period=2026-11&amp;sort=response_rate&amp;dir=asc" in html  # crumb
    form = re.search(r'<form method="get" class="card filters">.*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="sort" value="response_rate">' in form
    assert '<input type="hidden" name="dir" value="asc">' in form


def test_a_valid_period_without_figures_is_the_one_selected(nanshan_figures, city_leader, client):
    client.force_login(city_leader)
    html = client.get(reverse("analytics:indicators"), {"period": "2026-08"}).content.decode()
    menu = re.search(r'<select name="period".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)" selected>', menu) == ["2026-08"]
    assert '<option value="2026-11"' in menu  # the months with figures are still offered


def test_an_alert_number_in_full_width_digits_opens_that_alert(city_leader, client):
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.analytics.alerts import Finding
    from zhiwang.analytics.services import alert_raise
    from zhiwang.geo.models import Division

    now = timezone.now()
    alert, _created = alert_raise(
        finding=Finding(
            kind="address_cluster",
            key="address:full-width",
            explanation="测试地址：3天内3件，预期0.2",
            window_start=now - timedelta(days=3),
            window_end=now,
            observed=3,
            division_id=Division.objects.get(code=NANSHAN).pk,
        )
    )
    client.force_login(city_leader)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in str(alert.pk))  # "12" → "１２"
    html = client.get(reverse("analytics:alerts"), {"alert": wide}).content.decode()
    assert f'data-testid="alert-{alert.pk}"' in html
    for odd in ("²", "1e3", "-1", "9" * 30):
        html = client.get(reverse("analytics:alerts"), {"alert": odd}).content.decode()
        assert f'data-testid="alert-{alert.pk}"' not in html, odd
