"""Alerts: detectors on the rollups, explanations, de-duplication, decisions, subscriptions, scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from zhiwang.analytics import services
from zhiwang.analytics.alerts import (
    detect_address_clusters,
    detect_repeat_callers,
    detect_surges,
    topic_clusters,
)
from zhiwang.analytics.models import Alert, AlertStatus, AlertSubscription
from zhiwang.analytics.synthetic import evaluate, synthetic_stream
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Category, Notification

START = date(2026, 3, 2)
WARMUP = 63


@pytest.fixture
def stream(db):
    """100 days of synthetic arrivals for 6 Nanshan communities × 3 categories, 4 injected 3× surges
    (2–10 days) after a 63-day warm-up (the baseline is 56 days before the longest window)."""
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
        days=100,
        seed=2,
        rate_range=(4.0, 6.0),
        surges=4,
        clusters=0,
        warmup_days=WARMUP,
    )


def _run(stream):
    findings = {}
    day = START + timedelta(days=WARMUP)
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
    days = finding.detail["window_days"]
    assert days in (1, 3, 7)
    assert f"{days}天内" in finding.explanation or f"{days} days" in finding.explanation
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
        Notification.objects.filter(
            recipient__org_unit=nanshan_dispatcher.org_unit, kind="analytics_alert"
        ).count()
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
    assert api["count"] == 1
    assert api["items"][0]["id"] == alert.pk and "/tickets/" in api["items"][0]["link"]


def _series(days: dict[date, int], *, category_index: int = 0) -> tuple[int, int]:
    """Write one (Nanshan community, category) series' daily arrivals straight into the rollups."""
    from zhiwang.analytics.models import RollupFact
    from zhiwang.analytics.rollups import rollup_derive, upsert

    community = Division.objects.filter(level="community", code__startswith="440305", special="").order_by(
        "code"
    )[0]
    subdistrict = community.parent
    category = Category.objects.filter(children__isnull=True).order_by("code")[category_index]
    upsert(
        RollupFact,
        {
            (day, subdistrict.parent_id, subdistrict.pk, community.pk, 0, category.pk, "", "", 0): {
                "received": n
            }
            for day, n in days.items()
            if n
        },
    )
    rollup_derive()
    return community.pk, category.pk


def _flat(first: date, last: date, per_day: int) -> dict[date, int]:
    return {first + timedelta(days=i): per_day for i in range((last - first).days)}


@pytest.mark.django_db
def test_a_week_long_surge_is_seen_by_the_seven_day_window():
    """2 a day for two months, then 6 a day for a week: no single day stands out, the week does."""
    from zhiwang.analytics.alerts import SurgeSettings

    surge = date(2026, 5, 11)
    days = _flat(surge - timedelta(days=60), surge, 2) | _flat(surge, surge + timedelta(days=7), 6)
    community, category = _series(days)
    last = surge + timedelta(days=6)
    # quiet history: nothing is raised before the surge
    for back in range(1, 15):
        assert detect_surges(today=surge - timedelta(days=back)) == []
    # a one-day scan never sees it (6 against 2 a day is within the day-to-day noise), the 1/3/7-day scan does
    assert detect_surges(today=last, settings=SurgeSettings(windows=(1,))) == []
    (finding,) = detect_surges(today=last)
    assert (finding.division_id, finding.category_id, finding.grid_id) == (community, category, None)
    assert finding.detail["window_days"] == 7 and finding.observed == 42
    assert 13 <= finding.expected <= 15
    assert "7天内42件" in finding.explanation or "42 tickets in 7 days" in finding.explanation
    assert finding.window_start.date() == surge and finding.window_end.date() == last + timedelta(days=1)


