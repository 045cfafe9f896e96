"""Registry import integrity: a refused upload leaves no file, one run per batch at a time, one batch
per file uploaded twice at once, and the keeping period of uploaded files (and of their report).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from tests.threads import needs_row_locks, run_in_threads
from tests.tickets.conftest import frozen_now  # noqa: F401  (the fixture moving timezone.now)
from zhiwang.core.errors import ServiceError
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import claim, pipeline
from zhiwang.registry.imports.retention import import_file_purge
from zhiwang.registry.models import ImportBatch, ImportChunk, ImportIssue, ImportStatus, Person

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1960 + i, 3, 1 + i), 40 + i, male=i % 2 == 0) for i in range(8)]
DAY = timedelta(days=1)


def _people_csv(tmp_path: Path, rows: int = 4, name: str = "people.csv") -> Path:
    lines = ["姓名,公民身份号码,出生日期,现住址"]
    lines += [f"居民{i},{IDS[i]},,南山某路{i}号" for i in range(rows)]
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def clock(frozen_now):  # noqa: F811
    """``clock(moment)`` stops ``timezone.now()`` there (tests/tickets/conftest.py's ``frozen_now``)."""
    return frozen_now


def _stored_files() -> list[str]:
    """Every file in the import folder (stored uploads, temporary copies, scratch key files)."""
    return sorted(p.name for p in pipeline.import_dir().iterdir())


def _create(steward, source_unit, template, path, **kwargs) -> ImportBatch:
    return pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, **kwargs
    )


# --- 1. a refused upload leaves nothing on disk ----------------------------------------------


def test_a_file_refused_for_its_header_leaves_no_copy(steward, source_unit, tmp_path):
    path = _people_csv(tmp_path)
    with pytest.raises(ServiceError) as refused:  # no template: no column maps to a field
        pipeline.import_batch_create(actor=steward, kind="person", source=source_unit, file_path=path)
    assert refused.value.code == "import.no_header"
    assert _stored_files() == []
    assert not ImportBatch.objects.exists()


def test_a_file_missing_required_columns_or_a_bad_chunk_size_leaves_no_copy(
    steward, source_unit, template, tmp_path
):
    path = tmp_path / "names_only.csv"
    path.write_text("姓名,现住址\n居民,南山某路1号\n", encoding="utf-8")
    with pytest.raises(ServiceError) as refused:
        _create(steward, source_unit, template, path)
    assert refused.value.code == "import.missing_columns"
    with pytest.raises(ServiceError) as refused:
        _create(steward, source_unit, template, _people_csv(tmp_path), chunk_size=0)
    assert refused.value.code == "import.chunk_size"
    assert _stored_files() == []


def test_a_bad_encoding_or_a_refused_workbook_leaves_no_copy(steward, source_unit, template, tmp_path):
    bad = tmp_path / "people.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is no workbook")
    with pytest.raises(ServiceError):
        _create(steward, source_unit, template, bad)
    assert _stored_files() == []


def test_a_refused_upload_keeps_the_stored_file_another_batch_of_the_same_bytes_uses(
    steward, source_unit, template, tmp_path
):
    path = _people_csv(tmp_path)
    first = _create(steward, source_unit, template, path)
    stored = Path(first.file_path)
    assert _stored_files() == [stored.name]
    # The same bytes, read with no template (another mapping, so another batch): refused
    with pytest.raises(ServiceError):
        pipeline.import_batch_create(actor=steward, kind="person", source=source_unit, file_path=path)
    assert stored.exists() and _stored_files() == [stored.name]
    assert pipeline.import_batch_run(batch=first).status == ImportStatus.DONE


def test_a_batch_that_cannot_be_saved_leaves_no_copy_and_keeps_a_shared_file(
    steward, source_unit, template, tmp_path, monkeypatch
):
    shared = _people_csv(tmp_path)
    first = _create(steward, source_unit, template, shared)
    other = _people_csv(tmp_path, rows=3, name="other.csv")

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(ImportBatch.objects, "create", broken)
    with pytest.raises(RuntimeError):  # a new file: nothing of it stays
        _create(steward, source_unit, template, other)
    with pytest.raises(RuntimeError):  # the same bytes under another mapping: the first's file stays
        _create(steward, source_unit, template, shared, columns={"备注": "ethnicity"})
    assert _stored_files() == [Path(first.file_path).name]


