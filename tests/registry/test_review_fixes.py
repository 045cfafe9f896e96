"""Regression tests for the registry review: control characters in cells, unreadable rows,
a crash half-way through an import, area rounding, simultaneous registrations, corrections
without a version, implausible "since" dates."""

from __future__ import annotations

import random
import zipfile
from datetime import date

import pytest
from django.test import Client
from openpyxl import Workbook

from tests.threads import needs_row_locks, race_on_insert
from zhiwang.core.errors import ServiceError
from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import Housing, ImportIssue, ImportStatus, LegalEntity, Person, RecordChange
from zhiwang.registry.validation import clean_entity, clean_housing, clean_person

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1970 + i, 1, 1), i, male=True) for i in range(12)]


def _csv(tmp_path, text: str, name: str = "people.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _run(steward, source_unit, template, path, **kwargs):
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, **kwargs
    )
    return pipeline.import_batch_run(batch=batch)


# --- 1. control characters -------------------------------------------------------------------


def test_a_nul_byte_in_a_cell_rejects_its_row_and_the_rest_lands(steward, source_unit, template, tmp_path):
    path = _csv(
        tmp_path, f"姓名,公民身份号码,民族\n张三,{IDS[0]},汉\n李\x00四,{IDS[1]},汉\n王五,{IDS[2]},汉\x01族\n"
    )
    batch = _run(steward, source_unit, template, path)
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_created, batch.rows_rejected) == (1, 2)
    assert Person.objects.filter(name="张三").exists()
    assert not Person.objects.filter(id_number__in=[IDS[1], IDS[2]]).exists()
    issues = {(i.row, i.field): i for i in ImportIssue.objects.filter(batch=batch)}
    assert issues[(3, "name")].code == "text.control_character"
    assert issues[(4, "ethnicity")].code == "text.control_character"
    assert all("\x00" not in i.value and "\x01" not in i.value for i in issues.values())
    assert issues[(3, "name")].value == "李四"


def test_control_characters_are_refused_by_every_cleaner_but_tab_and_newline_are_whitespace():
    cleaned = clean_person({"id_number": IDS[0], "name": "张三", "address": "深南大道\x1f1号"})
    assert [(e.field, e.code) for e in cleaned.errors] == [("address", "text.control_character")]
    assert "\x1f" not in str(cleaned.errors[0].message)
    cleaned = clean_person({"id_number": IDS[0], "name": "张\t三\n"})
    assert not cleaned.errors and cleaned.values["name"] == "张 三"
    code = make_credit_code("440305", random.Random(1))
    assert (
        clean_entity({"credit_code": code, "name": "某\x00公司"}).errors[0].code == "text.control_character"
    )
    assert clean_housing({"address": "某路\x001号"}).errors[0].code == "text.control_character"
    # an unknown choice with a NUL: the message quoting the value carries no NUL either
    cleaned = clean_person({"id_number": IDS[0], "name": "张三", "household_type": "户\x00籍"})
    assert all("\x00" not in str(e.message) for e in cleaned.errors)


def test_the_register_service_refuses_a_nul_with_a_field_error(steward):
    with pytest.raises(ServiceError) as info:
        services.person_register(actor=steward, data={"id_number": IDS[0], "name": "李\x00四"})
    assert (info.value.code, info.value.field) == ("text.control_character", "name")
    assert not Person.objects.filter(id_number=IDS[0]).exists()


# --- 2. unreadable rows and crashes half-way through ------------------------------------------


def test_a_cell_over_the_csv_limit_half_way_fails_the_batch_and_keeps_the_rows_before(
    steward, source_unit, template, tmp_path
):
    lines = ["姓名,公民身份号码"] + [f"人{i},{IDS[i]}" for i in range(10)] + [f"{'长' * 200_000},{IDS[10]}"]
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    batch = _run(steward, source_unit, template, path, chunk_size=2)
    assert batch.status == ImportStatus.FAILED
    assert "12" in batch.error
    assert Person.objects.filter(id_number__in=IDS[:10]).count() == 10


