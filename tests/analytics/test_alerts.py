"""Alerts: detectors on the rollups, explanations, de-duplication, decisions, subscriptions, scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from zhiwang.analytics import services
from zhiwang.analytics.alerts import detect_repeat_callers, detect_surges, topic_clusters
from zhiwang.analytics.models import Alert, AlertStatus, AlertSubscription
from zhiwang.analytics.synthetic import evaluate, synthetic_stream
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Category, Notification

START = date(2026, 3, 2)


@pytest.fixture
def stream(db):
    """60 days of synthetic arrivals for 6 Nanshan communities × 3 categories, 4 injected 3× surges."""
    communities = list(
        Division.objects.filter(level="community", code__startswith="440305", special="")
        .order_by("code")
        .values_list("pk", "parent_id")[:6]
    )
    leaves = list(
        Category.objects.filter(children__isnull=True).order_by("code").values_list("pk", flat=True)[:3]
    )
    return synthetic_stream(
        communities=communities,
        categories=leaves,
        start=START,
        days=60,
        seed=2,
        rate_range=(4.0, 6.0),
        surges=4,
        clusters=0,
    )


def _run(stream):
    findings = {}
    day = START + timedelta(days=35)
    while day < stream.end:
        findings[day] = detect_surges(today=day)
        day += timedelta(days=1)
    return findings


@pytest.mark.django_db
def test_surges_are_found_with_an_explanation(stream):
    findings = _run(stream)
    result = evaluate(stream, findings)
    assert result["recall"] >= 0.75 and result["precision"] >= 0.75, result
    finding = next(f for fs in findings.values() for f in fs)
    assert "3天内" in finding.explanation or "3 days" in finding.explanation
    assert finding.observed >= 2 * finding.expected


@pytest.mark.django_db
def test_alerts_are_deduplicated_and_decided(stream, city_leader):
    day = max(i.start for i in stream.injected) + timedelta(days=2)
    first = services.alerts_detect(today=day, kinds=["surge"])
    assert first["created"] >= 1
    again = services.alerts_detect(today=day, kinds=["surge"])
    assert again["created"] == 0 and again["updated"] == first["created"]
    alert = Alert.objects.filter(status=AlertStatus.OPEN).first()
    services.alert_decide(alert_id=alert.pk, user=city_leader, status="handled", note="已安排核查")
    alert.refresh_from_db()
    assert alert.status == "handled" and alert.decided_by == city_leader
    # the same decision again is a no-op; the other one is refused
    services.alert_decide(alert_id=alert.pk, user=city_leader, status="handled")
    with pytest.raises(ServiceError) as error:
        services.alert_decide(alert_id=alert.pk, user=city_leader, status="false")
    assert error.value.code == "analytics.alert_decided"
    with pytest.raises(ServiceError) as error:
        services.alert_decide(alert_id=alert.pk, user=city_leader, status="maybe")
    assert error.value.field == "status"
    # cool-down: a decided series is not raised again at once
    services.alerts_detect(today=day, kinds=["surge"])
    assert not Alert.objects.filter(key=alert.key, status=AlertStatus.OPEN).exists()


@pytest.mark.django_db
def test_alerts_are_scoped(stream, luohu_dispatcher, nanshan_dispatcher):
    day = max(i.start for i in stream.injected) + timedelta(days=2)
    services.alerts_detect(today=day, kinds=["surge"])
    alert = Alert.objects.first()
    assert alert is not None
    from zhiwang.analytics.selectors import alert_list

    assert alert in alert_list(user=nanshan_dispatcher)
    assert not alert_list(user=luohu_dispatcher).exists()
    with pytest.raises(NotFound):
        services.alert_decide(alert_id=alert.pk, user=luohu_dispatcher, status="false")
    alert.refresh_from_db()
    assert alert.status == "open"


@pytest.mark.django_db
def test_subscribed_units_are_told(stream, nanshan_dispatcher):
    sub = services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
    )
    assert (
        services.alert_subscribe(
            user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
        )
        == sub
    )
    with pytest.raises(ServiceError) as error:
        services.alert_subscribe(
            user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440303000000"
        )
    assert error.value.field == "division"
    with pytest.raises(ServiceError) as error:
        services.alert_subscribe(user=nanshan_dispatcher, unit_code="NOPE", division_code="440305000000")
    assert error.value.field == "unit"
    day = max(i.start for i in stream.injected) + timedelta(days=2)
    created = services.alerts_detect(today=day, kinds=["surge"])["created"]
    assert (
        Notification.objects.filter(unit=nanshan_dispatcher.org_unit, kind="analytics_alert").count()
        == created
    )
    assert AlertSubscription.objects.count() == 1


@pytest.mark.django_db
def test_alert_page_mark_handled(stream, city_leader, client):
    day = max(i.start for i in stream.injected) + timedelta(days=2)
    services.alerts_detect(today=day, kinds=["surge"])
    alert = Alert.objects.first()
    client.force_login(city_leader)
    page = client.get(reverse("analytics:alerts"))
    assert page.status_code == 200 and alert.explanation in page.content.decode()
    response = client.post(reverse("analytics:alert_decide", args=[alert.pk]), {"status": "handled"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "handled"
    api = client.get("/api/v1/analytics/alerts", {"status": "handled"}).json()
    assert api[0]["id"] == alert.pk and "/tickets/" in api[0]["link"]


def test_topic_clusters_group_similar_texts():
    texts = [f"某某小区{n}号楼电梯又坏了，困人，物业不修" for n in range(6)] + [
        "路灯不亮",
        "咨询社保转移流程",
        "噪音扰民晚上施工",
    ]
    groups = topic_clusters(texts, min_size=4)
    assert len(groups) == 1 and set(groups[0]) == set(range(6))


@pytest.mark.django_db
def test_repeat_callers_and_reopens(make_ticket, frozen_now):
    for n in range(4):
        make_ticket(external_id=f"again-{n}")
    findings = detect_repeat_callers(today=frozen_now.initial.date())
    assert len(findings) == 1 and findings[0].observed == 4
    assert "13800138000" not in findings[0].explanation  # masked