# --- 2. one run per batch at a time -------------------------------------------------------------


def test_a_second_run_of_a_batch_another_run_holds_does_nothing(steward, source_unit, template, tmp_path):
    batch = _create(steward, source_unit, template, _people_csv(tmp_path))
    runner = claim.claim(batch)  # a live run of this process holds it
    try:
        again = pipeline.import_batch_run(batch=batch)
        assert (again.status, again.runner, again.rows_read) == (ImportStatus.RUNNING, runner, 0)
        assert not ImportChunk.objects.filter(batch=batch).exists()
        with pytest.raises(ServiceError) as refused:
            pipeline.import_batch_resume(batch=batch, actor=steward)
        assert (refused.value.code, refused.value.status) == ("import.running", 409)
    finally:
        claim.ended(runner)


def test_a_run_taken_over_writes_nothing_more_and_marks_nothing(
    steward, source_unit, template, tmp_path, monkeypatch
):
    batch = _create(steward, source_unit, template, _people_csv(tmp_path), chunk_size=2)
    other = "elsewhere/00000000/1/0123456789ab"
    real = claim.claim

    def taken_over(batch):  # right after this run claimed the batch, another run takes it over
        runner = real(batch)
        ImportBatch.objects.filter(pk=batch.pk).update(runner=other)
        return runner

    monkeypatch.setattr(claim, "claim", taken_over)
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.status, batch.runner, batch.rows_read, batch.error) == (ImportStatus.RUNNING, other, 0, "")
    assert not ImportChunk.objects.filter(batch=batch).exists()
    assert not Person.objects.filter(import_batch=batch).exists()
    # An unexpected error in a run that lost the batch does not fail the other run's batch
    pipeline._mark_failed(batch, RuntimeError("late"), "mine/00000000/2/ba9876543210")
    batch.refresh_from_db()
    assert (batch.status, batch.runner) == (ImportStatus.RUNNING, other)


def test_a_running_batch_silent_for_the_stale_period_is_resumed(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    batch = _create(steward, source_unit, template, _people_csv(tmp_path))
    now = timezone.now()
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.RUNNING, runner="elsewhere/00000000/77/0123456789ab", heartbeat_at=now
    )
    clock(now + timedelta(minutes=claim.STALE_MINUTES - 1))  # the other worker may be alive
    assert pipeline.import_batch_run(batch=batch).rows_read == 0
    with pytest.raises(ServiceError):
        pipeline.import_batch_resume(batch=batch, actor=steward)
    clock(now + timedelta(minutes=claim.STALE_MINUTES + 1))  # it is not: taken over
    assert pipeline.import_batch_resume(batch=batch, actor=steward).pk == batch.pk
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.status, batch.rows_read, batch.rows_created, batch.runner) == (ImportStatus.DONE, 4, 4, "")


@pytest.mark.skipif(not claim._boot_id(), reason="no boot id on this system: only the stale period tells")
def test_a_running_batch_whose_process_died_on_this_machine_is_resumed_at_once(
    steward, source_unit, template, tmp_path
):
    batch = _create(steward, source_unit, template, _people_csv(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host, boot = claim._here()
    runner = f"{host}/{boot}/{int(dead.stdout)}/0123456789ab"
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.RUNNING, runner=runner, heartbeat_at=timezone.now()
    )
    assert claim.runner_is_gone(runner)
    assert pipeline.import_batch_run(batch=batch).status == ImportStatus.DONE


def test_finished_batches_are_not_resumed(steward, source_unit, template, tmp_path):
    batch = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _people_csv(tmp_path)))
    assert batch.status == ImportStatus.DONE
    with pytest.raises(ServiceError) as refused:
        pipeline.import_batch_resume(batch=batch, actor=steward)
    assert refused.value.code == "import.not_resumable"
    finished_at = batch.finished_at
    assert pipeline.import_batch_run(batch=batch).finished_at == finished_at  # nothing run again


