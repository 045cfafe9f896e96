"""People, entities, housing: validation, derived fields, keyed-hash lookup, history, corrections, reveal."""

from __future__ import annotations

from datetime import date

import pytest

from zhiwang.core.errors import Conflict, PermissionDeniedError, ServiceError
from zhiwang.core.workflow import AppendOnlyError
from zhiwang.registry import selectors, services
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.models import AccessLog, Person, RecordChange, Residence

ID_1950 = make_id_number("440305", date(1950, 5, 17), 11, male=True)
ID_1990 = make_id_number("430102", date(1990, 2, 28), 22, male=False)


def test_register_derives_gender_and_birth_date_and_hashes(steward, home_room, source_unit):
    person, created = services.person_register(
        actor=steward,
        source=source_unit,
        data={
            "id_number": ID_1990.lower(),
            "name": "李四",
            "household_type": "流动人口",
            "phone": "+86 138-1234-5678",
            "address": home_room.code,
        },
    )
    assert created
    assert (person.gender, person.birth_date, person.household_type) == (
        "female",
        date(1990, 2, 28),
        "migrant",
    )
    assert person.phone == "13812345678" and len(person.phone_hash) == 64
    assert person.id_number_hash != person.id_number and ID_1990 not in person.id_number_hash
    assert person.community_id == home_room.community_id and person.grid_id == home_room.grid_id
    assert Residence.objects.get(person=person).address == home_room
    assert person.masked_id_number == ID_1990[:3] + "*" * 11 + ID_1990[-4:]
    assert person.masked_phone == "138****5678"
    assert RecordChange.objects.filter(record_kind="person", record_id=person.pk, action="create").exists()


def test_register_is_idempotent_by_id_number(steward, source_unit):
    first, created = services.person_register(
        actor=steward, source=source_unit, data={"id_number": ID_1950, "name": "王五"}
    )
    again, created_again = services.person_register(
        actor=steward, source=source_unit, data={"id_number": ID_1950, "name": "王五"}
    )
    assert created and not created_again and first.pk == again.pk
    assert Person.objects.filter(id_number_hash=first.id_number_hash).count() == 1


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("44030519500517001", "id_number.length"),
        ("440305195002300112", "id_number.birth_date"),
        (ID_1950[:-1] + ("0" if ID_1950[-1] != "0" else "1"), "id_number.check_digit"),
    ],
)
def test_bad_id_numbers_are_refused_and_leave_no_trace(steward, id_number, code):
    before = (Person.objects.count(), RecordChange.objects.count())
    with pytest.raises(ServiceError) as info:
        services.person_register(actor=steward, data={"id_number": id_number, "name": "某人"})
    assert info.value.code == code and info.value.field == "id_number"
    assert (Person.objects.count(), RecordChange.objects.count()) == before


def test_given_birth_date_must_agree_with_id_number(steward):
    with pytest.raises(ServiceError) as info:
        services.person_register(
            actor=steward, data={"id_number": ID_1950, "name": "某人", "birth_date": "1950-05-18"}
        )
    assert info.value.code == "birth_date.mismatch"


def test_unknown_address_is_a_field_error(steward):
    with pytest.raises(ServiceError) as info:
        services.person_register(
            actor=steward, data={"id_number": ID_1950, "name": "某人", "address": "火星某路1号"}
        )
    assert (info.value.code, info.value.field) == ("address.unmatched", "address")
    assert not Person.objects.filter(name="某人").exists()


def test_grid_worker_cannot_register_outside_jurisdiction(grid_worker, luohu_room):
    with pytest.raises(PermissionDeniedError):
        services.person_register(
            actor=grid_worker, data={"id_number": ID_1950, "name": "某人", "address": luohu_room.code}
        )


def test_correction_keeps_history_and_checks_version(grid_worker, steward, home_room):
    person, _ = services.person_register(
        actor=steward,
        data={"id_number": ID_1950, "name": "王五", "phone": "13800000000", "address": home_room.code},
    )
    person.refresh_from_db()
    version = person.version
    corrected = services.person_correct(
        person=person,
        actor=grid_worker,
        data={"phone": "13911112222"},
        note="上门核实",
        expected_version=version,
    )
    assert corrected.phone == "13911112222" and corrected.version == version + 1
    row = RecordChange.objects.filter(record_id=person.pk, action="correct").get()
    assert row.actor == grid_worker and row.note == "上门核实"
    assert row.payload["changes"]["phone"] == [
        "138****0000",
        "139****2222",
    ]  # history never holds the plain phone
    with pytest.raises(Conflict):
        services.person_correct(
            person=person,
            actor=grid_worker,
            data={"phone": "13733334444"},
            note="再改",
            expected_version=version,
        )
    with pytest.raises(ServiceError) as info:
        services.person_correct(person=person, actor=grid_worker, data={"phone": "13733334444"}, note=" ")
    assert info.value.field == "note"
    # found again by the new phone, through its hash
    assert list(selectors.person_search(user=grid_worker, q="139 1111 2222")) == [corrected]


