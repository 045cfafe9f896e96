"""Visitors and parties linked to the registry: picked (scoped, masked) or matched by the keyed hash."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from tests.disputes.conftest import APPLICANT_ID, ENTITY_CODE, credit_code, id_number, parties
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import Party, Visitor
from zhiwang.disputes.services import case_register, visit_register
from zhiwang.registry.hashing import id_number_hash, normalize_phone, phone_hash
from zhiwang.registry.models import LegalEntity, Person

REG_ID = id_number("44030519720304051")
REG_PHONE = "13712345678"


def _person(community, *, ident=REG_ID, name="欧阳明远", phone=REG_PHONE):
    return Person.objects.create(
        id_number=ident,
        id_number_hash=id_number_hash(ident),
        name=name,
        gender="male",
        birth_date=date(1972, 3, 4),
        phone=phone,
        phone_hash=phone_hash(normalize_phone(phone)),
        community=community,
    )


def _entity(community, *, code=ENTITY_CODE):
    return LegalEntity.objects.create(
        credit_code=code,
        name="深圳市测试物业管理有限公司",
        legal_representative="王建国",
        phone="0755-26660001",
        community=community,
    )


@pytest.fixture
def registry(world):
    return {"person": _person(world.community), "entity": _entity(world.community)}


def _register(world, actor=None, centre=None, **kw):
    data = {
        "actor": actor or world.window,
        "centre": centre or world.centre,
        "area_code": "peoples_mediation",
        "matter": "与房东押金纠纷",
        "visitor_name": "",
        "idempotency_key": kw.pop("key", "k1"),
    }
    data.update(kw)
    return visit_register(**data).visit


def test_window_picks_visitor_from_registry(world, registry, client):
    person = registry["person"]
    visit = _register(world, visitor_person=str(person.pk))
    visitor = visit.visitor
    assert visitor.person_id == person.pk
    assert (visitor.name, visitor.id_number, visit.visitor_phone) == (person.name, REG_ID, REG_PHONE)
    # Registered once: typing the same ID number later finds the same, linked visitor.
    again = _register(world, key="k2", visitor_name="欧阳明远", visitor_id_number=REG_ID)
    assert again.visitor_id == visitor.pk


def test_search_fragment_is_scoped_and_masked(world, registry, client):
    person = registry["person"]
    client.force_login(world.window)
    url = reverse("disputes:registry_pick")
    for q in ("欧阳", REG_ID, REG_PHONE):
        page = client.get(url, {"pick_q": q}).content.decode()
        assert f'value="{person.pk}"' in page, q
        assert person.masked_name in page and person.masked_id_number in page
        assert REG_ID not in page and REG_PHONE not in page and person.name not in page
    page = client.get(
        url, {"prefix": "party1_", "party1_kind": "entity", "party1_q": "测试物业"}
    ).content.decode()
    assert f'name="party1_entity" value="{registry["entity"].pk}"' in page
    # The window page offers the search to the operator.
    assert 'data-testid="visitor-pick"' in client.get(reverse("disputes:window")).content.decode()
    # Outside the person's jurisdiction: no result; a bad field name: 404.
    client.force_login(world.lh_window)
    page = client.get(url, {"pick_q": REG_ID}).content.decode()
    assert f'value="{person.pk}"' not in page and 'data-testid="pick-none"' in page
    assert client.get(url, {"prefix": "x_", "x_q": "a"}).status_code == 404
    # A mediator may not open the registry: no search at all.
    client.force_login(world.mediator)
    assert f'value="{person.pk}"' not in client.get(url, {"pick_q": REG_ID}).content.decode()


def test_outsider_cannot_pick_by_posting_an_id(world, registry):
    before = Visitor.objects.count()
    with pytest.raises(ServiceError) as caught:
        _register(world, actor=world.lh_window, centre=world.lh_centre, visitor_person=registry["person"].pk)
    assert caught.value.fields[0].code == "disputes.registry_not_found"
    assert caught.value.fields[0].field == "visitor_name"
    with pytest.raises(ServiceError) as caught:
        case_register(
            actor=world.lh_dispatcher,
            title="t",
            facts="押金纠纷",
            category="neighbours",
            division=world.lh_community,
            parties=parties(**{"0__person_id": str(registry["person"].pk)}),
            source="proactive",
        )
    assert {f.field for f in caught.value.fields} == {"parties.0.name"}
    assert Visitor.objects.count() == before


def test_case_form_picks_parties(world, registry, client):
    person, entity = registry["person"], registry["entity"]
    client.force_login(world.sub_dispatcher)
    form = client.get(reverse("disputes:case_new")).content.decode()
    assert 'data-testid="party0-pick"' in form
    response = client.post(
        reverse("disputes:case_new"),
        {
            "token": "t-pick",
            "title": "押金纠纷",
            "facts": "租客与物业公司就押金退还发生争议。",
            "category": "neighbours",
            "division": world.community.code,
            "party0_role": "applicant",
            "party0_kind": "person",
            "party0_person": str(person.pk),
            "party1_role": "respondent",
            "party1_kind": "entity",
            "party1_entity": str(entity.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    applicant = Party.objects.get(role="applicant", person=person)
    assert (applicant.name, applicant.identifier, applicant.phone) == (person.name, REG_ID, REG_PHONE)
    respondent = Party.objects.get(case=applicant.case, role="respondent")
    assert respondent.entity_id == entity.pk
    assert (respondent.name, respondent.identifier, respondent.representative) == (
        entity.name,
        ENTITY_CODE,
        "王建国",
    )
    page = client.get(response["Location"]).content.decode()
    assert reverse("registry:person_detail", args=[person.pk]) in page
    assert reverse("registry:entity_detail", args=[entity.pk]) in page
    assert REG_ID not in page and REG_PHONE not in page
    # A mediator (no registry pages) sees no link, only that the party is in the registry.
    from zhiwang.disputes.services import case_assign

    case_assign(case=applicant.case, actor=world.sub_dispatcher, mediator=world.mediator)
    client.force_login(world.mediator)
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="registry-link"' not in page


def test_auto_link_by_registry_hash(world, registry, make_case):
    case = make_case(
        parties=parties(**{"0__identifier": REG_ID, "1__kind": "entity", "1__identifier": ENTITY_CODE})
    )
    applicant, respondent = case.parties.get(role="applicant"), case.parties.get(role="respondent")
    assert applicant.person_id == registry["person"].pk
    assert respondent.entity_id == registry["entity"].pk
    # Typed values are kept: the link does not overwrite what the user entered.
    assert applicant.name == "张三丰"
    visit = _register(world, visitor_name="欧阳", visitor_id_number=REG_ID)
    assert visit.visitor.person_id == registry["person"].pk


def test_no_registry_match_changes_nothing(world, make_case):
    other = credit_code("91440300MA5F9K8L6")
    case = make_case(parties=parties(**{"1__kind": "entity", "1__identifier": other}))
    assert not Person.objects.filter(id_number_hash=id_number_hash(APPLICANT_ID)).exists()
    assert list(case.parties.values_list("person_id", "entity_id")) == [(None, None), (None, None)]
    visit = _register(world, visitor_name="赵六", visitor_id_number=APPLICANT_ID, visitor_phone="13800138000")
    assert visit.visitor.person_id is None and visit.visitor.name == "赵六"


def test_a_pick_survives_a_case_form_with_errors(world, registry, client):
    person, entity = registry["person"], registry["entity"]
    client.force_login(world.sub_dispatcher)
    response = client.post(
        reverse("disputes:case_new"),
        {
            "token": "t-kept",
            "facts": "租客与物业公司就押金退还发生争议。",
            "category": "",  # the error that sends the form back
            "division": world.community.code,
            "party0_role": "applicant",
            "party0_kind": "person",
            "party0_person": str(person.pk),
            "party1_role": "respondent",
            "party1_kind": "entity",
            "party1_entity": str(entity.pk),
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'name="party0_person" value="{person.pk}" checked' in page
    assert f'name="party1_entity" value="{entity.pk}" checked' in page
    assert person.masked_name in page and person.masked_id_number in page
    assert person.name not in page and REG_ID not in page and REG_PHONE not in page
    assert Party.objects.count() == 0


def test_a_pick_outside_scope_is_not_shown_again(world, registry, client):
    client.force_login(world.lh_dispatcher)
    response = client.post(
        reverse("disputes:case_new"),
        {
            "token": "t-outsider",
            "facts": "押金纠纷",
            "category": "neighbours",
            "division": world.lh_community.code,
            "party0_role": "applicant",
            "party0_person": str(registry["person"].pk),
            "party1_role": "respondent",
            "party1_name": "李四",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'value="{registry["person"].pk}" checked' not in page
    assert registry["person"].masked_name not in page


def test_a_visitor_pick_survives_a_window_form_with_errors(world, registry, client):
    person = registry["person"]
    client.force_login(world.window)
    response = client.post(
        reverse("disputes:window"),
        {
            "centre": world.centre.pk,
            "token": "w-kept",
            "area": "peoples_mediation",
            "matter": "",  # missing: the form comes back
            "visitor_person": str(person.pk),
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'name="visitor_person" value="{person.pk}" checked' in page
    assert person.masked_name in page and person.name not in page and REG_ID not in page
    assert Visitor.objects.count() == 0


def test_search_fragment_shows_the_registry_search_limit(world, registry, client, monkeypatch):
    """Past the hourly limit of searches by ID/phone number, the pick list says so (not a server error)."""
    from zhiwang.registry.services import audit

    monkeypatch.setattr(audit, "IDENTIFIER_SEARCH_LIMIT", 1)
    client.force_login(world.window)
    url = reverse("disputes:registry_pick")
    assert client.get(url, {"pick_q": REG_PHONE}).status_code == 200
    response = client.get(url, {"pick_q": "13912345678"})  # a second distinct number: over the limit
    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="pick-refused"' in page
    assert 'data-testid="pick-results"' not in page