@pytest.mark.django_db
def test_a_one_day_spike_on_a_large_series_is_seen_by_the_one_day_window():
    spike = date(2026, 5, 14)
    days = _flat(spike - timedelta(days=60), spike + timedelta(days=1), 20)
    days[spike] = 80
    _series(days)
    assert detect_surges(today=spike - timedelta(days=1)) == []
    (finding,) = detect_surges(today=spike)
    assert finding.detail["window_days"] == 1 and finding.observed == 80
    assert "1天内80件" in finding.explanation or "80 tickets in 1 days" in finding.explanation
    assert finding.detail["p_value"] < 0.001


@pytest.mark.django_db
def test_one_alert_per_event_spanning_its_days():
    surge = date(2026, 5, 11)
    days = _flat(surge - timedelta(days=60), surge, 2) | _flat(surge, surge + timedelta(days=7), 6)
    days |= _flat(surge + timedelta(days=7), surge + timedelta(days=12), 2)
    _series(days)
    for offset in range(12):
        services.alerts_detect(today=surge + timedelta(days=offset), kinds=["surge"])
    (alert,) = Alert.objects.all()
    assert alert.window_start.date() <= surge + timedelta(days=4)
    assert alert.window_end.date() >= surge + timedelta(days=7)
    assert alert.detail["window_days"] in (3, 7)


@pytest.mark.django_db
def test_generator_injects_multi_day_surges_and_one_day_spikes_on_large_series():
    from zhiwang.analytics.synthetic import SURGE_DURATIONS

    communities = list(
        Division.objects.filter(level="community", code__startswith="440305", special="")
        .order_by("code")
        .values_list("pk", "parent_id")[:6]
    )
    leaves = list(
        Category.objects.filter(children__isnull=True).order_by("code").values_list("pk", flat=True)[:4]
    )
    stream = synthetic_stream(
        communities=communities,
        categories=leaves,
        start=START,
        days=90,
        seed=3,
        surges=12,
        large_series=3,
        spikes=4,
        clusters=0,
    )
    surges = [i for i in stream.injected if i.kind == "surge"]
    spikes = [i for i in stream.injected if i.kind == "spike"]
    assert len(surges) == 12 and len(spikes) == 4 and len(stream.large) == 3
    assert {i.days for i in surges} <= {d for d, _p in SURGE_DURATIONS}
    assert all(i.days == 1 and (i.node, i.value) in stream.large for i in spikes)
    assert not any((i.node, i.value) in stream.large for i in surges)
    # events of one series never overlap
    by_series = {}
    for item in stream.injected:
        by_series.setdefault((item.node, item.value), []).append(item)
    for items in by_series.values():
        items.sort(key=lambda i: i.start)
        for a, b in zip(items, items[1:], strict=False):
            assert a.start + timedelta(days=a.days) <= b.start
    # per-kind evaluation: no findings → nothing found, no alerts
    result = evaluate(stream, {})
    assert result["by_kind"]["spike"]["injected"] == 4 and result["by_kind"]["surge"]["found"] == 0
    assert result["recall"] == 0 and result["precision"] is None


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


