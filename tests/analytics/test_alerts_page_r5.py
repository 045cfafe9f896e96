"""The alerts page as a leader reads it (walkthrough, round 5): a surge's sentence counts its
tickets' own days and expects as many days; the detection window and the baseline are named as
such; a grid is named once; an address cluster says the building's usual rate, not "expected 0.0";
the alerts of one event link to each other; the buttons are the house's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from zhiwang.analytics import services
from zhiwang.analytics.alerts import detect_address_clusters
from zhiwang.analytics.finding import Finding, explain, local_midnight
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus
from zhiwang.analytics.selectors.alerts import related_alerts
from zhiwang.analytics.surges import grid_place
from zhiwang.core.scoping import scope_of


def _english(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _row(html: str, alert_id: int) -> str:
    start = html.index(f'data-testid="alert-{alert_id}"')
    return html[start : html.index("</tr>", start)]


# --- 1. a surge counts its tickets' days, and expects as many days --------------------------------


@pytest.fixture
def surge_event(make_ticket, frozen_now):
    """8 tickets over 4 days (days 2–5 of a 10-day detection window that ends after them)."""
    today = timezone.localdate()
    window_start = today - timedelta(days=12)
    days = [window_start + timedelta(days=d) for d in (2, 2, 3, 3, 4, 4, 5, 5)]
    tickets = [
        make_ticket(received_at=local_midnight(day) + timedelta(hours=10), external_id=f"surge-{n}")
        for n, day in enumerate(days)
    ]
    first = tickets[0]
    return {
        "tickets": tickets,
        "window_start": window_start,
        "window_end": window_start + timedelta(days=10),
        "first": days[0],
        "last": days[-1],
        "community": first.community_id,
        "category": first.category_id,
    }


def _surge_finding(event) -> Finding:
    detail = {
        "level": "community",
        "p_value": 1e-5,
        "window_days": 7,
        "windows": [1, 3, 7],
        "dispersion_k": 8.0,
        "expected_per_day": 0.25,
        "baseline_days": 56,
        "explain": {
            "place": "高新区社区",
            "category": "噪音污染",
            "observed": 8,
            "days": 10,
            "expected": 2.5,
            "spread": 1.8,
        },
    }
    return Finding(
        kind=AlertKind.SURGE,
        key=f"surge:community:{event['community']}:{event['category']}",
        explanation="",
        window_start=local_midnight(event["window_start"]),
        window_end=local_midnight(event["window_end"]),
        observed=8,
        expected=2.5,
        spread=1.8,
        division_id=event["community"],
        category_id=event["category"],
        detail=detail,
    )


def test_a_surge_counts_its_tickets_own_days_and_expects_as_many(surge_event, city_leader, client):
    """Fails on the old code: "8 tickets in 10 days, expected 2.5 ± 1.8" over the detection window."""
    alert, created = services.alert_raise(finding=_surge_finding(surge_event))
    assert created
    params = alert.detail["explain"]
    first, last = surge_event["first"], surge_event["last"]
    assert (params["first"], params["last"], params["ticket_days"]) == (
        first.isoformat(),
        last.isoformat(),
        4,
    )
    assert params["ticket_expected"] == pytest.approx(1.0)  # 0.25 a day × 4 days
    # the detection window's evidence is kept as it was (the API's window_days reads it)
    assert (params["days"], params["expected"]) == (10, 2.5)
    with translation.override("en"):
        text = explain(AlertKind.SURGE, params)
    span = f"{first:%m-%d} to {last:%m-%d}"
    assert text.startswith(f"高新区社区, 噪音污染: 8 tickets in 4 days ({span}), expected about 1.0 (±")
    assert text.endswith(") over those days")

    html = _english(client, city_leader).get(reverse("analytics:alerts")).content.decode()
    row = _row(html, alert.pk)
    assert f"4 days ({span})" in row
    # the window column: the tickets' days, then the detection window and the baseline, named
    assert f'data-testid="alert-window">{first.isoformat()} – {last.isoformat()}<' in row
    detection = f"{surge_event['window_start'].isoformat()} – {(surge_event['window_end'] - timedelta(days=1)).isoformat()}"
    assert f"detection window {detection}" in row
    assert "baseline: the 56 days before the window" in row


def test_a_one_day_surge_names_its_day(surge_event):
    params = {
        "place": "石龙社区第1网格",
        "category": "工资发放",
        "observed": 9,
        "first": "2026-11-14",
        "last": "2026-11-14",
        "ticket_days": 1,
        "ticket_expected": 0.4,
        "ticket_spread": 0.7,
    }
    with translation.override("en"):
        assert explain(AlertKind.SURGE, params) == (
            "石龙社区第1网格, 工资发放: 9 tickets on 11-14, expected about 0.4 (±0.7) that day"
        )


def test_an_alert_raised_before_the_tickets_days_were_kept_reads_as_before(surge_event, city_leader, client):
    """Old alerts (no ``first``/``ticket_days``): the old sentence and their window, no error."""
    finding = _surge_finding(surge_event)
    alert = Alert.objects.create(
        kind=AlertKind.SURGE,
        key=finding.key,
        explanation="stored",
        window_start=finding.window_start,
        window_end=finding.window_end,
        observed=8,
        expected=2.5,
        spread=1.8,
        division_id=finding.division_id,
        category_id=finding.category_id,
        detail={"window_days": 7, "explain": finding.detail["explain"]},
    )
    with translation.override("en"):
        assert alert.explanation_text == "高新区社区, 噪音污染: 8 tickets in 10 days, expected 2.5 ± 1.8"
    row = _row(_english(client, city_leader).get(reverse("analytics:alerts")).content.decode(), alert.pk)
    assert "8 tickets in 10 days, expected 2.5 ± 1.8" in row
    start, end = surge_event["window_start"], surge_event["window_end"] - timedelta(days=1)
    assert f'data-testid="alert-window">{start.isoformat()} – {end.isoformat()}<' in row
    assert "detection window" not in row


def test_a_reader_who_sees_part_of_a_surge_is_not_told_the_whole_span():
    from zhiwang.analytics.selectors.alerts import alert_explanation

    class Partial:
        kind = AlertKind.SURGE
        tickets_outside = True
        ticket_count = 3
        explanation_text = "stored"
        detail = {
            "explain": {
                "place": "P",
                "category": "C",
                "observed": 8,
                "days": 10,
                "expected": 2.5,
                "spread": 1.8,
                "first": "2026-11-12",
                "last": "2026-11-15",
                "ticket_days": 4,
                "ticket_expected": 1.0,
                "ticket_spread": 1.0,
            }
        }

    with translation.override("en"):
        text = alert_explanation(Partial())
    assert text.startswith("P, C: 3 tickets in 10 days") and "11-12" not in text


# --- 2. places: a grid once, an address once, no "expected 0.0" ---------------------------------------


def test_a_grid_is_named_once():
    """Fails on the old code: "石龙社区居委会 石龙社区第1网格"."""
    assert grid_place("石龙社区居委会", "石龙社区第1网格") == "石龙社区第1网格"
    assert grid_place("石龙社区", "石龙社区第1网格") == "石龙社区第1网格"
    assert grid_place("石龙社区居委会", "第1网格") == "石龙社区 · 第1网格"
    assert grid_place("石龙村委会", "东片网格") == "石龙 · 东片网格"
    assert grid_place("石龙社区居委会", "") == "石龙社区居委会"


def test_an_address_cluster_says_the_usual_rate_not_expected_zero(
    make_ticket, nanshan_building, city_leader, client
):
    """Fails on the old code: "<address>: 4 tickets in 3 days, expected 0.0" in the explanation column,
    beside the same address in the place column."""
    for n in range(4):
        make_ticket(address_code=nanshan_building.code, external_id=f"cluster-{n}")
    [finding] = [
        f
        for f in detect_address_clusters(today=timezone.localdate())
        if f.key == f"address:{nanshan_building.pk}"
    ]
    params = finding.detail["explain"]
    assert params["usual"] == 0 and params["baseline"] == 28 and params["ticket_days"] == 1
    day = params["first"][5:]  # one day: "on 11-28", never "in 1 days"
    with translation.override("en"):
        assert explain(AlertKind.ADDRESS_CLUSTER, params) == (
            f"{nanshan_building.full_name}: 4 tickets on {day} (none in the 28 days before)"
        )
        assert explain(AlertKind.ADDRESS_CLUSTER, params, with_place=False) == (
            f"4 tickets on {day} at this address (none in the 28 days before)"
        )
        assert explain(AlertKind.ADDRESS_CLUSTER, {**params, "usual": 1.07}, with_place=False) == (
            f"4 tickets on {day} at this address (usually about 1.1 a month)"
        )
        several = {**params, "last": "2999-12-31", "ticket_days": 3}
        assert explain(AlertKind.ADDRESS_CLUSTER, several, with_place=False) == (
            "4 tickets in 3 days at this address (none in the 28 days before)"
        )
    alert, _created = services.alert_raise(finding=finding)
    row = _row(_english(client, city_leader).get(reverse("analytics:alerts")).content.decode(), alert.pk)
    assert row.count(nanshan_building.full_name) == 1  # the place column only
    assert "at this address" in row and "expected 0.0" not in row


# --- 3. the alerts of one event link to each other -------------------------------------------------


def _cluster(kind, tickets, key, words=None):
    now = timezone.now()
    params = {"observed": len(tickets), "days": 3}
    if kind == AlertKind.ADDRESS_CLUSTER:
        params.update(address="南山区某楼栋", expected=0.0)
    if kind == AlertKind.REPEAT_CALLER:
        params["phone"] = "138****8000"
    if words:
        params["words"] = words
    return Finding(
        kind=kind,
        key=key,
        explanation="x",
        window_start=now - timedelta(days=3),
        window_end=now + timedelta(hours=1),
        observed=len(tickets),
        score=float(len(tickets)),
        division_id=tickets[0].community_id,
        ticket_ids=[t.pk for t in tickets],
        detail={"explain": params, **({"words": words} if words else {})},
    )


def test_alerts_sharing_tickets_are_related_in_one_query(make_ticket, city_leader, client):
    """Fails on the old code: the cluster, the surge and the topic of one event were unrelated rows."""
    tickets = [make_ticket(external_id=f"event-{n}") for n in range(6)]
    other = [make_ticket(external_id=f"other-{n}") for n in range(3)]
    address, _ = services.alert_raise(finding=_cluster(AlertKind.ADDRESS_CLUSTER, tickets[:5], "address:1"))
    topic, _ = services.alert_raise(
        finding=_cluster(AlertKind.TOPIC_CLUSTER, tickets[2:], "topic:工资", words=["工资", "拖欠"])
    )
    caller, _ = services.alert_raise(finding=_cluster(AlertKind.REPEAT_CALLER, other, "caller:x"))
    # a decided alert of the same tickets long ago is history, not a related alert
    old, _ = services.alert_raise(finding=_cluster(AlertKind.REPEAT_CALLER, tickets[:2], "caller:old"))
    Alert.objects.filter(pk=old.pk).update(
        status=AlertStatus.HANDLED, updated_at=timezone.now() - timedelta(days=60)
    )

    page = list(Alert.objects.filter(pk__in=[address.pk, topic.pk, caller.pk]))
    scope_of(city_leader)  # the reader's scope, worked out once per request by the page's list
    with CaptureQueriesContext(connection) as queries:
        related = related_alerts(user=city_leader, alerts=page)
    assert len(queries) == 1, [q["sql"][:300] for q in queries]
    assert [a.pk for a in related[address.pk]] == [topic.pk]
    assert [a.pk for a in related[topic.pk]] == [address.pk]
    assert related[caller.pk] == []

    html = _english(client, city_leader).get(reverse("analytics:alerts")).content.decode()
    row = _row(html, address.pk)
    link = f'href="{reverse("analytics:alerts")}?alert={topic.pk}"'
    assert "Related alerts:" in row and link in row and f"Cluster on one topic #{topic.pk}" in row
    assert f"?alert={old.pk}" not in row
    assert "Related alerts:" not in _row(html, caller.pk)


def test_related_alerts_are_only_those_the_reader_may_open(make_ticket, city_leader, nanshan_dispatcher):
    tickets = [make_ticket(external_id=f"scoped-{n}") for n in range(5)]
    address, _ = services.alert_raise(finding=_cluster(AlertKind.ADDRESS_CLUSTER, tickets, "address:2"))
    topic_finding = _cluster(AlertKind.TOPIC_CLUSTER, tickets, "topic:x", words=["电梯"])
    topic_finding.division_id = None  # city-wide: city-wide readers only
    topic, _ = services.alert_raise(finding=topic_finding)
    assert [a.pk for a in related_alerts(user=city_leader, alerts=[address])[address.pk]] == [topic.pk]
    assert related_alerts(user=nanshan_dispatcher, alerts=[address])[address.pk] == []


# --- 4. the buttons are the house's ------------------------------------------------------------------


def test_the_alert_buttons_use_the_house_styles(make_ticket, city_leader, client):
    """Fails on the old code: class-less buttons, drawn as the browser's defaults."""
    tickets = [make_ticket(external_id=f"btn-{n}") for n in range(4)]
    alert, _ = services.alert_raise(finding=_cluster(AlertKind.ADDRESS_CLUSTER, tickets, "address:3"))
    html = _english(client, city_leader).get(reverse("analytics:alerts")).content.decode()
    # drawn by analytics.css (web/tickets.css would widen the page on a phone)
    from django.contrib.staticfiles import finders

    css = open(finders.find("analytics/analytics.css"), encoding="utf-8").read()
    assert ".action-form button.secondary" in css and ".action-form button.danger" in css
    assert "web/tickets.css" not in html
    row = _row(html, alert.pk)
    assert 'class="secondary small" data-testid="mark-handled"' in row
    assert 'class="danger small" data-testid="mark-false"' in row
    assert 'class="primary" data-testid="subscribe"' in html
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.HANDLED)
    html = client.get(reverse("analytics:alerts"), {"status": "handled"}).content.decode()
    assert 'class="secondary small" data-testid="reopen"' in html
