"""Regression tests for the second registry review: the API admits the roles the pages admit, a
dropped full export has logged every row it sent, malformed ids in forms are 404, a fixed mapping
imports the same file again, an accepted conflict whose value is already stored is settled, and
every correction names the version it was made on."""

from __future__ import annotations

import csv
import random
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client, RequestFactory

from zhiwang.accounts.models import User
from zhiwang.accounts.services import api_token_create, integration_client_create
from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.registry import exports, selectors, services, views
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    AccessLog,
    Housing,
    ImportIssue,
    ImportStatus,
    LegalEntity,
    MappingTemplate,
    Person,
    RecordChange,
)

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1980 + i, 3, 1 + i), i, male=i % 2 == 0) for i in range(6)]
FORBIDDEN = ("auth.forbidden", "您无权执行此操作。")


def _persona(username: str) -> User:
    return User.objects.get(username=username)


@pytest.fixture
def mediator(db):
    """Mediator of Nanshan's first subdistrict: a jurisdiction holding the demo registry, no registry role."""
    return _persona("demo_mediator")


@pytest.fixture
def handler(db):
    """Handler of a Nanshan department: same."""
    return _persona("demo_handler")


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def _csv(tmp_path, text: str, name: str):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _import(steward, source, template, path, **kwargs):
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source, file_path=path, template=template, **kwargs
    )
    return pipeline.import_batch_run(batch=batch)


