"""Reports requested twice at once, and report files: a failed or overtaken run leaves none behind.

- Two requests with one idempotency key at the same moment (a double click: without a key
  the derived one is the same within a minute) both found no report and both inserted one;
  the second failed on the unique key, an IntegrityError and a 500 (PostgreSQL).
- The Excel file was stored before the PDF was made: a PDF that failed left the Excel file on
  disk (it may hold dispute figures), unrecorded, one more at each retry.
- A run given up as stale while its worker still ran went on and overwrote the files of the
  run that the retry started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.threads import needs_row_locks, race_on_insert
from zhiwang.analytics import reports, services
from zhiwang.analytics.models import Report, ReportStatus
from zhiwang.core.errors import ServiceError

NANSHAN = "440305000000"


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in Path(root).rglob("*") if p.is_file())


def _request(user, key="k-1", period="2026-10"):
    return services.report_request(user=user, division_code=NANSHAN, period=period, idempotency_key=key)


# --- the same key at once ------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_that_loses_the_insert_answers_the_first_report(city_leader, monkeypatch):
    """The lookup missed (the other request had not committed): the insert fails on the key,
    and the request answers as a retry does, in the same transaction."""
    first, created = _request(city_leader)
    assert created
    monkeypatch.setattr(services, "_report_with_key", lambda key: None)
    again, created = _request(city_leader)
    assert (again.pk, created) == (first.pk, False)
    with pytest.raises(ServiceError) as caught:  # the key of another period: refused as before
        _request(city_leader, period="2026-09")
    assert (caught.value.code, caught.value.status) == ("analytics.idempotency_key_reused", 422)
    assert Report.objects.count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_the_same_moment_make_one_report(city_restored, monkeypatch):
    from zhiwang.accounts.models import User

    leader = User.objects.get(username="demo_leader")
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)  # no worker here
    results = race_on_insert(monkeypatch, Report, lambda: _request(leader), lambda: _request(leader))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sorted(created for _report, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk and Report.objects.count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_a_double_click_without_a_key_makes_one_report(city_restored, monkeypatch):
    from zhiwang.accounts.models import User

    leader = User.objects.get(username="demo_leader")
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    results = race_on_insert(
        monkeypatch, Report, lambda: _request(leader, key=""), lambda: _request(leader, key="")
    )
    assert not any(isinstance(r, Exception) for r in results), results
    assert Report.objects.count() == 1


# --- the files -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_report_whose_pdf_fails_leaves_no_excel_file(city_leader, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    report, _created = _request(city_leader)

    def no_pdf(report, figures):
        raise OSError("reportlab: font not found")

    monkeypatch.setattr(reports, "build_pdf", no_pdf)
    for _attempt in range(2):  # and a retry adds none either
        with pytest.raises(OSError):
            services.report_generate(report_id=report.pk)
        report.refresh_from_db()
        assert report.status == ReportStatus.FAILED and "font" in report.error
        assert not report.xlsx and not report.pdf
        assert _files(tmp_path) == []
        _request(city_leader)  # the same key tries a failed report again


@pytest.mark.django_db
def test_a_report_whose_second_file_cannot_be_stored_leaves_none(
    city_leader, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    report, _created = _request(city_leader)
    storage = Report._meta.get_field("pdf").storage
    real_save = storage.save

    def disk_full(name, content, max_length=None):
        if name.endswith(".pdf"):
            raise OSError("No space left on device")
        return real_save(name, content, max_length=max_length)

    monkeypatch.setattr(storage, "save", disk_full)
    with pytest.raises(OSError):
        services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and not report.xlsx
    assert _files(tmp_path) == []


@pytest.mark.django_db
def test_a_report_is_made_once_when_its_task_runs_twice(city_leader, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    report, _created = _request(city_leader)
    real_pdf = reports.build_pdf
    runs, second = [], []

    def pdf_while_another_run_starts(report, figures):
        runs.append(report.pk)
        if len(runs) == 1:
            second.append(services.report_generate(report_id=report.pk))  # the task delivered again
        return real_pdf(report, figures)

    monkeypatch.setattr(reports, "build_pdf", pdf_while_another_run_starts)
    done = services.report_generate(report_id=report.pk)
    assert len(runs) == 1 and second[0].status == ReportStatus.RUNNING  # the second run made nothing
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE == done.status and report.progress == 100
    assert len(_files(tmp_path)) == 2
    assert {Path(report.xlsx.path).name, Path(report.pdf.path).name} == set(_files(tmp_path))


@pytest.mark.django_db
def test_a_run_given_up_as_stale_does_not_overwrite_the_retry(city_leader, settings, tmp_path, monkeypatch):
    """The first worker is slow: the report is given up, requested again and made by a second
    run; the first one then stops and deletes what it made, the second one's files stay."""
    from datetime import timedelta

    from django.utils import timezone

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    report, _created = _request(city_leader)
    real_pdf = reports.build_pdf
    runs, retried = [], []

    def slow_pdf(report, figures):
        runs.append(report.pk)
        if len(runs) == 1:
            later = timezone.now() + timedelta(minutes=settings.ZHIWANG_REPORT_STALE_MINUTES + 1)
            assert services.reports_give_up_stale(now=later) == 1
            _request(city_leader)  # the requester asks again: queued
            retried.append(services.report_generate(report_id=report.pk))
        return real_pdf(report, figures)

    monkeypatch.setattr(reports, "build_pdf", slow_pdf)
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE and retried[0].status == ReportStatus.DONE
    assert (report.xlsx.name, report.pdf.name) == (retried[0].xlsx.name, retried[0].pdf.name)
    assert sorted(_files(tmp_path)) == sorted(Path(f.path).name for f in (report.xlsx, report.pdf))
