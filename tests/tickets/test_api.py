"""The tickets API: submit (201/200), lists, queue, inbox, every action, 409/403/404, public lookup."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import RUBBISH, SANITATION
from zhiwang.tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The public endpoints' rate limits and look-up failure counters live in the cache."""


def post(client, path, body=None, **headers):
    return client.post(f"{URL}{path}", body or {}, content_type="application/json", headers=headers)


def _submit_body(building, **extra):
    return {
        "channel": "hotline",
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区垃圾站满溢，请尽快清运。",
        "address_code": building.code,
        "reporter_name": "林晓",
        "reporter_phone": "13800138000",
        **extra,
    }


# --- submit ----------------------------------------------------------------------


def test_submit_answers_201_then_200_for_the_same_key(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    first = post(api, "/", _submit_body(nanshan_building), **{"Idempotency-Key": "call-0001"})
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["created"] is True
    ticket = body["ticket"]
    assert ticket["status"] == "pending_dispatch" and ticket["version"] == 1
    assert ticket["links"]["self"] == f"{URL}/{ticket['number']}"
    # the answer is short; the whole ticket is one GET away
    assert "timeline" not in ticket and "reporter_phone" not in ticket
    detail = api.get(ticket["links"]["self"]).json()
    assert detail["reporter_phone"] == "138****8000"
    assert detail["suggested_unit"]["code"] == "DEMO-SUB-OFFICE"
    assert [e["action"] for e in detail["timeline"]] == ["receive"]
    assert [e["action"] for e in api.get(ticket["links"]["timeline"]).json()] == ["receive"]
    again = post(api, "/", _submit_body(nanshan_building, external_id="call-0001"))
    assert again.status_code == 200
    assert again.json()["ticket"]["number"] == ticket["number"] and again.json()["created"] is False


def test_submit_names_the_duplicates_the_caller_may_see(
    as_user, hotline, nanshan_dispatcher, make_ticket, luohu_building
):
    # an open complaint in Nanshan and one in Luohu, outside the Nanshan dispatcher's district (a
    # grid worker can no longer file outside their grids: tests/tickets/test_patrol_scope.py)
    inside = make_ticket()
    outside = make_ticket(address_code=luohu_building.code)
    report = {"channel": "hotline", "kind": "complaint", "external_id": "ns-1"}
    answer = post(as_user(nanshan_dispatcher), "/", _submit_body(luohu_building, **report))
    assert answer.status_code == 201, answer.json()
    new = Ticket.objects.get(number=answer.json()["ticket"]["number"])
    assert new.events.get(action="receive").payload["duplicates"] == [outside.number]  # found…
    assert answer.json()["duplicates"] == []  # …but the Luohu twin is not the dispatcher's to see
    answer = post(as_user(hotline), "/", _submit_body(inside.address, external_id="h-9")).json()
    assert [d["number"] for d in answer["duplicates"]] == [inside.number]
    assert set(answer["duplicates"][0]) == {"number", "title", "status", "received_at"}


def test_submit_reports_field_errors_with_stable_codes(as_user, hotline, nanshan_building):
    response = post(as_user(hotline), "/", _submit_body(nanshan_building, kind="gossip", description="短"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "tickets.invalid"
    assert {(f["field"], f["code"]) for f in error["fields"]} == {
        ("kind", "tickets.kind_unknown"),
        ("description", "tickets.description_short"),
    }
    assert not Ticket.objects.filter(description="短").exists()


def test_a_malformed_body_is_422(as_user, hotline):
    response = post(as_user(hotline), "/", {"kind": "complaint", "lon": "east"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"


def test_header_and_body_keys_must_agree(as_user, hotline, nanshan_building):
    response = post(
        as_user(hotline), "/", _submit_body(nanshan_building, external_id="a"), **{"Idempotency-Key": "b"}
    )
    assert response.json()["error"]["code"] == "tickets.idempotency_mismatch"


def test_a_citizen_reports_as_themselves_through_citizen_channels(as_user, citizen, nanshan_building):
    api = as_user(citizen)
    refused = post(api, "/", _submit_body(nanshan_building))  # hotline is a staff channel
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tickets.channel_not_allowed"
    created = post(api, "/", _submit_body(nanshan_building, channel="app"))
    assert created.status_code == 201
    ticket = Ticket.objects.get(number=created.json()["ticket"]["number"])
    assert ticket.reporter == citizen
    detail = api.get(created.json()["ticket"]["links"]["self"]).json()
    assert detail["requests"] == [] and detail["route_explanation"] == ""
    assert all(e["actor"] is None for e in detail["timeline"])


def test_submit_needs_a_sign_in(client, nanshan_building):
    response = post(client, "/", _submit_body(nanshan_building))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"


# --- reads ------------------------------------------------------------------------


def test_the_list_is_scoped_filtered_paginated_and_masked(
    as_user, make_ticket, luohu_building, nanshan_dispatcher
):
    mine = [make_ticket() for _ in range(3)]
    make_ticket(address_code=luohu_building.code)
    api = as_user(nanshan_dispatcher)
    body = api.get(f"{URL}/?limit=2&status=pending_dispatch&ordering=received_at").json()
    assert (
        body["count"]
        == Ticket.objects.visible_to(nanshan_dispatcher).filter(status="pending_dispatch").count()
    )
    assert len(body["items"]) == 2
    assert all(item["division"]["code"].startswith("440305") for item in body["items"])
    assert all("****" in item["reporter_phone"] for item in body["items"])
    filtered = api.get(f"{URL}/?q={mine[0].number}").json()
    assert [i["number"] for i in filtered["items"]] == [mine[0].number]
    bad = api.get(f"{URL}/?ordering=title")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "ordering"


def test_detail_is_404_outside_the_scope(as_user, make_ticket, luohu_building, nanshan_dispatcher):
    luohu = make_ticket(address_code=luohu_building.code)
    response = as_user(nanshan_dispatcher).get(f"{URL}/{luohu.number}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (
        as_user(nanshan_dispatcher)
        .post(f"{URL}/{luohu.number}/dispatch", {}, content_type="application/json")
        .status_code
        == 404
    )


def test_detail_shows_timeline_duplicates_and_my_actions(as_user, make_ticket, nanshan_dispatcher):
    first = make_ticket()
    second = make_ticket()
    body = as_user(nanshan_dispatcher).get(f"{URL}/{second.number}").json()
    assert body["number"] == second.number
    assert [d["number"] for d in body["duplicate_candidates"]] == [first.number]
    assert {"dispatch", "reject", "merge", "note"} <= set(body["allowed_actions"])
    assert "accept" not in body["allowed_actions"]
    assert body["timeline"][0]["actor"] == "王敏"
    duplicates = as_user(nanshan_dispatcher).get(f"{URL}/{second.number}/duplicates").json()
    assert [d["number"] for d in duplicates] == [first.number]


def test_queue_and_inbox(as_user, make_ticket, dispatched, nanshan_dispatcher, sub_handler):
    pending, working = make_ticket(), dispatched()
    queue = as_user(nanshan_dispatcher).get(f"{URL}/queue").json()
    assert pending.number in [t["number"] for t in queue["pending"]]
    assert queue["pending_count"] >= 1 and "breaching" in queue
    inbox = as_user(sub_handler).get(f"{URL}/inbox").json()
    assert [t["number"] for t in inbox["items"]] == [working.number]
    assert inbox["items"][0]["sent_back"] is False


def test_histories(as_user, make_ticket, hotline, nanshan_building):
    earlier = make_ticket(reporter_phone="13912345678")
    api = as_user(hotline)
    callers = api.get(f"{URL}/history/caller?phone=139-1234-5678").json()
    assert [t["number"] for t in callers] == [earlier.number]
    at_address = api.get(f"{URL}/history/address?address_code={nanshan_building.code}").json()
    assert at_address["address"]["code"] == nanshan_building.code
    assert earlier.number in [t["number"] for t in at_address["tickets"]]


def test_citizens_have_no_intake_tools(as_user, citizen):
    assert as_user(citizen).get(f"{URL}/history/caller?phone=13912345678").status_code == 403
    assert as_user(citizen).get(f"{URL}/queue").status_code == 403


def test_catalogue_suggestions_and_units(as_user, nanshan_dispatcher):
    api = as_user(nanshan_dispatcher)
    tree = api.get(f"{URL}/categories?kind=incident").json()
    assert any(c["code"] == RUBBISH and c["is_leaf"] for c in tree)
    suggested = api.get(f"{URL}/categories/suggest", {"text": "井盖丢了很危险", "kind": "incident"}).json()
    assert suggested[0]["code"] == "GI0201" and suggested[0]["score"] == 1.0
    units = api.get(f"{URL}/units?q=城市管理").json()
    assert [u["code"] for u in units["items"]] == ["DEMO-NS-URBAN"]


def test_the_openapi_document_renders(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/tickets/{number}/dispatch" in paths
    assert "/api/v1/tickets/public/lookup" in paths


# --- actions ---------------------------------------------------------------------------


def test_the_whole_loop_over_http(as_user, make_ticket, nanshan_dispatcher, sub_handler, hotline, citizen):
    ticket = make_ticket(reporter=citizen)
    dispatcher = as_user(nanshan_dispatcher)
    body = post(dispatcher, f"/{ticket.number}/dispatch", {"note": "请处理", "expected_version": 1}).json()
    assert (body["status"], body["handling_unit"]["code"], body["version"]) == (
        "dispatched",
        "DEMO-SUB-OFFICE",
        2,
    )
    handler_api = as_user(sub_handler)
    assert (
        post(handler_api, f"/{ticket.number}/accept", {"expected_version": 2}).json()["status"] == "accepted"
    )
    created = post(
        handler_api, f"/{ticket.number}/requests", {"kind": "extension", "reason": "需勘察", "extra_days": 2}
    )
    assert created.status_code == 201 and created.json()["status"] == "pending"
    dispatcher = as_user(nanshan_dispatcher)
    decided = post(
        dispatcher, f"/{ticket.number}/requests/{created.json()['id']}/decide", {"approve": True}
    ).json()
    assert decided["requests"][0]["status"] == "approved"
    assert (
        post(as_user(sub_handler), f"/{ticket.number}/reply", {"reply": "已清运"}).json()["status"]
        == "replied"
    )
    assert post(as_user(nanshan_dispatcher), f"/{ticket.number}/review", {"approve": True}).json()[
        "status"
    ] == ("follow_up")
    closed = post(
        as_user(citizen), f"/{ticket.number}/follow-up", {"resolved": True, "satisfaction": "satisfied"}
    )
    assert closed.json()["status"] == "closed", closed.json()
    assert Ticket.objects.get(pk=ticket.pk).events.get(action="close").payload["by_citizen"] is True


def test_a_stale_version_is_409(as_user, dispatched, sub_handler):
    ticket = dispatched()
    response = post(as_user(sub_handler), f"/{ticket.number}/accept", {"expected_version": 1})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "tickets.version_conflict" and ticket.number in error["message"]
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.DISPATCHED


def test_a_staff_action_by_the_wrong_role_is_403(as_user, make_ticket, handler):
    ticket = make_ticket()
    response = post(as_user(handler), f"/{ticket.number}/dispatch", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "workflow.permission_denied"


def test_an_illegal_transition_is_400(as_user, make_ticket, nanshan_dispatcher):
    ticket = make_ticket()
    response = post(as_user(nanshan_dispatcher), f"/{ticket.number}/review", {"approve": True})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "workflow.illegal_transition"


def test_reassign_urge_supervise_and_notes(as_user, accepted, nanshan_dispatcher, handler):
    ticket = accepted()
    api = as_user(nanshan_dispatcher)
    assert post(api, f"/{ticket.number}/urge", {"note": "尽快"}).json()["escalation_level"] == 1
    refused = post(api, f"/{ticket.number}/supervise", {"note": "督办"})
    assert refused.json()["error"]["code"] == "tickets.not_overdue"
    noted = post(api, f"/{ticket.number}/notes", {"note": "已电话催办"}).json()
    assert noted["timeline"][-1]["note"] == "已电话催办"
    unknown = post(api, f"/{ticket.number}/reassign", {"unit": "NOPE", "note": "x"})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "unit")
    moved = post(api, f"/{ticket.number}/reassign", {"unit": handler.org_unit.code, "note": "属城管"}).json()
    assert moved["handling_unit"]["code"] == handler.org_unit.code and moved["status"] == "dispatched"


def test_suspend_and_resume(as_user, accepted, sub_handler, nanshan_dispatcher):
    ticket = accepted()
    made = post(
        as_user(sub_handler), f"/{ticket.number}/requests", {"kind": "suspension", "reason": "等待鉴定"}
    )
    post(
        as_user(nanshan_dispatcher),
        f"/{ticket.number}/requests/{made.json()['id']}/decide",
        {"approve": True},
    )
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.SUSPENDED
    assert post(as_user(sub_handler), f"/{ticket.number}/resume", {}).json()["status"] == "accepted"


def test_a_request_of_another_ticket_is_404(as_user, accepted, sub_handler, nanshan_dispatcher):
    a, b = accepted(), accepted()
    made = post(
        as_user(sub_handler),
        f"/{a.number}/requests",
        {"kind": "return", "reason": "x", "wrong_dispatch": True},
    )
    response = post(
        as_user(nanshan_dispatcher), f"/{b.number}/requests/{made.json()['id']}/decide", {"approve": True}
    )
    assert response.status_code == 404


def test_merge_reject_and_answer(as_user, make_ticket, hotline):
    master, duplicate, rejected = make_ticket(), make_ticket(), make_ticket()
    inquiry = make_ticket(kind="inquiry")
    api = as_user(hotline)
    merged = post(api, f"/{duplicate.number}/merge", {"master": master.number}).json()
    assert (merged["status"], merged["merged_into"]) == ("merged", master.number)
    nowhere = post(api, f"/{rejected.number}/merge", {"master": "ZW00000000000000"})
    error = nowhere.json()["error"]
    assert (error["code"], error["field"]) == ("tickets.master_invalid", "master")
    assert post(api, f"/{rejected.number}/reject", {"reason": "属信访事项"}).json()["status"] == "rejected"
    assert post(api, f"/{inquiry.number}/answer", {"reply": "请拨打物业电话"}).json()["status"] == "closed"
    transferred = make_ticket()
    missing = post(api, f"/{transferred.number}/transfer", {"target": "调解", "reference": ""})
    assert missing.json()["error"]["field"] == "reference"
    body = post(api, f"/{transferred.number}/transfer", {"target": "调解", "reference": "TJ-9"}).json()
    assert body["status"] == "closed" and body["timeline"][-1]["action"] == "transfer"
    assert (
        as_user(hotline).get(f"{URL}/{master.number}").json()["duplicates"][0]["number"] == duplicate.number
    )


def test_verify_over_http(
    as_user, frozen_now, nanshan_building, grid_worker, nanshan_dispatcher, sub_handler
):
    from zhiwang.tickets import services

    ticket = services.ticket_submit(
        channel="patrol",
        kind="incident",
        category=RUBBISH,
        description="路边垃圾堆积",
        address_code=nanshan_building.code,
    ).ticket
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    body = post(
        as_user(grid_worker), f"/{ticket.number}/verify", {"passed": True, "note": "现场已清理"}
    ).json()
    assert body["status"] == "follow_up"


def test_reveal_contact_is_logged(as_user, dispatched, sub_handler, grid_worker):
    ticket = dispatched()
    refused = post(as_user(grid_worker), f"/{ticket.number}/contact", {"reason": "看看"})
    assert refused.status_code == 403
    shown = post(as_user(sub_handler), f"/{ticket.number}/contact", {"reason": "回电核实"})
    assert shown.json() == {"reporter_name": "林晓", "reporter_phone": "13800138000"}
    timeline = as_user(sub_handler).get(f"{URL}/{ticket.number}/timeline").json()
    assert timeline[-1]["action"] == "reveal_contact" and timeline[-1]["note"] == "回电核实"


def test_bulk_dispatch(as_user, make_ticket, luohu_building, nanshan_dispatcher):
    a, b = make_ticket(), make_ticket()
    elsewhere = make_ticket(address_code=luohu_building.code)
    results = post(
        as_user(nanshan_dispatcher), "/bulk-dispatch", {"numbers": [a.number, b.number, elsewhere.number]}
    ).json()
    assert [(r["number"], r["ok"]) for r in results] == [
        (a.number, True),
        (b.number, True),
        (elsewhere.number, False),
    ]
    assert results[2]["error"]["code"] == "not_found"
    assert Ticket.objects.get(pk=a.pk).handling_unit.code == "DEMO-SUB-OFFICE"


# --- the citizen's public view ---------------------------------------------------------------


def test_public_lookup_and_rating_without_sign_in(client, in_follow_up):
    ticket = in_follow_up()
    wrong = post(client, "/public/lookup", {"number": ticket.number, "phone": "13900000000"})
    assert wrong.status_code == 404
    found = post(client, "/public/lookup", {"number": ticket.number, "phone": "13800138000"}).json()
    assert found["status"] == "follow_up" and found["can_rate"] is True
    assert "reporter_phone" not in found and "id" not in found
    rated = post(
        client,
        "/public/rate",
        {"number": ticket.number, "phone": "13800138000", "resolved": True, "satisfaction": "satisfied"},
    ).json()
    assert rated["status"] == "closed" and rated["can_rate"] is False
    again = post(
        client,
        "/public/rate",
        {"number": ticket.number, "phone": "13800138000", "resolved": True, "satisfaction": "satisfied"},
    )
    assert again.json()["error"]["code"] == "tickets.not_ratable"


def test_public_lookup_is_rate_limited(client, in_follow_up, settings):
    in_follow_up()
    codes = [  # another number each time: the per-address limit, not the per-number one
        post(client, "/public/lookup", {"number": f"ZW2099010100{n:04d}", "phone": "139"}).status_code
        for n in range(31)
    ]
    assert 429 in codes


def test_idempotency_keys_are_per_caller(as_user, hotline, citizen, nanshan_building):
    mine = post(
        as_user(hotline), "/", _submit_body(nanshan_building, channel="api"), **{"Idempotency-Key": "1"}
    )
    theirs = post(
        as_user(citizen), "/", _submit_body(nanshan_building, channel="api"), **{"Idempotency-Key": "1"}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["ticket"]["number"] != theirs.json()["ticket"]["number"]
