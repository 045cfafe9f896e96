"""Regression tests for the second disputes review: an idempotency key sent again with other
content, over-long idempotency keys, and the ledger's risk and source filters.

Each failed before its fix: the same key with another dispute answered 200 with the first case
(the client believed its second dispute registered), keys longer than 120 characters were cut
and so collided, and an unknown risk or source listed nothing instead of saying so.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.disputes.conftest import APPLICANT_ID, parties
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import CaseEvent, DisputeCase, Party, Visit
from zhiwang.disputes.services import case_from_ticket, case_register, visit_register
from zhiwang.disputes.services.idempotency import MAX_IDEMPOTENCY_KEY

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"
REUSED = "disputes.idempotency_key_reused"
LONG = "disputes.idempotency_key_long"


def post(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


def _error(response) -> dict:
    return response.json()["error"]


def _case_body(world, key: str, **overrides) -> dict:
    body = {
        "facts": "物业费纠纷，业主拒交两年物业费。",
        "category": "property_management",
        "division": world.community.code,
        "parties": parties(),
        "amount": "100",
        "source": "proactive",
        "idempotency_key": key,
    }
    body.update(overrides)
    return body


def _visit(world, key: str, **overrides):
    data = {
        "actor": world.window,
        "centre": world.centre,
        "area_code": "peoples_mediation",
        "matter": "与邻居因噪音问题发生纠纷，希望调解。",
        "visitor_name": "张三丰",
        "visitor_id_number": APPLICANT_ID,
        "visitor_phone": "13800138001",
        "idempotency_key": key,
    }
    data.update(overrides)
    return visit_register(**data)


def _ticket(hotline, building, external_id: str):
    from zhiwang.tickets.services import ticket_submit

    return ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居长期占用楼道堆放杂物，多次沟通无果。",
        address_code=building.code,
        external_id=external_id,
        actor=hotline,
    ).ticket


def _written() -> tuple[int, int, int]:
    return DisputeCase.objects.count(), Party.objects.count(), CaseEvent.objects.count()


# --- the same key with other content is refused ---------------------------------------------------


def test_a_key_sent_again_with_another_dispute_is_refused_and_writes_nothing(make_case):
    # given a case registered with a key
    first = make_case(idempotency_key="req-7")
    before = _written()
    # when the same caller sends the key again with another dispute
    with pytest.raises(ServiceError) as caught:
        make_case(idempotency_key="req-7", facts="另一起劳动争议：拖欠三个月工资。", category="labour")
    # then it is refused, naming the key, on the key's field; nothing is written
    error = caught.value
    assert error.code == REUSED and error.status == 422 and error.field == "idempotency_key"
    assert "req-7" in error.message and first.number not in error.message
    assert _written() == before


@pytest.mark.parametrize(
    "change",
    [
        {"title": "另一个标题"},
        {"amount": "3501"},
        {"risk": "red"},
        {"source": "petition"},
        {"people_involved": 3},
        {"parties": parties(**{"1__name": "王五"})},
        {"parties": parties(**{"0__phone": "13700137000"})},
    ],
)
def test_any_difference_in_what_was_asked_counts(make_case, change):
    make_case(idempotency_key="req-8")
    with pytest.raises(ServiceError) as caught:
        make_case(idempotency_key="req-8", **change)
    assert caught.value.code == REUSED
    assert DisputeCase.objects.count() == 1


def test_the_same_request_written_differently_still_replays(make_case, world):
    first = make_case(idempotency_key="req-9", amount="3500", risk="")
    # the amount as a number, the default risk named, the same texts with spaces around them
    again = case_register(
        actor=world.sub_dispatcher,
        title=" 楼上漏水纠纷 ",
        facts="楼上卫生间漏水导致楼下天花板受损，双方就维修费用协商未果。",
        category="neighbours",
        division=world.community,
        parties=parties(),
        source="grid",
        amount=Decimal("3500.00"),
        risk="blue",
        people_involved="2",
        idempotency_key=" req-9 ",
    )
    assert not again.created and again.case.pk == first.pk


def test_a_racing_retry_with_other_content_is_refused_too(monkeypatch, make_case):
    from zhiwang.disputes.services import registration

    make_case(idempotency_key="race-9")
    before = _written()
    monkeypatch.setattr(registration, "_existing_case", lambda key: None)  # the first look missed it
    with pytest.raises(ServiceError) as caught:
        make_case(idempotency_key="race-9", facts="完全不同的纠纷")
    assert caught.value.code == REUSED
    assert _written() == before


def test_a_case_registered_before_fingerprints_replays_as_before(make_case):
    first = make_case(idempotency_key="old-1")
    DisputeCase.objects.filter(pk=first.pk).update(idempotency_fingerprint="")  # as the migration left it
    assert make_case(idempotency_key="old-1", facts="别的纠纷").pk == first.pk


def test_api_answers_422_for_another_dispute_and_200_for_a_retry(client, world):
    client.force_login(world.sub_dispatcher)
    body = _case_body(world, "k-1")
    first = post(client, "/cases", body)
    assert first.status_code == 201
    retry = post(client, "/cases", body)
    assert retry.status_code == 200 and retry.json()["number"] == first.json()["number"]
    other = post(client, "/cases", {**body, "facts": "完全不同的一起劳动争议", "category": "labour"})
    assert other.status_code == 422
    error = _error(other)
    assert error["code"] == REUSED and error["field"] == "idempotency_key" and "k-1" in error["message"]
    assert first.json()["number"] not in other.content.decode()
    assert DisputeCase.objects.count() == 1


def test_api_ticket_conversion_with_a_reused_key_is_refused(client, world, hotline, nanshan_building):
    first_ticket = _ticket(hotline, nanshan_building, "fp-1")
    second_ticket = _ticket(hotline, nanshan_building, "fp-2")
    client.force_login(world.sub_dispatcher)
    body = {
        "ticket": first_ticket.number,
        "category": "neighbours",
        "parties": parties(),
        "idempotency_key": "t-9",
    }
    assert post(client, "/cases/from-ticket", body).status_code == 201
    assert post(client, "/cases/from-ticket", body).status_code == 200
    other = post(client, "/cases/from-ticket", {**body, "ticket": second_ticket.number})
    assert other.status_code == 422 and _error(other)["code"] == REUSED
    assert not DisputeCase.objects.filter(ticket=second_ticket).exists()


def test_a_visit_key_sent_again_for_another_matter_is_refused(world):
    first = _visit(world, "tok-9")
    assert _visit(world, "tok-9").visit.pk == first.visit.pk  # a retry
    with pytest.raises(ServiceError) as caught:
        _visit(
            world, "tok-9", matter="另一件事：房屋租赁押金纠纷。", visitor_name="李四海", visitor_id_number=""
        )
    assert caught.value.code == REUSED and caught.value.status == 422 and "tok-9" in caught.value.message
    assert Visit.objects.count() == 1


def test_a_visit_registered_before_fingerprints_replays_as_before(world):
    first = _visit(world, "tok-old").visit
    Visit.objects.filter(pk=first.pk).update(idempotency_fingerprint="")
    assert _visit(world, "tok-old", matter="别的事").visit.pk == first.pk


def test_api_visit_with_a_reused_key_is_422(client, world):
    client.force_login(world.window)
    body = {
        "centre": world.centre.pk,
        "area": "peoples_mediation",
        "matter": "噪音",
        "visitor_name": "张三丰",
    }
    assert post(client, "/visits", {**body, "idempotency_key": "api-v9"}).status_code == 201
    assert post(client, "/visits", {**body, "idempotency_key": "api-v9"}).status_code == 200
    other = post(client, "/visits", {**body, "matter": "欠薪", "idempotency_key": "api-v9"})
    assert other.status_code == 422 and _error(other)["code"] == REUSED
    assert Visit.objects.count() == 1


def test_window_form_changed_after_going_back_says_so_and_gets_a_new_token(client, world):
    client.force_login(world.window)
    form = {
        "centre": world.centre.pk,
        "area": "peoples_mediation",
        "matter": "噪音纠纷",
        "visitor_name": "张三丰",
        "token": "form-1",
    }
    assert client.post(reverse("disputes:window"), form).status_code == 302
    # the operator goes back, types another visitor's matter into the same page and sends it
    changed = client.post(
        reverse("disputes:window"), {**form, "matter": "欠薪纠纷", "visitor_name": "李四海"}
    )
    assert changed.status_code == 400 and Visit.objects.count() == 1
    assert changed.context["errors"]["message"]  # the page's own words, not the key
    assert "form-1" not in changed.context["errors"]["message"]
    token = changed.context["token"]
    assert token and token != "form-1"
    # sent again, with the new token, it is a new visit
    again = client.post(
        reverse("disputes:window"), {**form, "matter": "欠薪纠纷", "visitor_name": "李四海", "token": token}
    )
    assert again.status_code == 302 and Visit.objects.count() == 2


def test_case_form_changed_after_going_back_says_so_and_gets_a_new_token(client, world):
    client.force_login(world.sub_dispatcher)
    form = {
        "token": "case-form-1",
        "facts": "楼上漏水",
        "category": "neighbours",
        "division": world.community.code,
        "party0_role": "applicant",
        "party0_name": "张三丰",
        "party1_role": "respondent",
        "party1_name": "李四海",
    }
    assert client.post(reverse("disputes:case_new"), form).status_code == 302
    assert client.post(reverse("disputes:case_new"), form).status_code == 302  # sent twice: one case
    changed = client.post(reverse("disputes:case_new"), {**form, "facts": "拖欠工资", "category": "labour"})
    assert changed.status_code == 400 and DisputeCase.objects.count() == 1
    token = changed.context["token"]
    assert token != "case-form-1"
    again = client.post(
        reverse("disputes:case_new"), {**form, "facts": "拖欠工资", "category": "labour", "token": token}
    )
    assert again.status_code == 302 and DisputeCase.objects.count() == 2


# --- keys are kept whole or refused -------------------------------------------------------------------


def test_a_key_of_the_longest_length_is_kept_whole(make_case):
    key = "k" * MAX_IDEMPOTENCY_KEY
    case = make_case(idempotency_key=key)
    assert case.idempotency_key.endswith(":" + key)
    assert make_case(idempotency_key=key).pk == case.pk


def test_an_over_long_key_is_refused_not_cut(make_case):
    make_case(idempotency_key="x" * 120)
    for suffix in ("-A", "-B"):  # both once became the first case's key
        with pytest.raises(ServiceError) as caught:
            make_case(idempotency_key="x" * 120 + suffix, facts="另一起")
        assert caught.value.code == LONG and caught.value.field == "idempotency_key"
        assert "122" in caught.value.message
    assert DisputeCase.objects.count() == 1


def test_api_refuses_over_long_keys_on_every_registration(client, world, hotline, nanshan_building):
    long_key = "y" * (MAX_IDEMPOTENCY_KEY + 1)
    client.force_login(world.sub_dispatcher)
    case = post(client, "/cases", _case_body(world, long_key))
    ticket = _ticket(hotline, nanshan_building, "long-key")
    converted = post(
        client,
        "/cases/from-ticket",
        {
            "ticket": ticket.number,
            "category": "neighbours",
            "parties": parties(),
            "idempotency_key": long_key,
        },
    )
    client.force_login(world.window)
    visit = post(
        client,
        "/visits",
        {
            "centre": world.centre.pk,
            "area": "peoples_mediation",
            "matter": "m",
            "visitor_name": "张三",
            "idempotency_key": long_key,
        },
    )
    for response in (case, converted, visit):
        assert response.status_code == 400
        assert _error(response)["code"] == LONG and _error(response)["field"] == "idempotency_key"
    assert not DisputeCase.objects.exists() and not Visit.objects.exists()


def test_an_over_long_visit_key_is_refused(world):
    with pytest.raises(ServiceError) as caught:
        _visit(world, "v" * (MAX_IDEMPOTENCY_KEY + 1))
    assert caught.value.code == LONG
    assert not Visit.objects.exists()


def test_an_over_long_ticket_conversion_key_is_refused_before_the_ticket_is_touched(
    world, hotline, nanshan_building
):
    ticket = _ticket(hotline, nanshan_building, "long-2")
    with pytest.raises(ServiceError) as caught:
        case_from_ticket(
            actor=world.sub_dispatcher,
            ticket_number=ticket.number,
            category="neighbours",
            parties=parties(),
            idempotency_key="z" * (MAX_IDEMPOTENCY_KEY + 1),
        )
    assert caught.value.code == LONG
    ticket.refresh_from_db()
    assert ticket.is_open and not DisputeCase.objects.exists()


# --- risk and source filters are checked like the others -----------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("risk", "purple"), ("source", "nowhere"), ("risk", "RED")])
def test_api_list_refuses_an_unknown_risk_or_source(client, world, make_case, name, value):
    make_case()
    client.force_login(world.sub_dispatcher)
    response = client.get(BASE + "/cases", {name: value})
    assert response.status_code == 400
    assert _error(response)["code"] == "disputes.filter_invalid" and _error(response)["field"] == name


def test_api_list_filters_by_risk_and_source(client, world, make_case):
    red = make_case(risk="red", source="petition", title="红色")
    blue = make_case(title="蓝色")  # source grid
    client.force_login(world.sub_dispatcher)

    def numbers(**query):
        response = client.get(BASE + "/cases", query)
        assert response.status_code == 200
        return {item["number"] for item in response.json()["items"]}

    assert numbers(risk="red") == {red.number}
    assert numbers(source="grid") == {blue.number}
    assert numbers(source="petition", risk="red") == {red.number}
    assert numbers(source="court") == set()  # a known source without cases: empty, not an error


@pytest.mark.parametrize(("name", "value"), [("risk", "purple"), ("source", "nowhere")])
def test_ledger_page_says_an_unknown_risk_or_source_is_wrong(client, world, make_case, name, value):
    make_case()
    client.force_login(world.sub_dispatcher)
    response = client.get(reverse("disputes:ledger"), {name: value})
    assert response.status_code == 400
    assert name in response.context["errors"]
    export = client.get(reverse("disputes:ledger_export"), {name: value})
    assert export.status_code == 302  # back to the ledger with the message, no file
