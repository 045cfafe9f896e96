"""Defects a probe of the live API found: the address history's scope, idempotency keys reused with
other content, and the order of the permission check on the ticket actions."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import RUBBISH, SANITATION
from tests.tickets.test_api import _submit_body
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import StandardAddress
from zhiwang.tickets import selectors
from zhiwang.tickets.models import Ticket, TicketStatus
from zhiwang.tickets.services import ticket_submit
from zhiwang.tickets.services.submit_batch import ticket_submit_many
from zhiwang.tickets.services.submit_queue import queued_submissions_process

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"
HISTORY = f"{URL}/history/address"
#: A code of the form of the demo city's room codes that no address has.
NO_SUCH_CODE = "440303008010-99999"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The queued path's drain flag lives in the cache."""


def post(client, path, body=None, **headers):
    return client.post(f"{URL}{path}", body or {}, content_type="application/json", headers=headers)


# --- 1. the address history answers inside the caller's jurisdiction only -------------------------


def test_the_personas_sit_where_these_tests_assume(
    sub_handler, grid_worker, nanshan_building, luohu_building
):
    for user in (sub_handler, grid_worker):
        visible = StandardAddress.objects.visible_to(user)
        assert visible.filter(pk=nanshan_building.pk).exists()
        assert not visible.filter(pk=luohu_building.pk).exists()


@pytest.mark.parametrize("who", ["sub_handler", "grid_worker"])
def test_a_code_outside_the_jurisdiction_answers_like_one_that_does_not_exist(
    request, as_user, who, make_ticket, luohu_building
):
    make_ticket(address_code=luohu_building.code)  # a Luohu ticket the answer must not hint at
    api = as_user(request.getfixturevalue(who))
    outside = api.get(HISTORY, {"address_code": luohu_building.code})
    missing = api.get(HISTORY, {"address_code": NO_SUCH_CODE})
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["error"]["code"] == "not_found"
    assert outside.json() == missing.json()  # not even a different message
    assert luohu_building.full_name not in outside.content.decode()
    # a text naming a place inside does not rescue an outside code: the code is what was asked
    both = api.get(HISTORY, {"address_code": luohu_building.code, "address_text": "南山区某处"})
    assert both.status_code == 404


@pytest.mark.parametrize("who", ["sub_handler", "grid_worker"])
def test_a_text_naming_an_address_outside_answers_like_one_naming_none(
    request, as_user, who, make_ticket, luohu_building
):
    make_ticket(address_code=luohu_building.code)
    api = as_user(request.getfixturevalue(who))
    outside = api.get(HISTORY, {"address_text": luohu_building.full_name})
    nowhere = api.get(HISTORY, {"address_text": "火星殖民地第九大道"})
    assert outside.status_code == nowhere.status_code == 200
    assert outside.json() == nowhere.json() == {"address": None, "tickets": []}


def test_inside_the_jurisdiction_the_history_still_answers(
    as_user, sub_handler, grid_worker, make_ticket, nanshan_building, nanshan_room
):
    at_room = make_ticket(address_code=nanshan_room.code)
    for user in (sub_handler, grid_worker):
        api = as_user(user)
        by_code = api.get(HISTORY, {"address_code": nanshan_building.code})
        assert by_code.status_code == 200, by_code.json()
        assert by_code.json()["address"] == {
            "code": nanshan_building.code,
            "full_name": nanshan_building.full_name,
        }
        by_text = api.get(HISTORY, {"address_text": nanshan_room.full_name}).json()
        assert by_text["address"]["code"] == nanshan_room.code
    # the tickets are the user's own to see, as before
    found = selectors.address_history(user=sub_handler, address=nanshan_building.code)
    assert [t.pk for t in found.tickets] == [at_room.pk]


def test_the_city_wide_hotline_looks_up_any_address_of_the_city(
    as_user, hotline, city_dispatcher, make_ticket, luohu_building
):
    in_luohu = make_ticket(address_code=luohu_building.code)
    for user in (hotline, city_dispatcher):
        api = as_user(user)
        by_code = api.get(HISTORY, {"address_code": luohu_building.code}).json()
        assert by_code["address"]["full_name"] == luohu_building.full_name
        assert [t["number"] for t in by_code["tickets"]] == [in_luohu.number]
        by_text = api.get(HISTORY, {"address_text": luohu_building.full_name}).json()
        assert by_text["address"]["code"] == luohu_building.code