# --- 3. two uploads of one file at the same moment ---------------------------------------------


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_file_at_the_same_moment_make_one_batch(
    city_restored, settings, tmp_path, monkeypatch
):
    from zhiwang.accounts.models import OrgUnit, User
    from zhiwang.registry.defaults import seed_defaults
    from zhiwang.registry.models import EligibilityRule, MappingTemplate

    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    template = MappingTemplate.objects.get(name="公安实有人口")
    steward = User.objects.get(username="demo_steward")
    source = OrgUnit.objects.get(code="DEMO-CITY-DATA")
    path = _people_csv(tmp_path)
    # Both uploads have looked for the file's batch (none yet) before either copies it.
    met = threading.Barrier(2)
    real = pipeline._copy_hashed

    def copy_after_both_looked(*args):
        met.wait(timeout=10)
        return real(*args)

    monkeypatch.setattr(pipeline, "_copy_hashed", copy_after_both_looked)

    def upload():
        return _create(steward, source, template, path).pk

    results = run_in_threads(upload, upload)
    assert all(isinstance(r, int) for r in results), results
    assert results[0] == results[1]
    assert ImportBatch.objects.count() == 1
    assert _stored_files() == [Path(ImportBatch.objects.get().file_path).name]  # no copy left over


# --- 4. keeping period --------------------------------------------------------------------------


def _reported_csv(tmp_path: Path, name: str = "reported.csv") -> Path:
    """Two good rows, one with an impossible birth date and one with an unknown address (both
    reported with the value as the file wrote it)."""
    path = tmp_path / name
    path.write_text(
        "\n".join(
            [
                "姓名,公民身份号码,出生日期,现住址",
                f"居民甲,{IDS[0]},,",
                f"居民乙,{IDS[1]},1961-02-30,",
                f"居民丙,{IDS[2]},,火星幸福路88号",
                f"居民丁,{IDS[3]},,",
            ]
        ),
        encoding="utf-8",
    )
    return path


def test_files_past_the_keeping_period_are_deleted_with_their_report_values(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
    client,
):
    start = timezone.now()
    batch = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _reported_csv(tmp_path)))
    assert batch.status == ImportStatus.DONE
    stored = Path(batch.file_path)
    counts = (batch.rows_read, batch.rows_created, batch.rows_rejected)
    issues = list(ImportIssue.objects.filter(batch=batch).order_by("row"))
    assert any("火星幸福路88号" in (i.value + i.message) for i in issues)  # in clear until then
    assert any("1961-02-30" in (i.value + i.message) for i in issues)

    keep = django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS
    clock(start + (keep - 1) * DAY)
    assert import_file_purge() == 0
    assert stored.exists()

    clock(start + (keep + 1) * DAY)
    assert import_file_purge() == 1
    batch.refresh_from_db()
    assert not stored.exists() and _stored_files() == []
    assert batch.file_purged_at == timezone.now()
    assert (batch.status, batch.rows_read, batch.rows_created, batch.rows_rejected) == (
        ImportStatus.DONE,
        *counts,
    )
    after = list(ImportIssue.objects.filter(batch=batch).order_by("row"))
    assert [(i.row, i.field, i.code, i.severity) for i in after] == [
        (i.row, i.field, i.code, i.severity) for i in issues
    ]
    assert all(i.value == "" and i.message == "" for i in after)
    assert import_file_purge() == 0  # idempotent

    # The page says so and offers no Resume; its columns are not read from a file that is gone
    client.force_login(steward)
    page = client.get(reverse("registry:import_detail", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="file-purged"' in html and 'data-testid="report-purged"' in html
    assert reverse("registry:import_resume", args=[batch.pk]) not in html


def test_a_failed_batch_is_purged_once_untouched_for_the_period_and_cannot_be_resumed(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    start = timezone.now()
    batch = _create(steward, source_unit, template, _people_csv(tmp_path))
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, heartbeat_at=start)
    keep = django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS
    clock(start + (keep + 1) * DAY)
    assert import_file_purge() == 1
    batch.refresh_from_db()
    assert batch.file_purged_at is not None and not Path(batch.file_path).exists()
    with pytest.raises(ServiceError) as refused:
        pipeline.import_batch_resume(batch=batch, actor=steward)
    assert (refused.value.code, refused.value.status) == ("import.file_purged", 409)
    assert pipeline.import_batch_run(batch=batch).status == ImportStatus.FAILED  # the worker does nothing
    assert not ImportChunk.objects.filter(batch=batch).exists()
    # Uploading the file again makes a new batch, which imports it
    again = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _people_csv(tmp_path)))
    assert again.pk != batch.pk and again.status == ImportStatus.DONE


