"""Picking visitors and parties from the registry through the API: scoped, masked, no existence leak."""

from __future__ import annotations

import json

import pytest

from tests.disputes.conftest import parties
from tests.disputes.test_registry_link import REG_ID, REG_PHONE, _entity, _person
from zhiwang.disputes.models import DisputeCase, Party, Visit, Visitor
from zhiwang.registry.models import LegalEntity, Person

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"


def post(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


@pytest.fixture
def registry(world):
    return {"person": _person(world.community), "entity": _entity(world.community)}


def _picked_parties(person_id=None, entity_id=None):
    rows = parties()
    rows[0] = {"role": "applicant", "registry_person_id": person_id}
    rows[1] = {"role": "respondent", "kind": "entity", "registry_entity_id": entity_id}
    return rows


def _case_body(division, rows, key):
    return {
        "facts": "押金纠纷",
        "category": "neighbours",
        "division": division.code,
        "parties": rows,
        "source": "proactive",
        "idempotency_key": key,
    }


def _missing_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def test_case_parties_picked_through_the_api_are_linked_and_masked(client, world, registry):
    person, entity = registry["person"], registry["entity"]
    client.force_login(world.sub_dispatcher)
    created = post(
        client, "/cases", _case_body(world.community, _picked_parties(person.pk, entity.pk), "r-1")
    )
    assert created.status_code == 201, created.content
    text = created.content.decode()
    assert person.name not in text and REG_ID not in text and REG_PHONE not in text
    applicant = Party.objects.get(role="applicant", person=person)
    assert (applicant.name, applicant.identifier, applicant.phone) == (person.name, REG_ID, REG_PHONE)
    respondent = applicant.case.parties.get(role="respondent")
    assert respondent.entity_id == entity.pk and respondent.identifier == entity.credit_code


def test_a_person_outside_the_callers_scope_answers_like_a_missing_one(client, world, registry):
    client.force_login(world.lh_dispatcher)
    answers = []
    for pk in (registry["person"].pk, _missing_pk(Person)):
        rows = parties()
        rows[0] = {"role": "applicant", "registry_person_id": pk}
        response = post(client, "/cases", _case_body(world.lh_community, rows, f"leak-{pk}"))
        assert response.status_code == 400
        answers.append(response.json())
    assert answers[0] == answers[1]  # no leak of whether the record exists
    fields = answers[0]["error"]["fields"]
    assert [(f["field"], f["code"]) for f in fields] == [
        ("parties.0.registry_person_id", "disputes.registry_not_found")
    ]
    assert not DisputeCase.objects.exists() and not Party.objects.exists()


def test_an_entity_outside_scope_is_reported_on_its_own_field(client, world, registry):
    client.force_login(world.lh_dispatcher)
    rows = _picked_parties(entity_id=registry["entity"].pk)
    rows[0] = parties()[0]
    missing = _picked_parties(entity_id=_missing_pk(LegalEntity))
    missing[0] = parties()[0]
    first = post(client, "/cases", _case_body(world.lh_community, rows, "e-1"))
    second = post(client, "/cases", _case_body(world.lh_community, missing, "e-2"))
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert first.json()["error"]["fields"][0]["field"] == "parties.1.registry_entity_id"


def test_a_role_without_registry_access_cannot_pick(client, world, registry, make_case):
    case = make_case()
    from zhiwang.disputes.services import case_assign

    case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator)
    client.force_login(world.mediator)  # mediators do not open the registry
    rows = parties()
    rows[0] = {"role": "applicant", "registry_person_id": registry["person"].pk}
    response = post(client, "/cases", _case_body(world.community, rows, "m-1"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["code"] == "disputes.registry_not_found"


def test_visitor_picked_through_the_api(client, world, registry):
    person = registry["person"]
    body = {
        "centre": world.centre.pk,
        "area": "peoples_mediation",
        "matter": "押金",
        "visitor_registry_person_id": person.pk,
        "idempotency_key": "v-1",
    }
    client.force_login(world.window)
    created = post(client, "/visits", body)
    assert created.status_code == 201, created.content
    assert person.name not in created.content.decode()
    visit = Visit.objects.get(number=created.json()["number"])
    assert visit.visitor.person_id == person.pk and visit.visitor.id_number == REG_ID
    # The window of another district: the same answer for a person out of scope and a missing one.
    client.force_login(world.lh_window)
    before = Visitor.objects.count()
    answers = []
    for pk in (person.pk, _missing_pk(Person)):
        response = post(
            client,
            "/visits",
            {
                **body,
                "centre": world.lh_centre.pk,
                "visitor_registry_person_id": pk,
                "idempotency_key": f"v-{pk}",
            },
        )
        assert response.status_code == 400
        answers.append(response.json())
    assert answers[0] == answers[1]
    assert answers[0]["error"]["fields"] == [
        {
            "field": "visitor_registry_person_id",
            "code": "disputes.registry_not_found",
            "message": answers[0]["error"]["fields"][0]["message"],
        }
    ]
    assert Visitor.objects.count() == before
