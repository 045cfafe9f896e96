"""Regression tests for the registry follow-up (API probe and browser walkthrough): exports and import
reports never carry a formula, an out-of-scope place match names nothing, a registration refused for
an entity answers like one for a person, registering a known number never overwrites it, a registry
404 is the house's ``not_found``, and the registry forms speak with the shell's colon and buttons."""

from __future__ import annotations

import csv
import io
import random
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from zhiwang.accounts.models import User
from zhiwang.core.errors import Conflict
from zhiwang.core.spreadsheet import FORMULA_STARTS
from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.forms import CorrectionForm, ImportForm, RevealForm
from zhiwang.registry.imports import pipeline
from zhiwang.registry.imports.report import report_workbook
from zhiwang.registry.models import (
    AccessLog,
    EntitySource,
    ImportIssue,
    LegalEntity,
    Person,
    PersonSource,
    RecordChange,
)

pytestmark = pytest.mark.usefixtures("import_dir")

HOSTILE = '=HYPERLINK("http://evil","x")'
#: Each start a spreadsheet reads as a formula (or strips before looking for one).
HOSTILE_STARTS = [HOSTILE, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0"]
IDS = [make_id_number("440305", date(1975 + i, 4, 2 + i), 40 + i, male=i % 2 == 0) for i in range(4)]
NO_MATCH = {"level": "none", "confidence": 0.0, "address": None, "division": None}


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def _error(response) -> dict:
    return response.json()["error"]


def _post(client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


def _patch(client, path: str, body: dict):
    return client.patch(path, body, content_type="application/json")


def _mine(grid_worker, home_community, model=Person):
    """A record in the grid worker's grids (inside their jurisdiction)."""
    return (
        model.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids)
        .order_by("pk")
        .first()
    )


# --- 1. no formula in any file the registry writes for people to open ----------------------------


def _named_hostile(client_for, grid_worker, home_community) -> list[Person]:
    """People renamed through the API (PATCH), one per formula start."""
    client = client_for(grid_worker)
    people = list(
        Person.objects.filter(community=home_community, grid_id__in=grid_worker.scope.grid_ids).order_by(
            "pk"
        )[: len(HOSTILE_STARTS)]
    )
    for person, name in zip(people, HOSTILE_STARTS, strict=True):
        answer = _patch(
            client,
            f"/api/v1/registry/people/{person.pk}",
            {"name": name, "note": "探针", "expected_version": person.version},
        )
        assert answer.status_code == 200, answer.content
        assert Person.objects.get(pk=person.pk).name == name  # stored as typed: only files neutralise it
    return people


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_the_masked_export_never_starts_a_cell_with_a_formula(
    registry_demo, client_for, grid_worker, home_community
):
    _named_hostile(client_for, grid_worker, home_community)
    rows = _csv_rows(client_for(grid_worker).get("/registry/people/export.csv"))
    names = {row[0] for row in rows[1:]}
    assert {"'" + name for name in HOSTILE_STARTS} <= names
    assert not [cell for row in rows for cell in row if cell[:1] in FORMULA_STARTS]


def test_the_full_export_never_starts_a_cell_with_a_formula(
    registry_demo, client_for, grid_worker, steward, home_community
):
    _named_hostile(client_for, grid_worker, home_community)
    steward.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    client = client_for(User.objects.get(pk=steward.pk))
    rows = _csv_rows(client.post("/registry/people/export.csv", {"full": "1", "reason": "民政核查"}))
    by_name = {row[0]: row for row in rows[1:]}
    assert {"'" + name for name in HOSTILE_STARTS} <= set(by_name)
    assert "*" not in by_name["'" + HOSTILE][1]  # the full export it is: unmasked ID numbers beside it
    assert not [cell for row in rows for cell in row if cell[:1] in FORMULA_STARTS]


def test_the_import_report_keeps_hostile_values_as_text(steward, client_for, source_unit, template, tmp_path):
    # Values from the file land in the report (an unknown household type, a name with a control
    # character); the file name comes from the uploader. None may become a formula.
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [["姓名", "公民身份号码", "人口类型"], ["张三", IDS[0], HOSTILE], ["=1+2\x01", IDS[1], "户籍"]]
        )
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    batch.file_name = '=HYPERLINK("http://evil","file").csv'
    batch.save(update_fields=["file_name"])
    batch = pipeline.import_batch_run(batch=batch)
    values = set(ImportIssue.objects.filter(batch=batch).values_list("value", flat=True))
    assert HOSTILE in values and "=1+2" in values  # the report's raw material is hostile

    answer = client_for(steward).get(f"/registry/imports/{batch.pk}/report.xlsx")
    assert answer.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(answer.streaming_content)))
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    texts = {cell.value for cell in cells if isinstance(cell.value, str)}
    assert {HOSTILE, "=1+2", batch.file_name} <= texts  # exactly as read, nothing added
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert all(cell.data_type == "s" for cell in cells if isinstance(cell.value, str))
    # the command's --report goes through the same writer
    target = tmp_path / "report.xlsx"
    report_workbook(batch, target)
    again = load_workbook(target)
    assert not [c for s in again.worksheets for r in s.iter_rows() for c in r if c.data_type == "f"]