def test_a_batch_left_running_for_the_period_is_failed_and_purged(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    start = timezone.now()
    batch = _create(steward, source_unit, template, _people_csv(tmp_path))
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.RUNNING, runner="elsewhere/00000000/9/0123456789ab", heartbeat_at=start
    )
    clock(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.runner) == (ImportStatus.FAILED, "")
    assert batch.file_purged_at is not None and batch.error


def test_a_file_shared_with_a_recent_validated_batch_is_kept(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    start = timezone.now()
    path = _people_csv(tmp_path)
    old = pipeline.import_batch_run(batch=_create(steward, source_unit, template, path))
    keep = django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS
    clock(start + (keep - 1) * DAY)
    validation = pipeline.import_batch_run(
        batch=_create(steward, source_unit, template, path, columns={"备注": "ethnicity"}, validate_only=True)
    )
    assert validation.status == ImportStatus.VALIDATED and validation.file_path == old.file_path
    clock(start + (keep + 1) * DAY)
    assert import_file_purge() == 1  # the old import; the validation is within its period
    old.refresh_from_db()
    validation.refresh_from_db()
    assert old.file_purged_at is not None and validation.file_purged_at is None
    assert Path(old.file_path).exists()  # the validation still needs it
    published = pipeline.import_batch_run(
        batch=pipeline.import_batch_publish(batch=validation, actor=steward)
    )
    assert published.status == ImportStatus.DONE
    clock(start + (2 * keep + 2) * DAY)
    assert import_file_purge() == 1
    assert not Path(old.file_path).exists()  # the last batch that used it is past the period too


def test_a_validation_left_unpublished_for_the_period_is_purged(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    """A validation nobody publishes does not keep residents' data for ever."""
    start = timezone.now()
    validation = pipeline.import_batch_run(
        batch=_create(steward, source_unit, template, _people_csv(tmp_path), validate_only=True)
    )
    assert validation.status == ImportStatus.VALIDATED
    clock(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1
    validation.refresh_from_db()
    assert validation.file_purged_at is not None and not Path(validation.file_path).exists()
    with pytest.raises(ServiceError) as refused:
        pipeline.import_batch_publish(batch=validation, actor=steward)
    assert refused.value.code == "import.file_purged"


def test_a_file_uploaded_again_after_its_purge_is_stored_again(
    steward,
    source_unit,
    template,
    tmp_path,
    clock,
):
    start = timezone.now()
    path = _people_csv(tmp_path)
    old = pipeline.import_batch_run(batch=_create(steward, source_unit, template, path))
    clock(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1 and not Path(old.file_path).exists()
    fresh = _create(steward, source_unit, template, path, columns={"备注": "ethnicity"})
    assert fresh.file_path == old.file_path and Path(fresh.file_path).exists()
    assert pipeline.import_batch_run(batch=fresh).status == ImportStatus.DONE


@pytest.mark.django_db
def test_temporary_copies_of_uploads_killed_before_their_batch_are_removed_a_day_later():
    folder = pipeline.import_dir()
    old, fresh = folder / ".upload-0123.csv", folder / ".upload-4567.csv"
    old.write_text("姓名,公民身份号码\n居民,0\n", encoding="utf-8")
    fresh.write_text("姓名,公民身份号码\n居民,0\n", encoding="utf-8")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert import_file_purge() == 0
    assert _stored_files() == [fresh.name]


def test_the_resume_button_refuses_a_done_or_purged_batch_and_queues_nothing(
    client, steward, source_unit, template, tmp_path, monkeypatch
):
    """The page's Resume goes through ``import_batch_resume``: a finished batch is not run again."""
    from zhiwang.registry import tasks

    queued = []
    monkeypatch.setattr(tasks, "import_batch_task", lambda pk: queued.append(pk))
    batch = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _people_csv(tmp_path)))
    assert batch.status == ImportStatus.DONE
    client.force_login(steward)
    answer = client.post(reverse("registry:import_resume", args=[batch.pk]))
    assert answer.status_code == 409
    assert queued == []
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED)
    answer = client.post(reverse("registry:import_resume", args=[batch.pk]))
    assert answer.status_code == 302
