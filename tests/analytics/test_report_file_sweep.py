"""The nightly sweep of report files that no report names (runs that failed before the fix that
deletes their files, or a record that failed after the store).

Before it, an Excel file stored by a report run that then failed stayed in ``reports/YYYY/MM/``
for ever: it may hold dispute figures, and no row, keeping rule or download check knew of it.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from zhiwang.analytics import services
from zhiwang.analytics.file_sweep import MIN_AGE, orphan_report_files_sweep
from zhiwang.analytics.models import Report
from zhiwang.core.storage_sweep import month_folders

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return tmp_path


def _age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def _file(path, hours: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK")
    _age(path, hours)
    return path


def _report_with_files(user, folder: str) -> Report:
    """A done report whose two files lie in ``folder`` (``reports/YYYY/MM/``)."""
    report, _created = services.report_request(
        user=user, division_code=NANSHAN, period="2026-10", idempotency_key="k-1"
    )
    Report.objects.filter(pk=report.pk).update(
        xlsx=f"{folder}report-{NANSHAN}-2026-10.xlsx", pdf=f"{folder}report-{NANSHAN}-2026-10.pdf"
    )
    report.refresh_from_db()
    return report


def test_only_old_report_files_no_report_names_are_deleted(city_leader, _media, monkeypatch):
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)  # no worker here
    folder = f"reports/{timezone.localdate():%Y/%m}/"
    report = _report_with_files(city_leader, folder)
    old = MIN_AGE / timedelta(hours=1) + 1
    recorded = [_file(_media / report.xlsx.name, old), _file(_media / report.pdf.name, old)]
    left_by_a_failed_run = _file(_media / folder / "report-440305000000-2026-09.xlsx", old)
    young = _file(_media / folder / "report-440305000000-2026-11.xlsx", 1)  # maybe not recorded yet
    elsewhere = [
        _file(_media / "reports" / "readme.txt", old),  # not a month folder
        _file(_media / "tickets" / f"{timezone.localdate():%Y/%m}" / "lost.png", old),  # another app's
        _file(_media / "exports" / "keep.csv", old),
    ]

    assert orphan_report_files_sweep() == 1
    assert not left_by_a_failed_run.exists()
    assert all(path.exists() for path in [*recorded, young, *elsewhere])
    assert orphan_report_files_sweep() == 0  # nothing left to do


def test_the_previous_months_folder_is_swept_too(_media):
    now = timezone.now()
    last = timezone.localdate(now).replace(day=1) - timedelta(days=1)
    lost = _file(_media / "reports" / f"{last:%Y}" / f"{last:%m}" / "report-x.pdf", 24 * 40)
    two_back = (last.replace(day=1) - timedelta(days=1)).strftime("%Y/%m")
    older = _file(_media / "reports" / two_back / "report-y.pdf", 24 * 70)
    assert orphan_report_files_sweep(now=now) == 1
    assert not lost.exists() and older.exists()  # not every night: a run with months=… reaches it
    assert orphan_report_files_sweep(now=now, months=3) == 1
    assert not older.exists()


def test_one_query_per_month_folder(city_leader, _media, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(services, "_enqueue_report", lambda report_id: None)
    folders = month_folders(["reports"], today=timezone.localdate(), months=2)
    for folder in folders:
        for n in range(3):
            _file(_media / folder / f"lost-{n}.xlsx", 48)
    with django_assert_num_queries(2):
        assert orphan_report_files_sweep() == 6


def test_no_folder_at_all_is_nothing_to_do(_media):
    assert orphan_report_files_sweep() == 0


def test_month_folders_cross_the_year():
    from datetime import date

    assert month_folders(["reports", "x"], today=date(2026, 1, 15), months=2) == [
        "reports/2026/01/",
        "reports/2025/12/",
        "x/2026/01/",
        "x/2025/12/",
    ]


def test_the_sweep_is_a_nightly_task():
    from huey.api import PeriodicTask
    from huey.contrib.djhuey import HUEY

    from zhiwang.analytics.tasks import orphan_report_files_sweep_task

    assert issubclass(orphan_report_files_sweep_task.task_class, PeriodicTask)
    assert orphan_report_files_sweep_task.task_class in HUEY._registry._periodic_tasks
