"""The disputes API: same scoping, masking and errors as the services."""

from __future__ import annotations

import json

import pytest

from tests.disputes.conftest import APPLICANT_ID, parties

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"


def post(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


def test_create_list_and_work_a_case(client, world):
    client.force_login(world.sub_dispatcher)
    body = {
        "facts": "物业费纠纷",
        "category": "property_management",
        "division": world.community.code,
        "parties": parties(),
        "source": "application",
        "idempotency_key": "api-1",
    }
    created = post(client, "/cases", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["parties"][0]["identifier"] != APPLICANT_ID and "*" in data["parties"][0]["identifier"]
    assert post(client, "/cases", body).status_code == 200  # retry
    number = data["number"]
    assert post(client, f"/cases/{number}/assign", {}).json()["status"] == "assigned"
    client.force_login(world.mediator)
    assert post(client, f"/cases/{number}/sessions", {"record": "第一次调解"}).status_code == 201
    bad = post(client, f"/cases/{number}/agreement", {"form": "oral", "terms": "和解"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "disputes.performance_terms_missing"
    good = post(
        client,
        f"/cases/{number}/agreement",
        {"form": "oral", "terms": "和解", "performance_manner": "当场", "performance_deadline": "2099-01-01"},
    )
    assert good.status_code == 201
    closed = post(client, f"/cases/{number}/close", {"outcome": ""})
    assert closed.status_code == 400 and closed.json()["error"]["field"] == "outcome"
    assert post(client, f"/cases/{number}/close", {"outcome": "success"}).json()["status"] == "closed"
    listed = client.get(BASE + "/cases", {"status": "closed"}).json()
    assert [c["number"] for c in listed["items"]] == [number]
    summary = client.get(BASE + "/ledger/summary", {"by": "category"}).json()
    assert summary[0]["key"] == "property_management"
    assert client.get(BASE + "/indicators").json()["success_rate"] == 1.0


def test_missing_parties_and_scoping(client, world, make_case):
    client.force_login(world.sub_dispatcher)
    missing = post(
        client,
        "/cases",
        {
            "facts": "f",
            "category": "other",
            "division": world.community.code,
            "parties": [],
            "source": "grid",
        },
    )
    assert (
        missing.status_code == 400
        and missing.json()["error"]["fields"][0]["code"] == "disputes.parties_missing"
    )
    case = make_case()
    client.force_login(world.lh_dispatcher)
    assert client.get(f"{BASE}/cases/{case.number}").status_code == 404
    assert client.get(BASE + "/cases").json()["count"] == 0
    reveal = post(client, f"/cases/{case.number}/parties/reveal", {"reason": "x"})
    assert reveal.status_code == 404
    client.force_login(world.sub_dispatcher)
    revealed = post(client, f"/cases/{case.number}/parties/reveal", {"reason": "通知"}).json()
    assert APPLICANT_ID in {p["identifier"] for p in revealed}


def test_ticket_to_case_over_the_api(client, world, hotline, nanshan_building):
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="小区停车位被邻居长期占用，协商无果。",
        address_code=nanshan_building.code,
        external_id="api-conv",
        actor=hotline,
    ).ticket
    client.force_login(world.lh_dispatcher)
    outside = post(
        client,
        "/cases/from-ticket",
        {"ticket": ticket.number, "category": "neighbours", "parties": parties()},
    )
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "disputes.ticket_not_found"
    client.force_login(world.sub_dispatcher)
    body = {"ticket": ticket.number, "category": "neighbours", "parties": parties(), "idempotency_key": "k"}
    first = post(client, "/cases/from-ticket", body)
    assert first.status_code == 201 and first.json()["ticket"] == ticket.number
    assert post(client, "/cases/from-ticket", body).status_code == 200
    unknown = post(client, f"/cases/{first.json()['number']}/assign", {"organisation": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "organisation"
    # a role that may not register cases learns nothing of the ticket (not "already a case")
    client.force_login(world.leader)
    refused = post(client, "/cases/from-ticket", {**body, "idempotency_key": "other"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "disputes.forbidden"


def test_visits_queues_and_alerts(client, world, make_case):
    client.force_login(world.window)
    body = {
        "centre": world.centre.pk,
        "area": "peoples_mediation",
        "matter": "邻里纠纷",
        "visitor_name": "王五",
        "visitor_phone": "13800138001",
        "idempotency_key": "api-v1",
    }
    first = post(client, "/visits", body)
    assert first.status_code == 201 and first.json()["visitor_phone"] == "138****8001"
    assert post(client, "/visits", body).status_code == 200
    bad = post(client, "/visits", {**body, "idempotency_key": "api-v2", "visitor_name": ""})
    assert bad.status_code == 400 and bad.json()["error"]["fields"][0]["field"] == "visitor_name"
    queues = {q["area"]["code"]: q for q in client.get(f"{BASE}/centres/{world.centre.pk}/queues").json()}
    assert queues["peoples_mediation"]["waiting"] == 1
    client.force_login(world.lh_window)
    assert post(client, "/visits", {**body, "idempotency_key": "api-v3"}).status_code == 404
    assert client.get(f"{BASE}/centres/{world.centre.pk}/queues").status_code == 404
    make_case(risk="red")
    client.force_login(world.leader)
    alerts = client.get(BASE + "/alerts", {"unread": True}).json()
    assert alerts["count"] == 1 and alerts["items"][0]["kind"] == "red_risk"


def test_court_ruling(client, world, agreed_case):
    from zhiwang.core.errors import ServiceError
    from zhiwang.disputes.services import confirmation_apply, confirmation_result

    case = agreed_case()
    with pytest.raises(ServiceError) as caught:
        confirmation_result(case=case, actor=world.mediator, confirmed=True)
    assert caught.value.code == "disputes.confirmation_not_applied"
    confirmation_apply(case=case, actor=world.mediator, court="南山区人民法院")
    assert (
        confirmation_result(case=case, actor=world.mediator, confirmed=True).confirmation_status
        == "confirmed"
    )
    assert case.events.filter(action="confirmation_result").count() == 1
