"""Regression tests for the disputes review: idempotent retries, the case form from a visit or a
ticket, jurisdiction of a case opened from a visit, masking on the public confirmation page and in
the agreement documents, assignment by name, bad numbers in forms, the confirmation links' answer,
closing and signing rules, over-long visitor names and the alerts page's redirect.

Every test here failed before the fix (with an assertion, a 500 or an uncaught exception).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import id_number, parties
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.disputes.models import DisputeAlert, DisputeCase, Visitor

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"
VISITOR_ID = id_number("44030519920202003")


def post(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


def _error(response) -> dict:
    return response.json()["error"]


def _case_body(world, key: str) -> dict:
    return {
        "facts": "邻里噪音纠纷",
        "category": "neighbours",
        "division": world.community.code,
        "parties": parties(),
        "source": "proactive",
        "idempotency_key": key,
    }


def _move_window_to_luohu(world) -> None:
    """The Nanshan window operator moves to the Luohu centre: the Nanshan cases leave their scope."""
    world.window.org_unit = world.lh_window.org_unit
    world.window.save()


def _visit(world, key: str = "v-fix", **overrides):
    from zhiwang.disputes.services import visit_register

    data = {
        "actor": world.window,
        "centre": world.centre,
        "area_code": "peoples_mediation",
        "matter": "邻里纠纷",
        "visitor_name": "赵六一",
        "visitor_id_number": VISITOR_ID,
        "visitor_phone": "13700137007",
        "idempotency_key": key,
    }
    data.update(overrides)
    return visit_register(**data).visit


def _ticket(hotline, building, external_id: str = "fix-1"):
    from zhiwang.tickets.services import ticket_submit

    return ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居装修噪音持续到深夜。",
        address_code=building.code,
        external_id=external_id,
        actor=hotline,
    ).ticket


def _id_number_ending_in_x() -> str:
    from zhiwang.core.validators import id_number_check_char

    for n in range(1000):
        first = f"44030519850312{n:03d}"
        if id_number_check_char(first) == "X":
            return first + "X"
    raise AssertionError("no ID number ending in X found")


# --- a retry never answers a case the caller may no longer see ------------------------------------


def test_api_retry_of_a_case_that_left_the_callers_scope_answers_404(client, world):
    from zhiwang.disputes.services import case_assign, session_record

    client.force_login(world.window)
    body = _case_body(world, "k-1")
    first = post(client, "/cases", body)
    assert first.status_code == 201
    assert post(client, "/cases", body).status_code == 200  # a retry while it is theirs
    case = DisputeCase.objects.get(number=first.json()["number"])
    case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator)
    case.refresh_from_db()
    session_record(case=case, actor=world.mediator, record="SECRET-SESSION-RECORD")
    _move_window_to_luohu(world)
    client.force_login(world.window)
    assert client.get(f"{BASE}/cases/{case.number}").status_code == 404
    replay = post(client, "/cases", body)
    assert replay.status_code == 404 and _error(replay)["code"] == "not_found"
    assert case.number not in replay.content.decode()
    assert DisputeCase.objects.count() == 1


def test_api_retry_of_a_ticket_conversion_that_left_the_callers_scope_answers_404(
    client, world, hotline, nanshan_building
):
    ticket = _ticket(hotline, nanshan_building)
    client.force_login(world.sub_dispatcher)
    body = {"ticket": ticket.number, "category": "neighbours", "parties": parties(), "idempotency_key": "t-1"}
    first = post(client, "/cases/from-ticket", body)
    assert first.status_code == 201
    world.sub_dispatcher.jurisdictions.set([world.lh_sub])  # now a Luohu dispatcher
    client.force_login(world.sub_dispatcher)
    replay = post(client, "/cases/from-ticket", body)
    assert replay.status_code == 404 and _error(replay)["code"] == "not_found"
    assert first.json()["number"] not in replay.content.decode()


def test_case_form_sent_again_after_the_case_left_the_users_scope_answers_404(client, world):
    form = {
        "token": "form-token-1",
        "facts": "楼上漏水",
        "category": "neighbours",
        "division": world.community.code,
        "party0_role": "applicant",
        "party0_name": "张三丰",
        "party1_role": "respondent",
        "party1_name": "李四海",
    }
    client.force_login(world.window)
    assert client.post(reverse("disputes:case_new"), form).status_code == 302
    _move_window_to_luohu(world)
    client.force_login(world.window)
    again = client.post(reverse("disputes:case_new"), form)
    assert again.status_code == 404
    assert DisputeCase.objects.count() == 1


# --- the case form: from a visit or from a ticket, never both --------------------------------------


def test_case_form_refuses_a_visit_and_a_ticket_together(client, world, hotline, nanshan_building):
    visit = _visit(world)
    ticket = _ticket(hotline, nanshan_building)
    client.force_login(world.sub_dispatcher)  # may not open a case from a visit
    url = reverse("disputes:case_new") + f"?visit={visit.number}&ticket={ticket.number}"
    assert client.get(url).status_code == 400
    response = client.post(
        url,
        {
            "token": "t-x",
            "category": "neighbours",
            "party0_visitor": "1",
            "party0_role": "applicant",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    assert response.status_code == 400
    assert not DisputeCase.objects.exists()  # and so no case carries the visitor's ID number


def test_case_form_from_a_visit_is_for_who_may_open_a_case_from_it(client, world):
    visit = _visit(world)
    url = reverse("disputes:case_new") + f"?visit={visit.number}"
    client.force_login(world.sub_dispatcher)  # sees the centre, may not open a case from its visits
    assert client.get(url).status_code == 403
    refused = client.post(
        url,
        {
            "token": "t-y",
            "facts": "邻里纠纷",
            "category": "neighbours",
            "party0_visitor": "1",
            "party0_role": "applicant",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    assert refused.status_code == 403 and not DisputeCase.objects.exists()
    client.force_login(world.window)
    assert client.get(url).status_code == 200


# --- a case from a visit stays inside the jurisdiction ------------------------------------------


def test_case_from_a_visit_outside_the_windows_jurisdiction_is_refused(world):
    from zhiwang.disputes.services import case_register

    visit = _visit(world, visitor_name="王五", visitor_id_number="", visitor_phone="")
    with pytest.raises(PermissionDeniedError) as caught:
        case_register(
            actor=world.window,
            title="",
            facts="f",
            category="neighbours",
            risk="red",
            division=world.lh_community,  # Luohu, outside the Nanshan window's area
            parties=parties(),
            visit=visit,
        )
    assert caught.value.code == "disputes.outside_jurisdiction" and caught.value.field == "division"
    assert not DisputeCase.objects.exists() and not DisputeAlert.objects.exists()
    visit.refresh_from_db()
    assert visit.status == "waiting"
    # Inside the centre's area the same visit opens its case.
    case = case_register(
        actor=world.window,
        title="",
        facts="f",
        category="neighbours",
        division=world.community,
        parties=parties(),
        visit=visit,
    ).case
    assert case.division == world.community and case.centre == world.centre


# --- masking on the public confirmation page and in the agreement documents ------------------------


def _agreed_with_terms(world, mediating_case, terms: str, **party_overrides):
    from zhiwang.disputes.services import agreement_reach

    case = mediating_case(parties=parties(**party_overrides))
    agreement_reach(
        case=case,
        actor=world.mediator,
        form="written",
        terms=terms,
        performance_manner="银行转账",
        performance_deadline="2099-01-01",
    )
    case.refresh_from_db()
    return case


def test_public_confirmation_page_masks_numbers_however_they_are_written(world, mediating_case):
    from zhiwang.disputes.services import confirmation_links_send

    xid = _id_number_ending_in_x()
    terms = (
        f"李四海向张三丰（身份证{xid.lower()}，电话138-0013-8001，又+86 139 0013 9002）支付2000元；"
        "证人电话13612345678。"
    )
    case = _agreed_with_terms(world, mediating_case, terms, **{"0__identifier": xid})
    link = confirmation_links_send(
        case=case, actor=world.mediator, build_url=lambda t: f"/disputes/confirm/{t}/"
    )[0]
    page = Client().get(link.url).content.decode()  # anonymous: the link is the credential
    for plain in (xid.lower(), xid, "138-0013-8001", "139 0013 9002", "13612345678", "张三丰"):
        assert plain not in page, plain
    assert "2000元" in page and "138****8001" in page and "136****5678" in page


def test_masked_agreement_document_masks_numbers_however_they_are_written(world, mediating_case):
    from zhiwang.disputes.documents import agreement_sections

    xid = _id_number_ending_in_x()
    terms = f"张三丰（身份证{xid.lower()}，电话 138 0013 8001）收款；联系人电话0755-88889999。"
    case = _agreed_with_terms(world, mediating_case, terms, **{"0__identifier": xid})
    text = json.dumps(agreement_sections(case, reveal=False), ensure_ascii=False)
    for plain in (xid.lower(), "138 0013 8001", "0755-88889999", "张三丰"):
        assert plain not in text, plain
    full = json.dumps(agreement_sections(case, reveal=True), ensure_ascii=False)
    assert xid.lower() in full  # printed in full (with a reason) it stays as written


# --- assignment by name: an unknown name is an error, never an automatic choice --------------------


def test_api_assign_to_an_unknown_mediator_is_a_field_error(client, world, make_case):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    response = post(client, f"/cases/{case.number}/assign", {"mediator": "typo_mediator"})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "disputes.mediator_unknown" and error["field"] == "mediator"
    case.refresh_from_db()
    assert case.status == "received" and case.mediator_id is None


def test_api_assign_to_a_user_who_is_no_mediator_does_not_name_them(client, world, make_case):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    response = post(client, f"/cases/{case.number}/assign", {"mediator": world.window.username})
    assert response.status_code == 400 and _error(response)["code"] == "disputes.mediator_unknown"
    assert world.window.display_name not in response.content.decode()


def test_api_assign_checks_the_permission_before_the_mediator(client, world, make_case):
    case = make_case()
    client.force_login(world.leader)  # sees the case, may not assign it
    response = post(client, f"/cases/{case.number}/assign", {"mediator": world.window.username})
    assert response.status_code == 403 and _error(response)["code"] == "workflow.permission_denied"
    assert world.window.display_name not in response.content.decode()


def test_api_assign_to_an_unknown_organisation_is_a_field_error(client, world, make_case):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    response = post(
        client, f"/cases/{case.number}/assign", {"organisation": "gone-org", "mediator": "nobody"}
    )
    assert response.status_code == 400
    fields = {f["field"]: f["code"] for f in _error(response)["fields"]}
    assert fields == {
        "organisation": "disputes.organisation_unknown",
        "mediator": "disputes.mediator_unknown",
    }


def test_case_page_assign_to_an_unknown_organisation_is_refused(client, world, make_case):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    response = client.post(
        reverse("disputes:case_action", args=[case.number, "assign"]),
        {"organisation": "gone-org", "version": case.version},
    )
    assert response.status_code == 400 and "organisation" in response.context["errors"]
    case.refresh_from_db()
    assert case.status == "received"


def test_assign_service_does_not_name_a_user_who_is_no_mediator(world, make_case):
    from zhiwang.disputes.services import case_assign

    with pytest.raises(ServiceError) as caught:
        case_assign(
            case=make_case(), actor=world.sub_dispatcher, organisation=world.org, mediator=world.window
        )
    assert caught.value.code == "disputes.mediator_not_member"
    assert world.window.display_name not in caught.value.message


# --- amounts that are no numbers ---------------------------------------------------------------


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "-nan"])
def test_an_amount_that_is_no_number_is_a_field_error(world, make_case, amount):
    from zhiwang.disputes.services import case_update

    with pytest.raises(ServiceError) as caught:
        case_update(case=make_case(), actor=world.sub_dispatcher, amount=amount)
    assert caught.value.code == "disputes.amount_invalid" and caught.value.field == "amount"


def test_case_form_with_a_nan_amount_comes_back_with_the_error(client, world):
    client.force_login(world.sub_dispatcher)
    response = client.post(
        reverse("disputes:case_new"),
        {
            "facts": "f",
            "category": "neighbours",
            "division": world.community.code,
            "amount": "NaN",
            "token": "t1",
            "party0_role": "applicant",
            "party0_name": "张三",
            "party1_role": "respondent",
            "party1_name": "李四",
        },
    )
    assert response.status_code == 400 and "amount" in response.context["errors"]
    assert not DisputeCase.objects.exists()


# --- digits that int() refuses ("²" is a digit to str.isdigit()) -----------------------------------


def test_case_action_with_a_superscript_version_is_no_500(client, world, assigned_case):
    case = assigned_case()
    client.force_login(world.mediator)
    response = client.post(
        reverse("disputes:case_action", args=[case.number, "note"]), {"note": "x", "version": "²"}
    )
    assert response.status_code in (302, 400)


def test_window_with_a_superscript_centre_is_no_500(client, world):
    client.force_login(world.window)
    assert client.get(reverse("disputes:window"), {"centre": "²"}).status_code in (200, 404)


@pytest.mark.parametrize("pick", ["²", "abc", "-1"])
def test_window_registry_pick_that_is_no_id_is_the_not_found_error(client, world, pick):
    client.force_login(world.window)
    response = client.post(
        reverse("disputes:window") + f"?centre={world.centre.pk}",
        {
            "area": "peoples_mediation",
            "matter": "m",
            "visitor_name": "王五",
            "visitor_person": pick,
            "token": "u",
        },
    )
    assert response.status_code == 400
    assert "visitor_name" in response.context["errors"]  # disputes.registry_not_found, as for any bad pick
    assert not Visitor.objects.exists()


def test_registry_picked_with_a_superscript_id_is_none(world):
    from zhiwang.disputes.selectors import registry_picked

    assert registry_picked(user=world.window, kind="person", pk="²") is None


# --- the API answer carrying confirmation links is not kept ----------------------------------------


def test_api_confirmation_links_answer_is_no_store(client, world, agreed_case):
    case = agreed_case()
    client.force_login(world.mediator)
    response = post(client, f"/cases/{case.number}/agreement/confirmation-links", {})
    assert response.status_code == 201 and "no-store" in response.get("Cache-Control", "")


# --- closing as referred, signing before the case ----------------------------------------------


def test_closing_as_referred_needs_a_referral_first(world, mediating_case):
    from zhiwang.disputes.services import case_close, case_refer

    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        case_close(case=case, actor=world.mediator, outcome="referred")
    assert caught.value.code == "disputes.outcome_referred" and caught.value.field == "outcome"
    case.refresh_from_db()
    assert case.status == "mediating" and case.outcome == ""
    case_refer(case=case, actor=world.mediator, kind="litigation", reason="拒绝调解")
    case.refresh_from_db()
    assert case_close(case=case, actor=world.mediator, outcome="referred").status == "closed"


def test_an_agreement_cannot_be_signed_before_the_case_was_registered(world, mediating_case):
    from zhiwang.disputes.services import agreement_reach

    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        agreement_reach(
            case=case,
            actor=world.mediator,
            form="written",
            terms="t",
            performance_manner="m",
            performance_deadline="2099-01-01",
            signed_on="2001-01-01",
        )
    assert caught.value.field == "signed_on"
    assert {f.code for f in caught.value.fields} == {"disputes.agreement_before_case"}
    case.refresh_from_db()
    assert case.status == "mediating"


def test_an_agreement_is_signed_on_or_after_the_day_of_registration(world, mediating_case):
    from zhiwang.disputes.services import agreement_reach

    registered_day = timezone.localdate() - timedelta(days=3)
    # Registered late in the evening (local time); signed the next morning would be fine, the day
    # before is refused, the same day is accepted.
    case = mediating_case(received_at=timezone.make_aware(datetime.combine(registered_day, time(23, 0))))
    terms = {"form": "written", "terms": "t", "performance_manner": "m", "performance_deadline": "2099-01-01"}
    with pytest.raises(ServiceError):
        agreement_reach(
            case=case,
            actor=world.mediator,
            signed_on=(registered_day - timedelta(days=1)).isoformat(),
            **terms,
        )
    agreement = agreement_reach(
        case=case, actor=world.mediator, signed_on=registered_day.isoformat(), **terms
    )
    assert agreement.signed_on == registered_day


# --- over-long visitor names ----------------------------------------------------------------------


def test_an_over_long_visitor_name_is_a_field_error(world):
    with pytest.raises(ServiceError) as caught:
        _visit(world, key="long-1", visitor_name="王" * 80)
    assert caught.value.field == "visitor_name"
    assert {f.code for f in caught.value.fields} == {"disputes.too_long"}
    assert not Visitor.objects.exists()


def test_api_refuses_an_over_long_visitor_name(client, world):
    client.force_login(world.window)
    response = post(
        client,
        "/visits",
        {
            "centre": world.centre.pk,
            "area": "peoples_mediation",
            "matter": "m",
            "visitor_name": "王" * 80,
            "idempotency_key": "long-1",
        },
    )
    assert response.status_code in (400, 422)
    assert not Visitor.objects.exists()


# --- marking alerts read goes back to this site only ------------------------------------------------


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_marking_alerts_read_never_redirects_to_another_site(client, world, target):
    client.force_login(world.sub_dispatcher)
    response = client.post(reverse("disputes:alerts_read"), {"next": target})
    assert response.status_code == 302 and response.url == reverse("disputes:home")
    # A page of this site is fine.
    back = client.post(reverse("disputes:alerts_read"), {"next": "/disputes/ledger/?near=1"})
    assert back.status_code == 302 and back.url == "/disputes/ledger/?near=1"
