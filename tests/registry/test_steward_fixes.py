"""Regression tests for the data steward's walkthrough: settling a merge conflict says what
happened and the conflict names the department that set the value; a finished validation shows
100 %; the validation report shows invalid phone and ID values that cannot be anybody's number;
the import wizard lists only data sources, in division order, and keeps template and kind in step.
"""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.core.errors import ServiceError
from zhiwang.core.validators import id_number_check_char
from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.forms import ImportForm
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    ImportBatch,
    ImportIssue,
    ImportStatus,
    LegalEntity,
    MappingTemplate,
    Person,
)
from zhiwang.registry.validation import clean_person, masked

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1970 + i, 2, 3 + i), 40 + i, male=i % 2 == 0) for i in range(8)]


def _csv(tmp_path, text: str, name: str):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _import(source, template, path, *, actor=None, kind="person", **kwargs):
    batch = pipeline.import_batch_create(
        actor=actor, kind=kind, source=source, file_path=path, template=template, **kwargs
    )
    return pipeline.import_batch_run(batch=batch)


def _client(user, language="zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def police(db):
    """A third department: the police, who supply the people first."""
    return OrgUnit.objects.create(code="T-PSB", name="深圳市公安局（测试）", kind=OrgUnitKind.DEPARTMENT)


# --- 1. merge conflicts: the source of the current value; the steward's confirmation ---------------


@pytest.fixture
def confirmed_then_disputed(police, source_unit, other_unit, template, tmp_path):
    """The police record 张三; the data office confirms the same name (and so becomes the record's
    last confirming source); urban management says 张叁: a conflict about the police's value."""
    _import(police, template, _csv(tmp_path, f"姓名,身份证号码\n张三,{IDS[0]}\n", "psb.csv"))
    _import(source_unit, template, _csv(tmp_path, f"姓名,身份证号码,民族\n张三,{IDS[0]},汉\n", "data.csv"))
    person = Person.objects.get(id_number=IDS[0])
    assert person.source == source_unit  # the last confirmation, not who named the person
    batch = _import(other_unit, template, _csv(tmp_path, f"姓名,身份证号码\n张叁,{IDS[0]}\n", "urban.csv"))
    return ImportIssue.objects.get(batch=batch, code="merge.conflict")


def test_a_conflict_names_the_department_that_set_the_value_not_the_last_confirmation(
    confirmed_then_disputed, police, source_unit
):
    message = confirmed_then_disputed.message
    assert police.name in message and "张三" in message
    assert source_unit.name not in message


def test_the_last_confirming_department_cannot_overwrite_another_departments_value_unseen(
    confirmed_then_disputed, police, source_unit, template, tmp_path
):
    # The data office only confirmed the police's name: its own file with another name is a
    # conflict too (before, being the record's last source, it overwrote the name silently).
    batch = _import(source_unit, template, _csv(tmp_path, f"姓名,身份证号码\n张四,{IDS[0]}\n", "d2.csv"))
    issue = ImportIssue.objects.get(batch=batch, code="merge.conflict")
    assert police.name in issue.message
    assert Person.objects.get(id_number=IDS[0]).name == "张三"


def test_the_department_that_set_a_value_updates_it_itself(police, source_unit, template, tmp_path):
    _import(police, template, _csv(tmp_path, f"姓名,身份证号码\n王五,{IDS[1]}\n", "a.csv"))
    _import(source_unit, template, _csv(tmp_path, f"姓名,身份证号码\n王五,{IDS[1]}\n", "b.csv"))
    batch = _import(police, template, _csv(tmp_path, f"姓名,身份证号码\n王伍,{IDS[1]}\n", "c.csv"))
    assert not ImportIssue.objects.filter(batch=batch, code="merge.conflict").exists()
    assert Person.objects.get(id_number=IDS[1]).name == "王伍"
    # ... and the value is the police's again when another department disagrees
    batch = _import(
        source_unit, template, _csv(tmp_path, f"姓名,身份证号码,民族\n王五,{IDS[1]},汉\n", "d.csv")
    )
    assert police.name in ImportIssue.objects.get(batch=batch, code="merge.conflict").message


def test_an_accepted_value_belongs_to_the_department_it_came_from(
    confirmed_then_disputed, police, other_unit, steward, template, tmp_path
):
    services.merge_conflict_resolve(issue=confirmed_then_disputed, actor=steward, accept=True)
    assert Person.objects.get(id_number=IDS[0]).name == "张叁"
    # the police's next file still says 张三: the conflict now names urban management's value
    batch = _import(police, template, _csv(tmp_path, f"姓名,身份证号码,民族\n张三,{IDS[0]},汉\n", "psb2.csv"))
    message = ImportIssue.objects.get(batch=batch, code="merge.conflict").message
    assert other_unit.name in message and "张叁" in message and police.name not in message


def test_a_correction_by_hand_is_kept_from_the_departments_file(police, steward, template, tmp_path):
    _import(police, template, _csv(tmp_path, f"姓名,身份证号码\n赵六,{IDS[2]}\n", "a.csv"))
    person = Person.objects.get(id_number=IDS[2])
    services.person_correct(
        person=person, actor=steward, data={"name": "赵陆"}, note="上门核实", expected_version=person.version
    )
    batch = _import(police, template, _csv(tmp_path, f"姓名,身份证号码,民族\n赵六,{IDS[2]},汉\n", "b.csv"))
    issue = ImportIssue.objects.get(batch=batch, code="merge.conflict")
    assert steward.org_unit.name in issue.message and "赵陆" in issue.message
    assert Person.objects.get(pk=person.pk).name == "赵陆"


def test_an_entity_conflict_names_the_department_that_set_the_name(
    police, source_unit, other_unit, templates, tmp_path
):
    template = templates["entity"]
    code = make_credit_code("440305", random.Random(7))
    _import(
        police,
        template,
        _csv(tmp_path, f"统一社会信用代码,企业名称\n{code},甲公司\n", "a.csv"),
        kind="entity",
    )
    _import(
        source_unit,
        template,
        _csv(tmp_path, f"统一社会信用代码,企业名称\n{code},甲公司\n", "b.csv"),
        kind="entity",
    )
    assert LegalEntity.objects.get(credit_code=code).source == source_unit
    batch = _import(
        other_unit,
        template,
        _csv(tmp_path, f"统一社会信用代码,企业名称\n{code},乙公司\n", "c.csv"),
        kind="entity",
    )
    message = ImportIssue.objects.get(batch=batch, code="merge.conflict").message
    assert police.name in message and source_unit.name not in message


@pytest.mark.parametrize(
    ("accept", "outcome", "name"),
    [("1", "Accepted:", "张叁"), ("0", "Kept:", "张三")],
)
def test_settling_a_conflict_says_which_record_and_what_was_decided(
    confirmed_then_disputed, steward, other_unit, accept, outcome, name
):
    client = _client(steward, language="en")
    answer = client.post("/registry/conflicts/", {"issue": confirmed_then_disputed.pk, "accept": accept})
    assert answer.status_code == 302
    page = client.get(answer["Location"]).content.decode()
    shown = re.search(r'<ul class="messages"><li class="success">(.*?)</li>', page, re.S)
    assert shown is not None, "no confirmation on the conflicts page"
    text = shown.group(1)
    assert text.startswith(outcome)
    assert "“张三”" in text  # the record, by the name it had
    assert f"“{name}”" in text and other_unit.name in text
    assert Person.objects.get(pk=confirmed_then_disputed.record_id).name == name
    # the message is shown once
    assert 'class="messages"' not in client.get("/registry/conflicts/").content.decode()


def test_settling_a_conflict_settled_meanwhile_says_so(confirmed_then_disputed, steward):
    """Two stewards (or two tabs) settle the same conflict: the second is told it is settled (409),
    not answered "not found"; the first decision stands."""
    first, second = _client(steward), _client(steward)
    settled = first.post("/registry/conflicts/", {"issue": confirmed_then_disputed.pk, "accept": "0"})
    assert settled.status_code == 302
    late = second.post("/registry/conflicts/", {"issue": confirmed_then_disputed.pk, "accept": "1"})
    assert late.status_code == 409
    assert '<div class="errors">该冲突已被他人裁定。</div>' in late.content.decode()
    assert Person.objects.get(pk=confirmed_then_disputed.record_id).name == "张三"


def test_the_confirmation_is_translated(confirmed_then_disputed, steward):
    answer = _client(steward).post(
        "/registry/conflicts/", {"issue": confirmed_then_disputed.pk, "accept": "0"}, follow=True
    )
    assert answer.status_code == 200
    shown = re.search(r'<ul class="messages">(.*?)</ul>', answer.content.decode(), re.S).group(1)
    assert "实有人口" in shown and "姓名" in shown  # the record kind and the field, in the reader's language


# --- 2. a finished stage shows 100 % ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "read", "expected"),
    [
        (ImportStatus.VALIDATED, 6, 100),
        (ImportStatus.DONE, 6, 100),
        (ImportStatus.VALIDATED, 0, 100),  # a file of title rows only is validated too
        (ImportStatus.RUNNING, 6, 99),  # every row read, the status not yet written
        (ImportStatus.RUNNING, 3, 50),
        (ImportStatus.FAILED, 3, 50),  # stopped half-way: how far it got
        (ImportStatus.FAILED, 6, 99),
        (ImportStatus.PENDING, 0, 0),
    ],
)
def test_progress_of_each_status(status, read, expected):
    assert ImportBatch(status=status, rows_total=6, rows_read=read).progress_percent == expected


