"""Privacy: masked identifiers cannot be recovered by searching, birth dates show as year and month,
sensitive key groups stay need-to-know, registering reveals nothing about other jurisdictions,
and names of private people are masked in the change history."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.test import Client

from zhiwang.core.errors import Conflict
from zhiwang.core.validators import id_number_check_char
from zhiwang.registry import selectors, services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.models import (
    AccessLog,
    Housing,
    LegalEntity,
    Person,
    RecordChange,
    RegistrationReview,
)
from zhiwang.registry.services.audit import (
    IDENTIFIER_SEARCH_LIMIT,
    REGISTER_REFERRED_ACTION,
    SEARCH_ACTION,
    SEARCH_REFUSED_ACTION,
    SENSITIVE_READ_ACTION,
)

MENTAL = "mental_disorder"
SERVICE = "严重精神障碍患者监护补贴"


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def _candidates(person: Person):
    """The ID numbers an attacker tries from the masked number and the birth date (region code varies)."""
    masked = person.masked_id_number
    for region in range(1000):
        first17 = f"{masked[:3]}{region:03d}{person.id_number[6:14]}{masked[-4:-1]}"
        if id_number_check_char(first17) == masked[-1]:
            yield first17 + masked[-1]


def _home_person(home_community, **filters) -> Person:
    return Person.objects.filter(community=home_community, **filters).order_by("pk").first()


# --- 1. searches by identifier: logged and limited for users who may not reveal --------------


def test_id_number_brute_force_is_stopped_by_the_limit_and_logged(
    registry_demo, client_for, nanshan_dispatcher, home_community
):
    person = _home_person(home_community)
    assert not services.may_reveal(nanshan_dispatcher, person)
    wrong = [c for c in _candidates(person) if c != person.id_number]
    assert len(wrong) > IDENTIFIER_SEARCH_LIMIT  # the attack needs more tries than the limit allows
    client = client_for(nanshan_dispatcher)
    for candidate in wrong[:IDENTIFIER_SEARCH_LIMIT]:  # failed searches count too
        answer = client.get("/api/v1/registry/people", {"q": candidate})
        assert answer.status_code == 200 and answer.json() == []
    refused = client.get("/api/v1/registry/people", {"q": person.id_number})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "registry.search_limit"
    logged = AccessLog.objects.filter(actor=nanshan_dispatcher, action=SEARCH_ACTION)
    assert logged.count() == IDENTIFIER_SEARCH_LIMIT
    assert {row.payload["kind"] for row in logged} == {"id_number"}
    assert {row.payload["value"] for row in logged} == {person.masked_id_number}
    assert len({row.payload["hash"] for row in logged}) == IDENTIFIER_SEARCH_LIMIT
    assert AccessLog.objects.filter(actor=nanshan_dispatcher, action=SEARCH_REFUSED_ACTION).count() == 1
    stored = json.dumps([row.payload for row in AccessLog.objects.all()])
    assert person.id_number not in stored and not any(c in stored for c in wrong)
    # the web search and the export (an oracle too) are refused as well
    page = client.get("/registry/", {"q": person.id_number, "kind": "person"})
    assert page.status_code == 429 and "search-error" in page.content.decode()
    assert client.get("/registry/people/export.csv", {"q": person.id_number}).status_code == 429


def test_phone_brute_force_counts_failed_searches(
    registry_demo, client_for, nanshan_dispatcher, home_community
):
    person = _home_person(home_community, phone__startswith="1")
    client = client_for(nanshan_dispatcher)
    real_middle = int(person.phone[3:7])
    tried = [f"{person.phone[:3]}{(real_middle + i) % 10000:04d}{person.phone[7:]}" for i in range(1, 100)]
    tried = [p for p in tried if p != person.phone][:IDENTIFIER_SEARCH_LIMIT]
    for phone in tried:
        assert client.get("/api/v1/registry/people", {"q": phone}).json() == []
    assert client.get("/api/v1/registry/people", {"q": person.phone}).status_code == 429
    rows = AccessLog.objects.filter(actor=nanshan_dispatcher, action=SEARCH_ACTION)
    assert rows.count() == IDENTIFIER_SEARCH_LIMIT and {r.payload["kind"] for r in rows} == {"phone"}
    assert all(person.phone not in json.dumps(r.payload) for r in AccessLog.objects.all())


def test_window_search_by_id_number_still_works_and_is_logged(
    registry_demo, client_for, nanshan_dispatcher, grid_worker, home_community
):
    person = _home_person(home_community)
    client = client_for(nanshan_dispatcher)
    for _ in range(IDENTIFIER_SEARCH_LIMIT + 5):  # the same number again tells nothing new: not limited
        assert [p["id"] for p in client.get("/api/v1/registry/people", {"q": person.id_number}).json()] == [
            person.pk
        ]
    row = AccessLog.objects.filter(actor=nanshan_dispatcher, action=SEARCH_ACTION).latest("at")
    assert row.record_id == person.pk and row.payload["matches"] == [person.pk]
    assert row.payload["value"] == person.masked_id_number and person.id_number not in json.dumps(row.payload)
    # a name search is neither logged nor limited
    assert list(selectors.person_search(user=nanshan_dispatcher, q=person.name[:1]))
    # a role that may reveal is not limited (its searches stay in its jurisdiction)
    n = AccessLog.objects.count()
    for sequence in range(IDENTIFIER_SEARCH_LIMIT + 3):
        list(
            selectors.person_search(
                user=grid_worker, q=make_id_number("440305", date(1960, 1, 1), sequence, male=True)
            )
        )
    assert AccessLog.objects.count() == n


def test_numbers_being_typed_do_not_use_up_the_limit(registry_demo, nanshan_dispatcher, home_community):
    """The pick lists search as the operator types: only a whole phone or ID number is a search."""
    person = _home_person(home_community, phone__startswith="1")
    typed = [person.phone[:n] for n in range(7, 11)]  # a mobile number being typed
    typed += [person.id_number[:14], person.id_number[:6] + " " + person.id_number[6:14]]  # an ID in groups
    for _ in range(IDENTIFIER_SEARCH_LIMIT):
        for partial in typed:
            assert list(selectors.person_search(user=nanshan_dispatcher, q=partial)) == []
    assert not AccessLog.objects.filter(actor=nanshan_dispatcher).exists()
    # the whole number is searched, found and logged
    found = list(selectors.person_search(user=nanshan_dispatcher, q=person.phone))
    assert person in found
    assert AccessLog.objects.filter(actor=nanshan_dispatcher, action=SEARCH_ACTION).count() == 1


# --- 1c. birth date: year and month in masked views --------------------------------------------


def test_api_and_masked_export_give_year_and_month_only(
    registry_demo, client_for, nanshan_dispatcher, steward, home_community
):
    from django.contrib.auth.models import Permission

    person = _home_person(home_community)
    full_date, month = person.birth_date.isoformat(), person.birth_date.strftime("%Y-%m")
    client = client_for(nanshan_dispatcher)
    body = client.get(f"/api/v1/registry/people/{person.pk}").json()
    assert body["birth_month"] == month and "birth_date" not in body and full_date not in json.dumps(body)
    listed = client.get("/api/v1/registry/people", {"q": person.name}).json()
    assert all("birth_date" not in p for p in listed)
    assert any(p["id"] == person.pk and p["birth_month"] == month for p in listed)
    masked = b"".join(client.get("/registry/people/export.csv").streaming_content).decode("utf-8-sig")
    row = next(line for line in masked.splitlines() if person.masked_id_number in line)
    assert month in row and full_date not in row
    steward.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    full = client_for(steward).post(
        "/registry/people/export.csv", {"full": "1", "reason": "民政核查", "q": person.name}
    )
    assert full_date in b"".join(full.streaming_content).decode("utf-8-sig")


# --- 2. sensitive key groups through eligibility -----------------------------------------------


@pytest.fixture
def tagged(registry_demo, grid_worker, admin_user, home_community):
    person = _home_person(home_community, grid_id__in=grid_worker.scope.grid_ids)
    services.person_tag(person=person, actor=grid_worker, group=MENTAL)
    services.eligibility_rule_save(actor=admin_user, service=SERVICE, description="x", key_group=MENTAL)
    return person


def test_sensitive_eligibility_hidden_from_roles_without_need_to_know(
    tagged, client_for, nanshan_dispatcher, grid_worker
):
    client = client_for(nanshan_dispatcher)
    body = client.get(f"/api/v1/registry/people/{tagged.pk}").json()
    assert MENTAL not in body["tags"] and SERVICE not in body["eligible_for"]
    assert SERVICE not in client.get(f"/registry/people/{tagged.pk}/").content.decode()
    residence = tagged.residences.filter(until__isnull=True).select_related("address").first()
    assert SERVICE not in client.get(f"/places/{residence.address.code}/").content.decode()
    assert SERVICE not in client.get(f"/api/v1/registry/places/{residence.address.code}").content.decode()
    assert all(
        r.service != SERVICE for r in selectors.person_eligibility(user=nanshan_dispatcher, person=tagged)
    )
    assert not any(
        r.service == SERVICE for r in selectors.eligibility_for_people(people=[tagged]).get(tagged.pk, [])
    )
    assert not AccessLog.objects.filter(action=SENSITIVE_READ_ACTION).exists()


def test_sensitive_reads_by_grid_worker_are_logged(tagged, client_for, grid_worker):
    body = client_for(grid_worker).get(f"/api/v1/registry/people/{tagged.pk}").json()
    assert MENTAL in body["tags"] and SERVICE in body["eligible_for"]
    rows = AccessLog.objects.filter(actor=grid_worker, record_id=tagged.pk, action=SENSITIVE_READ_ACTION)
    assert sorted(r.payload["via"] for r in rows.all()) == ["eligibility", "tags"]
    assert all(r.payload["groups"] == [MENTAL] for r in rows.all())
    assert [t.group for t in selectors.visible_tags(user=grid_worker, person=tagged)] == [MENTAL]
    assert rows.count() == 3


# --- 3. registering: no existence leak, no silent takeover -------------------------------------


def test_register_elsewhere_answers_without_saying_where_and_leaves_a_trace(
    registry_demo, client_for, grid_worker, luohu_community, home_room
):
    """Held elsewhere: answered like a new number (202, test_register_unseen), the record untouched,
    a trace on it and a registration waiting for a data steward."""
    other = Person.objects.filter(community=luohu_community).order_by("pk").first()
    before = (other.name, other.community_id, other.version)
    answer = client_for(grid_worker).post(
        "/api/v1/registry/people",
        {"id_number": other.id_number, "name": "冒名", "address": home_room.code},
        content_type="application/json",
    )
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "received" and "error" not in body
    assert "管辖" not in body["message"] and "jurisdiction" not in body["message"]
    other.refresh_from_db()
    assert (other.name, other.community_id, other.version) == before
    trace = AccessLog.objects.get(action=REGISTER_REFERRED_ACTION, record_id=other.pk)
    assert trace.actor == grid_worker and trace.payload["why"] == "outside"
    assert RegistrationReview.objects.get(person=other).status == "pending"


def test_unplaced_person_is_not_taken_over_by_a_grid_worker(steward, grid_worker, home_room):
    id_number = make_id_number("440305", date(1970, 7, 7), 77, male=True)
    person, _ = services.person_register(actor=steward, data={"id_number": id_number, "name": "李四"})
    assert person.community_id is None
    with pytest.raises(services.RegistrationReferred):
        services.person_register(
            actor=grid_worker, data={"id_number": id_number, "name": "王五", "address": home_room.code}
        )
    person.refresh_from_db()
    assert (person.name, person.community_id, person.grid_id) == ("李四", None, None)
    assert not person.residences.exists()
    assert (
        AccessLog.objects.get(action=REGISTER_REFERRED_ACTION, record_id=person.pk).payload["why"]
        == "unplaced"
    )
    # a data steward places it
    placed, created = services.person_register(
        actor=steward, data={"id_number": id_number, "name": "李四", "address": home_room.code}
    )
    assert not created and placed.community_id == home_room.community_id


def test_unplaced_entity_is_not_taken_over_by_a_grid_worker(steward, grid_worker, home_room):
    from zhiwang.registry.demo import make_credit_code

    code = make_credit_code("440305", __import__("random").Random(7))
    entity, _ = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "无址科技有限公司"}
    )
    assert entity.community_id is None
    with pytest.raises(Conflict) as info:  # answered as for people (it was 403 permission_denied)
        services.entity_register(
            actor=grid_worker, data={"credit_code": code, "name": "冒名公司", "address": home_room.code}
        )
    assert info.value.code == "registry.register_refused"
    entity.refresh_from_db()
    assert (entity.name, entity.community_id, entity.grid_id) == ("无址科技有限公司", None, None)
    assert not entity.operations.exists()
    placed, created = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "无址科技有限公司", "address": home_room.code}
    )
    assert not created and placed.community_id == home_room.community_id


# --- 4. names of private people masked in the change history ----------------------------------


def test_history_masks_legal_representative_and_owner(
    registry_demo, client_for, grid_worker, nanshan_dispatcher, home_community
):
    entity = (
        LegalEntity.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .exclude(legal_representative="")
        .order_by("pk")
        .first()
    )
    old = entity.legal_representative
    services.entity_correct(
        entity=entity,
        actor=grid_worker,
        data={"legal_representative": "欧阳娜娜"},
        note="核实",
        expected_version=entity.version,
    )
    change = RecordChange.objects.filter(record_kind="entity", record_id=entity.pk, action="correct").latest(
        "at"
    )
    assert change.payload["changes"]["legal_representative"] == [old[0] + "*" * (len(old) - 1), "欧***"]
    page = client_for(nanshan_dispatcher).get(f"/registry/entities/{entity.pk}/").content.decode()
    assert "欧阳娜娜" not in page and old not in page

    housing = (
        Housing.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .exclude(owner_name="")
        .order_by("pk")
        .first()
    )
    owner = housing.owner_name
    services.housing_correct(
        housing=housing,
        actor=grid_worker,
        data={"owner_name": "司马光明"},
        note="过户",
        expected_version=housing.version,
    )
    change = RecordChange.objects.filter(
        record_kind="housing", record_id=housing.pk, action="correct"
    ).latest("at")
    assert change.payload["changes"]["owner_name"] == [owner[0] + "*" * (len(owner) - 1), "司***"]
    assert "司马光明" not in json.dumps(change.payload, ensure_ascii=False)
