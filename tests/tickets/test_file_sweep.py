"""The nightly sweep of stored files that no row names (a commit that failed after the store)."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from zhiwang.tickets.file_sweep import MIN_AGE, orphan_files_sweep
from zhiwang.tickets.services import ticket_attach

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


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


def test_only_old_files_no_row_names_are_deleted(make_ticket, hotline, _media):
    (row,) = ticket_attach(ticket=make_ticket(), files=[SimpleUploadedFile("门口.png", PNG)], actor=hotline)
    attached = _media / row.file.name
    folder = attached.parent
    orphan, young = folder / "0123abcd.png", folder / "4567ef01.png"
    elsewhere = _media / "exports" / "keep.csv"
    elsewhere.parent.mkdir()
    for path in (orphan, young, elsewhere):
        path.write_bytes(PNG)
    hours = MIN_AGE / timedelta(hours=1)
    for path in (attached, orphan, elsewhere):
        _age(path, hours + 1)
    _age(young, hours - 1)  # maybe a transaction that has not committed yet

    assert orphan_files_sweep() == 1
    assert not orphan.exists()
    assert attached.exists() and young.exists() and elsewhere.exists()
    assert orphan_files_sweep() == 0  # nothing left to do


def test_the_previous_months_folder_is_swept_too(_media):
    now = timezone.now()
    last = timezone.localdate(now).replace(day=1) - timedelta(days=1)
    folder = _media / "tickets" / f"{last:%Y}" / f"{last:%m}"
    folder.mkdir(parents=True)
    (folder / "lost.jpg").write_bytes(b"x")
    _age(folder / "lost.jpg", 24 * 40)
    assert orphan_files_sweep(now=now) == 1
    assert not (folder / "lost.jpg").exists()


def test_no_folder_at_all_is_nothing_to_do(_media):
    assert orphan_files_sweep() == 0