def test_history_is_append_only(steward):
    person, _ = services.person_register(actor=steward, data={"id_number": ID_1950, "name": "王五"})
    row = RecordChange.objects.filter(record_id=person.pk).first()
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        RecordChange.objects.filter(pk=row.pk).update(note="x")


def test_outsider_cannot_correct(luohu_dispatcher, steward, home_room):
    person, _ = services.person_register(
        actor=steward, data={"id_number": ID_1950, "name": "王五", "address": home_room.code}
    )
    with pytest.raises(PermissionDeniedError):
        services.person_correct(person=person, actor=luohu_dispatcher, data={"name": "X"}, note="n")


def test_reveal_needs_reason_role_and_place_and_is_logged(
    grid_worker, city_leader, luohu_dispatcher, steward, home_room
):
    person, _ = services.person_register(
        actor=steward,
        data={"id_number": ID_1950, "name": "王五", "phone": "13800000000", "address": home_room.code},
    )
    with pytest.raises(ServiceError) as info:
        services.person_reveal(person=person, actor=grid_worker, reason="")
    assert info.value.field == "reason"
    assert services.person_reveal(person=person, actor=grid_worker, reason="核对身份") == {
        "id_number": ID_1950,
        "phone": "13800000000",
    }
    log = AccessLog.objects.get(record_id=person.pk)
    assert (log.actor, log.note, log.record_kind) == (grid_worker, "核对身份", "person")
    for outsider in (
        city_leader,
        luohu_dispatcher,
    ):  # a leader reads dashboards, not ID numbers; Luohu is elsewhere
        with pytest.raises(PermissionDeniedError):
            services.person_reveal(person=person, actor=outsider, reason="好奇")
    assert AccessLog.objects.filter(record_id=person.pk).count() == 1


def test_entity_and_housing(steward, home_room, source_unit):
    code = make_credit_code("440305", __import__("random").Random(1))
    entity, created = services.entity_register(
        actor=steward,
        source=source_unit,
        data={
            "credit_code": code,
            "name": "深圳市测试科技有限公司",
            "entity_type": "企业",
            "address": home_room.code,
        },
    )
    assert created and entity.community_id == home_room.community_id
    with pytest.raises(ServiceError) as info:
        services.entity_register(actor=steward, data={"credit_code": code[:-1] + "I", "name": "x"})
    assert info.value.code == "credit_code.alphabet"
    housing, created = services.housing_register(
        actor=steward, data={"address": home_room.code, "is_rental": "是", "use": "住宅"}
    )
    assert created and housing.is_rental and housing.occupancy == "rented"
    services.housing_correct(
        housing=housing,
        actor=steward,
        data={"is_rental": "否", "occupancy": "自住"},
        note="业主收回自住",
        expected_version=housing.version,
    )
    housing.refresh_from_db()
    assert not housing.is_rental
    assert RecordChange.objects.filter(record_kind="housing", record_id=housing.pk).count() == 2


def test_move_ends_previous_residence(steward, home_room):
    other = (
        type(home_room)
        .objects.filter(grid_id=home_room.grid_id, level="room")
        .exclude(pk=home_room.pk)
        .first()
    )
    person, _ = services.person_register(
        actor=steward,
        data={"id_number": ID_1950, "name": "王五", "address": home_room.code, "since": "2020-01-01"},
    )
    services.person_register(
        actor=steward, data={"id_number": ID_1950, "name": "王五", "address": other.code}
    )
    residences = list(Residence.objects.filter(person=person).order_by("pk"))
    assert [r.address_id for r in residences] == [home_room.pk, other.pk]
    assert residences[0].until is not None and residences[1].until is None


def test_demo_registry_is_valid_and_clearable(home_community):
    from zhiwang.core.validators import validate_credit_code, validate_id_number
    from zhiwang.registry.demo import demo_registry_clear, demo_registry_create
    from zhiwang.registry.models import LegalEntity

    result = demo_registry_create(scale="tiny", seed=9, communities=[home_community])
    assert result.people == Person.objects.count() > 0
    for person in Person.objects.all()[:50]:
        assert validate_id_number(person.id_number) == person.id_number
    for entity in LegalEntity.objects.all()[:20]:
        assert validate_credit_code(entity.credit_code) == entity.credit_code
    again = demo_registry_create(scale="tiny", seed=9, communities=[home_community])
    assert again.people == result.people == Person.objects.count()  # rerun replaces, deterministic
    demo_registry_clear()
    assert not Person.objects.exists() and not Residence.objects.exists()
