"""The dates of a stay (a residence, an operation) and what reads them.

1. A department's file without 入住日期 leaves the residence's start unknown (``since`` empty), not
   the import's day: a later registration carrying the person's real, earlier date is not refused
   as "before the current residence" (nobody knew when the person arrived). Every reader copes
   with the empty start: the person page, the history order, the building page, the API.
2. The entity template's 成立日期 is the entity's founding date (``LegalEntity.founded_on``), not the
   start at its address: an entity that moves does not get its founding date as the start at the
   new one. Migration 0013 changes the seeded template stored in the database.
3. A move-out ends the residence the day before (``places.move_end``): a registration at the new
   address the same day does not list the person in both rooms that day.
4. The person page's correction form shows the error of its hidden ``expected_version``
   (``registry.version_required``) as the residence-correction form does.
"""

from __future__ import annotations

import importlib
import random
from datetime import date, timedelta

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.test import Client
from django.utils import timezone

from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry import selectors, services
from zhiwang.registry.defaults import DEFAULT_TEMPLATES
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import LegalEntity, MappingTemplate, Operation, Person, RecordChange, Residence
from zhiwang.registry.validation import clean_entity

TODAY = timezone.localdate()
PEOPLE_HEADER = "姓名,公民身份号码,人口类型,现住址,入住日期"
ENTITY_HEADER = "企业名称,统一社会信用代码,经营场所,成立日期"


def _number(seq: int) -> str:
    return make_id_number("440305", date(1980, 3, 4), seq, male=seq % 2 == 1)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _rooms(room, count: int = 2) -> list[StandardAddress]:
    """``room`` and others of the same building (and grid)."""
    unit = room.parent
    building = unit.parent if unit.level == AddressLevel.UNIT else unit
    return [room] + list(
        StandardAddress.objects.filter(
            level=AddressLevel.ROOM, grid_id=room.grid_id, parent__in=[building, *building.children.all()]
        )
        .exclude(pk=room.pk)
        .order_by("code")[: count - 1]
    )


def _import(steward, source_unit, template, path, header: str, rows: list[str]):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind=template.kind, source=source_unit, file_path=path, template=template
    )
    return pipeline.import_batch_run(batch=batch)


# --- 1. a file without 入住日期: the start is unknown -------------------------------------------


@pytest.mark.usefixtures("import_dir")
def test_an_undated_import_leaves_the_start_unknown_and_a_dated_move_is_taken(
    steward, source_unit, template, tmp_path, home_room
):
    first, second = _rooms(home_room)
    number = _number(301)
    _import(
        steward,
        source_unit,
        template,
        tmp_path / "p.csv",
        PEOPLE_HEADER,
        [f"王五,{number},户籍,{first.code},"],
    )
    person = Person.objects.get(name="王五")
    placed = Residence.objects.get(person=person)
    assert (placed.address_id, placed.since, placed.until) == (first.pk, None, None)
    # the person's real date, before the import's day: a move, not "before the current residence"
    real = TODAY - timedelta(days=30)
    _p, created = services.person_register(
        actor=steward,
        data={"id_number": number, "name": "王五", "address": second.code, "since": real.isoformat()},
    )
    assert not created
    stays = selectors.person_residences(user=steward, person=person)
    assert [(r.address_id, r.since, r.until) for r in stays] == [
        (second.pk, real, None),  # current first, on every backend
        (first.pk, None, real - timedelta(days=1)),  # ended the day before the new one began
    ]


@pytest.mark.usefixtures("import_dir")
def test_an_undated_import_move_ends_the_old_residence_before_the_import_day(
    steward, source_unit, template, tmp_path, home_room
):
    first, second, third = _rooms(home_room, 3)
    began = TODAY - timedelta(days=100)
    person, _c = services.person_register(
        actor=steward,
        data={"id_number": _number(303), "name": "赵六", "address": first.code, "since": began.isoformat()},
    )
    _import(
        steward,
        source_unit,
        template,
        tmp_path / "p.csv",
        PEOPLE_HEADER,
        [f"赵六,{person.id_number},户籍,{second.code},"],
    )
    assert sorted(
        Residence.objects.filter(person=person).values_list("address_id", "since", "until"), key=str
    ) == sorted([(first.pk, began, TODAY - timedelta(days=1)), (second.pk, None, None)], key=str)
    assert RecordChange.objects.filter(record_id=person.pk, record_kind="person", action="move").count() == 2
    # a registration dated between the two (after the first began) is taken
    real = TODAY - timedelta(days=20)
    services.person_register(
        actor=steward,
        data={
            "id_number": person.id_number,
            "name": "赵六",
            "address": third.code,
            "since": real.isoformat(),
        },
    )
    current = Residence.objects.get(person=person, until__isnull=True)
    assert (current.address_id, current.since) == (third.pk, real)


