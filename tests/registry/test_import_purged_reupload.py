"""A done import whose file was purged at the end of its keeping period, uploaded again.

Before the fix the upload landed on the old batch (the same bytes, department and mapping:
``_same_import``) and the page only said so: its file and its report's values were gone, it
could not be resumed nor run again, so the steward had no way to import the file again.
Now a purged batch answers no upload: the file uploaded again makes a new batch (the old one
stays in the history as purged); a batch whose file is kept still answers it (no duplicate).
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.threads import needs_row_locks, run_in_threads
from tests.tickets.conftest import frozen_now  # noqa: F401  (the fixture moving timezone.now)
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.imports.retention import import_file_purge
from zhiwang.registry.models import ImportBatch, ImportStatus, Person

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1975 + i, 5, 1 + i), 70 + i, male=i % 2 == 0) for i in range(4)]
DAY = timedelta(days=1)


def _people_bytes() -> bytes:
    lines = ["姓名,公民身份号码,现住址"] + [f"居民{i},{IDS[i]},示例路{i}号" for i in range(len(IDS))]
    return "\n".join(lines).encode("utf-8")


def _people_csv(tmp_path: Path, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(_people_bytes())
    return path


def _create(steward, source_unit, template, path, **kwargs) -> ImportBatch:
    return pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template, **kwargs
    )


def _purged_done_batch(steward, source_unit, template, tmp_path, frozen_now) -> ImportBatch:  # noqa: F811
    start = timezone.now()
    batch = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _people_csv(tmp_path)))
    assert batch.status == ImportStatus.DONE and batch.rows_created == len(IDS)
    frozen_now(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1
    batch.refresh_from_db()
    assert batch.file_purged_at is not None and not Path(batch.file_path).exists()
    return batch


def test_a_purged_done_import_uploaded_again_is_a_new_batch_that_runs(
    steward,
    source_unit,
    template,
    tmp_path,
    frozen_now,  # noqa: F811
):
    old = _purged_done_batch(steward, source_unit, template, tmp_path, frozen_now)
    people = Person.objects.count()

    fresh = _create(steward, source_unit, template, _people_csv(tmp_path, "again.csv"))

    assert fresh.pk != old.pk and fresh.status == ImportStatus.PENDING and fresh.file_purged_at is None
    assert fresh.file_path == old.file_path and Path(fresh.file_path).exists()  # stored again
    fresh = pipeline.import_batch_run(batch=fresh)
    assert fresh.status == ImportStatus.DONE and fresh.rows_read == len(IDS)
    assert fresh.rows_created == 0 and fresh.rows_unchanged == len(IDS)  # the records were there
    assert Person.objects.count() == people  # nobody twice
    old_again = ImportBatch.objects.get(pk=old.pk)  # in the history, as it was
    assert (old_again.status, old_again.file_purged_at, old_again.rows_created) == (
        ImportStatus.DONE,
        old.file_purged_at,
        len(IDS),
    )
    # the new batch now answers the same upload again (dedupe kept for a batch with its file)
    assert _create(steward, source_unit, template, _people_csv(tmp_path, "third.csv")).pk == fresh.pk
    assert ImportBatch.objects.count() == 2


def test_a_purged_import_uploaded_for_validation_can_be_validated_and_published(
    steward,
    source_unit,
    template,
    tmp_path,
    frozen_now,  # noqa: F811
):
    old = _purged_done_batch(steward, source_unit, template, tmp_path, frozen_now)
    validation = pipeline.import_batch_run(
        batch=_create(steward, source_unit, template, _people_csv(tmp_path, "v.csv"), validate_only=True)
    )
    assert validation.pk != old.pk and validation.status == ImportStatus.VALIDATED
    published = pipeline.import_batch_run(
        batch=pipeline.import_batch_publish(batch=validation, actor=steward)
    )
    assert published.status == ImportStatus.DONE and published.rows_read == len(IDS)


def test_a_kept_done_import_still_answers_the_same_upload(steward, source_unit, template, tmp_path):
    done = pipeline.import_batch_run(batch=_create(steward, source_unit, template, _people_csv(tmp_path)))
    again = _create(steward, source_unit, template, _people_csv(tmp_path, "again.csv"))
    assert again.pk == done.pk and ImportBatch.objects.count() == 1


def test_the_wizard_starts_a_new_batch_and_the_purged_page_says_upload_again(
    steward,
    source_unit,
    template,
    tmp_path,
    monkeypatch,
    django_capture_on_commit_callbacks,
    frozen_now,  # noqa: F811
):
    from zhiwang.registry import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks, "import_batch_task", lambda pk: queued.append(pk))
    old = _purged_done_batch(steward, source_unit, template, tmp_path, frozen_now)
    client = Client()
    client.force_login(steward)
    page = client.get(reverse("registry:import_detail", args=[old.pk])).content.decode()
    assert 'data-testid="upload-again"' in page
    assert reverse("registry:import_new") in page.split('data-testid="upload-again"')[1].split("</p>")[0]

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            reverse("registry:import_new"),
            {
                "kind": "person",
                "source": source_unit.pk,
                "template": template.pk,
                "file": SimpleUploadedFile("people.csv", _people_bytes()),
            },
        )

    fresh = ImportBatch.objects.exclude(pk=old.pk).get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("registry:import_detail", args=[fresh.pk])
    assert [str(m) for m in get_messages(answer.wsgi_request)] == []  # a new batch: nothing to say
    assert queued == [fresh.pk]
    page = client.get(answer["Location"]).content.decode()
    assert 'data-testid="upload-again"' not in page and 'data-testid="file-purged"' not in page


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_a_purged_file_at_the_same_moment_make_one_new_batch(
    city_restored,
    tmp_path,
    monkeypatch,
    frozen_now,  # noqa: F811
):
    from zhiwang.accounts.models import OrgUnit, User
    from zhiwang.registry.defaults import seed_defaults
    from zhiwang.registry.models import EligibilityRule, MappingTemplate

    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    template = MappingTemplate.objects.get(name="公安实有人口")
    steward = User.objects.get(username="demo_steward")
    source = OrgUnit.objects.get(code="DEMO-CITY-DATA")
    old = _purged_done_batch(steward, source, template, tmp_path, frozen_now)
    path = _people_csv(tmp_path, "again.csv")
    # Both uploads have looked for the file's batch (only the purged one) before either copies it.
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
    assert results[0] == results[1] != old.pk
    assert ImportBatch.objects.count() == 2
    assert sorted(p.name for p in pipeline.import_dir().iterdir()) == [Path(old.file_path).name]
