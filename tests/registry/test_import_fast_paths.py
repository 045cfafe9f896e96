"""The import's set-based paths: prepared keyed hashes, plain-row inserts, residences across chunks."""

from __future__ import annotations

from datetime import date

import pytest

from zhiwang.registry.demo import make_id_number
from zhiwang.registry.hashing import hasher, id_number_hash, keyed_hash, phone_hash
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import ImportIssue, Person, RecordChange, Residence

IDS = [make_id_number("440305", date(1950 + i, 3, 1 + i), 100 + i, male=i % 2 == 0) for i in range(6)]


pytestmark = pytest.mark.usefixtures("import_dir")


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
    # no 入住日期: the start is unknown, not the import's day (docs/registry.md, *Unknown starts*)
    assert Residence.objects.get(person__id_number_hash=id_number_hash(IDS[1])).since is None
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


def test_fast_person_cleaner_agrees_with_clean_person_row_by_row():
    """The bulk fast path either declines a row or answers exactly what clean_person answers."""
    from zhiwang.registry.imports.fast_clean import fast_person_cleaner
    from zhiwang.registry.validation import clean_person

    fast = fast_person_cleaner()
    good = IDS[0]
    recent = make_id_number("440305", date.today(), 101, male=True)
    variants = {
        "id_number": [
            good,
            good.lower(),
            f" {good} ",
            good[:17] + "0",
            good[:16],
            "99" + good[2:],
            good[:6] + "19000231" + good[14:],
            recent,
            "４４" + good[2:],
            440305195003010017,
            "",
        ],
        "name": ["张三", "", " 张  三 ", "张" * 65, None],
        "household_type": ["户籍", "流动人口", "Registered", "外星", "", None],
        "phone": [
            "13800001111",
            "",
            "+8613800001111",
            "008613800001111",
            "138-0000-1111",
            "12",
            "１３８００００１１１１",
        ],
        "address": ["", "福田区 某路 1号", "地" * 256],
        "since": ["", "2020-01-01"],
    }
    accepted = 0
    base = {"id_number": good, "name": "张三", "household_type": "户籍", "phone": "13800001111"}
    for name, values in variants.items():
        for value in values:
            row = {**base, name: value}
            answer = fast(row)
            full = clean_person(row)
            if answer is None:
                continue
            accepted += 1
            assert not full.errors and not full.warnings, (name, value)
            assert answer == full.values, (name, value)
    assert accepted >= 10
    assert fast({**base, "gender": "男"}) is None  # checked against the ID number: full path


def test_a_record_inserted_meanwhile_by_another_import_redoes_the_chunk(
    steward, source_unit, other_unit, template, tmp_path, monkeypatch
):
    """The chunk thinks a stored person is new (as when another import inserted it meanwhile):
    ON CONFLICT notices, and the person is updated, not duplicated. (SQLite: the whole chunk
    is rolled back and written again; PostgreSQL inserts optimistically and updates the
    rows the unique index refused, so it never reads the keys blind.)"""
    header = ["姓名", "公民身份号码", "人口类型"]
    _run(
        tmp_path,
        "a.csv",
        [header, ["张一", IDS[0], "户籍"]],
        steward=steward,
        source=source_unit,
        template=template,
    )
    from zhiwang.registry.imports import writers

    real = writers.existing_hashes
    calls = {"n": 0}

    def blind_once(hashes):
        calls["n"] += 1
        return {} if calls["n"] == 1 else real(hashes)  # the first read misses the stored person

    monkeypatch.setattr(writers, "existing_hashes", blind_once)
    batch = _run(
        tmp_path,
        "b.csv",
        [header, ["张一", IDS[0], "流动人口"], ["李二", IDS[1], "户籍"]],
        steward=steward,
        source=other_unit,
        template=template,
        chunk_size=10,
    )
    assert calls["n"] >= 1
    assert (batch.status, batch.rows_created, batch.rows_updated) == ("done", 1, 1)
    assert Person.objects.count() == 2
    assert Person.objects.get(name="张一").household_type == "migrant"
    assert RecordChange.objects.filter(import_batch=batch).count() == 1


def test_reading_worker_gives_the_same_import_and_report(
    settings, steward, source_unit, template, tmp_path, home_room, monkeypatch
):
    """Forked reading worker (files from ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS rows) versus inline:
    same records, same counters, same report lines; a resumed run skips committed chunks."""
    from zhiwang.registry.imports import prepare

    monkeypatch.setattr(prepare, "WORKER_ON_SQLITE", True)  # off by default there; tested all the same

    header = ["姓名", "公民身份号码", "人口类型", "联系电话", "现住址"]
    rows = [
        header,
        ["张一", IDS[0], "户籍", "13800001111", home_room.code],
        ["李二", IDS[1], "外星", "", ""],
        ["王三", IDS[2], "流动人口", "+86 138 0000 2222", ""],
        ["张一", IDS[0], "户籍", "13800001111", ""],
        ["赵四", IDS[3], "户籍", "", "火星某路1号"],
        ["钱五", IDS[4], "", "12", ""],
        ["孙六", IDS[5], "registered", "13900003333", home_room.code],
    ]
    outcomes = []
    for minimum, name, tail in ((0, "inline.csv", []), (1, "worker.csv", [[""]])):
        settings.ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS = minimum
        Person.objects.all().delete()
        # A trailing blank line (skipped) makes another file: the same one would resume its batch.
        batch = _run(
            tmp_path, name, rows + tail, steward=steward, source=source_unit, template=template, chunk_size=3
        )
        assert prepare.worker_wanted(batch) is bool(minimum)
        people = sorted(
            Person.objects.values_list(
                "id_number_hash", "name", "phone", "phone_hash", "household_type", "birth_date", "import_row"
            )
        )
        issues = sorted(ImportIssue.objects.filter(batch=batch).values_list("row", "field", "code", "value"))
        counters = (batch.status, batch.rows_read, batch.rows_created, batch.rows_rejected)
        outcomes.append((people, issues, counters, Residence.objects.count()))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2] == ("done", 7, 4, 3)
    # Stopped after one chunk, then resumed: the worker skips the committed chunk.
    Person.objects.all().delete()
    path = tmp_path / "resume.csv"
    path.write_text("\n".join(",".join(r) for r in rows + [[""], [""]]), encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, chunk_size=3
    )
    batch = pipeline.import_batch_run(batch=batch, max_chunks=1)
    assert (batch.status, batch.rows_read) == ("running", 3)
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.status, batch.rows_read, batch.rows_created, batch.rows_rejected) == ("done", 7, 4, 3)
    assert Person.objects.count() == 4


def test_no_reading_worker_on_sqlite(settings, monkeypatch, steward, source_unit, template, tmp_path):
    """SQLite imports inline (the worker made them slower); PostgreSQL reads ahead in a worker."""
    from django.db import connection

    from zhiwang.registry.imports import prepare

    settings.ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS = 1
    path = tmp_path / "p.csv"
    path.write_text("姓名,公民身份号码\n张一," + IDS[0], encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    assert prepare.worker_wanted(batch) is (connection.vendor == "postgresql")
    monkeypatch.setattr(prepare, "WORKER_ON_SQLITE", True)
    assert prepare.worker_wanted(batch)