# --- 2. a place match outside the jurisdiction names nothing -----------------------------------


def _division_text(community) -> str:
    """ "南山区南头街道…社区": how a person writes a community."""
    return f"{community.parent.parent.name}{community.parent.name}{community.name}"


def test_a_place_match_outside_the_jurisdiction_answers_like_no_match(
    registry_demo, client_for, subdistrict_dispatcher, luohu_room, home_community
):
    from zhiwang.geo.addressing import match_address

    client = client_for(subdistrict_dispatcher)
    nothing = client.get("/api/v1/registry/places/match", {"q": "火星某路1号"}).json()
    assert nothing == NO_MATCH
    luohu, mine = luohu_room.community, home_community
    for text in ("罗湖区莲塘街道广岭社区", _division_text(luohu), luohu_room.full_name):
        assert match_address(text).division is not None, text  # the city knows it: only scope hides it
        answer = client.get("/api/v1/registry/places/match", {"q": text})
        assert answer.status_code == 200 and answer.json() == nothing, text
        page = client.get("/registry/", {"q": text, "kind": "place"})
        assert page.status_code == 200 and page.context["match"].level == "none", text
        assert "广岭社区" not in page.content.decode().split('data-testid="place-results"')[1]
    # inside the jurisdiction the division is still named
    named = client.get("/api/v1/registry/places/match", {"q": _division_text(mine)}).json()
    assert (named["level"], named["division"]) == ("community", mine.code)


# --- 3. a refused registration answers the same for a person and an entity ---------------------