def test_a_validated_batch_page_shows_100_percent(steward, source_unit, template, tmp_path):
    rows = "".join(f"张{i},{IDS[i]}\n" for i in range(6))
    batch = _import(
        source_unit, template, _csv(tmp_path, "姓名,身份证号码\n" + rows, "v.csv"), validate_only=True
    )
    assert (batch.status, batch.rows_read, batch.rows_total) == (ImportStatus.VALIDATED, 6, 6)
    html = _client(steward).get(f"/registry/imports/{batch.pk}/").content.decode()
    assert '<progress max="100" value="100"></progress> 100%' in html
    assert "99%" not in html


# --- 3. invalid phone and ID values that cannot be anybody's number are shown --------------------


@pytest.mark.parametrize("value", ["abc", "无", "不详", "12", "123456", "+86 138", "a1b2c3"])
def test_a_phone_that_cannot_be_a_number_is_shown_as_typed(value):
    cleaned = clean_person({"id_number": IDS[0], "name": "张三", "phone": value})
    error = next(e for e in cleaned.errors if e.field == "phone")
    assert error.code == "phone.invalid"
    assert f"“{value}”" in str(error.message)
    assert masked("phone", value) == value


@pytest.mark.parametrize(
    ("value", "hidden"),
    [
        ("1380013800012345", "0013800012"),  # 16 digits: too long, but holds a real number's digits
        ("13812345678 家", "1234"),  # a mobile number with a word
        ("电话13812345678", "1234"),
        ("13812345678/13987654321", "12345678/139"),  # two numbers in one cell
        (IDS[3], IDS[3][3:14]),  # an ID number in the phone column
        ("１３８１２３４５６７８号", "１２３４"),  # full-width digits
        ("一三八一二三四五六七八", "二三四五"),  # Chinese numerals
    ],
)
def test_a_phone_that_may_hold_a_real_number_stays_masked(value, hidden):
    cleaned = clean_person({"id_number": IDS[0], "name": "张三", "phone": value})
    error = next(e for e in cleaned.errors if e.field == "phone")
    assert hidden not in str(error.message)
    assert hidden not in masked("phone", value) and "*" in masked("phone", value)


