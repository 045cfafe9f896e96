"""Alerts as an analyst, a dispatcher and a big screen use them (review of the early-warning flow):
the link behind an alert's count lists its tickets, a decision holds for its evidence, topic
alerts are told apart by their tickets, subscriptions reach people who can open the alert and
can be listed and removed, the API filters and pages, surge texts match their window, alerts
close by themselves, and explanations are read in the reader's language."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.analytics.test_alert_notification_in_scope import _headline
from tests.analytics.test_alerts import _flat, _series
from zhiwang.analytics import selectors, services
from zhiwang.analytics.alerts import detect_surges
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus, AlertSubscription
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division, StandardAddress
from zhiwang.tickets.models import Notification, Ticket

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
NOISE = [
    "工地晚上施工噪音扰民，影响休息",
    "工地晚上施工噪音扰民，影响居民休息",
    "工地晚上施工噪音扰民，严重影响休息",
    "附近工地晚上施工噪音扰民，影响休息",
    "工地晚上施工噪音扰民，无法休息",
]


def listed(client, link) -> int:
    """How many tickets the web list shows under ``link`` (no filter error allowed)."""
    response = client.get(link)
    assert response.status_code == 200, response.status_code
    assert not response.context["form"].errors, response.context["form"].errors
    return response.context["page"].paginator.count


def other_building(building):
    """Another building of the same grid, or else community (its tickets share the alert's place
    and window)."""
    same = StandardAddress.objects.filter(level=building.level).exclude(pk=building.pk).order_by("code")
    return same.filter(grid=building.grid).first() or same.filter(community=building.community).first()


def caller_alert(make_ticket, n=4):
    for i in range(n):
        make_ticket(external_id=f"rc-{i}")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    return Alert.objects.get(kind="repeat_caller", status="open")


def topic_cluster(make_ticket, building, tag):
    return [
        make_ticket(
            description=text,
            address_code=building.code,
            external_id=f"{tag}-{i}",
            reporter_phone=f"13{tag}{i:08d}"[:11],
        )
        for i, text in enumerate(NOISE)
    ]


# --- 1. the link behind an alert's count lists exactly its tickets ---------------------------------


def test_repeat_caller_link_lists_the_callers_tickets_only(
    make_ticket, nanshan_building, frozen_now, client, nanshan_dispatcher
):
    other = other_building(nanshan_building)
    for i in range(3):  # other callers of the same community in the same month
        make_ticket(external_id=f"x-{i}", reporter_phone=f"1390000000{i}", address_code=other.code)
    alert = caller_alert(make_ticket)
    client.force_login(nanshan_dispatcher)
    assert listed(client, selectors.alert_tickets_link(alert)) == alert.observed == 4


def test_address_cluster_link_lists_the_buildings_tickets_only(
    make_ticket, nanshan_building, frozen_now, client, nanshan_dispatcher
):
    rooms = list(StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code")[:4])
    made = [
        make_ticket(address_code=room.code, reporter_phone=f"1370000000{i}") for i, room in enumerate(rooms)
    ]
    for i in range(3):  # located by a point in the same grid (the street in front), no address
        make_ticket(
            external_id=f"y-{i}",
            reporter_phone=f"1390000000{i}",
            address_code="",
            lon=nanshan_building.lon + 0.00005 * (i + 1),
            lat=nanshan_building.lat,
        )
    assert Ticket.objects.filter(address__isnull=True, grid=nanshan_building.grid).count() == 3
    services.alerts_detect(today=timezone.localdate(), kinds=["address_cluster"])
    alert = Alert.objects.get(kind="address_cluster")
    client.force_login(nanshan_dispatcher)
    link = selectors.alert_tickets_link(alert)
    assert listed(client, link) == alert.observed == 4
    assert {t.pk for t in client.get(link).context["page"].object_list} == {t.pk for t in made}


def test_reopen_link_lists_its_one_ticket(make_ticket, frozen_now, client, nanshan_dispatcher):
    ticket = make_ticket()
    for i in range(5):
        make_ticket(external_id=f"z-{i}", reporter_phone=f"1390000000{i}")
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=2)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    alert = Alert.objects.get(kind="repeat_reopen")
    client.force_login(nanshan_dispatcher)
    assert listed(client, selectors.alert_tickets_link(alert)) == 1


def test_topic_link_lists_the_clusters_tickets_only(
    make_ticket, nanshan_building, frozen_now, client, nanshan_dispatcher
):
    for i in range(4):
        make_ticket(external_id=f"o-{i}", reporter_phone=f"1390000000{i}", description=f"路灯{i}号不亮")
    made = topic_cluster(make_ticket, nanshan_building, "5")
    services.alerts_detect(today=timezone.localdate(), kinds=["topic_cluster"])
    alert = Alert.objects.get(kind="topic_cluster")
    assert sorted(alert.ticket_ids) == sorted(t.pk for t in made)
    client.force_login(nanshan_dispatcher)
    assert listed(client, selectors.alert_tickets_link(alert)) == 5


def test_alert_filter_refuses_an_alert_the_viewer_may_not_see(
    make_ticket, frozen_now, client, luohu_dispatcher, nanshan_dispatcher
):
    alert = caller_alert(make_ticket)
    client.force_login(luohu_dispatcher)
    response = client.get(reverse("web:ticket_list"), {"alert": alert.pk})
    assert response.status_code == 200 and "alert" in response.context["form"].errors
    assert response.context["page"].paginator.count == 0
    for value in (alert.pk + 1000, "99999999999999999999", "x"):
        client.force_login(nanshan_dispatcher)
        response = client.get(reverse("web:ticket_list"), {"alert": value})
        assert "alert" in response.context["form"].errors, value
        assert response.context["page"].paginator.count == 0
    # the REST list: the same filter, the same answers
    api = client.get("/api/v1/tickets/", {"alert": alert.pk}).json()
    assert api["count"] == 4 and {t["number"] for t in api["items"]} == set(
        Ticket.objects.filter(pk__in=alert.ticket_ids).values_list("number", flat=True)
    )
    error = client.get("/api/v1/tickets/", {"alert": alert.pk + 1000})
    assert error.status_code == 400 and error.json()["error"]["code"] == "tickets.alert_unknown"
    assert error.json()["error"]["field"] == "alert"
    client.force_login(luohu_dispatcher)
    assert client.get("/api/v1/tickets/", {"alert": alert.pk}).status_code == 400


# --- 2. a decision holds for the evidence it was made on -----------------------------------------------


def test_a_false_alarm_caller_comes_back_only_with_a_new_ticket(make_ticket, frozen_now, nanshan_dispatcher):
    alert = caller_alert(make_ticket)
    services.alert_decide(
        alert_id=alert.pk, user=nanshan_dispatcher, status="false", note="同一户反映不同问题"
    )
    frozen_now(frozen_now.initial + timedelta(days=4))  # past the 3-day cool-down, no new ticket
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    assert counts["suppressed"] == 1 and not Alert.objects.filter(status="open").exists()
    make_ticket(external_id="rc-new")  # new evidence
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    again = Alert.objects.get(status="open")
    assert set(again.ticket_ids) - set(alert.ticket_ids)


def test_a_handled_reopen_comes_back_only_when_reopened_again(make_ticket, frozen_now, nanshan_dispatcher):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=2)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    alert = Alert.objects.get(kind="repeat_reopen")
    services.alert_decide(alert_id=alert.pk, user=nanshan_dispatcher, status="handled")
    frozen_now(frozen_now.initial + timedelta(days=5))
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    assert not Alert.objects.filter(status="open").exists()
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=3)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    assert Alert.objects.get(status="open").observed == 3


@pytest.mark.parametrize("decide_at", [4, 5])
def test_a_handled_surge_is_not_raised_again_for_the_same_days(frozen_now, nanshan_dispatcher, decide_at):
    surge = date(2026, 5, 11)
    days = _flat(surge - timedelta(days=60), surge, 2) | _flat(surge, surge + timedelta(days=7), 6)
    days |= _flat(surge + timedelta(days=7), surge + timedelta(days=20), 2)
    _series(days)
    decided = False
    for offset in range(18):
        today = surge + timedelta(days=offset)
        # the runs after the decision come later in the day: the 3-day cool-down is over on day 3
        frozen_now(datetime(today.year, today.month, today.day, 18 if decided else 12, tzinfo=TZ))
        services.alerts_detect(today=today, kinds=["surge"])
        if offset == decide_at:
            decided = True
            alert = Alert.objects.get(status="open")
            services.alert_decide(alert_id=alert.pk, user=nanshan_dispatcher, status="handled")
    assert Alert.objects.count() == 1


# --- 3. topic alerts are told apart by their tickets ---------------------------------------------------


def test_a_topic_cluster_elsewhere_is_its_own_alert(
    make_ticket, nanshan_building, luohu_building, frozen_now, nanshan_dispatcher, luohu_dispatcher
):
    frozen_now(MON)
    topic_cluster(make_ticket, nanshan_building, "5")
    services.alerts_detect(today=MON.date(), kinds=["topic_cluster"])
    first = Alert.objects.get(kind="topic_cluster")
    frozen_now(MON + timedelta(days=4))
    topic_cluster(make_ticket, luohu_building, "6")
    services.alerts_detect(today=(MON + timedelta(days=4)).date(), kinds=["topic_cluster"])
    first.refresh_from_db()
    assert first.status == "open" and first.division.code.startswith("440305")
    assert selectors.alert_list(user=nanshan_dispatcher).get() == first
    (luohu,) = selectors.alert_list(user=luohu_dispatcher)
    assert luohu.key != first.key and not set(luohu.ticket_ids) & set(first.ticket_ids)
    assert luohu.created_at > first.created_at


def test_a_topic_decided_in_one_district_does_not_silence_another(
    make_ticket, nanshan_building, luohu_building, frozen_now, nanshan_dispatcher, luohu_dispatcher
):
    frozen_now(MON)
    topic_cluster(make_ticket, nanshan_building, "5")
    services.alerts_detect(today=MON.date(), kinds=["topic_cluster"])
    first = Alert.objects.get(kind="topic_cluster")
    frozen_now(MON + timedelta(days=1))
    services.alert_decide(alert_id=first.pk, user=nanshan_dispatcher, status="handled")
    thu = MON + timedelta(days=3)
    frozen_now(thu)
    topic_cluster(make_ticket, luohu_building, "6")
    counts = services.alerts_detect(today=thu.date(), kinds=["topic_cluster"])
    assert counts["created"] == 1
    assert selectors.alert_list(user=luohu_dispatcher).count() == 1


def test_a_growing_topic_cluster_stays_one_alert(make_ticket, nanshan_building, frozen_now):
    frozen_now(MON)
    topic_cluster(make_ticket, nanshan_building, "5")
    services.alerts_detect(today=MON.date(), kinds=["topic_cluster"])
    make_ticket(
        description="工地晚上施工噪音扰民，影响孩子休息", external_id="more", reporter_phone="13512345678"
    )
    counts = services.alerts_detect(today=MON.date(), kinds=["topic_cluster"])
    assert counts["updated"] == 1 and Alert.objects.get().observed == 6


# --- 5. subscriptions reach those who can open the alert -----------------------------------------------


def test_a_unit_nobody_of_which_may_open_alerts_cannot_be_subscribed(nanshan_dispatcher, handler, client):
    """The district's urban-management bureau has handlers only: they could not open an alert."""
    with pytest.raises(ServiceError) as error:
        services.alert_subscribe(
            user=nanshan_dispatcher, unit_code=handler.org_unit.code, division_code="440305000000"
        )
    assert error.value.code == "analytics.unit_cannot_see_alerts" and error.value.field == "unit"
    client.force_login(nanshan_dispatcher)
    response = client.post(
        "/api/v1/analytics/subscriptions",
        data=json.dumps({"unit": handler.org_unit.code, "division": "440305000000"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "analytics.unit_cannot_see_alerts"
    assert not AlertSubscription.objects.exists()


def test_only_units_that_can_open_the_alert_are_told(
    make_ticket, frozen_now, city_leader, nanshan_dispatcher, luohu_dispatcher
):
    for user in (nanshan_dispatcher, luohu_dispatcher):  # the city leader may subscribe any unit
        services.alert_subscribe(user=city_leader, unit_code=user.org_unit.code, division_code="440305000000")
    caller_alert(make_ticket)
    told = set(
        Notification.objects.filter(kind="analytics_alert").values_list("recipient__org_unit_id", flat=True)
    )
    assert told == {nanshan_dispatcher.org_unit_id}  # Luohu's dispatchers cannot open a Nanshan alert


def test_a_reopen_notification_names_its_ticket(make_ticket, frozen_now, nanshan_dispatcher):
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
    )
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=2)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    assert Notification.objects.get(kind="analytics_alert").ticket_id == ticket.pk


# --- 6. subscriptions can be listed and removed; kinds by their names -----------------------------------


def test_subscriptions_are_listed_and_removed_in_the_api(client, nanshan_dispatcher, luohu_dispatcher):
    client.force_login(nanshan_dispatcher)
    body = {"unit": nanshan_dispatcher.org_unit.code, "division": "440305000000", "kinds": ["surge"]}
    post = client.post(
        "/api/v1/analytics/subscriptions", data=json.dumps(body), content_type="application/json"
    )
    assert post.status_code == 201
    again = client.post(
        "/api/v1/analytics/subscriptions", data=json.dumps(body), content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["id"] == post.json()["id"]
    rows = client.get("/api/v1/analytics/subscriptions").json()
    assert [(r["unit"], r["division"], r["kinds"]) for r in rows] == [
        (nanshan_dispatcher.org_unit.code, "440305000000", ["surge"])
    ]
    assert rows[0]["kind_labels"] == [str(AlertKind.SURGE.label)]
    client.force_login(luohu_dispatcher)
    assert client.get("/api/v1/analytics/subscriptions").json() == []
    assert client.delete(f"/api/v1/analytics/subscriptions/{rows[0]['id']}").status_code == 404
    client.force_login(nanshan_dispatcher)
    assert client.delete(f"/api/v1/analytics/subscriptions/{rows[0]['id']}").status_code == 204
    assert client.delete(f"/api/v1/analytics/subscriptions/{rows[0]['id']}").status_code == 404
    assert not AlertSubscription.objects.exists()


def test_the_page_names_kinds_and_removes_subscriptions(client, nanshan_dispatcher):
    sub = services.alert_subscribe(
        user=nanshan_dispatcher,
        unit_code=nanshan_dispatcher.org_unit.code,
        division_code="440305000000",
        kinds=["surge", "repeat_caller"],
    )
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts")).content.decode()
    row = page[page.index(f'data-testid="subscription-{sub.pk}"') :].split("</li>")[0]
    assert "激增" in row and "重复来电" in row and "repeat_caller" not in row.split("<form")[0]
    response = client.post(reverse("analytics:alert_subscribe"), {"remove": sub.pk})
    assert response.status_code == 302 and not AlertSubscription.objects.exists()


# --- 7. the alerts API filters, pages and says what the page says ----------------------------------------


def test_the_alerts_api_honours_division_and_pages(
    make_ticket, luohu_building, frozen_now, client, city_leader
):
    caller_alert(make_ticket)
    for i in range(4):
        make_ticket(external_id=f"lh-{i}", reporter_phone="13911112222", address_code=luohu_building.code)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    client.force_login(city_leader)
    luohu = client.get("/api/v1/analytics/alerts", {"division": "440303000000"}).json()
    assert luohu["count"] == 1 and luohu["items"][0]["division"].startswith("440303")
    every = client.get("/api/v1/analytics/alerts").json()
    assert every["count"] == 2
    second = client.get("/api/v1/analytics/alerts", {"limit": 1, "offset": 1}).json()
    assert [r["id"] for r in second["items"]] == [every["items"][1]["id"]]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert client.get("/api/v1/analytics/alerts", {"start": tomorrow}).json()["count"] == 0
    assert client.get("/api/v1/analytics/alerts", {"division": "999999999999"}).status_code == 404


def test_the_api_and_the_page_show_the_decision(make_ticket, frozen_now, client, nanshan_dispatcher):
    alert = caller_alert(make_ticket)
    client.force_login(nanshan_dispatcher)
    out = client.post(
        f"/api/v1/analytics/alerts/{alert.pk}/decide",
        data=json.dumps({"status": "handled", "note": "已约谈来电人"}),
        content_type="application/json",
    ).json()
    assert out["decided_by"] == nanshan_dispatcher.display_name and out["decided_at"]
    assert out["decision_note"] == "已约谈来电人" and out["created_at"]
    assert out["category"] is None and out["window_days"] == 30
    row = client.get("/api/v1/analytics/alerts", {"status": "handled"}).json()["items"][0]
    assert row["decision_note"] == "已约谈来电人"
    page = client.get(reverse("analytics:alerts"), {"status": "handled"}).content.decode()
    assert "已约谈来电人" in page


def test_the_alerts_page_pages(make_ticket, frozen_now, client, city_leader):
    from zhiwang.analytics.views import ALERTS_PER_PAGE

    now = timezone.now()
    for i in range(ALERTS_PER_PAGE + 3):
        Alert.objects.create(
            kind="repeat_reopen", key=f"reopen:{i}", explanation=f"#{i}", window_start=now, window_end=now
        )
    client.force_login(city_leader)
    first = client.get(reverse("analytics:alerts"))
    assert len(first.context["alerts"]) == ALERTS_PER_PAGE
    assert len(client.get(reverse("analytics:alerts"), {"page": 2}).context["alerts"]) == 3


# --- 8. a widened surge explains its whole span ------------------------------------------------------------


def test_a_widened_surge_explains_its_span():
    surge = date(2026, 5, 11)
    days = _flat(surge - timedelta(days=60), surge, 2) | _flat(surge, surge + timedelta(days=7), 6)
    days |= _flat(surge + timedelta(days=7), surge + timedelta(days=12), 2)
    _series(days)
    for offset in range(7):
        services.alerts_detect(today=surge + timedelta(days=offset), kinds=["surge"])
    alert = Alert.objects.get()
    start = timezone.localtime(alert.window_start).date()
    end = timezone.localtime(alert.window_end).date()
    span = (end - start).days
    assert span > alert.detail["window_days"]  # widened past its latest finding's window
    observed = sum(n for day, n in days.items() if start <= day < end)
    assert alert.observed == observed
    assert f"{span}天内{observed}件" in alert.explanation


# --- 9. alerts close by themselves ---------------------------------------------------------------------------


def test_a_reopen_alert_is_resolved_when_its_ticket_closes(make_ticket, frozen_now, client, city_leader):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=2)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    assert counts["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED and alert.decided_by is None and alert.decided_at
    assert alert.resolution_text
    client.force_login(city_leader)
    page = client.get(reverse("analytics:alerts"), {"status": "resolved"}).content.decode()
    assert alert.resolution_text in page
    # reopened once more: a new alert
    Ticket.objects.filter(pk=ticket.pk).update(status="pending_dispatch", rework_count=3)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    assert Alert.objects.filter(status="open").count() == 1


def test_a_caller_alert_is_resolved_after_its_window_once_its_tickets_are_closed(make_ticket, frozen_now):
    alert = caller_alert(make_ticket)
    later = frozen_now.initial + timedelta(days=31)  # the caller's 30 days are over
    frozen_now(later)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert.refresh_from_db()
    assert alert.status == "open"  # its tickets are still open: a person decides
    Ticket.objects.filter(pk__in=alert.ticket_ids).update(status="closed")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.detail["resolved"] == "tickets_closed"


def test_a_caller_alert_still_found_is_not_resolved(make_ticket, frozen_now):
    alert = caller_alert(make_ticket)
    Ticket.objects.filter(pk__in=alert.ticket_ids).update(status="closed")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert.refresh_from_db()
    assert alert.status == "open"


# --- 10. small expectations ----------------------------------------------------------------------------


def test_small_expectations_keep_a_decimal():
    spike = date(2026, 5, 14)
    days = _flat(spike - timedelta(days=60), spike, 0)
    days[spike] = 6
    days[spike - timedelta(days=30)] = 1
    _series(days)
    (finding,) = detect_surges(today=spike)
    assert "预期0±0" not in finding.explanation and "预期0.1±0.3" in finding.explanation


# --- F3: explanations in the reader's language, stored and told in the city's --------------------------


def test_explanations_are_read_in_the_readers_language(make_ticket, frozen_now, client, nanshan_dispatcher):
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
    )
    with translation.override("en"):  # raised while an English-browsing user triggered the run
        alert = caller_alert(make_ticket)
    alert.refresh_from_db()
    assert alert.explanation == "来电人138****8000：30天内4件"  # stored in the city's language
    note = Notification.objects.get(kind="analytics_alert")
    # inbox messages: the city's language (its kind and place, then the explanation)
    assert note.message == _headline("重复来电", alert.division.display_name, alert.explanation)
    with translation.override("en"):
        assert alert.explanation_text == "Caller 138****8000: 4 tickets in 30 days"
        assert str(alert) == alert.explanation_text
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert "Caller 138****8000: 4 tickets in 30 days" in page and "来电人" not in page
    api = client.get("/api/v1/analytics/alerts").json()["items"][0]
    assert api["explanation"] == "Caller 138****8000: 4 tickets in 30 days"
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert "来电人138****8000：30天内4件" in page


def test_the_admin_shows_explanations_in_the_readers_language(make_ticket, frozen_now, client, admin_user):
    caller_alert(make_ticket)
    client.force_login(admin_user)
    client.cookies["django_language"] = "en"
    page = client.get("/admin/analytics/alert/").content.decode()
    assert "Caller 138****8000: 4 tickets in 30 days" in page


def test_an_alert_stored_before_its_parameters_shows_its_sentence(frozen_now):
    now = timezone.now()
    division = Division.objects.get(code="440305000000")
    alert, _created = services.alert_raise(
        finding=Finding(
            kind="repeat_reopen",
            key="reopen:old",
            explanation="旧的说明",
            window_start=now,
            window_end=now,
            observed=2,
            division_id=division.pk,
        )
    )
    with translation.override("en"):
        assert alert.explanation_text == "旧的说明"


def test_an_alert_is_told_to_the_members_who_may_open_it_with_a_link(
    make_ticket, frozen_now, client, nanshan_dispatcher, luohu_dispatcher
):
    """A unit's inbox is shared: an alert told to the unit reached its handlers too, who cannot open
    it (403), and the message had no way to the alert. Now each member who may open it is told,
    and the notification links to that one alert."""
    from zhiwang.accounts.models import Role, User
    from zhiwang.tickets.notification_selectors import notifications_visible_to

    handler = User.objects.create(
        username="nanshan-center-handler", role=Role.HANDLER, org_unit=nanshan_dispatcher.org_unit
    )
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
    )
    alert = caller_alert(make_ticket)
    note = Notification.objects.get(kind="analytics_alert")
    assert note.recipient_id == nanshan_dispatcher.pk and note.unit_id is None
    assert not notifications_visible_to(handler).filter(kind="analytics_alert").exists()
    assert note.link == f"/analytics/alerts/?alert={alert.pk}"
    client.force_login(nanshan_dispatcher)
    inbox = client.get("/notifications/").content.decode()
    assert (
        f'data-testid="notification-link-{note.pk}"' in inbox and note.link in inbox and "查看预警" in inbox
    )
    assert client.get("/api/v1/notifications/").json()["items"][0]["link"] == note.link
    page = client.get(note.link).content.decode()
    assert f'data-testid="alert-{alert.pk}"' in page and 'data-testid="alert-one"' in page
    client.force_login(luohu_dispatcher)  # another district's link shows nothing
    assert f'data-testid="alert-{alert.pk}"' not in client.get(note.link).content.decode()


def test_a_decided_alert_compares_its_tickets_not_its_count(make_ticket, frozen_now):
    """New evidence is a ticket the decided alert did not count (its whole membership, however
    many; tests/analytics/test_alert_membership.py): a larger count over the same tickets is not
    new, one ticket it did not have is."""
    alert = caller_alert(make_ticket)
    other = make_ticket(external_id="ne-x", reporter_phone="13900000009")
    same = Finding(
        kind="repeat_caller",
        key=alert.key,
        explanation="",
        window_start=alert.window_start,
        window_end=alert.window_end,
        observed=alert.observed + 5,
        ticket_ids=alert.ticket_ids,
    )
    assert not services._new_evidence(same, alert)
    same.ticket_ids = [*alert.ticket_ids, other.pk]
    assert services._new_evidence(same, alert)


def test_an_odd_alert_number_in_the_address_lists_nothing(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    for odd in ("²", "٣", "1e3", "-1", "9" * 30):
        response = client.get("/analytics/alerts/", {"alert": odd})
        assert response.status_code == 200 and 'data-testid="alert-one"' in response.content.decode()