def test_the_intake_place_panel_shows_no_address_outside_the_jurisdiction(
    client, subdistrict_dispatcher, hotline, luohu_building, nanshan_building
):
    client.force_login(subdistrict_dispatcher)
    outside = client.post("/intake/panels/place/", {"address_text": luohu_building.full_name})
    assert outside.status_code == 200
    assert outside.context["matched_address"] is None and list(outside.context["address_history"]) == []
    assert luohu_building.full_name not in outside.content.decode()
    inside = client.post("/intake/panels/place/", {"address_text": nanshan_building.full_name})
    assert inside.context["matched_address"] == nanshan_building
    client.force_login(hotline)  # the city's 12345 operators keep the whole city
    city = client.post("/intake/panels/place/", {"address_text": luohu_building.full_name})
    assert city.context["matched_address"] == luohu_building


# --- 2. an idempotency key sent again with other content -----------------------------------------


def test_a_key_sent_again_with_other_content_is_422_and_writes_nothing(
    as_user, hotline, nanshan_building, luohu_building
):
    api = as_user(hotline)
    first = post(api, "/", _submit_body(nanshan_building), **{"Idempotency-Key": "k"})
    assert first.status_code == 201, first.json()
    number = first.json()["ticket"]["number"]
    before = Ticket.objects.count()
    for change in (
        {"kind": "suggestion"},
        {"address_code": luohu_building.code},
        {"reporter_phone": "13900139000"},
        {"description": "另一件事：路灯坏了三天。"},
    ):
        other = post(api, "/", _submit_body(nanshan_building, **change), **{"Idempotency-Key": "k"})
        assert other.status_code == 422, (change, other.json())
        error = other.json()["error"]
        assert error["code"] == "tickets.idempotency_key_reused" and error["field"] == "external_id"
        assert number not in error["message"]  # the first ticket is not named
    assert Ticket.objects.count() == before
    ticket = Ticket.objects.get(number=number)
    assert ticket.kind == "complaint" and ticket.reporter_phone == "13800138000"