def test_registering_an_out_of_scope_person_or_entity_answers_the_same(
    registry_demo, client_for, grid_worker, luohu_community, home_room, steward
):
    person = Person.objects.filter(community=luohu_community).order_by("pk").first()
    entity = LegalEntity.objects.filter(community=luohu_community).order_by("pk").first()
    before = [(r.name, r.community_id, r.version) for r in (person, entity)]
    client = client_for(grid_worker)
    answers = [
        _post(client, "/api/v1/registry/people", {"id_number": person.id_number, "name": "冒名"}),
        _post(client, "/api/v1/registry/entities", {"credit_code": entity.credit_code, "name": "冒名公司"}),
        # an unplaced entity: the same answer again
        _post(
            client,
            "/api/v1/registry/entities",
            {
                "credit_code": services.entity_register(
                    actor=steward,
                    data={"credit_code": make_credit_code("440305", random.Random(11)), "name": "无址"},
                )[0].credit_code,
                "name": "无址",
                "address": home_room.code,
            },
        ),
    ]
    # a person held elsewhere is answered like a new number (202: test_register_unseen); a legal
    # entity (its credit code is public) is refused, the same wherever it is
    assert answers[0].status_code == 202 and answers[0].json()["status"] == "received"
    assert [(a.status_code, _error(a)["code"]) for a in answers[1:]] == [
        (409, "registry.register_refused")
    ] * 2
    assert _error(answers[1])["message"] == _error(answers[2])["message"]
    assert all(_error(a).get("record") is None for a in answers[1:])  # nothing says which record
    for record, was in zip((person, entity), before, strict=True):
        record.refresh_from_db()
        assert (record.name, record.community_id, record.version) == was
    traces = AccessLog.objects.filter(action="register_refused", actor=grid_worker)
    assert {(t.record_kind, t.record_id, t.payload["why"]) for t in traces} >= {
        ("entity", entity.pk, "outside")
    }
    referred = AccessLog.objects.get(action="register_referred", actor=grid_worker)
    assert (referred.record_id, referred.payload["why"]) == (person.pk, "outside")
    assert traces.filter(record_kind="entity", payload__why="unplaced").count() == 1


# --- 4. registering a known number never overwrites it -------------------------------------------


def test_a_stale_registration_cannot_undo_a_newer_correction(client_for, grid_worker, steward, home_room):
    client = client_for(grid_worker)
    first = _post(
        client,
        "/api/v1/registry/people",
        {"id_number": IDS[2], "name": "王五", "phone": "13800000000", "address": home_room.code},
    )
    assert first.status_code == 202  # a number the grid worker could not see: received
    pk = client.post("/api/v1/registry/people/search", {"q": IDS[2]}, content_type="application/json").json()[
        0
    ]["id"]
    version = Person.objects.get(pk=pk).version
    fixed = _patch(
        client,
        f"/api/v1/registry/people/{pk}",
        {"phone": "13911112222", "note": "本人更换号码", "expected_version": version},
    )
    assert fixed.status_code == 200
    person = Person.objects.get(pk=pk)
    changes = RecordChange.objects.filter(record_id=pk, record_kind="person").count()

    stale = _post(
        client,
        "/api/v1/registry/people",
        {"id_number": IDS[2], "name": "王伍", "phone": "13800000000", "household_type": "流动人口"},
    )
    assert stale.status_code == 409
    error = _error(stale)
    assert error["code"] == "registry.already_registered"
    assert error["record"] == {"kind": "person", "id": pk}
    assert {f["field"] for f in error["fields"]} == {"name", "phone", "household_type"}
    assert "13800000000" not in stale.content.decode() and "13911112222" not in stale.content.decode()
    after = Person.objects.get(pk=pk)
    assert (after.name, after.phone, after.household_type, after.version) == (
        person.name,
        "13911112222",
        person.household_type,
        person.version,
    )
    assert RecordChange.objects.filter(record_id=pk, record_kind="person").count() == changes

    # the way the answer points to: read the record, correct it with the version
    current = client.get(f"/api/v1/registry/people/{pk}").json()
    corrected = _patch(
        client,
        f"/api/v1/registry/people/{pk}",
        {"name": "王伍", "note": "核对户口本", "expected_version": current["version"]},
    )
    assert corrected.status_code == 200 and corrected.json()["name"] == "王伍"