def test_an_address_cluster_counts_a_buildings_rooms_and_names_the_building(make_ticket, nanshan_building):
    """Four households of one block calling once each is a cluster at the block (the old detector,
    per room, saw four addresses with one ticket each); the alert names the block, not a room."""
    from django.utils import timezone

    from zhiwang.geo.models import StandardAddress

    rooms = list(StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code")[:4])
    assert len(rooms) == 4
    made = [make_ticket(address_code=room.code) for room in rooms]
    findings = detect_address_clusters(today=timezone.localdate())
    [finding] = [f for f in findings if f.key == f"address:{nanshan_building.pk}"]
    assert finding.observed == 4 and finding.expected == 0
    assert nanshan_building.full_name in finding.explanation
    assert not any(room.full_name in finding.explanation for room in rooms)
    assert sorted(finding.ticket_ids) == sorted(t.pk for t in made)
    assert finding.division_id == nanshan_building.community_id
    assert not any(f.key == f"address:{room.pk}" for room in rooms for f in findings)


def test_an_address_cluster_needs_more_than_the_buildings_usual_rate(make_ticket, nanshan_building):
    from django.utils import timezone

    from zhiwang.geo.models import StandardAddress

    room = StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code").first()
    now = timezone.now()
    for days_ago in range(4, 28):  # about one a day at the block for the past weeks
        make_ticket(address_code=room.code, received_at=now - timedelta(days=days_ago))
    for _ in range(4):
        make_ticket(address_code=nanshan_building.code)
    keys = {f.key for f in detect_address_clusters(today=timezone.localdate())}
    assert f"address:{nanshan_building.pk}" not in keys  # 4 in 3 days against ~2.6 expected


def test_a_stock_sentence_every_week_is_no_new_topic():
    """``_new_topic``: a cluster whose shared words are as common as before is the callers' framing."""
    from zhiwang.analytics.alerts import _new_topic

    stock = {"安全隐患", "事故"}
    background = [stock | {f"事项{n}"} for n in range(40)] + [{f"其他{n}"} for n in range(280)]
    window = [stock | {f"窗口事项{n}"} for n in range(6)] + [{f"窗口其他{n}"} for n in range(42)]
    # 6 of 48 now, 40 of 320 before: the same share
    assert not _new_topic(window[:6], window, background, ratio=3.0)
    lifts = [{"电梯", "困人", f"楼{n}"} for n in range(6)]
    assert _new_topic(lifts, window + lifts, background, ratio=3.0)  # never before: news
    assert _new_topic(window[:6], window, [], ratio=3.0)  # nothing to compare with: news
    assert _new_topic(window[:6], window, background[:40], ratio=3.0)  # too few texts to tell


@pytest.mark.django_db
def test_topic_alerts_skip_the_stock_sentence_and_find_the_new_matter(make_ticket):
    from django.utils import timezone

    from zhiwang.analytics.alerts import detect_topic_clusters

    now = timezone.now()
    matters = ["路灯", "井盖", "树枝", "广告牌", "围墙", "护栏", "台阶", "雨棚", "水管", "电线"]
    n = 0
    for day in range(4, 32):  # four weeks before the window: every day, the stock sentence 4 times
        for matter in (matters * 2)[day % 10 : day % 10 + 4]:
            n += 1
            make_ticket(
                external_id=f"bg-{n}",
                description=f"小区{matter}松动，存在安全隐患，担心出事故。",
                received_at=now - timedelta(days=day, hours=1),
            )
    for i, matter in enumerate(matters[:6]):  # the window: the same sentence, other matters
        make_ticket(
            external_id=f"stock-{i}",
            description=f"{matter}老化，存在安全隐患，担心出事故。",
            received_at=now - timedelta(hours=2 + i),
        )
    for i in range(6):  # and a new matter
        make_ticket(
            external_id=f"lift-{i}",
            description=f"阳光花园{i + 1}栋电梯突然停运，有人被困电梯里。",
            received_at=now - timedelta(hours=3 + i),
        )
    findings = detect_topic_clusters(today=timezone.localdate(now))
    assert len(findings) == 1, [f.detail["words"] for f in findings]
    assert "电梯" in findings[0].detail["words"]


def test_texts_alike_only_by_a_stock_ending_are_no_topic():
    """Framing words do not make texts alike: six matters ending "想咨询一下具体的办理流程和需要的材料"."""
    matters = ["居住证", "社保转移", "公积金提取", "新生入学", "医保报销", "营业执照"]
    texts = [f"{m}想咨询一下具体的办理流程和需要的材料。" for m in matters]
    assert topic_clusters(texts, min_size=4) == []
    lifts = [f"某某小区{n}号楼电梯又坏了，困人，物业不修" for n in range(6)]
    groups = topic_clusters(texts + lifts, min_size=4)
    assert len(groups) == 1 and set(groups[0]) == set(range(6, 12))
