"""Dashboard figures from the rollups, scoped to the viewer; the API behind every figure; the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from zhiwang.analytics import selectors
from zhiwang.analytics.models import AddressDay, RollupArea, RollupFact, RollupUnit
from zhiwang.core.errors import NotFound, PermissionDeniedError
from zhiwang.geo.models import Division


@pytest.fixture
def tickets(make_ticket, luohu_building):
    """Three Nanshan complaints (two at the same building) and one Luohu complaint, today."""
    nanshan = [make_ticket() for _ in range(3)]
    luohu = make_ticket(address_code=luohu_building.code, external_id="luohu-1")
    return nanshan, luohu


def _window():
    today = timezone.localdate()
    return today - timedelta(days=6), today + timedelta(days=1)


@pytest.mark.django_db
def test_city_dashboard_counts_everything(tickets, city_leader):
    place = selectors.place_for(user=city_leader)
    assert place.level == "city"
    start, end = _window()
    s = selectors.summary(place=place, start=start, end=end)
    assert s.flows["received"] == 4
    assert s.stocks["open"] == 4
    children = {c["code"]: c for c in selectors.children(place=place, start=start, end=end)}
    assert children["440305000000"]["received"] == 3
    assert children["440303000000"]["received"] == 1
    assert "division=440305000000" in children["440305000000"]["drill"]
    kinds = selectors.breakdown(place=place, start=start, end=end, dim="kind")
    assert kinds[0]["code"] == "complaint" and kinds[0]["value"] == 4
    assert "kind=complaint" in kinds[0]["link"]
    trend = selectors.trend(place=place, start=start, end=end)
    assert len(trend) == 7 and trend[-1]["received"] == 4
    weekly = selectors.trend(place=place, start=start, end=end, by="week")
    assert sum(r["received"] for r in weekly) == 4
    addresses = selectors.recurring_addresses(place=place, start=start, end=end)
    assert addresses and addresses[0]["value"] == 3


@pytest.mark.django_db
def test_dashboards_never_read_tickets(tickets, city_leader, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    place = selectors.place_for(user=city_leader)
    start, end = _window()
    with CaptureQueriesContext(connection) as queries:
        selectors.dashboard(place=place, start=start, end=end)
    assert not [q for q in queries.captured_queries if '"tickets_ticket"' in q["sql"]]


@pytest.mark.django_db
def test_district_dispatcher_sees_only_their_district(tickets, nanshan_dispatcher, luohu_dispatcher):
    place = selectors.place_for(user=nanshan_dispatcher)
    assert place.code == "440305000000"
    start, end = _window()
    assert selectors.summary(place=place, start=start, end=end).flows["received"] == 3
    with pytest.raises(NotFound):
        selectors.place_for(user=nanshan_dispatcher, code="440303000000")  # Luohu
    with pytest.raises(NotFound):
        selectors.place_for(user=luohu_dispatcher, code="440305000000")
    with pytest.raises(NotFound):
        selectors.place_for(user=nanshan_dispatcher, code="440300000000")  # the city


@pytest.mark.django_db
def test_every_level_adds_up(tickets, city_leader, nanshan_community):
    """District → subdistrict → community dashboards: figures, children and stocks agree."""
    start, end = _window()
    subdistrict = nanshan_community.parent
    for code, received in (("440305000000", 3), (subdistrict.code, 3), (nanshan_community.code, 3)):
        place = selectors.place_for(user=city_leader, code=code)
        s = selectors.summary(place=place, start=start, end=end)
        assert s.flows["received"] == received and s.stocks["open"] == received, code
        children = selectors.children(place=place, start=start, end=end)
        assert sum(c["received"] for c in children) == received, code
        assert sum(c["open"] for c in children) == received, code
        assert (
            sum(r["value"] for r in selectors.breakdown(place=place, start=start, end=end, dim="channel"))
            == 3
        )
        assert selectors.unit_table(place=place, start=start, end=end) is not None
        assert selectors.recurring_addresses(place=place, start=start, end=end)[0]["value"] == 3
        assert sum(t["received"] for t in selectors.trend(place=place, start=start, end=end)) == 3


@pytest.mark.django_db
def test_community_dashboard_shows_grids(tickets, city_leader, nanshan_community):
    place = selectors.place_for(user=city_leader, code=nanshan_community.code)
    start, end = _window()
    grids = selectors.children(place=place, start=start, end=end)
    assert sum(g["received"] for g in grids) == 3
    assert all("grid=" in g["link"] for g in grids)
    assert selectors.child_geometry(place=place)["features"]


@pytest.mark.django_db
def test_only_analysts_see_dashboards(grid_worker, citizen, client):
    for user in (grid_worker, citizen):
        with pytest.raises(PermissionDeniedError):
            selectors.place_for(user=user)
    client.force_login(grid_worker)
    assert client.get(reverse("analytics:dashboard")).status_code == 403
    assert client.get("/api/v1/analytics/summary").status_code == 403


@pytest.mark.django_db
def test_dashboard_page(tickets, city_leader, client):
    client.force_login(city_leader)
    response = client.get(reverse("analytics:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="chart-trend"' in html and "analytics-data" in html
    assert reverse("web:ticket_list") in html
    drill = client.get(reverse("analytics:dashboard"), {"division": "440305000000"})
    assert drill.status_code == 200
    assert (
        client.get(reverse("analytics:dashboard"), {"start": "bad"}).status_code == 200
    )  # error shown, defaults used


@pytest.mark.django_db
def test_dashboard_page_hides_other_districts(nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    assert client.get(reverse("analytics:dashboard"), {"division": "440303000000"}).status_code == 404


@pytest.mark.django_db
def test_api_figures(tickets, city_leader, nanshan_dispatcher, client):
    client.force_login(city_leader)
    for path in ("summary", "trend", "children", "units", "addresses", "geometry"):
        response = client.get(f"/api/v1/analytics/{path}")
        assert response.status_code == 200, (path, response.content)
    body = client.get("/api/v1/analytics/summary", {"days": 7}).json()
    assert body["flows"]["received"] == 4 and body["place"]["level"] == "city"
    body = client.get("/api/v1/analytics/breakdown", {"dim": "channel"}).json()
    assert body["rows"][0]["code"] == "hotline"
    bad = client.get("/api/v1/analytics/breakdown", {"dim": "colour"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "analytics.dim_unknown"
    assert bad.json()["error"]["field"] == "dim"
    bad = client.get("/api/v1/analytics/summary", {"start": "2026-01-10", "end": "2026-01-01"})
    assert bad.json()["error"]["code"] == "analytics.window_empty"
    client.force_login(nanshan_dispatcher)
    hidden = client.get("/api/v1/analytics/summary", {"division": "440303000000"})
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "analytics.place_unknown"
    assert client.get("/api/v1/analytics/summary").json()["flows"]["received"] == 3


@pytest.mark.django_db
def test_one_wide_row_per_table_for_a_ticket(make_ticket):
    ticket = make_ticket()
    fact = RollupFact.objects.get()
    assert (fact.district_id, fact.subdistrict_id, fact.community_id, fact.grid_id) == (
        ticket.district_id,
        ticket.subdistrict_id,
        ticket.community_id,
        ticket.grid_id,
    )
    assert (fact.category_id, fact.channel, fact.kind) == (ticket.category_id, ticket.channel, ticket.kind)
    assert fact.received == 1 and fact.open == 1 and fact.closed == 0
    assert RollupArea.objects.get().received == 1
    assert RollupUnit.objects.count() == 1
    assert AddressDay.objects.get().address_id == ticket.address_id
    assert Division.objects.filter(level="city").exists()


@pytest.mark.django_db
def test_a_past_window_shows_the_stock_at_its_end(tickets, city_leader, dispatched, handler):
    """Open stock of a window that ended yesterday excludes today's arrivals."""
    place = selectors.place_for(user=city_leader)
    today = timezone.localdate()
    past = selectors.summary(place=place, start=today - timedelta(days=7), end=today)
    assert past.flows["received"] == 0 and past.stocks["open"] == 0
    now = selectors.summary(place=place, start=today - timedelta(days=7), end=today + timedelta(days=1))
    assert now.stocks["open"] == 4


