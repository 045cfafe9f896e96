"""Imports: CSV (UTF-8/GBK) and Excel (merged headers), validation report, idempotency, merge, resume."""

from __future__ import annotations

from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from zhiwang.core.errors import ServiceError
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.imports.report import report_workbook
from zhiwang.registry.models import (
    ImportBatch,
    ImportChunk,
    ImportIssue,
    ImportStatus,
    MappingTemplate,
    Person,
    PersonSource,
    RecordChange,
    Residence,
)

IDS = [
    make_id_number("440305", date(1940 + i, 1 + i % 12, 1 + i % 28), i, male=i % 2 == 0) for i in range(12)
]


pytestmark = pytest.mark.usefixtures("import_dir")


def _csv(tmp_path, rows, *, encoding="utf-8", name="people.csv"):
    path = tmp_path / name
    path.write_bytes("\n".join(",".join(r) for r in rows).encode(encoding))
    return path


def _people_rows(room):
    return [
        ["姓名", "公民身份号码", "人口类型", "联系电话", "现住址"],
        ["张三", IDS[0], "户籍", "13800001111", room.full_name],
        ["李四", IDS[1], "流动人口", "", room.code],
        ["坏号", "440305199013320011", "户籍", "", ""],  # impossible birth date
        ["张三", IDS[0], "户籍", "13800001111", room.full_name],  # duplicate of row 2
        ["王五", IDS[2], "外星人", "12", "火星某路1号"],  # bad type, bad phone
        ["赵六", IDS[3], "户籍", "", "火星某路1号"],  # unknown address: lands without residence
    ]


def test_csv_import_reports_every_problem_and_lands_valid_rows(
    steward, source_unit, template, tmp_path, home_room
):
    path = _csv(tmp_path, _people_rows(home_room))
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_total, batch.rows_read, batch.rows_created, batch.rows_rejected) == (6, 6, 3, 3)
    issues = {(i.row, i.field, i.code, i.severity) for i in ImportIssue.objects.filter(batch=batch)}
    assert (4, "id_number", "id_number.birth_date", "error") in issues
    assert (5, "id_number", "row.duplicate", "error") in issues
    assert (6, "household_type", "household_type.unknown", "error") in issues
    assert (6, "phone", "phone.invalid", "error") in issues
    assert (7, "address", "address.unmatched", "warning") in issues
    zhang = Person.objects.get(
        id_number_hash=__import__("zhiwang.registry.hashing", fromlist=["x"]).id_number_hash(IDS[0])
    )
    assert zhang.import_batch == batch and zhang.import_row == 2 and zhang.source == source_unit
    assert Residence.objects.get(person=zhang).address == home_room
    # report values are masked
    dup = ImportIssue.objects.get(batch=batch, row=5)
    assert dup.value.startswith("440") and "*" in dup.value and IDS[0] not in dup.value
    # downloadable report
    out = report_workbook(batch, tmp_path / "report.xlsx")
    sheet = load_workbook(out, read_only=True).worksheets[1]
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + ImportIssue.objects.filter(batch=batch).count()


def test_reimport_same_file_resumes_and_changes_nothing(steward, source_unit, template, tmp_path, home_room):
    path = _csv(tmp_path, _people_rows(home_room))
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
    )
    people, changes = Person.objects.count(), RecordChange.objects.count()
    again = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    assert again.pk == batch.pk
    pipeline.import_batch_run(batch=again)
    assert (Person.objects.count(), RecordChange.objects.count()) == (people, changes)


def test_gbk_file_and_merge_from_second_department(
    steward, source_unit, other_unit, template, tmp_path, home_room
):
    first = _csv(tmp_path, [["姓名", "身份证号码"], ["张三", IDS[0]]], name="a.csv")
    pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=first, template=template
        )
    )
    second = _csv(
        tmp_path,
        [
            ["姓名", "身份证号码", "手机号码", "现住址"],
            ["张叁", IDS[0], "13912345678", home_room.code],
            ["新人", IDS[5], "", ""],
        ],
        encoding="gbk",
        name="b.csv",
    )
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=other_unit, file_path=second, template=template
    )
    assert batch.encoding == "gb18030"
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.rows_created, batch.rows_updated) == (1, 1)
    zhang = Person.objects.get(
        id_number_hash=__import__("zhiwang.registry.hashing", fromlist=["x"]).id_number_hash(IDS[0])
    )
    assert zhang.name == "张三"  # another department's different name is kept for the steward to decide
    assert zhang.phone == "13912345678"  # new information merged in
    assert set(PersonSource.objects.filter(person=zhang).values_list("source", flat=True)) == {
        source_unit.pk,
        other_unit.pk,
    }
    conflict = ImportIssue.objects.get(batch=batch, code="merge.conflict")
    assert (conflict.row, conflict.field, conflict.severity) == (2, "name", "warning")


def test_excel_with_title_row_and_merged_group_headers(steward, source_unit, template, tmp_path, home_room):
    wb = Workbook()
    ws = wb.active
    ws.append(["南山区实有人口登记表"])
    ws.merge_cells("A1:E1")
    ws.append(["姓名", "证件信息", None, "居住信息", None])  # 姓名 merged over two header rows
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    ws.append([None, "身份证号码", "性别", "现住址", "入住日期"])
    ws.append(["张三", IDS[0], "女" if int(IDS[0][16]) % 2 else "男", home_room.code, date(2020, 5, 1)])
    ws.append(["李四", IDS[2], None, home_room.code, "2021/6/1"])
    path = tmp_path / "people.xlsx"
    wb.save(path)
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
    )
    assert (batch.rows_read, batch.rows_created, batch.rows_rejected) == (2, 1, 1), list(
        ImportIssue.objects.values_list("row", "field", "code", "message")
    )
    issue = ImportIssue.objects.get(batch=batch)
    assert (issue.row, issue.field, issue.code) == (4, "gender", "gender.mismatch")
    li = Person.objects.get(name="李四")
    assert Residence.objects.get(person=li).since == date(2021, 6, 1)


