"""Personal data and scope in analytics: masked alerts, per-user report keys, report files with
dispute figures, safe redirects, unknown filter values (review findings of 2026-11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from zhiwang.analytics import services
from zhiwang.analytics.alerts import detect_repeat_reopens, top_words, topic_clusters
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import Alert, AlertKind, Report
from zhiwang.analytics.services import stored_report_key
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Notification, Ticket

PHONE = "13812345678"
NAME = "王建国"
TOPICS = ("噪音扰民", "电梯故障", "停车难", "垃圾堆放", "路灯不亮", "绿化破坏")


def _texts():
    return [f"{NAME}反映小区{x}，联系电话{PHONE}，请尽快处理" for x in TOPICS]


# --- alerts carry no personal data ---------------------------------------------------------------


def test_topic_words_drop_phones_names_and_numbers():
    texts = _texts() + ["我叫王秀英，身份证440305199001011234，邮箱wang.xy@example.org，小区3栋502"] * 2
    groups = topic_clusters(_texts() + ["完全无关的咨询社保缴费问题", "公交线路调整建议"], min_size=5)
    # alike only by the framing and one caller's name and phone: no topic (a repeated caller is
    # the repeat-caller detector's business; framing words do not make texts alike)
    assert groups == []
    words = top_words(texts, n=20)
    assert words
    for word in words:
        assert not any(ch.isdigit() or ch.isascii() for ch in word), words
        assert "*" not in word
    assert NAME not in words and "秀英" not in words and "王秀英" not in words
    # the same texts always give the same words (the alert key depends on them)
    assert top_words(list(reversed(texts)), n=20) == words


@pytest.mark.django_db
def test_topic_alert_shows_no_phone_or_name(make_ticket, subdistrict_dispatcher, client):
    from zhiwang.analytics.models import AlertSubscription

    AlertSubscription.objects.create(
        unit=subdistrict_dispatcher.org_unit, division=Division.objects.get(code="440305000000")
    )
    # one topic told in overlapping words: the only words all six share are the framing and the
    # name and phone, so a detector counting raw words would put them first
    problems = [
        "噪音扰民",
        "电梯故障",
        "停车困难",
        "垃圾堆放",
        "路灯损坏",
        "绿化破坏",
        "占道经营",
        "油烟污染",
    ]
    for i in range(6):
        make_ticket(
            description=f"{NAME}反映{''.join(problems[i : i + 3])}，联系电话{PHONE}", reporter_phone=PHONE
        )
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["topic_cluster"])
    assert counts["created"] == 1
    alert = Alert.objects.get(kind=AlertKind.TOPIC_CLUSTER)
    stored = " ".join([alert.key, alert.explanation, json.dumps(alert.detail, ensure_ascii=False)])
    assert PHONE not in stored and NAME not in stored and "5678" not in stored
    notes = Notification.objects.filter(kind="analytics_alert")
    assert notes.exists()
    assert not any(PHONE in n.message or NAME in n.message for n in notes)
    client.force_login(subdistrict_dispatcher)
    api = client.get("/api/v1/analytics/alerts").content.decode()
    page = client.get(reverse("analytics:alerts")).content.decode()
    for body in (api, page):
        assert PHONE not in body and NAME not in body
    assert alert.explanation in page
    # found again: the same key (de-duplication), not a second alert
    assert services.alerts_detect(today=timezone.localdate(), kinds=["topic_cluster"])["updated"] == 1
    assert Alert.objects.filter(kind=AlertKind.TOPIC_CLUSTER).count() == 1


@pytest.mark.django_db
def test_alert_raise_masks_whatever_a_detector_wrote(nanshan_dispatcher):
    division = Division.objects.get(code="440305000000")
    now = timezone.now()
    finding = Finding(
        kind=AlertKind.TOPIC_CLUSTER,
        key=f"topic:{PHONE}",
        explanation=f"我叫王秀英，电话 0755 8888 9999，手机{PHONE}",
        window_start=now - timedelta(days=1),
        window_end=now,
        observed=5,
        division_id=division.pk,
        detail={"words": [PHONE, "小区"], "note": "身份证440305199001011234"},
    )
    alert, created = services.alert_raise(finding=finding)
    assert created
    stored = " ".join([alert.key, alert.explanation, json.dumps(alert.detail, ensure_ascii=False)])
    for secret in (PHONE, "88889999", "8888 9999", "王秀英", "440305199001011234"):
        assert secret not in stored, stored
    assert alert.key == "topic:138****5678"
    # masking is deterministic: the same finding updates the same alert
    again = Finding(**{**finding.__dict__, "key": f"topic:{PHONE}", "detail": {}})
    assert services.alert_raise(finding=again) == (alert, False)


@pytest.mark.django_db
def test_repeat_reopen_names_number_and_category_not_title(make_ticket):
    ticket = make_ticket(description=f"我叫王秀英，电话{PHONE}，楼下垃圾桶满了")
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=3)
    ticket.refresh_from_db()
    [finding] = [f for f in detect_repeat_reopens(today=timezone.localdate()) if f.ticket_ids == [ticket.pk]]
    assert ticket.number in finding.explanation and ticket.category.name in finding.explanation
    assert ticket.title[:10] not in finding.explanation
    assert PHONE not in finding.explanation and "王秀英" not in finding.explanation


@pytest.mark.django_db
def test_masking_migration_cleans_old_alerts_and_report_keys(nanshan_dispatcher, hotline):
    from importlib import import_module

    from django.apps import apps

    division = Division.objects.get(code="440305000000")
    now = timezone.now()
    topic = Alert.objects.create(
        kind=AlertKind.TOPIC_CLUSTER,
        key=f"topic:{PHONE}-{NAME}-小区",
        division=division,
        window_start=now - timedelta(days=3),
        window_end=now,
        explanation=f"3天内6件，主题“小区、{NAME}、{PHONE}、噪音”",
        detail={"words": ["小区", NAME, PHONE, "噪音"]},
    )
    reopen = Alert.objects.create(
        kind=AlertKind.REPEAT_REOPEN,
        key="reopen:1",
        division=division,
        window_start=now - timedelta(days=3),
        window_end=now,
        explanation=f"ZW2026112000001“{NAME}反映楼下垃圾”已重办3次",
    )
    note = Notification.objects.create(
        unit=nanshan_dispatcher.org_unit, kind="analytics_alert", message=topic.explanation
    )
    report = Report.objects.create(
        division=division,
        period="2026-10",
        start=datetime(2026, 10, 1).date(),
        end=datetime(2026, 11, 1).date(),
        idempotency_key="monthly",
        requested_by=nanshan_dispatcher,
    )
    # two long keys of one user that differ only at the end stay two keys (no unique clash)
    long_keys = ["k" * 79 + "1", "k" * 79 + "2"]
    for period, key in zip(("2026-08", "2026-09"), long_keys, strict=True):
        Report.objects.create(
            division=division,
            period=period,
            start=datetime(2026, 10, 1).date(),
            end=datetime(2026, 11, 1).date(),
            idempotency_key=key,
            requested_by=nanshan_dispatcher,
        )
    import_module("zhiwang.analytics.migrations.0003_mask_alert_texts").forwards(apps, None)
    topic.refresh_from_db()
    reopen.refresh_from_db()
    note.refresh_from_db()
    report.refresh_from_db()
    assert topic.detail["words"] == ["小区", "噪音"]
    assert topic.key == "topic:小区-噪音"
    assert topic.explanation == "3天内6件，主题“小区、噪音”"
    assert note.message == topic.explanation
    assert reopen.explanation == "ZW2026112000001 已重办3次"
    assert report.idempotency_key == f"u{nanshan_dispatcher.pk}:monthly"
    stored = set(
        Report.objects.filter(period__in=("2026-08", "2026-09")).values_list("idempotency_key", flat=True)
    )
    assert stored == {stored_report_key(nanshan_dispatcher.pk, k) for k in long_keys} and len(stored) == 2
    assert all(len(k) <= 80 for k in stored)


# --- reports --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_report_idempotency_keys_are_per_user(
    nanshan_dispatcher, luohu_dispatcher, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    body = {"period": "2026-10", "idempotency_key": "monthly-2026-10"}
    client.force_login(nanshan_dispatcher)
    first = client.post(
        "/api/v1/analytics/reports", {**body, "division": "440305000000"}, content_type="application/json"
    )
    assert first.status_code == 201
    replay = client.post(
        "/api/v1/analytics/reports", {**body, "division": "440305000000"}, content_type="application/json"
    )
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    client.force_login(luohu_dispatcher)
    other = client.post(
        "/api/v1/analytics/reports", {**body, "division": "440303000000"}, content_type="application/json"
    )
    assert other.status_code == 201, other.content
    assert other.json()["division"] == "440303000000" and other.json()["id"] != first.json()["id"]
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_long_report_keys_differing_at_the_end_are_two_requests(
    nanshan_dispatcher, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(nanshan_dispatcher)
    ids = set()
    for key in ("r" * 78 + "-a", "r" * 78 + "-b"):
        answer = client.post(
            "/api/v1/analytics/reports",
            {"period": "2026-10", "idempotency_key": key, "division": "440305000000"},
            content_type="application/json",
        )
        assert answer.status_code == 201, answer.content
        ids.add(answer.json()["id"])
    assert len(ids) == 2  # cut to 80 characters they were one key: the second caller got the first report


def _steward():
    return get_user_model().objects.get(username="demo_steward")


@pytest.mark.django_db
def test_report_with_disputes_is_not_served_to_a_steward(nanshan_dispatcher, client, settings, tmp_path):
    from openpyxl import load_workbook

    from zhiwang.analytics.selectors import may_see_disputes

    settings.MEDIA_ROOT = tmp_path
    steward = _steward()
    assert not may_see_disputes(steward)
    report, _ = services.report_request(
        user=nanshan_dispatcher, division_code="440305000000", period="2026-10"
    )
    report = services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.includes_disputes
    client.force_login(steward)
    for fmt in ("xlsx", "pdf"):
        url = reverse("analytics:report_download", args=[report.pk, fmt])
        page = client.get(url)
        assert page.status_code == 403
        assert "analytics.report_disputes_not_allowed" in page.content.decode()
        answer = client.get(url, HTTP_ACCEPT="application/json")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "analytics.report_disputes_not_allowed"
    api = client.get(f"/api/v1/analytics/reports/{report.pk}").json()
    assert api["xlsx"] is None and api["pdf"] is None and api["includes_disputes"] is True
    listing = client.get(reverse("analytics:reports")).content.decode()
    assert reverse("analytics:report_download", args=[report.pk, "xlsx"]) not in listing
    # the dispatcher who asked (sees dispute cases) still gets it
    client.force_login(nanshan_dispatcher)
    response = client.get(reverse("analytics:report_download", args=[report.pk, "xlsx"]))
    assert response.status_code == 200
    assert len(load_workbook(BytesIO(b"".join(response.streaming_content))).sheetnames) > 1
    # a steward's own report has no dispute figures: the steward may download it
    own, _ = services.report_request(user=steward, division_code="440305000000", period="2026-09")
    own = services.report_generate(report_id=own.pk)
    own.refresh_from_db()
    assert not own.includes_disputes
    client.force_login(steward)
    assert client.get(reverse("analytics:report_download", args=[own.pk, "xlsx"])).status_code == 200


# --- redirects and filters --------------------------------------------------------------------------


def _alert():
    return Alert.objects.create(
        kind=AlertKind.SURGE,
        key="k1",
        division=Division.objects.get(code="440305000000"),
        window_start=datetime(2026, 1, 1, tzinfo=UTC),
        window_end=datetime(2026, 1, 2, tzinfo=UTC),
        explanation="x",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/x", "javascript:alert(1)"])
def test_alert_decide_never_redirects_off_site(nanshan_dispatcher, client, target):
    alert = _alert()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        reverse("analytics:alert_decide", args=[alert.pk]), {"status": "handled", "next": target}
    )
    assert response.status_code == 302 and response["Location"] == reverse("analytics:alerts")


@pytest.mark.django_db
def test_alert_decide_returns_to_the_list_it_came_from(nanshan_dispatcher, client):
    alert = _alert()
    client.force_login(nanshan_dispatcher)
    back = reverse("analytics:alerts") + "?status=open&kind=surge"
    response = client.post(
        reverse("analytics:alert_decide", args=[alert.pk]), {"status": "handled", "next": back}
    )
    assert response["Location"] == back


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "code"),
    [
        ("/api/v1/analytics/index", {"level": "foo"}, "analytics.level_unknown"),
        ("/api/v1/analytics/alerts", {"status": "foo"}, "analytics.status_unknown"),
        ("/api/v1/analytics/alerts", {"kind": "foo"}, "analytics.kind_unknown"),
    ],
)
def test_unknown_filter_values_are_refused(city_leader, client, url, params, code):
    client.force_login(city_leader)
    response = client.get(url, params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_pages_fall_back_on_unknown_filter_values(city_leader, client):
    client.force_login(city_leader)
    assert client.get(reverse("analytics:alerts"), {"status": "foo"}).status_code == 200
    assert client.get(reverse("analytics:index"), {"level": "foo"}).status_code == 200
    assert client.get("/api/v1/analytics/alerts", {"status": ""}).status_code == 200