def test_a_cell_over_the_csv_limit_in_the_first_rows_is_a_file_error(
    steward, source_unit, template, tmp_path
):
    path = _csv(tmp_path, f"姓名,公民身份号码\n{'长' * 200_000},{IDS[0]}\n")
    with pytest.raises(ServiceError) as info:
        pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
    assert (info.value.code, info.value.field) == ("import.format", "file")


def _damaged_xlsx(tmp_path, good_rows: int):
    """An Excel file whose last data row has a numeric cell that holds no number."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "公民身份号码", "人口类型"])
    for i in range(good_rows + 1):
        sheet.append([f"人{i}", IDS[i], 12345 if i == good_rows else "户籍"])
    plain = tmp_path / "plain.xlsx"
    workbook.save(plain)
    damaged = tmp_path / "people.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<v>12345</v>" in data
                data = data.replace(b"<v>12345</v>", b"<v>not-a-number</v>")
            target.writestr(item, data)
    return damaged


def test_a_damaged_excel_cell_half_way_fails_the_batch_and_keeps_the_rows_before(
    steward, source_unit, template, tmp_path
):
    path = _damaged_xlsx(tmp_path, good_rows=8)
    batch = _run(steward, source_unit, template, path, chunk_size=2)
    assert batch.status == ImportStatus.FAILED
    assert "10" in batch.error  # the header, 8 good rows, then the damaged one
    assert Person.objects.filter(id_number__in=IDS[:8]).count() == 8


def test_an_unexpected_error_keeps_the_committed_chunks_and_marks_the_batch_failed(
    steward, source_unit, template, tmp_path, monkeypatch, settings
):
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 0  # SQLite: commit every chunk, as PostgreSQL does
    path = _csv(tmp_path, "姓名,公民身份号码\n" + "".join(f"人{i},{IDS[i]}\n" for i in range(8)))
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, chunk_size=2
    )
    real = pipeline._write_chunk

    def write(run, number, rows, prepared=None):
        if number == 3:
            raise RuntimeError("a bug")
        real(run, number, rows, prepared)

    monkeypatch.setattr(pipeline, "_write_chunk", write)
    with pytest.raises(RuntimeError):
        pipeline.import_batch_run(batch=batch)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.FAILED and "RuntimeError" in batch.error
    assert Person.objects.filter(id_number__in=IDS[:8]).count() == 4
    monkeypatch.setattr(pipeline, "_write_chunk", real)
    batch = pipeline.import_batch_run(batch=batch)  # Resume
    assert batch.status == ImportStatus.DONE and batch.rows_created == 8
    assert Person.objects.filter(id_number__in=IDS[:8]).count() == 8


# --- 3. area --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["9999999.999", "9999999.995", "0.001", "0.004", "-1", "0", "NaN", "1e30"])
def test_an_area_that_rounds_out_of_range_is_refused(raw):
    cleaned = clean_housing({"address": "某路1号", "area_m2": raw})
    assert [e.code for e in cleaned.errors] == ["area.invalid"] and "area_m2" not in cleaned.values


@pytest.mark.parametrize(
    ("raw", "stored"), [("9999999.99", "9999999.99"), ("0.006", "0.01"), ("88.5", "88.50")]
)
def test_an_area_in_range_is_stored_rounded(raw, stored):
    cleaned = clean_housing({"address": "某路1号", "area_m2": raw})
    assert not cleaned.errors and str(cleaned.values["area_m2"]) == stored


# --- 5. a correction carries the version the editor saw --------------------------------------


def test_a_patch_without_expected_version_is_refused_and_changes_nothing(steward, grid_worker, home_room):
    person, _ = services.person_register(
        actor=steward,
        data={"id_number": IDS[0], "name": "王五", "phone": "13800000000", "address": home_room.code},
    )
    person.refresh_from_db()
    version, changes = person.version, RecordChange.objects.filter(record_id=person.pk).count()
    client = Client()
    client.force_login(grid_worker)
    answer = client.patch(
        f"/api/v1/registry/people/{person.pk}",
        {"phone": "13512345678", "note": "本人更换号码"},
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("registry.version_required", "expected_version")
    person.refresh_from_db()
    assert (person.phone, person.version) == ("13800000000", version)
    assert RecordChange.objects.filter(record_id=person.pk).count() == changes
    ok = client.patch(
        f"/api/v1/registry/people/{person.pk}",
        {"phone": "13512345678", "note": "本人更换号码", "expected_version": version},
        content_type="application/json",
    )
    assert ok.status_code == 200


def test_the_api_schema_says_the_version_is_required(client):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    field = schemas["CorrectionIn"]["properties"]["expected_version"]
    assert field["description"].startswith("Required") and "registry.version_required" in field["description"]


def test_the_service_itself_requires_the_version(steward, grid_worker, home_room):
    person, _ = services.person_register(
        actor=steward, data={"id_number": IDS[0], "name": "王五", "address": home_room.code}
    )
    with pytest.raises(ServiceError) as info:
        services.person_correct(person=person, actor=grid_worker, data={"name": "王六"}, note="核实")
    assert info.value.code == "registry.version_required" and info.value.status == 400


# --- 6. dates -------------------------------------------------------------------------------


def test_since_before_birth_or_before_1900_is_refused():
    born_1970 = IDS[0]
    for raw, code in (
        ("0001-01-01", "date.too_early"),
        ("1899-12-31", "date.too_early"),
        ("1969-12-31", "since.before_birth"),
    ):
        cleaned = clean_person({"id_number": born_1970, "name": "张三", "since": raw})
        assert [(e.field, e.code) for e in cleaned.errors] == [("since", code)], raw
    cleaned = clean_person({"id_number": born_1970, "name": "张三", "since": "1970-01-01"})
    assert not cleaned.errors and cleaned.values["since"] == date(1970, 1, 1)
    code = make_credit_code("440305", random.Random(1))
    assert clean_entity({"credit_code": code, "name": "某公司", "since": "0001-01-01"}).errors[0].code == (
        "date.too_early"
    )
    assert not clean_entity({"credit_code": code, "name": "某公司", "since": "1900-01-01"}).errors


# --- 4. simultaneous registrations of one new key (PostgreSQL) -----------------------------


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_registrations_of_one_new_id_number_at_the_same_moment(city_restored, monkeypatch):
    number = make_id_number("440305", date(1980, 5, 5), 7, male=False)

    def job():
        person, created = services.person_register(actor=None, data={"id_number": number, "name": "同时"})
        return person.pk, created

    results = race_on_insert(monkeypatch, Person, job, job)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _pk, created in results) == [False, True]
    assert len({pk for pk, _created in results}) == 1
    assert Person.objects.filter(id_number=number).count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_registrations_of_one_new_credit_code_at_the_same_moment(city_restored, monkeypatch):
    code = make_credit_code("440305", random.Random(7))

    def job():
        entity, created = services.entity_register(actor=None, data={"credit_code": code, "name": "同时公司"})
        return entity.pk, created

    results = race_on_insert(monkeypatch, LegalEntity, job, job)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _pk, created in results) == [False, True]
    assert LegalEntity.objects.filter(credit_code=code).count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_registrations_of_one_new_housing_at_the_same_moment(city_restored, monkeypatch):
    from zhiwang.geo.models import AddressLevel, StandardAddress

    room = (
        StandardAddress.objects.filter(level=AddressLevel.ROOM, housing__isnull=True).order_by("code").first()
    )

    def job():
        housing, created = services.housing_register(actor=None, data={"address": room.code, "use": "住宅"})
        return housing.pk, created

    results = race_on_insert(monkeypatch, Housing, job, job)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _pk, created in results) == [False, True]
    assert Housing.objects.filter(address=room).count() == 1