def test_an_id_number_with_a_wrong_check_digit_stays_masked_but_its_last_characters():
    right = IDS[4]
    wrong = right[:17] + ("0" if right[17] != "0" else "1")
    assert id_number_check_char(wrong[:17]) != wrong[17]
    shown = masked("id_number", wrong)
    assert shown == wrong[:3] + "*" * 11 + wrong[-4:]
    assert masked("id_number", wrong[:17]).count("*") >= 8  # a digit missing: still somebody's number


@pytest.mark.parametrize("value", ["abc", "不详", "X", "440305"])
def test_an_id_value_that_cannot_be_a_number_is_shown_as_typed(value):
    assert masked("id_number", value) == value


def test_the_validation_report_shows_what_was_wrong(steward, source_unit, template, tmp_path):
    wrong_check = IDS[5][:17] + ("0" if IDS[5][17] != "0" else "1")
    path = _csv(
        tmp_path,
        "姓名,身份证号码,联系电话\n"
        f"甲,{IDS[0]},abc\n"
        f"乙,{IDS[1]},13812345678转8\n"
        "丙,不详,\n"
        f"丁,{wrong_check},\n",
        "bad.csv",
    )
    batch = _import(source_unit, template, path, actor=steward)
    issues = {(i.row, i.field): i for i in ImportIssue.objects.filter(batch=batch)}
    assert issues[(2, "phone")].value == "abc" and "“abc”" in issues[(2, "phone")].message
    assert "12345678" not in issues[(3, "phone")].value and "12345678" not in issues[(3, "phone")].message
    assert issues[(4, "id_number")].value == "不详"
    assert issues[(5, "id_number")].value == wrong_check[:3] + "*" * 11 + wrong_check[-4:]
    html = _client(steward).get(f"/registry/imports/{batch.pk}/").content.decode()
    assert "<code>abc</code>" in html and "13812345678" not in html


