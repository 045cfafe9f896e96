"""Keeping period of the hotline import's files: uploaded calls and reports are deleted after it.

The files hold callers' names and phone numbers. ``ticket_import_purge`` deletes a run's file
and report once the run ended more than ``keep_days`` ago, keeps a file another recent run still
uses, marks the run, and the page then offers no "run again" and says why.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from zhiwang.tickets.import_retention import ticket_import_purge
from zhiwang.tickets.models import TicketImport, TicketImportStatus

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_run(
    hotline, *, ended_days_ago: float | None, status=TicketImportStatus.DONE, file_from=None, **fields
):
    """A run that ended (or last wrote progress) so many days ago, with a stored file and a report."""
    now = timezone.now()
    run = TicketImport(
        file_name="calls.csv", created_by=hotline, unit_id=hotline.org_unit_id, status=status, **fields
    )
    if file_from is not None:
        run.file = file_from.file.name
    else:
        run.file.save("calls.csv", ContentFile("来电编号,联系电话\nT-1,13800138000\n".encode()), save=False)
    run.report.save("report.csv", ContentFile(b"row,outcome\n2,created\n"), save=False)
    run.save()
    when = None if ended_days_ago is None else now - ended_days_ago * DAY
    if status in (TicketImportStatus.DONE, TicketImportStatus.FAILED):
        TicketImport.objects.filter(pk=run.pk).update(finished_at=when, updated_at=when)
    else:
        TicketImport.objects.filter(pk=run.pk).update(updated_at=when, created_at=when or now)
    run.refresh_from_db()
    return run


def stored(field) -> Path:
    return Path(field.path)


def test_files_of_runs_past_the_keeping_period_are_deleted_and_the_run_is_marked(hotline):
    old = make_run(hotline, ended_days_ago=31)
    recent = make_run(hotline, ended_days_ago=29)
    old_file, old_report = stored(old.file), stored(old.report)
    assert old_file.exists() and old_report.exists()

    assert ticket_import_purge(keep_days=30) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert not old_file.exists() and not old_report.exists()
    assert old.files_purged_at is not None and not old.file and not old.report
    assert (old.status, old.created, old.refused) == (TicketImportStatus.DONE, 0, 0)  # the counts stay
    assert recent.files_purged_at is None and stored(recent.file).exists() and stored(recent.report).exists()

    assert ticket_import_purge(keep_days=30) == 0  # idempotent: nothing left to do


def test_a_file_shared_with_a_recent_run_is_kept_until_that_run_is_past_the_period_too(hotline):
    validated = make_run(hotline, ended_days_ago=40, validate_only=True)
    imported = make_run(hotline, ended_days_ago=10, file_from=validated)
    shared = stored(validated.file)

    assert ticket_import_purge(keep_days=30) == 1
    validated.refresh_from_db()
    assert validated.files_purged_at is not None and not validated.report
    assert shared.exists(), "the file is still the recent run's"

    TicketImport.objects.filter(pk=imported.pk).update(finished_at=timezone.now() - 31 * DAY)
    assert ticket_import_purge(keep_days=30) == 1
    assert not shared.exists()


def test_an_open_run_is_kept_while_it_writes_and_failed_once_abandoned(hotline):
    running = make_run(hotline, ended_days_ago=0, status=TicketImportStatus.RUNNING)
    abandoned = make_run(hotline, ended_days_ago=45, status=TicketImportStatus.QUEUED)

    assert ticket_import_purge(keep_days=30) == 1
    running.refresh_from_db()
    abandoned.refresh_from_db()
    assert running.files_purged_at is None and running.status == TicketImportStatus.RUNNING
    assert abandoned.files_purged_at is not None and abandoned.status == TicketImportStatus.FAILED
    assert abandoned.finished_at is not None and abandoned.error


def test_the_keeping_period_comes_from_the_settings(hotline, settings):
    run = make_run(hotline, ended_days_ago=8)
    settings.ZHIWANG_IMPORT_KEEP_DAYS = 10
    assert ticket_import_purge() == 0
    settings.ZHIWANG_IMPORT_KEEP_DAYS = 7
    assert ticket_import_purge() == 1
    assert not stored_path_exists(run)


def stored_path_exists(run) -> bool:
    run.refresh_from_db()
    return bool(run.file) and stored(run.file).exists()


def test_a_purged_run_offers_no_run_again_and_says_why(client, hotline):
    failed = make_run(hotline, ended_days_ago=31, status=TicketImportStatus.FAILED, error="worker lost")
    validated = make_run(hotline, ended_days_ago=31, validate_only=True)
    ticket_import_purge(keep_days=30)
    client.force_login(hotline)
    for run in (failed, validated):
        page = client.get(f"/call-imports/{run.pk}/").content.decode()
        assert 'data-testid="files-deleted"' in page
        assert 'data-testid="run-again"' not in page and 'data-testid="import-for-real"' not in page
        assert 'data-testid="report-download"' not in page
        response = client.post(f"/call-imports/{run.pk}/again/")
        assert response.status_code == 409
        assert "请重新上传" in response.content.decode()  # the again_error, in Chinese
        assert client.get(f"/call-imports/{run.pk}/report.csv").status_code == 404
    assert TicketImport.objects.count() == 2  # nothing queued


def test_a_run_queued_again_meanwhile_keeps_its_file(hotline, monkeypatch):
    """The purge claims each run as it read it: a run re-queued in between is left alone."""
    from zhiwang.tickets import import_retention

    run = make_run(hotline, ended_days_ago=31, status=TicketImportStatus.FAILED)
    real_filter = TicketImport.objects.filter
    requeued = []

    def filter_then_requeue(*args, **kwargs):
        result = real_filter(*args, **kwargs)
        if (
            "status" in kwargs and "files_purged_at__isnull" in kwargs and not requeued
        ):  # the claim: "run again" came first
            requeued.append(
                real_filter(pk=run.pk).update(status=TicketImportStatus.QUEUED, updated_at=timezone.now())
            )
            result = real_filter(*args, **kwargs)
        return result

    monkeypatch.setattr(import_retention.TicketImport.objects, "filter", filter_then_requeue)
    assert ticket_import_purge(keep_days=30) == 0
    monkeypatch.undo()
    run.refresh_from_db()
    assert requeued == [1] and run.files_purged_at is None and stored(run.file).exists()
