# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""A decided alert can be reopened: a false alarm clicked by mistake silenced the problem's alerts
for good (the detectors do not raise again on the tickets a decision was made on), and the page
said only that a decision was final.

Reopening keeps the decision it takes back (``detail["reopened"]``), is refused for an alert the
detectors resolved and while a newer alert of the same problem is open (one open alert per key),
and stays inside the reader's jurisdiction."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.tickets.conftest import (  # noqa: F401 (fixtures reused as they are)
    hotline,
    make_ticket,
    nanshan_building,
)
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


def _alert(key="reopen-1", status=AlertStatus.OPEN, code="440305000000"):
    return Alert.objects.create(
        kind=AlertKind.SURGE,
        key=key,
        status=status,
        division=Division.objects.get(code=code),
        window_start=datetime(2026, 11, 3, tzinfo=TZ),
        window_end=datetime(2026, 11, 6, tzinfo=TZ),
        observed=9,
        explanation="surge",
    )


def test_a_false_alarm_is_reopened_from_the_list_and_its_decision_kept(client, nanshan_dispatcher):
    alert = _alert()
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    url = reverse("analytics:alert_decide", args=[alert.pk])
    client.post(url, {"status": "false", "note": "查无此事", "confirm": "1"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FALSE

    page = client.get(reverse("analytics:alerts"), {"status": ""}).content.decode()
    assert 'data-testid="reopen"' in page and "can be reopened" in page

    done = client.post(url, {"status": "open", "next": "/analytics/alerts/"}, follow=True)
    assert "Alert reopened." in done.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert (alert.decided_by, alert.decided_at, alert.decision_note) == (None, None, "")
    [trail] = alert.detail["reopened"]
    assert trail["was"] == "false" and trail["decision_note"] == "查无此事"
    assert trail["decided_by"] == nanshan_dispatcher.pk and trail["by"] == nanshan_dispatcher.pk
    # open again: the list offers the decisions, not the reopen
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert 'data-testid="mark-false"' in page and 'data-testid="reopen"' not in page
    # reopening an open alert changes nothing (idempotent)
    client.post(url, {"status": "open"})
    alert.refresh_from_db()
    assert len(alert.detail["reopened"]) == 1


def test_not_while_a_newer_alert_of_the_problem_is_open(client, nanshan_dispatcher):
    old = _alert(status=AlertStatus.HANDLED)
    newer = _alert()  # the same key, raised after the decision
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/api/v1/analytics/alerts/{old.pk}/decide",
        data=json.dumps({"status": "open"}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "analytics.alert_reopen_conflict"
    old.refresh_from_db(), newer.refresh_from_db()
    assert (old.status, newer.status) == (AlertStatus.HANDLED, AlertStatus.OPEN)


def test_not_one_the_detectors_resolved(client, nanshan_dispatcher):
    alert = _alert(status=AlertStatus.RESOLVED)
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/api/v1/analytics/alerts/{alert.pk}/decide",
        data=json.dumps({"status": "open"}),
        content_type="application/json",
    )
    assert (
        response.status_code == 409 and response.json()["error"]["code"] == "analytics.alert_not_reopenable"
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_the_api_reopens_and_answers_the_open_alert(client, nanshan_dispatcher):
    alert = _alert(status=AlertStatus.FALSE)
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/api/v1/analytics/alerts/{alert.pk}/decide",
        data=json.dumps({"status": "open", "note": "又有来电"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "open"
    alert.refresh_from_db()
    assert alert.detail["reopened"][0]["note"] == "又有来电"


def test_another_district_cannot_reopen_it(client, luohu_dispatcher):
    alert = _alert(status=AlertStatus.FALSE)
    client.force_login(luohu_dispatcher)
    response = client.post(reverse("analytics:alert_decide", args=[alert.pk]), {"status": "open"})
    assert response.status_code == 404
    api = client.post(
        f"/api/v1/analytics/alerts/{alert.pk}/decide",
        data=json.dumps({"status": "open"}),
        content_type="application/json",
    )
    assert api.status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FALSE


def test_a_topic_alert_is_not_reopened_beside_an_open_one_about_its_tickets(
    client, nanshan_dispatcher, make_ticket
):
    """A topic alert's key is its words; an open topic alert about the same tickets under other
    words (or a suffixed key) is the same problem: reopening would make two open alerts of it."""
    from zhiwang.analytics.models import AlertTicket

    tickets = [make_ticket() for _ in range(3)]
    old = _alert(key="topic:噪音 施工", status=AlertStatus.FALSE)
    old.kind = AlertKind.TOPIC_CLUSTER
    old.save()
    newer = _alert(key="topic:夜间 施工 噪音")
    newer.kind = AlertKind.TOPIC_CLUSTER
    newer.save()
    AlertTicket.objects.bulk_create(
        [AlertTicket(alert=old, ticket=t) for t in tickets] + [AlertTicket(alert=newer, ticket=tickets[0])]
    )
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/api/v1/analytics/alerts/{old.pk}/decide",
        data=json.dumps({"status": "open"}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "analytics.alert_reopen_conflict"
    # once the newer one is decided, the old one may open again
    Alert.objects.filter(pk=newer.pk).update(status=AlertStatus.HANDLED)
    response = client.post(
        f"/api/v1/analytics/alerts/{old.pk}/decide",
        data=json.dumps({"status": "open"}),
        content_type="application/json",
    )
    assert response.status_code == 200
