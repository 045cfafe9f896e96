"""Review fixes (second round): an alert follows its finding's place, grid-scoped analysts see only
their grids' alerts, odd windows and periods answer 400 instead of 500, the reports page of an
analyst without a jurisdiction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from zhiwang.accounts.models import GridAssignment
from zhiwang.analytics import services
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import Alert, AlertKind, AlertSubscription, Report
from zhiwang.analytics.selectors import alert_list
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.geo.models import Division, Grid
from zhiwang.tickets.models import Notification

NANSHAN = "440305000000"
LUOHU = "440303000000"


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _told(unit) -> int:
    """How many times the unit's people were told of an alert (each alert once, whoever of them read it)."""
    told = Notification.objects.filter(recipient__org_unit=unit, kind="analytics_alert")
    return told.values("link").distinct().count()


# --- 1. an open alert follows its finding to a new place -----------------------------------------


@pytest.mark.django_db
def test_repeat_caller_alert_moves_when_the_calls_spread_to_another_district(
    make_ticket, luohu_building, nanshan_dispatcher, luohu_dispatcher, city_leader
):
    city = Division.objects.get(level="city")
    # the city's command center (its city-wide dispatchers and leaders may open every alert)
    city_unit, nanshan_unit = city_leader.org_unit, nanshan_dispatcher.org_unit
    AlertSubscription.objects.create(unit=city_unit, division=city)
    AlertSubscription.objects.create(unit=nanshan_unit, division=Division.objects.get(code=NANSHAN))
    phone = "13912345678"
    for _ in range(4):
        make_ticket(reporter_phone=phone)
    assert services.alerts_detect(kinds=["repeat_caller"])["created"] == 1
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    assert alert.division.code.startswith("440305")
    assert alert in alert_list(user=nanshan_dispatcher)
    # a city subscription covers every place of the city: told about the Nanshan alert already
    assert _told(nanshan_unit) == 1 and _told(city_unit) == 1

    for _ in range(6):
        make_ticket(reporter_phone=phone, address_code=luohu_building.code)
    assert services.alerts_detect(kinds=["repeat_caller"])["updated"] == 1
    alert.refresh_from_db()
    # Nanshan and Luohu tickets: the alert is city-wide now, no longer Nanshan's
    assert alert.division_id is None and alert.observed == 10 and len(alert.ticket_ids) == 10
    assert alert not in alert_list(user=nanshan_dispatcher)
    assert alert in alert_list(user=city_leader)
    # nobody is told twice (the city subscriber already knew, Nanshan's no longer covers it)
    assert _told(city_unit) == 1 and _told(nanshan_unit) == 1
    services.alerts_detect(kinds=["repeat_caller"])
    assert _told(city_unit) == 1 and _told(nanshan_unit) == 1
    assert Alert.objects.filter(kind=AlertKind.REPEAT_CALLER).count() == 1


def _finding(division_id, grid_id=None, category_id=None, observed=5) -> Finding:
    return Finding(
        kind=AlertKind.TOPIC_CLUSTER,
        key="topic:停水-小区",
        explanation="停水",
        window_start=datetime(2026, 1, 1, tzinfo=UTC),
        window_end=datetime(2026, 1, 4, tzinfo=UTC),
        observed=observed,
        division_id=division_id,
        grid_id=grid_id,
        category_id=category_id,
    )


@pytest.mark.django_db
def test_alert_raise_moves_the_alert_with_its_grid_and_category(luohu_dispatcher, nanshan_dispatcher):
    grid = Grid.objects.filter(community__code__startswith="440305").order_by("code").first()
    luohu = Division.objects.get(code=LUOHU)
    AlertSubscription.objects.create(unit=luohu_dispatcher.org_unit, division=luohu)
    alert, created = services.alert_raise(finding=_finding(grid.community_id, grid.pk))
    assert created and alert.grid_id == grid.pk
    assert _told(luohu_dispatcher.org_unit) == 0

    moved, created = services.alert_raise(finding=_finding(luohu.pk, observed=9))
    assert not created and moved.pk == alert.pk
    moved.refresh_from_db()
    assert (moved.division_id, moved.grid_id, moved.observed) == (luohu.pk, None, 9)
    assert alert_list(user=luohu_dispatcher).filter(pk=alert.pk).exists()
    assert not alert_list(user=nanshan_dispatcher).filter(pk=alert.pk).exists()
    assert _told(luohu_dispatcher.org_unit) == 1


# --- 2. grid-scoped analysts see the alerts of their grids -----------------------------------------


