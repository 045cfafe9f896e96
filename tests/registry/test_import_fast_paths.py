"""The import's set-based paths: prepared keyed hashes, plain-row inserts, residences across chunks."""

from __future__ import annotations

from datetime import date

import pytest

from zhiwang.registry.demo import make_id_number
from zhiwang.registry.hashing import hasher, id_number_hash, keyed_hash, phone_hash
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import ImportIssue, MappingTemplate, Person, RecordChange, Residence

IDS = [make_id_number("440305", date(1950 + i, 3, 1 + i), 100 + i, male=i % 2 == 0) for i in range(6)]


@pytest.fixture(autouse=True)
def _import_dir(settings, tmp_path):
    settings.ZHIWANG_REGISTRY_IMPORT_DIR = str(tmp_path / "imports")


@pytest.fixture
def template(db):
    from zhiwang.registry.defaults import seed_defaults
    from zhiwang.registry.models import EligibilityRule

    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    return MappingTemplate.objects.get(name="公安实有人口")


def _run(tmp_path, name, rows, *, steward, source, template, chunk_size=2):
    path = tmp_path / name
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source, file_path=path, template=template, chunk_size=chunk_size
    )
    return pipeline.import_batch_run(batch=batch)


@pytest.mark.parametrize("key", ["", "short-key", "k" * 100])
def test_prepared_hasher_equals_keyed_hash(settings, key):
    settings.ZHIWANG_REGISTRY_HASH_KEY = key
    for purpose in ("id", "phone"):
        digest = hasher(purpose)
        for value in ("", "440305195003010017", "13800001111", "中文"):
            assert digest(value) == keyed_hash(purpose, value)


def test_new_rows_are_complete_and_duplicates_across_chunks_are_caught(
    steward, source_unit, template, tmp_path, home_room, luohu_room
):
    header = ["姓名", "公民身份号码", "人口类型", "联系电话", "现住址", "入住日期"]
    batch = _run(
        tmp_path,
        "a.csv",
        [
            header,
            ["张一", IDS[0], "户籍", "13800001111", home_room.code, "2020-05-01"],
            ["李二", IDS[1], "流动人口", "", home_room.full_name, ""],
            ["王三", IDS[2], "户籍", "13900002222", "", ""],
            ["张一", IDS[0], "户籍", "13800001111", home_room.code, ""],  # duplicate of row 2, next chunk
        ],
        steward=steward,
        source=source_unit,
        template=template,
    )
    assert (batch.rows_created, batch.rows_rejected) == (3, 1)
    dup = ImportIssue.objects.get(batch=batch, code="row.duplicate")
    assert dup.row == 5 and "2" in dup.message
    zhang = Person.objects.get(id_number_hash=id_number_hash(IDS[0]))
    assert zhang.phone_hash == phone_hash("13800001111") and zhang.version == 1
    assert (zhang.gender, zhang.birth_date) == ("male", date(1950, 3, 1))
    assert zhang.community_id == home_room.community_id and zhang.grid_id == home_room.grid_id
    assert zhang.created_at and zhang.last_confirmed_at and zhang.source == source_unit
    assert (zhang.import_batch, zhang.import_row) == (batch, 2)
    home = Residence.objects.get(person=zhang)
    assert (home.address, home.since, home.until, home.import_batch) == (
        home_room,
        date(2020, 5, 1),
        None,
        batch,
    )
    assert Residence.objects.get(person__id_number_hash=id_number_hash(IDS[1])).since is not None
    wang = Person.objects.get(id_number_hash=id_number_hash(IDS[2]))
    assert wang.community_id is None and not Residence.objects.filter(person=wang).exists()
    assert not RecordChange.objects.exists()  # creation is told by provenance, not history rows

    # A later file: one moves (old residence ends, history row), one is new, one is unchanged.
    later = _run(
        tmp_path,
        "b.csv",
        [
            header,
            ["张一", IDS[0], "户籍", "13800001111", luohu_room.code, ""],
            ["李二", IDS[1], "流动人口", "", home_room.code, ""],
            ["赵四", IDS[3], "户籍", "", luohu_room.code, ""],
        ],
        steward=steward,
        source=source_unit,
        template=template,
    )
    assert (later.rows_created, later.rows_unchanged, later.rows_rejected) == (1, 2, 0)
    zhang.refresh_from_db()
    assert zhang.community_id == luohu_room.community_id
    residences = list(Residence.objects.filter(person=zhang).order_by("pk"))
    assert [r.address for r in residences] == [home_room, luohu_room]
    assert residences[0].until is not None and residences[1].until is None
    assert RecordChange.objects.filter(record_id=zhang.pk, action="move").count() == 1
    assert Residence.objects.filter(person__id_number_hash=id_number_hash(IDS[1])).count() == 1
