"""Assigning a case by username never says who a username belongs to: an unknown name, somebody
who is no mediator, an inactive mediator and a mediator of another organisation get the same
refusal (code, field and words), on the API and on the case page alike.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import Mediator

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"


@pytest.fixture
def refused_names(world):
    """username → display name (None: no such user) of everybody the org's assignment must refuse."""
    from zhiwang.accounts.services import user_create

    inactive = world.mediator2
    Mediator.objects.filter(user=inactive).update(is_active=False)
    gone = user_create(
        username="t_gone_mediator",
        password="pw",
        role="mediator",
        full_name="离职调解员",
        org_unit=world.org.org_unit,
        jurisdictions=[world.sub],
    )
    from zhiwang.disputes.services import mediator_enrol

    mediator_enrol(user=gone, organisation=world.org)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    return {
        "no_such_user": None,
        world.window.username: world.window.display_name,  # no mediator at all
        inactive.username: inactive.display_name,  # a mediator of the org, not active
        gone.username: gone.display_name,  # an enrolled mediator whose account is off
        world.lh_mediator.username: world.lh_mediator.display_name,  # another organisation
    }


def _api_assign(client, case, data):
    return client.post(
        f"{BASE}/cases/{case.number}/assign", json.dumps(data), content_type="application/json"
    )


def _refusal(response) -> tuple:
    body = response.json()["error"]
    fields = tuple((f["field"], f["code"], f["message"]) for f in body.get("fields", []))
    return response.status_code, body["code"], body.get("field"), body["message"], fields


@pytest.mark.parametrize("with_organisation", [True, False])
def test_api_refuses_every_username_alike_and_names_nobody(
    client, world, make_case, refused_names, with_organisation
):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    answers = {}
    for username, display_name in refused_names.items():
        data = {"mediator": username, **({"organisation": world.org.code} if with_organisation else {})}
        response = _api_assign(client, case, data)
        text = response.content.decode()
        if display_name:
            assert display_name not in text, username
        assert world.lh_org.name not in text, username  # nor where they work
        answers[username] = _refusal(response)
    (answer,) = set(answers.values())  # one answer for all of them
    status, code, field, _message, _fields = answer
    assert (status, code, field) == (400, "disputes.mediator_unknown", "mediator")
    case.refresh_from_db()
    assert case.mediator_id is None and case.status == "received"


def test_api_with_an_unknown_organisation_answers_alike_whoever_is_named(
    client, world, make_case, refused_names
):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    names = [*refused_names, world.mediator.username]  # a real member of the org too
    answers = {
        _refusal(_api_assign(client, case, {"organisation": "gone-org", "mediator": n})) for n in names
    }
    assert len(answers) == 1


def test_api_with_an_organisation_of_another_place_answers_alike_whoever_is_named(
    client, world, make_case, refused_names
):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    names = [*refused_names, world.lh_mediator.username]  # a member of that organisation too
    answers = {
        _refusal(_api_assign(client, case, {"organisation": world.lh_org.code, "mediator": n})) for n in names
    }
    (answer,) = answers
    assert answer[1] == "disputes.organisation_out_of_area"
    assert world.lh_mediator.display_name not in answer[3]


def test_case_page_refuses_every_username_alike_and_names_nobody(client, world, make_case, refused_names):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    url = reverse("disputes:case_action", args=[case.number, "assign"])
    messages = set()
    for username, display_name in refused_names.items():
        for organisation in (world.org.code, ""):
            response = client.post(
                url, {"organisation": organisation, "mediator": username, "version": case.version}
            )
            assert response.status_code == 400, username
            if display_name:
                assert display_name not in response.content.decode(), username
            assert world.lh_org.name not in response.content.decode()
            messages.add(str(response.context["errors"]["message"]))
            assert set(response.context["errors"]) >= {"mediator"}
    assert len(messages) == 1


@pytest.mark.parametrize("with_organisation", [True, False])
def test_a_member_of_a_serving_organisation_is_still_assigned_by_username(
    client, world, make_case, with_organisation
):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    data = {"mediator": world.mediator2.username}
    if with_organisation:
        data["organisation"] = world.org.code
    response = _api_assign(client, case, data)
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.mediator, case.organisation) == (world.mediator2, world.org)


def test_the_service_names_no_mediator_of_another_organisation(world, make_case):
    from zhiwang.disputes.services import case_assign

    with pytest.raises(ServiceError) as caught:
        case_assign(
            case=make_case(), actor=world.sub_dispatcher, organisation=world.org, mediator=world.lh_mediator
        )
    assert caught.value.code == "disputes.mediator_not_member"
    assert world.lh_mediator.display_name not in caught.value.message