def test_missing_required_column_is_refused_before_anything(steward, source_unit, template, tmp_path):
    path = _csv(tmp_path, [["姓名", "电话"], ["张三", "13800001111"]])
    with pytest.raises(ServiceError) as info:
        pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
    assert info.value.code == "import.missing_columns"
    assert not ImportBatch.objects.exists()


def test_only_stewards_import(grid_worker, source_unit, template, tmp_path, home_room):
    path = _csv(tmp_path, _people_rows(home_room))
    with pytest.raises(ServiceError) as info:
        pipeline.import_batch_create(
            actor=grid_worker, kind="person", source=source_unit, file_path=path, template=template
        )
    assert info.value.status == 403


def test_crash_mid_import_keeps_committed_chunks_and_resume_finishes(
    steward, source_unit, template, tmp_path, monkeypatch, settings
):
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 0  # a commit per chunk (see the group test)
    rows = [["姓名", "身份证号码"]] + [[f"人{i}", IDS[i]] for i in range(10)]
    path = _csv(tmp_path, rows)
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, chunk_size=3
    )
    real = pipeline._people
    calls = {"n": 0}

    def crash_on_third(chunk):
        calls["n"] += 1
        real(chunk)
        if calls["n"] == 3:
            raise RuntimeError("power cut")  # after writing part of chunk 3, inside its transaction

    monkeypatch.setattr(pipeline, "_people", crash_on_third)
    with pytest.raises(RuntimeError):
        pipeline.import_batch_run(batch=batch)
    assert sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)) == [1, 2]
    assert Person.objects.filter(import_batch=batch).count() == 6  # never half of chunk 3
    monkeypatch.setattr(pipeline, "_people", real)
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_read, batch.rows_created) == (10, 10)
    assert Person.objects.filter(import_batch=batch).count() == 10


def test_housing_and_entity_files(steward, source_unit, tmp_path, home_room, template):
    housing = _csv(
        tmp_path,
        [
            ["房屋地址", "房屋用途", "是否出租", "面积"],
            [home_room.code, "住宅", "是", "88.5"],
            ["火星1号", "住宅", "否", ""],
        ],
        name="h.csv",
    )
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward,
            kind="housing",
            source=source_unit,
            file_path=housing,
            template=MappingTemplate.objects.get(name="住建房屋"),
        )
    )
    assert (batch.rows_created, batch.rows_rejected) == (1, 1)
    assert home_room.housing.is_rental
    from zhiwang.registry.demo import make_credit_code

    code = make_credit_code("440305", __import__("random").Random(5))
    entities = _csv(
        tmp_path,
        [
            ["统一社会信用代码", "企业名称", "经营场所"],
            [code, "深圳市某某有限公司", home_room.code],
            ["91440300MA5XXXXXX0", "坏公司", ""],
        ],
        name="e.csv",
    )
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward,
            kind="entity",
            source=source_unit,
            file_path=entities,
            template=MappingTemplate.objects.get(name="市场监管法人"),
        )
    )
    assert (batch.rows_created, batch.rows_rejected) == (1, 1)
    assert ImportIssue.objects.get(batch=batch).field == "credit_code"


def test_steward_settles_merge_conflict(
    steward, grid_worker, source_unit, other_unit, template, tmp_path, home_room
):
    from zhiwang.core.errors import Conflict, PermissionDeniedError
    from zhiwang.registry import selectors, services

    first = _csv(tmp_path, [["姓名", "身份证号码", "现住址"], ["张三", IDS[0], home_room.code]], name="a.csv")
    pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=first, template=template
        )
    )
    second = _csv(tmp_path, [["姓名", "身份证号码"], ["张叁", IDS[0]]], name="b.csv")
    pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=other_unit, file_path=second, template=template
        )
    )
    assert not selectors.merge_conflicts(user=grid_worker).exists()
    issue = selectors.merge_conflicts(user=steward).get()
    assert (issue.value, issue.field) == ("张叁", "name")
    with pytest.raises(PermissionDeniedError):
        services.merge_conflict_resolve(issue=issue, actor=grid_worker, accept=True)
    services.merge_conflict_resolve(issue=issue, actor=steward, accept=True)
    person = Person.objects.get(pk=issue.record_id)
    assert person.name == "张叁"
    assert RecordChange.objects.filter(record_id=person.pk, action="correct", actor=steward).exists()
    assert not selectors.merge_conflicts(user=steward).exists()
    with pytest.raises(Conflict):
        services.merge_conflict_resolve(issue=issue, actor=steward, accept=False)


def test_import_command_resumes_and_writes_report(source_unit, template, tmp_path, home_room):
    from io import StringIO

    from django.core.management import call_command

    path = _csv(tmp_path, _people_rows(home_room))
    out = StringIO()
    call_command(
        "import_registry",
        str(path),
        kind="person",
        source=source_unit.code,
        report=str(tmp_path / "r.xlsx"),
        no_progress=True,
        stdout=out,
    )
    assert "created 3" in out.getvalue() and "rejected 3" in out.getvalue()
    sheet = load_workbook(tmp_path / "r.xlsx", read_only=True).worksheets[1]
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + ImportIssue.objects.count()
    again = StringIO()
    call_command(
        "import_registry", str(path), kind="person", source=source_unit.code, no_progress=True, stdout=again
    )
    assert "already imported completely" in again.getvalue()
    assert ImportBatch.objects.count() == 1
