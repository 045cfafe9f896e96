"""Validate-then-publish: a validate-only run reports and counts but writes nothing; publishing imports."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from zhiwang.core.errors import ServiceError
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    Housing,
    ImportBatch,
    ImportIssue,
    ImportStatus,
    LegalEntity,
    Person,
    PersonSource,
    RecordChange,
    Residence,
)
from zhiwang.registry.selectors import merge_conflicts

IDS = [make_id_number("440305", date(1960 + i, 2, 3 + i), 200 + i, male=i % 2 == 0) for i in range(6)]


pytestmark = pytest.mark.usefixtures("import_dir")


def _file(tmp_path, room, name="people.csv"):
    rows = [
        ["姓名", "公民身份号码", "人口类型", "联系电话", "现住址"],
        ["张一", IDS[0], "户籍", "13800001111", room.code],
        ["李二", IDS[1], "流动人口", "", room.full_name],
        ["坏号", "440305199013320011", "户籍", "", ""],
        ["张一", IDS[0], "户籍", "13800001111", room.code],
        ["王三", IDS[2], "户籍", "", "火星某路1号"],
    ]
    path = tmp_path / name
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    return path


def _registry_state():
    return (
        Person.objects.count(),
        Residence.objects.count(),
        PersonSource.objects.count(),
        RecordChange.objects.count(),
        LegalEntity.objects.count(),
        Housing.objects.count(),
    )


def test_validate_only_writes_nothing_then_publish_imports(
    steward, source_unit, template, tmp_path, home_room
):
    before = _registry_state()
    batch = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=_file(tmp_path, home_room),
        template=template,
        validate_only=True,
    )
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.VALIDATED
    assert _registry_state() == before
    assert (batch.rows_read, batch.rows_created, batch.rows_rejected) == (5, 3, 2)
    codes = {(i.row, i.code) for i in ImportIssue.objects.filter(batch=batch)}
    assert {(4, "id_number.birth_date"), (5, "row.duplicate"), (6, "address.unmatched")} <= codes
    # Running it again does not import it: it waits for a data steward.
    assert pipeline.import_batch_run(batch=batch).status == ImportStatus.VALIDATED
    assert _registry_state() == before

    batch = pipeline.import_batch_publish(batch=batch, actor=steward)
    assert (batch.status, batch.published_by, batch.validate_only) == (ImportStatus.PENDING, steward, False)
    batch = pipeline.import_batch_run(batch=batch)
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_read, batch.rows_created, batch.rows_rejected) == (5, 3, 2)
    assert Person.objects.count() == before[0] + 3
    assert Person.objects.filter(import_batch=batch).count() == 3
    # The report is the real import's, once (not the validation's lines twice).
    assert ImportIssue.objects.filter(batch=batch, row=5, code="row.duplicate").count() == 1
    with pytest.raises(ServiceError) as failure:
        pipeline.import_batch_publish(batch=batch, actor=steward)
    assert failure.value.code == "import.not_validated"


def test_validation_of_an_update_counts_it_and_hides_conflicts_until_published(
    steward, source_unit, other_unit, template, tmp_path, home_room
):
    first = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=_file(tmp_path, home_room),
        template=template,
    )
    pipeline.import_batch_run(batch=first)
    zhang = Person.objects.get(import_batch=first, import_row=2)
    path = tmp_path / "second.csv"
    path.write_text(
        f"姓名,公民身份号码,人口类型,联系电话\n张壹,{IDS[0]},户籍,13900009999\n", encoding="utf-8"
    )
    before = _registry_state()
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward,
            kind="person",
            source=other_unit,
            file_path=path,
            template=template,
            validate_only=True,
        )
    )
    assert (batch.status, batch.rows_updated, batch.rows_created) == (ImportStatus.VALIDATED, 1, 0)
    assert _registry_state() == before
    zhang.refresh_from_db()
    assert zhang.phone == "13800001111" and zhang.import_batch == first
    assert ImportIssue.objects.filter(batch=batch, code="merge.conflict").exists()
    assert not merge_conflicts(user=steward).filter(batch=batch).exists()


def test_only_stewards_publish(grid_worker, steward, source_unit, template, tmp_path, home_room):
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward,
            kind="person",
            source=source_unit,
            file_path=_file(tmp_path, home_room),
            template=template,
            validate_only=True,
        )
    )
    with pytest.raises(ServiceError) as failure:
        pipeline.import_batch_publish(batch=batch, actor=grid_worker)
    assert failure.value.code == "registry.permission_denied"
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportStatus.VALIDATED


def test_command_validate_only_then_publish(source_unit, template, tmp_path, home_room):
    path = _file(tmp_path, home_room)
    before = _registry_state()
    out = StringIO()
    args = (str(path),)
    options = {"kind": "person", "source": source_unit.code, "no_progress": True}
    call_command("import_registry", *args, validate_only=True, stdout=out, **options)
    assert "validated" in out.getvalue() and "would be created 3" in out.getvalue()
    assert _registry_state() == before
    again = StringIO()
    call_command("import_registry", *args, stdout=again, **options)
    assert "--publish" in again.getvalue() and _registry_state() == before
    published = StringIO()
    call_command("import_registry", *args, publish=True, stdout=published, **options)
    assert "done" in published.getvalue() and "created 3" in published.getvalue()
    assert Person.objects.count() == before[0] + 3
    with pytest.raises(CommandError):
        call_command("import_registry", *args, publish=True, validate_only=True, **options)


def test_wizard_validates_then_steward_publishes(
    client, steward, source_unit, template, home_room, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(steward)
    path = _file(tmp_path, home_room)
    before = _registry_state()
    with open(path, "rb") as handle, django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registry:import_new"),
            {
                "kind": "person",
                "source": source_unit.pk,
                "template": template.pk,
                "file": handle,
                "validate_only": "on",
            },
        )
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.validate_only
    page = client.get(reverse("registry:import_detail", args=[batch.pk]))
    html = page.content.decode()
    assert 'data-testid="publish"' in html and "row.duplicate" in html
    assert _registry_state() == before
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("registry:import_publish", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportStatus.DONE and batch.published_by == steward
    assert Person.objects.count() == before[0] + 3
    again = client.post(reverse("registry:import_publish", args=[batch.pk]))
    assert again.status_code == 409 and 'data-testid="publish-error"' in again.content.decode()