@pytest.mark.django_db
def test_grid_scoped_analyst_sees_only_the_alerts_of_their_grids():
    community = (
        Grid.objects.filter(community__code__startswith=NANSHAN[:6])
        .order_by("community_id")
        .values("community_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .values_list("community_id", flat=True)
        .first()
    )
    mine, other = list(Grid.objects.filter(community_id=community).order_by("code")[:2])
    elsewhere = Division.objects.filter(level="community", code__startswith="440303").first()
    user = get_user_model().objects.create_user(username="grid_only_dispatcher", role="dispatcher")
    GridAssignment.objects.create(grid=mine, user=user, duty="grid_leader")
    user = get_user_model().objects.get(pk=user.pk)

    def alert(key, division_id, grid=None):
        return Alert.objects.create(
            kind=AlertKind.SURGE,
            key=key,
            division_id=division_id,
            grid=grid,
            window_start=datetime(2026, 1, 1, tzinfo=UTC),
            window_end=datetime(2026, 1, 2, tzinfo=UTC),
            explanation=key,
        )

    on_mine = alert("mine", community, mine)
    on_other = alert("other", community, other)
    community_wide = alert("community", community)
    far = alert("far", elsewhere.pk)
    visible = set(Alert.objects.visible_to(user))
    assert visible == {on_mine, community_wide}
    assert on_other not in visible and far not in visible
    with pytest.raises(NotFound):
        services.alert_decide(alert_id=on_other.pk, user=user, status="false")
    on_other.refresh_from_db()
    assert on_other.status == "open"
    # a district dispatcher still sees every alert of the district, grids included
    nanshan = get_user_model().objects.get(username="demo_ns_dispatcher")
    assert {on_mine, on_other, community_wide} <= set(Alert.objects.visible_to(nanshan))


# --- 3. odd windows: 400 on the API, a message on the page -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "code", "field"),
    [
        ("/api/v1/analytics/summary?end=0001-01-05", "analytics.date_invalid", "end"),
        ("/api/v1/analytics/summary?days=999999999", "analytics.window_too_long", "days"),
        ("/api/v1/analytics/summary?days=99999999999", "analytics.window_too_long", "days"),
        ("/api/v1/analytics/summary?days=-99999999999", "analytics.window_empty", "days"),
        ("/api/v1/analytics/summary?start=0001-01-01&end=0001-01-05", "analytics.date_invalid", "start"),
        ("/api/v1/analytics/disputes?start=0001-01-01&end=0001-01-05", "analytics.date_invalid", "start"),
        ("/api/v1/analytics/disputes?end=0001-01-05", "analytics.date_invalid", "end"),
        ("/api/v1/analytics/trend?end=9999-12-31&days=1", "analytics.date_invalid", "end"),
    ],
)
def test_api_refuses_windows_outside_the_calendar(city_leader, url, code, field):
    response = _client(city_leader).get(url)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("start=0001-01-01&end=0001-01-05", "analytics.date_invalid"),
        ("end=0001-01-05", "analytics.date_invalid"),
        ("days=99999999999", "analytics.window_too_long"),
        ("days=%C2%B2", None),  # "²": a digit to str.isdigit, not to int(): the default window
    ],
)
def test_dashboard_page_explains_windows_outside_the_calendar(city_leader, query, code):
    response = _client(city_leader).get(f"{reverse('analytics:dashboard')}?{query}")
    assert response.status_code == 200
    assert [e.code for e in response.context["errors"]] == ([code] if code else [])
    if code:  # a period it cannot show: no figures of another period under the typed dates
        assert response.context["figures"] is None
        assert 'data-testid="default-period"' in response.content.decode()
    else:
        assert (response.context["end"] - response.context["start"]).days == 30


# --- 4 and 5. report periods: only YYYY-MM and YYYY-Qn, stored canonical -------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "period",
    [
        "99999999999999999999-01",
        "2026-Q99999999999999999999",
        "+02026-01",
        "2026-000001",
        "2026-001",
        "0-01",
        "2026-0x1",
        "２０２６-01",
        "9999-01",
        "1969-Q4",
    ],
)
def test_report_periods_outside_the_two_forms_are_refused(city_leader, period):
    response = _client(city_leader).post(
        "/api/v1/analytics/reports", {"division": NANSHAN, "period": period}, content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "analytics.period_invalid"
    assert response.json()["error"]["field"] == "period"
    assert not Report.objects.exists()
    with pytest.raises(ServiceError):
        services.report_period(period)


@pytest.mark.django_db
def test_report_form_with_a_huge_year_shows_the_error(city_leader):
    response = _client(city_leader).post(
        reverse("analytics:reports"), {"division": NANSHAN, "period": "99999999999999999999-01", "token": "t"}
    )
    assert response.status_code == 200
    assert "period" in response.context["errors"]
    assert not Report.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "stored"), [(" 2026-1 ", "2026-01"), ("2026-01", "2026-01"), ("2026-q2", "2026-Q2")]
)
def test_report_periods_are_stored_in_their_canonical_form(city_leader, typed, stored):
    response = _client(city_leader).post(
        "/api/v1/analytics/reports",
        {"division": NANSHAN, "period": typed, "idempotency_key": "k"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content[:300]
    assert response.json()["period"] == stored
    assert Report.objects.get().period == stored
    assert services.report_period(typed) == services.report_period(stored)


def test_report_period_bounds():
    assert services.report_period("2026-1") == (date(2026, 1, 1), date(2026, 2, 1))
    assert services.report_period("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert services.report_period("9998-Q4") == (date(9998, 10, 1), date(9999, 1, 1))
    assert services.report_period_parse("1970-q1") == ("1970-Q1", date(1970, 1, 1), date(1970, 4, 1))


# --- 6. the reports page of an analyst without a jurisdiction -------------------------------------------


@pytest.mark.django_db
def test_reports_page_of_an_analyst_without_jurisdiction_is_not_found_like_the_dashboard():
    lonely = get_user_model().objects.create_user(username="lonely_leader", role="leader")
    client = _client(lonely)
    assert client.get(reverse("analytics:dashboard")).status_code == 404
    assert client.get(reverse("analytics:reports")).status_code == 404
    response = client.post(reverse("analytics:reports"), {"division": NANSHAN, "period": "2026-01"})
    assert response.status_code == 404
    assert not Report.objects.exists()
