"""SQLite commits several whole chunks at once: a crash loses the open group whole, never half a chunk,
and the resumed import ends as one that never crashed."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    ImportChunk,
    ImportIssue,
    ImportStatus,
    Person,
)

IDS = [make_id_number("440305", date(1945 + i, 5, 1 + i), 400 + i, male=i % 2 == 0) for i in range(12)]


pytestmark = pytest.mark.usefixtures("import_dir")


def _batch(steward, source_unit, template, tmp_path, *, validate_only=False):
    rows = [["姓名", "身份证号码"]] + [[f"人{i}", IDS[i]] for i in range(10)] + [["重", IDS[1]]]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    return pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        chunk_size=3,
        validate_only=validate_only,
    )


def _crash_in_chunk(monkeypatch, number):
    real = pipeline._people
    calls = {"n": 0}

    def crashing(chunk):
        calls["n"] += 1
        real(chunk)
        if calls["n"] == number:
            raise RuntimeError("power cut")

    monkeypatch.setattr(pipeline, "_people", crashing)
    return real


@pytest.mark.skipif(connection.vendor != "sqlite", reason="commit groups are SQLite's")
def test_a_crash_loses_the_open_group_whole_and_resume_finishes(
    steward, source_unit, template, tmp_path, monkeypatch, settings
):
    # Given commits of two chunks (six rows) at a time
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 6
    batch = _batch(steward, source_unit, template, tmp_path)
    # When the import dies inside chunk 4 (chunk 3 written, its group not committed)
    real = _crash_in_chunk(monkeypatch, 4)
    with pytest.raises(RuntimeError):
        pipeline.import_batch_run(batch=batch)
    # Then chunks 1–2 are there whole, chunk 3 not at all
    assert sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)) == [1, 2]
    assert Person.objects.filter(import_batch=batch).count() == 6
    batch.refresh_from_db()
    assert (batch.rows_read, batch.rows_created) == (6, 6)
    # And the resumed import ends as one that never crashed
    monkeypatch.setattr(pipeline, "_people", real)
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_read, batch.rows_created, batch.rows_rejected) == (11, 10, 1)
    assert list(ImportIssue.objects.filter(batch=batch).values_list("row", "code")) == [(12, "row.duplicate")]
    assert sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)) == [1, 2, 3, 4]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="commit groups are SQLite's")
def test_one_group_commits_the_whole_small_file(
    steward, source_unit, template, tmp_path, monkeypatch, settings
):
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 1000
    batch = _batch(steward, source_unit, template, tmp_path)
    _crash_in_chunk(monkeypatch, 4)
    with pytest.raises(RuntimeError):
        pipeline.import_batch_run(batch=batch)
    assert not ImportChunk.objects.filter(batch=batch).exists()
    assert not Person.objects.exists()


def test_a_stepwise_run_commits_what_it_wrote(steward, source_unit, template, tmp_path, settings):
    settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 1000
    batch = _batch(steward, source_unit, template, tmp_path)
    depth = len(connection.atomic_blocks)
    batch = pipeline.import_batch_run(batch=batch, max_chunks=2)
    assert batch.status == ImportStatus.RUNNING
    assert sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)) == [1, 2]
    assert len(connection.atomic_blocks) == depth  # no group left open
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.status, batch.rows_created, batch.rows_rejected) == (ImportStatus.DONE, 10, 1)


def test_default_chunk_size_is_the_backends(steward, source_unit, template, tmp_path):
    """Larger chunks on SQLite (longer runs in ID-hash order); an explicit size is kept."""
    path = tmp_path / "p.csv"
    path.write_text("姓名,公民身份号码\n张一," + IDS[0], encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    assert batch.chunk_size == (10_000 if connection.vendor == "sqlite" else 2_000)
    path.write_text("姓名,公民身份号码\n张一," + IDS[1], encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, chunk_size=500
    )
    assert batch.chunk_size == 500