@pytest.mark.usefixtures("import_dir")
def test_the_pages_and_the_api_show_an_unknown_start(steward, source_unit, template, tmp_path, home_room):
    first, second = _rooms(home_room)
    number = _number(305)
    _import(
        steward,
        source_unit,
        template,
        tmp_path / "p.csv",
        PEOPLE_HEADER,
        [f"钱七,{number},户籍,{first.code},"],
    )
    person = Person.objects.get(name="钱七")
    client = _client(steward)
    page = client.get(f"/registry/people/{person.pk}/")
    assert page.status_code == 200
    assert f'{first.full_name}</a></td><td class="date">—</td>' in page.content.decode()
    assert client.get(f"/places/{first.code}/").status_code == 200
    body = client.get(f"/api/v1/registry/people/{person.pk}").json()
    assert [(r["since"], r["until"]) for r in body["residences"]] == [(None, None)]
    # the building page lists the resident once, with no start
    view = selectors.building_view(user=steward, building=selectors.building_of(first))
    rows = [(v.room.pk, r.person_id, r.since) for u in view.units for v in u.rooms for r in v.residents]
    assert [row for row in rows if row[1] == person.pk] == [(first.pk, person.pk, None)]


def test_the_order_of_stays_is_the_same_on_every_backend(steward, home_room):
    first, second = _rooms(home_room)
    person, _c = services.person_register(
        actor=steward, data={"id_number": _number(307), "name": "孙八", "address": first.code}
    )
    old = Residence.objects.get(person=person)
    Residence.objects.filter(pk=old.pk).update(
        since=TODAY - timedelta(days=50), until=TODAY - timedelta(days=10)
    )
    unknown = Residence.objects.create(person=person, address=second, since=None)
    expected = [unknown.pk, old.pk]  # the open one (unknown start) before the ended one
    assert [r.pk for r in selectors.person_residences(user=steward, person=person)] == expected
    assert [r.pk for r in Residence.objects.filter(person=person)] == expected  # the model's order too
    assert [r.pk for r in selectors.room_history(user=steward, room=second)] == [unknown.pk]


@pytest.mark.usefixtures("import_dir")
def test_an_undated_entity_import_leaves_the_operation_start_unknown(
    steward, source_unit, templates, tmp_path, home_room
):
    first, second = _rooms(home_room)
    code = make_credit_code("440305", random.Random(71))
    entity_template = templates["entity"]
    _import(
        steward,
        source_unit,
        entity_template,
        tmp_path / "e1.csv",
        ENTITY_HEADER,
        [f"甲公司,{code},{first.code},"],
    )
    entity = LegalEntity.objects.get(credit_code=code)
    assert list(Operation.objects.filter(entity=entity).values_list("address_id", "since", "until")) == [
        (first.pk, None, None)
    ]


# --- 2. 成立日期 is the founding date ---------------------------------------------------------


def test_the_entity_template_maps_the_founding_date():
    kind, columns = DEFAULT_TEMPLATES["市场监管法人"]
    assert kind == "entity" and columns["成立日期"] == "founded_on"
    assert "since" not in columns.values()


@pytest.mark.usefixtures("import_dir")
def test_an_entity_import_keeps_the_founding_date_apart_from_the_address(
    steward, source_unit, templates, tmp_path, home_room
):
    first, second = _rooms(home_room)
    code = make_credit_code("440305", random.Random(72))
    founded = date(2003, 5, 6)
    entity_template = templates["entity"]
    _import(
        steward,
        source_unit,
        entity_template,
        tmp_path / "e1.csv",
        ENTITY_HEADER,
        [f"乙公司,{code},{first.code},{founded.isoformat()}"],
    )
    entity = LegalEntity.objects.get(credit_code=code)
    assert entity.founded_on == founded
    assert list(Operation.objects.filter(entity=entity).values_list("since", flat=True)) == [None]
    # the entity moves: the founding date is not its start at the new address
    _import(
        steward,
        source_unit,
        entity_template,
        tmp_path / "e2.csv",
        ENTITY_HEADER,
        [f"乙公司,{code},{second.code},{founded.isoformat()}"],
    )
    assert sorted(
        Operation.objects.filter(entity=entity).values_list("address_id", "since", "until"), key=str
    ) == sorted([(first.pk, None, TODAY - timedelta(days=1)), (second.pk, None, None)], key=str)
    # a later file with no founding date keeps the one on record
    _import(
        steward,
        source_unit,
        entity_template,
        tmp_path / "e3.csv",
        ENTITY_HEADER,
        [f"乙公司,{code},{second.code},"],
    )
    entity.refresh_from_db()
    assert entity.founded_on == founded
    client = _client(steward)
    assert client.get(f"/api/v1/registry/entities/{entity.pk}").json()["founded_on"] == founded.isoformat()
    assert (
        'data-testid="founded-on">2003-05-06<'
        in client.get(f"/registry/entities/{entity.pk}/").content.decode()
    )