@pytest.mark.django_db
def test_totals_from_the_unit_table_equal_the_area_table(history, city_leader):
    """Totals, trend and children read ``RollupUnit`` (fewer rows): the same sums as ``RollupArea``."""
    from django.db.models import Sum

    from zhiwang.analytics.rollups import rollup_catch_up
    from zhiwang.analytics.selectors.metrics import FLOW_METRICS

    from .conftest import HISTORY_END

    rollup_catch_up()  # the sweep's bulk rows (urges, warnings)
    end = HISTORY_END.date() + timedelta(days=1)
    start = end - timedelta(days=30)
    window = {"day__gte": start, "day__lt": end}
    nanshan = Division.objects.get(code="440305000000")
    for division, where in ((Division.objects.get(level="city"), {}), (nanshan, {"district_id": nanshan.pk})):
        place = selectors.Place(division)
        area = RollupArea.objects.filter(**where, **window)
        expected = area.aggregate(**{m: Sum(m) for m in FLOW_METRICS})
        assert expected["received"], division.code
        if division.level == "city":
            assert expected["closed"] and expected["dispatched"], "history too thin"
        flows = selectors.summary(place=place, start=start, end=end).flows
        assert flows == {m: expected[m] or 0 for m in FLOW_METRICS}, division.code
        per_day = dict(area.order_by().values_list("day").annotate(n=Sum("received")))
        assert {t["period"]: t["received"] for t in selectors.trend(place=place, start=start, end=end)} == {
            day: per_day.get(day, 0) for day in (start + timedelta(days=i) for i in range(30))
        }
        group = "district_id" if division.level == "city" else "subdistrict_id"
        per_child = dict(area.order_by().values_list(group).annotate(n=Sum("closed")))
        codes = dict(Division.objects.filter(parent=division).values_list("code", "pk"))
        for child in selectors.children(place=place, start=start, end=end):
            if child.get("unlocated"):  # the tickets in none of the children
                outside = sum(n or 0 for pk, n in per_child.items() if pk not in codes.values())
                assert child["closed"] == outside, division.code
                continue
            assert child["closed"] == (per_child.get(codes[child["code"]]) or 0), child["code"]