# --- 4. the import wizard ------------------------------------------------------------------------


def test_the_source_list_holds_data_sources_only_in_division_order(db):
    units = list(ImportForm().fields["source"].queryset)
    kinds = {unit.kind for unit in units}
    assert OrgUnitKind.MEDIATION_ORG not in kinds and OrgUnitKind.COMMAND_CENTER not in kinds
    assert OrgUnitKind.SERVICE_CENTER not in kinds
    assert {OrgUnitKind.DEPARTMENT, OrgUnitKind.DIVISION_OFFICE, OrgUnitKind.GRID_STATION} <= kinds
    assert OrgUnit.objects.filter(kind=OrgUnitKind.MEDIATION_ORG, is_active=True).exists()
    codes = [unit.division.code if unit.division else "~" for unit in units]
    assert codes == sorted(codes)
    # within a division, by name (in the database's collation, as every list of names)
    rank = {
        pk: i for i, pk in enumerate(OrgUnit.objects.order_by("name", "code").values_list("pk", flat=True))
    }
    for before, after in zip(units, units[1:], strict=False):
        if before.division_id == after.division_id:
            assert rank[before.pk] < rank[after.pk]


def test_the_wizard_refuses_a_unit_that_supplies_no_data(steward, template, tmp_path):
    mediation = OrgUnit.objects.filter(kind=OrgUnitKind.MEDIATION_ORG).first()
    answer = _client(steward).post(
        "/registry/imports/new/",
        {
            "kind": "person",
            "source": mediation.pk,
            "template": template.pk,
            "file": SimpleUploadedFile("p.csv", f"姓名,身份证号码\n张三,{IDS[0]}\n".encode()),
        },
    )
    assert answer.status_code == 400
    assert 'data-testid="field-error-source"' in answer.content.decode()
    assert not ImportBatch.objects.exists()
    with pytest.raises(ServiceError) as error:
        pipeline.import_batch_create(
            actor=steward,
            kind="person",
            source=mediation,
            file_path=_csv(tmp_path, f"姓名,身份证号码\n张三,{IDS[0]}\n", "p.csv"),
            template=template,
        )
    assert (error.value.code, error.value.field) == ("import.source_kind", "source")


def test_a_template_of_another_kind_is_a_field_error(steward, source_unit, templates):
    answer = _client(steward).post(
        "/registry/imports/new/",
        {
            "kind": "entity",
            "source": source_unit.pk,
            "template": templates["person"].pk,
            "file": SimpleUploadedFile("e.csv", "统一社会信用代码,企业名称\n".encode()),
        },
    )
    assert answer.status_code == 400
    assert 'data-testid="field-error-template"' in answer.content.decode()
    assert not ImportBatch.objects.exists()


def test_the_wizard_preselects_the_kinds_template_and_marks_each_option(steward, templates):
    html = _client(steward).get("/registry/imports/new/").content.decode()
    select = re.search(r'<select name="template".*?</select>', html, re.S).group(0)
    options = dict(re.findall(r'<option value="(\d*)"([^>]*)>', select))
    person = MappingTemplate.objects.filter(kind="person").order_by("name").first()
    assert "selected" in options[str(person.pk)]
    assert [pk for pk, attrs in options.items() if "selected" in attrs] == [str(person.pk)]
    for template in MappingTemplate.objects.all():
        assert f'data-kind="{template.kind}"' in options[str(template.pk)]
    assert re.search(r'<option value="person" selected>', html)
    assert "registry/import_form.js" in html


def test_the_wizard_marks_required_fields_and_puts_the_checkbox_beside_its_label(steward, templates):
    html = _client(steward).get("/registry/imports/new/").content.decode()
    for name in ("kind", "source", "template", "file"):
        label = re.search(rf'<label for="id_{name}">(.*?)</label>', html, re.S).group(1)
        assert '<span class="req" aria-hidden="true"> *</span>' in label, name
    checkbox = re.search(r'<label for="id_validate_only">(.*?)</label>', html, re.S).group(1)
    assert '<input type="checkbox" name="validate_only"' in checkbox and "req" not in checkbox