def _error(response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["code"], error["message"]


# --- 1. the API admits the roles the pages admit -------------------------------------------------


@pytest.fixture
def records(registry_demo, grid_worker, home_community, steward, source_unit, template, tmp_path):
    """One person, entity and room the grid worker sees, in the mediator's jurisdiction too; one batch."""
    person = (
        Person.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .exclude(phone="")
        .order_by("pk")
        .first()
    )
    entity = (
        LegalEntity.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .order_by("pk")
        .first()
    )
    room = person.residences.filter(until__isnull=True).select_related("address").get().address
    batch = _import(
        steward, source_unit, template, _csv(tmp_path, f"姓名,公民身份号码\n张三,{IDS[0]}\n", "b.csv")
    )
    return {"person": person, "entity": entity, "room": room, "batch": batch}


def _reads(records) -> dict[str, tuple[str, dict]]:
    person, entity, room = records["person"], records["entity"], records["room"]
    return {
        "people": ("/api/v1/registry/people", {"q": person.name[:1]}),
        "person": (f"/api/v1/registry/people/{person.pk}", {}),
        "entities": ("/api/v1/registry/entities", {"q": entity.name[:2]}),
        "entity": (f"/api/v1/registry/entities/{entity.pk}", {}),
        "place_match": ("/api/v1/registry/places/match", {"q": room.full_name}),
        "place": (f"/api/v1/registry/places/{room.code}", {}),
        "import": (f"/api/v1/registry/imports/{records['batch'].pk}", {}),
    }


@pytest.mark.parametrize(
    "endpoint", ["people", "person", "entities", "entity", "place_match", "place", "import"]
)
def test_every_read_refuses_a_role_the_pages_refuse_and_answers_a_reader(
    records, client_for, mediator, handler, grid_worker, steward, endpoint
):
    path, params = _reads(records)[endpoint]
    assert (
        Person.objects.visible_to(mediator).filter(pk=records["person"].pk).exists()
    )  # scope alone let it in
    for refused in (mediator, handler):
        answer = client_for(refused).get(path, params)
        assert answer.status_code == 403, refused.username
        assert _error(answer) == FORBIDDEN
        assert records["person"].masked_id_number not in answer.content.decode()
    reader = steward if endpoint == "import" else grid_worker  # import batches are the stewards' own
    answer = client_for(reader).get(path, params)
    assert answer.status_code == 200, answer.content
    if endpoint == "people":
        assert records["person"].pk in {row["id"] for row in answer.json()}


def test_every_write_refuses_a_role_the_pages_refuse_even_with_the_reveal_permission(
    records, client_for, mediator, handler, grid_worker
):
    person, entity = records["person"], records["entity"]
    mediator.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    mediator = User.objects.get(pk=mediator.pk)
    assert services.may_reveal(mediator, person)  # the service alone would have unmasked it
    people, changes, logs = Person.objects.count(), RecordChange.objects.count(), AccessLog.objects.count()
    writes = [
        ("post", "/api/v1/registry/people", {"id_number": IDS[1], "name": "李四"}),
        (
            "patch",
            f"/api/v1/registry/people/{person.pk}",
            {"name": "改名", "note": "核实", "expected_version": person.version},
        ),
        ("post", f"/api/v1/registry/people/{person.pk}/reveal", {"reason": "调解需要"}),
        # the entity's own name: registering a known code with another one is a 409 (a correction's job)
        ("post", "/api/v1/registry/entities", {"credit_code": entity.credit_code, "name": entity.name}),
    ]
    for user in (mediator, handler):
        client = client_for(user)
        for method, path, body in writes:
            answer = getattr(client, method)(path, body, content_type="application/json")
            assert (answer.status_code, _error(answer)) == (403, FORBIDDEN), (user.username, path)
            assert person.id_number not in answer.content.decode()
    assert (Person.objects.count(), RecordChange.objects.count(), AccessLog.objects.count()) == (
        people,
        changes,
        logs,
    )
    # the grid worker of the place may do each of them
    client = client_for(grid_worker)
    answers = [getattr(client, m)(p, b, content_type="application/json").status_code for m, p, b in writes]
    # a new number is received (202), like one held elsewhere (test_register_unseen)
    assert answers == [202, 200, 200, 200]


def test_a_token_of_a_refused_role_is_refused_too(records, mediator):
    key = api_token_create(user=mediator, name="调解系统").key
    answer = Client().get("/api/v1/registry/people", {"q": "张"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (answer.status_code, _error(answer)) == (403, FORBIDDEN)


def test_the_api_admits_exactly_the_roles_the_pages_admit(records, client_for, home_community):
    client = integration_client_create(name="区城管系统", jurisdictions=[home_community])
    users = [*User.objects.filter(username__startswith="demo_"), client.service_user]
    assert {u.role for u in users} >= {"mediator", "handler", "citizen", "integration", "grid_worker"}
    for user in users:
        browser = client_for(user)
        page = browser.get("/registry/").status_code
        answer = browser.get("/api/v1/registry/people").status_code
        assert page in (200, 403) and answer in (200, 403), user.username
        assert (page == 403) == (answer == 403), (user.username, user.role, page, answer)
        assert (answer == 200) == services.may_read(user)


# --- 2. a dropped full export has logged every row it sent ------------------------------------


def _hang_up(response) -> None:
    """The client went away: the server closes the half-sent response. Closing sends
    ``request_finished``, whose ``close_old_connections`` would close the test's database
    connection inside its transaction (the test client guards it the same way)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_dropped_full_export_sent_no_row_that_was_not_logged_first(registry_demo, steward, monkeypatch):
    monkeypatch.setattr(exports, "LOG_BATCH", 3)
    steward.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    request = RequestFactory().post("/registry/people/export.csv", {"full": "1", "reason": "民政核查"})
    request.user = User.objects.get(pk=steward.pk)
    response = views.people_export(request)  # the streaming response a server would send
    assert response.status_code == 200 and response.streaming
    received = iter(response.streaming_content)
    assert next(received).decode() == "\ufeff"
    assert next(received).decode().startswith("姓名,公民身份号码")
    sent = [next(csv.reader([next(received).decode()]))[1] for _ in range(4)]
    _hang_up(response)  # after four people
    with pytest.raises(StopIteration):
        next(received)  # the rows were closed with the response
    logged = AccessLog.objects.filter(actor=steward, action="export", note="民政核查")
    logged_numbers = set(
        Person.objects.filter(pk__in=logged.values("record_id")).values_list("id_number", flat=True)
    )
    assert all(len(number) == 18 and "*" not in number for number in sent)  # unmasked
    assert set(sent) <= logged_numbers
    # chunk by chunk: the second chunk was logged before its first row left, nothing beyond it
    assert logged.count() == 6 < Person.objects.count()


def test_a_complete_full_export_logs_each_person_once(registry_demo, client_for, steward, monkeypatch):
    monkeypatch.setattr(exports, "LOG_BATCH", 4)
    steward.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    client = client_for(User.objects.get(pk=steward.pk))
    body = b"".join(
        client.post("/registry/people/export.csv", {"full": "1", "reason": "民政核查"}).streaming_content
    )
    rows = list(csv.reader(body.decode("utf-8-sig").splitlines()))[1:]
    logged = list(
        AccessLog.objects.filter(actor=steward, action="export").values_list("record_id", flat=True)
    )
    assert len(rows) == len(logged) == len(set(logged)) == Person.objects.count()


# --- 3. a malformed id in a form is "no such record" --------------------------------------------


@pytest.fixture
def name_conflict(steward, source_unit, other_unit, template, tmp_path, home_room):
    """The police file says 张三, the urban-management file 张叁: a merge conflict for the steward."""
    _import(
        steward,
        source_unit,
        template,
        _csv(tmp_path, f"姓名,身份证号码,现住址\n张三,{IDS[2]},{home_room.code}\n", "a.csv"),
    )
    _import(steward, other_unit, template, _csv(tmp_path, f"姓名,身份证号码\n张叁,{IDS[2]}\n", "c.csv"))
    return selectors.merge_conflicts(user=steward).get()


@pytest.mark.parametrize("value", ["abc", "", "²", "١٢", "-1", "1e3", " 1 2", "9" * 40])
def test_a_malformed_conflict_id_is_404_and_settles_nothing(name_conflict, client_for, steward, value):
    answer = client_for(steward).post("/registry/conflicts/", {"issue": value, "accept": "1"})
    assert answer.status_code == 404
    assert ImportIssue.objects.get(pk=name_conflict.pk).resolved_at is None


def test_a_well_formed_conflict_id_settles_it(name_conflict, client_for, steward):
    answer = client_for(steward).post(
        "/registry/conflicts/", {"issue": f" {name_conflict.pk} ", "accept": "1"}
    )
    assert answer.status_code == 302
    assert ImportIssue.objects.get(pk=name_conflict.pk).resolution == "accepted"
    assert Person.objects.get(pk=name_conflict.record_id).name == "张叁"


# --- 4. the same file with a fixed mapping imports again -------------------------------------------


def test_a_fixed_mapping_imports_the_same_file_again_and_the_same_mapping_resumes(
    steward, source_unit, template, tmp_path
):
    path = _csv(tmp_path, f"姓名,公民身份号码,备注\n张三,{IDS[3]},流动人口\n", "p.csv")
    first = _import(steward, source_unit, template, path)
    assert first.status == ImportStatus.DONE
    assert Person.objects.get(id_number=IDS[3]).household_type == "registered"  # 备注 was ignored
    same = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    assert same.pk == first.pk
    # the steward maps 备注 this time: a new batch, which reads the column
    fixed = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        columns={"备注": "household_type"},
    )
    assert fixed.pk != first.pk and fixed.columns["备注"] == "household_type"
    assert pipeline.import_batch_run(batch=fixed).status == ImportStatus.DONE
    assert Person.objects.get(id_number=IDS[3]).household_type == "migrant"
    again = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        columns={"备注": "household_type"},
    )
    assert again.pk == fixed.pk  # the same file and mapping again: idempotent
    # a template that maps the column itself reads the file the same way as that mapping
    other = MappingTemplate.objects.create(
        name="公安实有人口（含备注）", kind="person", columns={**template.columns, "备注": "household_type"}
    )
    by_template = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=other
    )
    assert by_template.pk == fixed.pk


def test_validating_an_imported_file_runs_a_validation(steward, source_unit, template, tmp_path):
    path = _csv(tmp_path, f"姓名,公民身份号码\n张三,{IDS[4]}\n", "v.csv")
    imported = _import(steward, source_unit, template, path)
    check = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        validate_only=True,
    )
    assert check.pk != imported.pk and check.validate_only
    check = pipeline.import_batch_run(batch=check)
    assert (check.status, check.rows_unchanged, check.rows_created) == (ImportStatus.VALIDATED, 1, 0)
    again = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        validate_only=True,
    )
    assert again.pk == check.pk


# --- 5. accepting a value already stored; the version of every correction --------------------------


def test_accepting_a_value_the_record_already_holds_settles_the_conflict_without_a_change(
    name_conflict, steward
):
    person = Person.objects.get(pk=name_conflict.record_id)
    services.person_correct(
        person=person, actor=steward, data={"name": "张叁"}, note="电话核实", expected_version=person.version
    )
    person.refresh_from_db()
    changes = RecordChange.objects.filter(record_kind="person", record_id=person.pk).count()
    services.merge_conflict_resolve(issue=name_conflict, actor=steward, accept=True)
    issue = ImportIssue.objects.get(pk=name_conflict.pk)
    assert (issue.resolution, issue.resolved_by) == ("accepted", steward)
    assert not selectors.merge_conflicts(user=steward).exists()
    assert RecordChange.objects.filter(record_kind="person", record_id=person.pk).count() == changes
    assert Person.objects.get(pk=person.pk).version == person.version


def test_an_entity_correction_needs_the_version(steward, grid_worker, home_room):
    code = make_credit_code("440305", random.Random(7))
    entity, _ = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "深圳市某某有限公司", "address": home_room.code}
    )
    entity.refresh_from_db()
    version = entity.version
    with pytest.raises(ServiceError) as info:
        services.entity_correct(
            entity=entity, actor=grid_worker, data={"name": "深圳市某某科技有限公司"}, note="核实"
        )
    assert (info.value.code, info.value.field, info.value.status) == (
        "registry.version_required",
        "expected_version",
        400,
    )
    with pytest.raises(Conflict):
        services.entity_correct(
            entity=entity,
            actor=grid_worker,
            data={"name": "深圳市某某科技有限公司"},
            note="核实",
            expected_version=version - 1,
        )
    assert LegalEntity.objects.get(pk=entity.pk).name == "深圳市某某有限公司"
    services.entity_correct(
        entity=entity,
        actor=grid_worker,
        data={"name": "深圳市某某科技有限公司"},
        note="核实",
        expected_version=version,
    )
    assert LegalEntity.objects.get(pk=entity.pk).version == version + 1


def test_the_entity_page_sends_the_version_and_refuses_a_form_without_it(
    steward, grid_worker, home_room, client_for
):
    code = make_credit_code("440305", random.Random(8))
    entity, _ = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "深圳市某某有限公司", "address": home_room.code}
    )
    entity.refresh_from_db()
    client = client_for(grid_worker)
    page = client.get(f"/registry/entities/{entity.pk}/").content.decode()
    assert 'name="expected_version"' in page and f'value="{entity.version}"' in page
    form = {"name": "深圳市某某科技有限公司", "entity_type": entity.entity_type, "note": "核实"}
    assert client.post(f"/registry/entities/{entity.pk}/", form).status_code == 400
    assert LegalEntity.objects.get(pk=entity.pk).name == "深圳市某某有限公司"
    answer = client.post(f"/registry/entities/{entity.pk}/", {**form, "expected_version": entity.version})
    assert answer.status_code == 302
    assert LegalEntity.objects.get(pk=entity.pk).name == "深圳市某某科技有限公司"


def test_a_housing_correction_needs_the_version_too(steward, grid_worker, home_room):
    housing, _ = services.housing_register(actor=steward, data={"address": home_room.code, "use": "住宅"})
    with pytest.raises(ServiceError) as info:
        services.housing_correct(housing=housing, actor=grid_worker, data={"is_rental": "是"}, note="出租")
    assert info.value.code == "registry.version_required"
    assert not Housing.objects.get(pk=housing.pk).is_rental