def test_a_key_sent_again_with_the_same_content_answers_the_first_ticket(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    first = post(api, "/", _submit_body(nanshan_building, external_id="same-1"))
    assert first.status_code == 201
    # the same content, spelled otherwise: cleaned, it is the same submission
    again = post(
        api,
        "/",
        _submit_body(
            nanshan_building,
            reporter_phone="138-0013-8000",
            description="  小区垃圾站满溢，请尽快清运。 ",
        ),
        **{"Idempotency-Key": "same-1"},
    )
    assert again.status_code == 200, again.json()
    assert again.json()["created"] is False
    assert again.json()["ticket"]["number"] == first.json()["ticket"]["number"]


def test_a_ticket_written_before_fingerprints_answers_every_retry(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    first = post(api, "/", _submit_body(nanshan_building, external_id="old-1")).json()
    ticket = Ticket.objects.get(number=first["ticket"]["number"])
    assert len(ticket.idempotency_fingerprint) == 64
    Ticket.objects.filter(pk=ticket.pk).update(idempotency_fingerprint="")  # as the migration left it
    again = post(api, "/", _submit_body(nanshan_building, external_id="old-1", kind="suggestion"))
    assert again.status_code == 200 and again.json()["ticket"]["number"] == ticket.number


def test_a_retry_whose_place_no_longer_resolves_is_compared_too(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    post(api, "/", _submit_body(nanshan_building, external_id="gone-1"))
    other = post(api, "/", _submit_body(nanshan_building, external_id="gone-1", address_code=NO_SUCH_CODE))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "tickets.idempotency_key_reused"


def test_a_batch_refuses_an_item_that_reuses_a_key_with_other_content(client, hotline, nanshan_building):
    client.force_login(hotline)
    base = {
        "channel": "department",
        "kind": "complaint",
        "category": SANITATION,
        "address_code": nanshan_building.code,
    }
    items = [
        {**base, "external_id": "d-1", "description": "小区垃圾站满溢，请尽快清运。"},
        {**base, "external_id": "d-1", "description": "楼道灯坏了，晚上很黑。"},  # same key, other text
        {**base, "external_id": "d-2", "description": "路面有坑，行车危险。"},
        {**base, "external_id": "d-2", "description": "路面有坑，行车危险。"},  # a true repeat
    ]
    body = post(client, "/batch", {"tickets": items}).json()
    assert (body["created"], body["existing"], body["refused"]) == (2, 1, 1)
    first, reused, second, repeat = body["results"]
    assert first["created"] is True and reused["ticket"] is None
    assert reused["error"]["code"] == "tickets.idempotency_key_reused"
    assert reused["error"]["field"] == "external_id"
    assert repeat["created"] is False and repeat["ticket"]["number"] == second["ticket"]["number"]
    written = Ticket.objects.get(idempotency_key=f"department:u{hotline.pk}:d-1")
    assert written.description == "小区垃圾站满溢，请尽快清运。"
    assert not Ticket.objects.filter(description="楼道灯坏了，晚上很黑。").exists()
    # a later batch: the same again is "existing", other content refused, item by item
    later = post(
        client,
        "/batch",
        {
            "tickets": [
                items[0],
                {**items[2], "kind": "suggestion"},
                {**base, "external_id": "d-3", "description": "新的一件事，请处理。"},
            ]
        },
    ).json()
    assert (later["created"], later["existing"], later["refused"]) == (1, 1, 1)
    assert later["results"][1]["error"]["code"] == "tickets.idempotency_key_reused"


def test_a_queued_submission_whose_key_is_a_ticket_with_other_content_is_refused_on_its_receipt(
    as_user, hotline, nanshan_building
):
    api = as_user(hotline)
    first = post(api, "/", _submit_body(nanshan_building, external_id="q-1"))
    assert first.status_code == 201
    queued = post(
        api, "/", _submit_body(nanshan_building, external_id="q-1", kind="suggestion"), Prefer="respond-async"
    )
    assert queued.status_code == 202
    queued_submissions_process()
    receipt = api.get(queued.json()["links"]["self"]).json()
    assert receipt["status"] == "refused" and receipt["ticket"] is None
    assert receipt["error"]["code"] == "tickets.idempotency_key_reused"
    assert Ticket.objects.get(number=first.json()["ticket"]["number"]).kind == "complaint"


def test_without_strict_replay_a_key_sent_again_is_recorded_before_whatever_it_says(
    hotline, nanshan_building, luohu_building
):
    """The intake form and the hotline import keep their meaning of a call id: recorded before."""
    common = {"channel": "hotline", "kind": "complaint", "category": SANITATION, "actor": hotline}
    first = ticket_submit(
        **common, external_id="CALL-7", description="楼下垃圾满了。", address_code=nanshan_building.code
    )
    again = ticket_submit(
        **common, external_id="CALL-7", description="别的事情。", address_code=luohu_building.code
    )
    assert again.created is False and again.ticket.pk == first.ticket.pk
    [batch] = ticket_submit_many(
        [
            {
                **common,
                "external_id": "CALL-7",
                "description": "又一件别的事。",
                "address_code": nanshan_building.code,
            }
        ]
    )
    assert batch.ticket.pk == first.ticket.pk


# --- 3. the permission is checked before the caller's input --------------------------------------


def test_a_note_without_text_from_somebody_who_may_not_note_is_403(
    as_user, city_leader, nanshan_dispatcher, make_ticket
):
    ticket = make_ticket()
    leader = as_user(city_leader)
    assert leader.get(f"{URL}/{ticket.number}").status_code == 200  # the leader sees it…
    for body in ({}, {"note": ""}, {"note": "看一下"}):
        answer = post(leader, f"/{ticket.number}/notes", body)
        assert answer.status_code == 403, answer.json()  # …but may not write on it
        assert answer.json()["error"]["code"] == "workflow.permission_denied"
    # somebody who may note still hears what is missing
    missing = post(as_user(nanshan_dispatcher), f"/{ticket.number}/notes", {})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "tickets.note_required"


#: (persona, ticket state, path, body with what is missing or wrong): each persona may not act there
REFUSED_FIRST = [
    ("city_leader", "pending", "dispatch", {"unit": "NO-SUCH-UNIT"}),
    ("sub_handler", "dispatched", "reassign", {"unit": "NO-SUCH-UNIT", "note": ""}),
    ("city_leader", "pending", "merge", {"master": "ZW000"}),
    ("city_leader", "pending", "reject", {"reason": ""}),
    ("sub_handler", "pending", "answer", {"reply": ""}),
    ("city_leader", "pending", "transfer", {"target": "", "reference": ""}),
    ("sub_handler", "pending", "category", {"category": "NO-SUCH-CATEGORY"}),
    ("city_leader", "pending", "contact", {"reason": ""}),
    ("nanshan_dispatcher", "accepted", "reply", {"reply": ""}),
    ("sub_handler", "replied", "review", {"approve": False, "note": ""}),
    ("sub_handler", "verifying", "verify", {"passed": False, "note": ""}),
    ("sub_handler", "follow_up", "follow-up", {}),
    ("sub_handler", "accepted", "supervise", {"note": ""}),
]


@pytest.mark.parametrize(("who", "state", "path", "body"), REFUSED_FIRST, ids=[r[2] for r in REFUSED_FIRST])
def test_every_action_refuses_who_may_not_act_before_it_reads_the_input(
    request,
    as_user,
    who,
    state,
    path,
    body,
    make_ticket,
    dispatched,
    accepted,
    in_follow_up,
    sub_handler,
    nanshan_dispatcher,
):
    from zhiwang.tickets.services import ticket_accept, ticket_reply, ticket_review

    if state == "pending":
        ticket = make_ticket()
    elif state == "dispatched":
        ticket = dispatched()
    elif state == "accepted":
        ticket = accepted()
    elif state == "replied":
        ticket = ticket_reply(ticket=accepted(), actor=sub_handler, reply="已清理。")
    elif state == "verifying":  # an incident of a category checked on site, in a grid
        ticket = make_ticket(channel="patrol", kind="incident", category=RUBBISH)
        ticket_accept(ticket=ticket, actor=sub_handler)
        ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理。")
        ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
        assert ticket.status == TicketStatus.VERIFYING
    else:
        ticket = in_follow_up()
    version = ticket.version
    api = as_user(request.getfixturevalue(who))
    assert api.get(f"{URL}/{ticket.number}").status_code == 200
    answer = post(api, f"/{ticket.number}/{path}", body)
    assert answer.status_code == 403, answer.json()
    assert answer.json()["error"]["code"] == "workflow.permission_denied"
    ticket.refresh_from_db()
    assert ticket.version == version


def test_those_who_may_act_still_hear_what_their_input_lacks(
    as_user, nanshan_dispatcher, sub_handler, make_ticket, accepted
):
    pending = make_ticket()
    dispatcher = as_user(nanshan_dispatcher)
    unknown = post(dispatcher, f"/{pending.number}/dispatch", {"unit": "NO-SUCH-UNIT"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "tickets.unit_unknown"
    no_reason = post(dispatcher, f"/{pending.number}/reject", {"reason": " "})
    assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "tickets.reason_required"
    held = accepted()
    no_reply = post(as_user(sub_handler), f"/{held.number}/reply", {"reply": ""})
    assert no_reply.status_code == 400 and no_reply.json()["error"]["code"] == "tickets.reply_required"
    assert Ticket.objects.get(pk=held.pk).status == TicketStatus.ACCEPTED


def test_the_clock_passes_the_permission_check_as_before(dispatched):
    """``actor=None`` (the sweep) may supervise: the check that now comes first lets it through to
    the rules of the input, as before."""
    from zhiwang.tickets.services import ticket_supervise

    ticket = dispatched()
    with pytest.raises(ServiceError) as refused:
        ticket_supervise(ticket_id=ticket.pk, actor=None, note="")
    assert refused.value.code == "tickets.note_required"
