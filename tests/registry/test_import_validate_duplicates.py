"""Validate-only reports a duplicate in another chunk exactly as the real import does, and keeps
doing so after a crash and resume."""

from __future__ import annotations

import random
from datetime import date

import pytest

from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    ImportChunk,
    ImportIssue,
    ImportStatus,
    Person,
)

IDS = [make_id_number("440305", date(1950 + i, 3, 1 + i), 300 + i, male=i % 2 == 0) for i in range(8)]


pytestmark = pytest.mark.usefixtures("import_dir")


def _csv(tmp_path, rows, name):
    path = tmp_path / name
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    return path


def _report(batch):
    return sorted(
        (i.row, i.field, i.severity, i.code, i.message, i.value)
        for i in ImportIssue.objects.filter(batch=batch)
    )


def _counters(batch):
    return (
        batch.rows_read,
        batch.rows_created,
        batch.rows_updated,
        batch.rows_unchanged,
        batch.rows_rejected,
    )


def _validate_then_publish(steward, source, kind, template, path, chunk_size=2):
    """The validation's report and counters, then the real import's (same batch, published)."""
    batch = pipeline.import_batch_create(
        actor=steward,
        kind=kind,
        source=source,
        file_path=path,
        template=template,
        chunk_size=chunk_size,
        validate_only=True,
    )
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.VALIDATED
    validated = (_report(batch), _counters(batch))
    assert not pipeline.seen_keys_path(batch).exists()  # the scratch key file is gone
    batch = pipeline.import_batch_run(batch=pipeline.import_batch_publish(batch=batch, actor=steward))
    assert batch.status == ImportStatus.DONE
    return validated, (_report(batch), _counters(batch))


def test_people_duplicate_in_another_chunk_is_reported_as_the_import_reports_it(
    steward, source_unit, templates, tmp_path, home_room
):
    # Given a file whose duplicates sit two and three chunks (of two rows) after their first rows,
    # one of them with an address that matches nothing (a warning the import reports too)
    path = _csv(
        tmp_path,
        [
            ["姓名", "公民身份号码", "人口类型", "现住址"],
            ["甲", IDS[0], "户籍", home_room.code],  # row 2
            ["乙", IDS[1], "户籍", ""],
            ["丙", IDS[2], "户籍", ""],
            ["坏", "440305199013320011", "户籍", ""],  # row 5: rejected, never a first row
            ["甲", IDS[0], "户籍", "火星某路1号"],  # row 6: duplicate of row 2 (chunk 3 vs chunk 1)
            ["丁", IDS[3], "户籍", ""],
            ["乙二", IDS[1], "户籍", ""],  # row 8: duplicate of row 3
            ["丙", IDS[2], "户籍", ""],  # row 9: duplicate of row 4
        ],
        "people.csv",
    )
    # When it is validated, then published and imported
    validated, imported = _validate_then_publish(steward, source_unit, "person", templates["person"], path)
    # Then the validation named the same rows, fields and reasons, and counted the same
    assert validated == imported
    duplicates = [(row, message) for row, _f, _s, code, message, _v in imported[0] if code == "row.duplicate"]
    assert [row for row, _m in duplicates] == [6, 8, 9]
    assert " 2 " in duplicates[0][1] and " 3 " in duplicates[1][1] and " 4 " in duplicates[2][1]
    assert imported[1] == (8, 4, 0, 0, 4)


def test_entity_and_housing_duplicates_across_chunks(steward, source_unit, templates, tmp_path, home_room):
    rng = random.Random(11)
    codes = [make_credit_code("440305", rng) for _ in range(3)]
    entities = _csv(
        tmp_path,
        [
            ["统一社会信用代码", "企业名称", "经营场所"],
            [codes[0], "一公司", home_room.code],
            [codes[1], "二公司", ""],
            [codes[2], "三公司", ""],
            [codes[0], "一公司", home_room.code],  # duplicate of row 2, next chunk
        ],
        "e.csv",
    )
    validated, imported = _validate_then_publish(
        steward, source_unit, "entity", templates["entity"], entities
    )
    assert validated == imported
    assert [(r[0], r[3]) for r in imported[0]] == [(5, "row.duplicate")]

    housing = _csv(
        tmp_path,
        [
            ["房屋地址", "房屋用途", "是否出租"],
            [home_room.code, "住宅", "是"],
            ["火星1号", "住宅", "否"],
            [home_room.full_name, "住宅", "否"],  # the same room by its name: duplicate of row 2
        ],
        "h.csv",
    )
    validated, imported = _validate_then_publish(
        steward, source_unit, "housing", templates["housing"], housing, chunk_size=1
    )
    assert validated == imported
    assert [(r[0], r[3]) for r in imported[0]] == [(3, "address.unmatched"), (4, "row.duplicate")]


def test_validation_resumed_after_a_crash_still_names_duplicates_of_committed_chunks(
    steward, source_unit, templates, tmp_path, monkeypatch, settings
):
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 4  # SQLite: chunks 1–2 commit together
    rows = (
        [["姓名", "身份证号码"]] + [[f"人{i}", IDS[i]] for i in range(6)] + [["重", IDS[0]], ["重", IDS[5]]]
    )
    path = _csv(tmp_path, rows, "people.csv")
    batch = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=templates["person"],
        chunk_size=2,
        validate_only=True,
    )
    real = pipeline._people
    calls = {"n": 0}

    def crash_in_third(chunk):
        calls["n"] += 1
        real(chunk)  # its keys reach the scratch file; its transaction then dies
        if calls["n"] == 3:
            raise RuntimeError("power cut")

    monkeypatch.setattr(pipeline, "_people", crash_in_third)
    with pytest.raises(RuntimeError):
        pipeline.import_batch_run(batch=batch)
    assert sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)) == [1, 2]
    monkeypatch.setattr(pipeline, "_people", real)
    # A fresh process resumes: the keys of the committed chunks are still known, those of the
    # chunk that died are not (its rows are not reported as duplicates of themselves).
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.VALIDATED
    assert Person.objects.count() == 0
    assert _counters(batch) == (8, 6, 0, 0, 2)
    issues = [(r[0], r[3]) for r in _report(batch)]
    assert issues == [(8, "row.duplicate"), (9, "row.duplicate")]
    assert " 2 " in ImportIssue.objects.get(batch=batch, row=8).message
    assert " 7 " in ImportIssue.objects.get(batch=batch, row=9).message
