"""Scoping and masking: selectors, API and leaks across jurisdictions."""

from __future__ import annotations

import pytest
from django.test import Client

from zhiwang.registry import selectors
from zhiwang.registry.models import AccessLog, LegalEntity, Person, Residence


@pytest.fixture
def api(db):
    def client_for(user):
        client = Client()
        client.force_login(user)
        return client

    return client_for


def _nanshan_person(home_community):
    return Person.objects.filter(community=home_community).order_by("pk").first()


def _luohu_person(luohu_community):
    return Person.objects.filter(community=luohu_community).order_by("pk").first()


def test_selectors_scope_by_jurisdiction(
    registry_demo,
    grid_worker,
    luohu_dispatcher,
    nanshan_dispatcher,
    admin_user,
    home_community,
    luohu_community,
):
    assert registry_demo.people > 0 and registry_demo.entities > 0
    ns, lh = _nanshan_person(home_community), _luohu_person(luohu_community)
    worker_ids = set(selectors.person_visible(user=grid_worker).values_list("pk", flat=True))
    assert worker_ids and lh.pk not in worker_ids
    assert worker_ids <= set(
        Person.objects.filter(grid_id__in=grid_worker.scope.grid_ids).values_list("pk", flat=True)
    )
    assert ns.pk not in set(selectors.person_visible(user=luohu_dispatcher).values_list("pk", flat=True))
    assert lh.pk in set(selectors.person_visible(user=luohu_dispatcher).values_list("pk", flat=True))
    assert selectors.person_visible(user=admin_user).count() == Person.objects.count()
    assert not LegalEntity.objects.visible_to(luohu_dispatcher).filter(community=home_community).exists()


def test_search_by_id_number_and_phone_uses_hash_and_scope(
    registry_demo, nanshan_dispatcher, luohu_dispatcher, home_community
):
    ns = Person.objects.filter(community=home_community).exclude(phone="").order_by("pk").first()
    assert list(selectors.person_search(user=nanshan_dispatcher, q=ns.id_number.lower())) == [ns]
    assert list(selectors.person_search(user=nanshan_dispatcher, q=ns.phone)) == [ns]
    assert list(selectors.person_search(user=luohu_dispatcher, q=ns.id_number)) == []
    assert ns in selectors.person_search(user=nanshan_dispatcher, q=ns.name[:1])


def test_building_view_lists_only_visible_residents(registry_demo, grid_police, grid_worker, home_community):
    residence = (
        Residence.objects.filter(community=home_community)
        .exclude(grid_id=min(grid_police.scope.grid_ids))
        .select_related("address")
        .first()
    )
    assert residence is not None, "the seeded demo always puts residents in the second grid"
    building = selectors.building_of(residence.address)
    worker_view = selectors.building_view(user=grid_worker, building=building)
    police_view = selectors.building_view(user=grid_police, building=building)
    assert worker_view.people >= 1
    assert police_view.people == 0  # the police officer of grid 1 sees nobody in grid 2


def test_api_masks_and_scopes(registry_demo, api, grid_worker, luohu_dispatcher, home_community):
    ns = (
        Person.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .exclude(phone="")
        .first()
    )
    body = api(grid_worker).get(f"/api/v1/registry/people/{ns.pk}").json()
    assert body["id_number"] == ns.masked_id_number and ns.id_number not in str(body)
    assert body["phone"] == ns.masked_phone and ns.phone not in str(body)
    listed = api(grid_worker).get("/api/v1/registry/people", {"q": ns.id_number}).json()
    assert [p["id"] for p in listed] == [ns.pk]
    outsider = api(luohu_dispatcher).get(f"/api/v1/registry/people/{ns.pk}")
    assert outsider.status_code == 404 and outsider.json()["error"]["code"] == "not_found"
    assert (
        api(luohu_dispatcher)
        .post(f"/api/v1/registry/people/{ns.pk}/reveal", {"reason": "x"}, content_type="application/json")
        .status_code
        == 404
    )