def test_registering_the_same_values_or_filling_empty_ones_answers_the_record(
    steward, grid_worker, home_room, source_unit, other_unit
):
    person, created = services.person_register(
        actor=steward,
        source=source_unit,
        data={"id_number": IDS[3], "name": "赵六", "address": home_room.code},
    )
    person.refresh_from_db()
    version = person.version
    # identical: the record, unchanged
    same, created_again = services.person_register(
        actor=grid_worker, data={"id_number": IDS[3], "name": "赵六", "phone": "", "address": home_room.code}
    )
    same.refresh_from_db()
    assert created and not created_again and same.pk == person.pk and same.version == version
    assert not RecordChange.objects.filter(record_id=person.pk, action="update").exists()
    # empty fields are filled (a change row, a new version); the source is kept, the other department's
    # statement written down
    filled, _created = services.person_register(
        actor=grid_worker,
        source=other_unit,
        data={"id_number": IDS[3], "name": "赵六", "phone": "13712345678", "ethnicity": "汉族"},
        note="入户登记",
    )
    filled.refresh_from_db()
    assert (filled.phone, filled.ethnicity, filled.version) == ("13712345678", "汉族", version + 1)
    assert filled.source == source_unit
    assert PersonSource.objects.filter(person=filled, source=other_unit).exists()
    row = RecordChange.objects.get(record_id=person.pk, action="update")
    assert set(row.payload["changes"]) == {"phone", "ethnicity"} and row.note == "入户登记"
    assert row.payload["changes"]["phone"][1] == "137****5678"
    # an empty value never clears a field
    services.person_register(actor=grid_worker, data={"id_number": IDS[3], "name": "赵六", "ethnicity": ""})
    assert Person.objects.get(pk=person.pk).ethnicity == "汉族"
    with pytest.raises(Conflict) as info:
        services.person_register(
            actor=grid_worker, data={"id_number": IDS[3], "name": "赵六", "ethnicity": "回族"}
        )
    assert info.value.code == "registry.already_registered" and info.value.status == 409


def test_an_entity_registration_fills_or_answers_409_and_the_api_corrects_it(
    client_for, grid_worker, home_room, source_unit
):
    code = make_credit_code("440305", random.Random(21))
    client = client_for(grid_worker)
    created = _post(
        client,
        "/api/v1/registry/entities",
        {"credit_code": code, "name": "深圳市甲科技有限公司", "address": home_room.code},
    )
    assert created.status_code == 201
    pk, version = created.json()["id"], created.json()["version"]
    same = _post(client, "/api/v1/registry/entities", {"credit_code": code, "name": "深圳市甲科技有限公司"})
    assert (same.status_code, same.json()["id"], same.json()["version"]) == (200, pk, version)
    filled = _post(
        client,
        "/api/v1/registry/entities",
        {"credit_code": code, "name": "深圳市甲科技有限公司", "industry": "软件"},
    )
    assert filled.status_code == 200 and LegalEntity.objects.get(pk=pk).industry == "软件"
    assert EntitySource.objects.filter(entity_id=pk).exists()  # the registering unit's statement
    renamed = _post(
        client, "/api/v1/registry/entities", {"credit_code": code, "name": "深圳市乙科技有限公司"}
    )
    assert renamed.status_code == 409
    assert (_error(renamed)["code"], _error(renamed)["record"]) == (
        "registry.already_registered",
        {"kind": "entity", "id": pk},
    )
    assert [f["field"] for f in _error(renamed)["fields"]] == ["name"]
    entity = LegalEntity.objects.get(pk=pk)
    assert entity.name == "深圳市甲科技有限公司"
    # PATCH /entities/{id}: the correction the answer points to, with its safeguards
    unversioned = _patch(
        client, f"/api/v1/registry/entities/{pk}", {"name": "深圳市乙科技有限公司", "note": "更名"}
    )
    assert (unversioned.status_code, _error(unversioned)["code"]) == (400, "registry.version_required")
    stale = _patch(
        client,
        f"/api/v1/registry/entities/{pk}",
        {"name": "深圳市乙科技有限公司", "note": "更名", "expected_version": entity.version - 1},
    )
    assert (stale.status_code, _error(stale)["code"]) == (409, "registry.version_conflict")
    ok = _patch(
        client,
        f"/api/v1/registry/entities/{pk}",
        {"name": "深圳市乙科技有限公司", "note": "营业执照已更名", "expected_version": entity.version},
    )
    assert ok.status_code == 200 and ok.json()["name"] == "深圳市乙科技有限公司"
    assert ok.json()["version"] == entity.version + 1
    assert RecordChange.objects.filter(record_kind="entity", record_id=pk, action="correct").count() == 1


