"""Disputes in analytics: the dashboard panel and API (scoped to the viewer), the optional index term."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from zhiwang.analytics.index import governance_index_compute
from zhiwang.analytics.models import GovernanceIndex, IndexFormula, default_weights
from zhiwang.disputes.selectors import dispute_indicators

from .conftest import HISTORY_END


@pytest.fixture
def cases(world, make_case, agreed_case, mediating_case):  # noqa: F811
    """Nanshan: 2 successes (one red: prevented escalation), 1 failure, 1 open; Luohu: 1 open case."""
    from zhiwang.disputes.services import case_close

    ok = agreed_case(amount="3500")
    case_close(case=ok, actor=world.mediator, outcome="success")
    red = agreed_case(amount="1000", risk="red")
    case_close(case=red, actor=world.mediator, outcome="success")
    failed = mediating_case(amount="500")
    case_close(case=failed, actor=world.mediator, outcome="failed")
    make_case(amount="200")
    make_case(division=world.lh_community, actor=world.admin, amount="99999")
    return world


@pytest.mark.django_db
def test_district_viewer_sees_only_their_districts_dispute_figures(cases, client):
    demo = cases
    client.force_login(demo.ns_dispatcher)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["place"]["code"] == "440305000000"
    assert body["received"] == 4 and body["closed"] == 3 and body["success"] == 2
    assert body["success_rate"] == round(2 / 3, 4)
    assert body["prevented_escalation"] == 1
    assert Decimal(body["amount_involved"]) == Decimal("5200")  # Luohu's 99,999 is not in it
    assert Decimal(body["amount_resolved"]) == Decimal("4500")
    # the same figures as the disputes app's own selector
    mine = dispute_indicators(user=demo.ns_dispatcher, division="440305000000")
    assert body["open"] == mine["open"] == 1

    # the links open the ledger narrowed to the place and the window
    link = urlparse(body["links"]["closed"])
    assert link.path == reverse("disputes:ledger")
    query = parse_qs(link.query)
    assert query["division"] == ["440305000000"] and query["status"] == ["closed"]
    assert query["received_from"] == [body["start"]] and query["received_to"] == [body["end"]]
    ledger = client.get(body["links"]["closed"])
    assert ledger.status_code == 200

    # Luohu's dispatcher sees their one case, and cannot ask for Nanshan (same answer as unknown)
    client.force_login(demo.lh_dispatcher)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["received"] == 1 and body["success_rate"] is None
    outside = client.get("/api/v1/analytics/disputes", {"division": "440305000000"})
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "analytics.place_unknown"

    # the city leader sees both districts
    client.force_login(demo.leader)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["received"] == 5 and Decimal(body["amount_involved"]) == Decimal("105199")
    # a window without cases
    past = client.get("/api/v1/analytics/disputes", {"start": "2020-01-01", "end": "2020-01-31"}).json()
    assert past["received"] == 0 and past["success_rate"] is None


@pytest.mark.django_db
def test_dashboard_panel_links_to_the_ledger(cases, client):
    demo = cases
    client.force_login(demo.ns_dispatcher)
    page = client.get(reverse("analytics:dashboard"))
    assert page.status_code == 200
    panel = page.context["disputes"]
    assert panel["received"] == 4 and panel["success_rate"] == round(2 / 3, 4)
    html = page.content.decode()
    assert 'data-testid="disputes-panel"' in html
    assert reverse("disputes:ledger") + "?division=440305000000" in html
    # a subdistrict of Luohu is out of reach for the Nanshan dispatcher: no figures leak
    assert client.get(reverse("analytics:dashboard"), {"division": demo.lh_sub.code}).status_code == 404


@pytest.mark.django_db
def test_data_steward_gets_no_dispute_figures(client):
    from zhiwang.accounts.services import user_create
    from zhiwang.geo.models import Division

    steward = user_create(
        username="t_steward",
        password="pw",
        role="data_steward",
        full_name="数据 管理员",
        jurisdictions=[Division.objects.get(code="440305000000")],
    )
    client.force_login(steward)
    response = client.get("/api/v1/analytics/disputes")
    assert (
        response.status_code == 403 and response.json()["error"]["code"] == "analytics.disputes_not_allowed"
    )
    page = client.get(reverse("analytics:dashboard"))
    assert page.status_code == 200 and page.context["disputes"] is None


@pytest.mark.django_db
def test_index_dispute_term_is_optional_and_weighs_when_set(cases):
    from zhiwang.disputes.models import DisputeCase

    demo = cases
    month = HISTORY_END.date().replace(day=1)
    DisputeCase.objects.update(received_at=HISTORY_END - timedelta(days=2))
    assert default_weights()["dispute_success_rate"] == 0

    # weight 0 (the default): the term is not computed, so nothing changes
    IndexFormula.objects.create(name="默认")
    governance_index_compute(month=month)
    assert not GovernanceIndex.objects.filter(values__has_key="dispute_success_rate").exists()

    # weighted: Nanshan's subdistrict scores its success rate, its community too; Luohu has no closed case
    formula = IndexFormula.objects.create(name="纠纷", weights={"dispute_success_rate": 1}, red_count=1)
    governance_index_compute(month=month, formula=formula)
    sub = GovernanceIndex.objects.get(month=month, division=demo.sub)
    assert sub.values == {"dispute_success_rate": round(2 / 3, 4)}
    assert sub.score == round(100 * 2 / 3, 2) and sub.rank == 1 and sub.standing == "red"
    community = GovernanceIndex.objects.get(month=month, division=demo.community)
    assert community.score == sub.score
    luohu = GovernanceIndex.objects.get(month=month, division=demo.lh_sub)
    assert luohu.score is None and luohu.rank is None  # an open case only: no value, no rank
    # equal to the disputes app's own indicator for that subdistrict and month
    from zhiwang.analytics.index import month_bounds

    start, end = month_bounds(month)
    assert (
        dispute_indicators(user=demo.admin, since=start, until=end, division=demo.sub.code)["success_rate"]
        == sub.values["dispute_success_rate"]
    )