def test_api_reveal_and_correct(registry_demo, api, grid_worker, city_leader, home_community):
    ns = (
        Person.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .exclude(phone="")
        .first()
    )
    client = api(grid_worker)
    missing = client.post(
        f"/api/v1/registry/people/{ns.pk}/reveal", {"reason": "  "}, content_type="application/json"
    )
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "reason"
    ok = client.post(
        f"/api/v1/registry/people/{ns.pk}/reveal", {"reason": "入户核查"}, content_type="application/json"
    )
    assert ok.json() == {"id_number": ns.id_number, "phone": ns.phone}
    assert AccessLog.objects.filter(record_id=ns.pk, actor=grid_worker, note="入户核查").exists()
    denied = api(city_leader).post(
        f"/api/v1/registry/people/{ns.pk}/reveal", {"reason": "看看"}, content_type="application/json"
    )
    assert denied.status_code == 403
    patched = client.patch(
        f"/api/v1/registry/people/{ns.pk}",
        {"phone": "13512345678", "note": "本人更换号码", "expected_version": ns.version},
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["phone"] == "135****5678"
    stale = client.patch(
        f"/api/v1/registry/people/{ns.pk}",
        {"phone": "13612345678", "note": "再改", "expected_version": ns.version},
        content_type="application/json",
    )
    assert stale.status_code == 409


def test_api_place_and_bad_input(registry_demo, api, grid_worker, steward, home_room):
    building = api(grid_worker).get(f"/api/v1/registry/places/{home_room.code}").json()
    assert building["address"]["level"] == "building" and building["rooms"]
    assert all("*" in r["id_number"] for room in building["rooms"] for r in room["residents"])
    bad = api(steward).post(
        "/api/v1/registry/people", {"id_number": "123", "name": "某"}, content_type="application/json"
    )
    assert (
        bad.status_code == 400
        and bad.json()["error"]["code"] == "id_number.length"
        and bad.json()["error"]["field"] == "id_number"
    )
    match = api(grid_worker).get("/api/v1/registry/places/match", {"q": home_room.full_name}).json()
    assert match["address"]["code"] == home_room.code


def test_eligibility_rule_on_person(registry_demo, admin_user, home_community):
    from datetime import date

    from zhiwang.registry.models import EligibilityRule

    rule = EligibilityRule.objects.get(service="高龄津贴")  # seeded: registered residents aged 70 and over
    today = date.today()
    residents = list(Person.objects.filter(community=home_community))
    old = [p for p in residents if p.age_on(today) >= 70 and p.household_type == "registered"]
    others = [p for p in residents if p not in old]
    eligible = selectors.eligibility_for_people(people=residents)
    assert old and all(rule in eligible[p.pk] for p in old)
    assert not any(rule in eligible.get(p.pk, []) for p in others)
    rule.is_active = False
    rule.save()
    assert rule not in selectors.person_eligibility(user=admin_user, person=old[0])


def test_eligibility_rule_limited_to_a_division(registry_demo, home_community, luohu_community):
    from zhiwang.registry.models import EligibilityRule

    rule = EligibilityRule.objects.create(service="罗湖长者关爱", min_age=0, division=luohu_community.parent)
    eligible = selectors.eligibility_for_people(
        people=list(Person.objects.filter(community__in=[home_community, luohu_community]))
    )
    luohu = {p.pk for p in Person.objects.filter(community=luohu_community)}
    assert {pk for pk, rules in eligible.items() if rule in rules} == luohu


def test_export_is_masked_unless_permission_and_reason(
    registry_demo, api, grid_worker, steward, home_community
):
    from django.contrib.auth.models import Permission

    ns = Person.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids).first()
    masked = b"".join(api(grid_worker).get("/registry/people/export.csv").streaming_content).decode(
        "utf-8-sig"
    )
    assert ns.masked_id_number in masked and ns.id_number not in masked
    lines = masked.strip().splitlines()
    assert len(lines) == 1 + Person.objects.visible_to(grid_worker).count()
    assert (
        api(steward).post("/registry/people/export.csv", {"full": "1", "reason": "核查"}).status_code == 403
    )
    steward.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    client = api(steward)
    refused = client.post("/registry/people/export.csv", {"full": "1", "reason": ""})
    # a missing reason is not a matter of role: the page says the export was not made, and why
    assert refused.status_code == 400
    assert "未能导出" in refused.content.decode()
    assert "Not allowed" not in refused.content.decode() and "无权访问" not in refused.content.decode()
    full = b"".join(
        client.post(
            "/registry/people/export.csv", {"full": "1", "reason": "民政核查", "q": ns.name}
        ).streaming_content
    )
    assert ns.id_number in full.decode("utf-8-sig")
    assert AccessLog.objects.filter(
        actor__username="demo_steward", record_id=ns.pk, action="export", note="民政核查"
    ).exists()