def test_an_entity_correction_outside_the_jurisdiction_is_404(
    registry_demo, client_for, grid_worker, luohu_community
):
    entity = LegalEntity.objects.filter(community=luohu_community).order_by("pk").first()
    answer = _patch(
        client_for(grid_worker),
        f"/api/v1/registry/entities/{entity.pk}",
        {"name": "改名", "note": "x", "expected_version": entity.version},
    )
    assert (answer.status_code, _error(answer)["code"]) == (404, "not_found")
    assert LegalEntity.objects.get(pk=entity.pk).name == entity.name


# --- 5. a registry 404 is the house's not_found -------------------------------------------------


def test_registry_404s_answer_not_found_like_any_missing_thing(
    registry_demo, client_for, grid_worker, luohu_community, luohu_room
):
    client = client_for(grid_worker)
    person = Person.objects.filter(community=luohu_community).order_by("pk").first()
    entity = LegalEntity.objects.filter(community=luohu_community).order_by("pk").first()
    paths = [
        f"/api/v1/registry/people/{person.pk}",
        "/api/v1/registry/people/999999999",
        f"/api/v1/registry/entities/{entity.pk}",
        "/api/v1/registry/entities/999999999",
        f"/api/v1/registry/places/{luohu_room.code}",
        "/api/v1/registry/imports/999999999",
    ]
    answers = [client.get(path) for path in paths]
    assert [(a.status_code, _error(a)["code"]) for a in answers] == [(404, "not_found")] * len(paths)
    assert len({_error(a)["message"] for a in answers}) == 1  # outside or missing: one answer


# --- 6. the registry forms speak like the shell ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "name_label", "reason_label"),
    [
        ("zh-hans", ">姓名：</label>", ">为什么需要查看完整身份证号码和电话？</label>"),
        ("en", ">Name:</label>", ">Why do you need the full ID number and phone?</label>"),
    ],
)
def test_labels_end_with_the_readers_colon_and_a_question_with_none(
    registry_demo, grid_worker, home_community, language, name_label, reason_label
):
    person = _mine(grid_worker, home_community)
    with translation.override(language):
        name = str(CorrectionForm(person=person)["name"].label_tag())
        reason = str(RevealForm()["reason"].label_tag())
        kind = str(ImportForm()["kind"].label_tag())
    assert name.endswith(name_label) and reason.endswith(reason_label)
    assert kind.endswith(name_label[-9:])  # the import wizard's labels too: "：" or ":"


def test_registry_pages_use_the_shells_buttons_and_radio_group(
    registry_demo, client_for, grid_worker, steward, home_community
):
    person = _mine(grid_worker, home_community)
    client = client_for(grid_worker)
    search = client.get("/registry/").content.decode()
    assert "web/tickets.css" in search  # the shell's form and button styles, not a copy
    assert '<fieldset data-testid="search-kind">' in search
    assert '<button type="submit" class="primary">搜索</button>' in search
    detail = client.get(f"/registry/people/{person.pk}/").content.decode()
    assert '<button type="submit" class="primary">保存更正</button>' in detail
    assert '<button type="submit" class="secondary">查看完整身份证号码和电话</button>' in detail
    assert ">姓名：</label>" in detail and "姓名:" not in detail
    assert "电话？：" not in detail and "电话？:" not in detail
    entity = _mine(grid_worker, home_community, LegalEntity)
    assert (
        'class="primary">保存更正</button>' in client.get(f"/registry/entities/{entity.pk}/").content.decode()
    )
    wizard = client_for(steward).get("/registry/imports/new/").content.decode()
    assert 'class="primary">' in wizard and ":</label>" not in wizard
