"""The report file of a hotline import run: never a file that no run points to, never a run
pointing to a deleted file.

Before the fix a run run again deleted its old report first, then stored the new one, then
recorded it with the totals: a failure in between left the run pointing to the deleted file
and the new one on disk, recorded nowhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from zhiwang.tickets import tasks
from zhiwang.tickets.hotline_import import ImportSummary
from zhiwang.tickets.models import TicketImport, TicketImportStatus

from .test_ticket_import_task import calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _reports(media: Path) -> list[str]:
    folder = media / "ticket_imports"
    return sorted(str(p.relative_to(media)) for p in folder.rglob("report-*")) if folder.exists() else []


def _run(hotline, building) -> TicketImport:
    run = TicketImport(file_name="calls.csv", created_by=hotline, unit_id=hotline.org_unit_id)
    run.file.save("calls.csv", ContentFile(calls(building)), save=False)
    run.save()
    return run


def _fails_after_the_report_is_stored(monkeypatch):
    def broken(self):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ImportSummary, "totals", property(broken))


def test_a_run_again_that_fails_keeps_its_previous_report(hotline, nanshan_building, media, monkeypatch):
    run = _run(hotline, nanshan_building)
    tasks.ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    first = run.report.name
    assert _reports(media) == [first]

    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)
    _fails_after_the_report_is_stored(monkeypatch)
    with pytest.raises(RuntimeError):
        tasks.ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.report.name == first and run.report.storage.exists(first)  # still downloadable
    assert _reports(media) == [first]  # and the new one is not left behind
    assert run.status == TicketImportStatus.FAILED and "RuntimeError" in run.error


def test_a_first_run_that_fails_leaves_no_report(hotline, nanshan_building, media, monkeypatch):
    run = _run(hotline, nanshan_building)
    _fails_after_the_report_is_stored(monkeypatch)
    with pytest.raises(RuntimeError):
        tasks.ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    assert not run.report and _reports(media) == []
    assert run.status == TicketImportStatus.FAILED  # a failure while recording fails the run


def test_a_run_again_replaces_its_report_once_the_new_one_is_recorded(hotline, nanshan_building, media):
    run = _run(hotline, nanshan_building)
    tasks.ticket_import_run(run_id=run.pk)
    first = TicketImport.objects.get(pk=run.pk).report.name
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)
    tasks.ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TicketImportStatus.DONE and run.report.name != first
    assert _reports(media) == [run.report.name]