def test_the_founding_date_is_checked_and_corrected(steward, home_room):
    code = make_credit_code("440305", random.Random(73))
    future = (TODAY + timedelta(days=1)).isoformat()
    assert [
        e.code for e in clean_entity({"credit_code": code, "name": "丙", "founded_on": future}).errors
    ] == ["date.future"]
    assert "founded_on" not in clean_entity({"credit_code": code, "name": "丙", "founded_on": ""}).values
    entity, _c = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "丙公司", "founded_on": "2010-01-02"}
    )
    assert entity.founded_on == date(2010, 1, 2)
    response = _client(steward).patch(
        f"/api/v1/registry/entities/{entity.pk}",
        data={"founded_on": "2011-01-02", "note": "营业执照", "expected_version": entity.version},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["founded_on"] == "2011-01-02"
    row = RecordChange.objects.filter(record_kind="entity", record_id=entity.pk, action="correct").get()
    assert row.payload["changes"] == {"founded_on": ["2010-01-02", "2011-01-02"]}


@pytest.mark.django_db
def test_the_migration_changes_the_stored_template_only_where_it_read_since():
    migration = importlib.import_module("zhiwang.registry.migrations.0013_entity_founded_on")
    MappingTemplate.objects.filter(name="市场监管法人").delete()
    old = dict(DEFAULT_TEMPLATES["市场监管法人"][1], 成立日期="since")
    stored = MappingTemplate.objects.create(name="市场监管法人", kind="entity", columns=old)
    chosen = MappingTemplate.objects.create(
        name="区市场监管", kind="entity", columns={"统一社会信用代码": "credit_code", "成立日期": "since"}
    )
    migration.founding_date_header(django_apps, None)
    stored.refresh_from_db()
    chosen.refresh_from_db()
    assert stored.columns == dict(old, 成立日期="founded_on")  # nothing else changed
    assert chosen.columns["成立日期"] == "since"  # not the seeded template: the administrator's choice
    migration.founding_date_header_back(django_apps, None)
    stored.refresh_from_db()
    assert stored.columns == old


# --- 3. a move-out then a move-in the same day ---------------------------------------------------


def test_a_move_out_then_a_registration_the_same_day_lists_one_room(steward, home_room):
    first, second = _rooms(home_room)
    began = TODAY - timedelta(days=40)
    person, _c = services.person_register(
        actor=steward,
        data={"id_number": _number(311), "name": "周九", "address": first.code, "since": began.isoformat()},
    )
    services.person_move_out(person=person, actor=steward, note="搬走")
    assert Residence.objects.get(person=person).until == TODAY - timedelta(days=1)
    services.person_register(
        actor=steward, data={"id_number": person.id_number, "name": "周九", "address": second.code}
    )
    listed = [
        v.room.pk
        for u in selectors.building_view(user=steward, building=selectors.building_of(first)).units
        for v in u.rooms
        if any(r.person_id == person.pk for r in v.residents)
    ]
    assert listed == [second.pk]
    assert [r.person_id for r in selectors.room_view(user=steward, room=first).residents] == []
    assert [r.person_id for r in selectors.room_view(user=steward, room=second).residents] == [person.pk]
    past = [r for r in selectors.room_history(user=steward, room=first) if not r.is_current]
    assert [r.person_id for r in past] == [person.pk]


def test_a_move_out_on_the_day_the_residence_began_ends_it_that_day(steward, home_room):
    person, _c = services.person_register(
        actor=steward, data={"id_number": _number(313), "name": "吴十", "address": home_room.code}
    )
    assert services.person_move_out(person=person, actor=steward) == 1
    residence = Residence.objects.get(person=person)
    assert (residence.since, residence.until) == (TODAY, TODAY)  # never before its start


# --- 4. the correction forms show the hidden version's error ----------------------------------


def test_the_person_correction_form_says_the_version_is_missing(steward, home_room):
    person, _c = services.person_register(
        actor=steward, data={"id_number": _number(315), "name": "郑一", "address": home_room.code}
    )
    client = _client(steward)
    response = client.post(
        f"/registry/people/{person.pk}/correct/",
        {"name": "郑壹", "household_type": "registered", "note": "户口本", "expected_version": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="correct-hidden-errors">Say which version of the record you corrected' in html
    person.refresh_from_db()
    assert person.name == "郑一"


def test_the_entity_correction_form_says_the_version_is_missing(steward):
    entity, _c = services.entity_register(
        actor=steward, data={"credit_code": make_credit_code("440305", random.Random(74)), "name": "丁公司"}
    )
    response = _client(steward).post(
        f"/registry/entities/{entity.pk}/",
        {"name": "丁有限公司", "entity_type": "enterprise", "note": "执照", "expected_version": ""},
    )
    assert response.status_code == 400
    assert 'data-testid="correct-hidden-errors">Say which version of the record you corrected' in (
        response.content.decode()
    )
    entity.refresh_from_db()
    assert entity.name == "丁公司"
