"""Registry walkthrough fixes on the import pages and the place search.

1. a validation whose file was purged offers no Publish, and asks for the file again;
2. a place match names the division's level in the reader's language;
3. an upload answered by an earlier batch says so on that batch's page;
4. the wizard lists the headers each mapping template reads, with a sample CSV per template;
5. the Resume button sits by the batch's state line; the report lists rejected rows first.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tests.tickets.conftest import frozen_now  # noqa: F401  (the fixture moving timezone.now)
from zhiwang.core.validators import validate_credit_code, validate_id_number
from zhiwang.registry import selectors
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.imports.retention import import_file_purge
from zhiwang.registry.models import ImportBatch, ImportIssue, ImportStatus, IssueSeverity, MappingTemplate
from zhiwang.registry.selectors.batches import SAMPLE_VALUES
from zhiwang.registry.validation import FIELDS, REQUIRED

pytestmark = pytest.mark.usefixtures("import_dir")

IDS = [make_id_number("440305", date(1970 + i, 4, 1 + i), 60 + i, male=i % 2 == 0) for i in range(6)]
DAY = timedelta(days=1)


@pytest.fixture
def steward_client(steward) -> Client:
    client = Client()
    client.force_login(steward)
    return client


@pytest.fixture
def queued(monkeypatch):
    """The batches the wizard queued (the worker is not run)."""
    from zhiwang.registry import tasks

    pks: list[int] = []
    monkeypatch.setattr(tasks, "import_batch_task", lambda pk: pks.append(pk))
    return pks


def _people_bytes(rows: int = 3) -> bytes:
    lines = ["姓名,公民身份号码,现住址"] + [f"居民{i},{IDS[i]},示例路{i}号" for i in range(rows)]
    return "\n".join(lines).encode("utf-8")


def _upload(client, source_unit, template, content: bytes, *, validate_only=False, name="people.csv"):
    data = {
        "kind": template.kind,
        "source": source_unit.pk,
        "template": template.pk,
        "file": SimpleUploadedFile(name, content),
    }
    if validate_only:
        data["validate_only"] = "on"
    return client.post(reverse("registry:import_new"), data)


UPLOADED_BEFORE = (
    "This file was uploaded before (the same file, record kind, source department and "
    "mapping): below is its import, not a new one."
)
VALIDATED_BEFORE = (
    "This file was validated before (the same file, record kind, source department and "
    "mapping): below is that validation. Publish it to import the file."
)
VALIDATION_BEFORE = (
    "This file was uploaded for validation before (the same file, record kind, source "
    "department and mapping): below is that validation, not a new one."
)


def _zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _validated(steward, source_unit, template, tmp_path) -> ImportBatch:
    path = tmp_path / "people.csv"
    path.write_bytes(_people_bytes())
    batch = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        validate_only=True,
    )
    return pipeline.import_batch_run(batch=batch)


# --- 1. a purged validation offers no Publish -----------------------------------------------------


def test_a_validation_offers_publish_until_its_file_is_purged(
    steward_client,
    steward,
    source_unit,
    template,
    tmp_path,
    frozen_now,  # noqa: F811
):
    start = timezone.now()
    batch = _validated(steward, source_unit, template, tmp_path)
    assert batch.status == ImportStatus.VALIDATED
    url = reverse("registry:import_detail", args=[batch.pk])
    publish = reverse("registry:import_publish", args=[batch.pk])
    html = steward_client.get(url).content.decode()
    assert 'data-testid="publish"' in html and publish in html
    assert "上方计数说明发布后将产生的变化" in html and 'data-testid="validated-purged"' not in html

    frozen_now(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1
    html = steward_client.get(url).content.decode()
    assert 'data-testid="publish"' not in html and publish not in html
    assert "上方计数说明发布后将产生的变化" not in html  # it can no longer be published
    assert 'data-testid="validated-purged"' in html
    assert reverse("registry:import_new") in html.split('data-testid="validated-purged"')[1]
    # the progress fragment (polled while a batch runs) draws the same
    fragment = steward_client.get(reverse("registry:import_progress", args=[batch.pk])).content.decode()
    assert 'data-testid="publish"' not in fragment and 'data-testid="validated-purged"' in fragment


def test_uploading_the_file_of_a_purged_validation_again_makes_a_batch_that_can_run(
    steward_client,
    steward,
    source_unit,
    template,
    tmp_path,
    queued,
    frozen_now,  # noqa: F811
):
    start = timezone.now()
    batch = _validated(steward, source_unit, template, tmp_path)
    frozen_now(start + (django_settings.ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS + 1) * DAY)
    assert import_file_purge() == 1
    answer = _upload(steward_client, source_unit, template, _people_bytes())
    assert answer.status_code == 302
    fresh = ImportBatch.objects.exclude(pk=batch.pk).get()
    assert answer["Location"] == reverse("registry:import_detail", args=[fresh.pk])


# --- 2. the place match names the level in Chinese ------------------------------------------------


def test_a_place_match_names_the_division_level_in_chinese(steward_client, home_community):
    subdistrict = home_community.parent
    text = f"{subdistrict.parent.name}{subdistrict.name}"
    page = steward_client.post(reverse("registry:home"), {"q": text, "kind": "place"})
    assert page.status_code == 200 and page.context["match"].division == subdistrict
    section = page.content.decode().split('data-testid="place-results"')[1].split("</section>")[0]
    assert f"{subdistrict.name}（街道）" in section
    assert "subdistrict" not in section


# --- 3. an upload answered by an earlier batch says so --------------------------------------------


def test_the_same_file_uploaded_again_lands_on_its_batch_and_says_so(
    steward_client, source_unit, template, queued
):
    first = _upload(steward_client, source_unit, template, _people_bytes())
    batch = ImportBatch.objects.get()
    assert first.status_code == 302
    assert _messages(first) == []  # a new batch: nothing to say
    pipeline.import_batch_run(batch=batch)

    again = _upload(steward_client, source_unit, template, _people_bytes(), name="renamed.csv")
    assert again["Location"] == reverse("registry:import_detail", args=[batch.pk])
    assert ImportBatch.objects.count() == 1
    assert _messages(again) == [_zh(UPLOADED_BEFORE)]
    said = _messages(again)
    page = steward_client.get(again["Location"]).content.decode()
    assert said[0] in page

    # another department: another batch, nothing said
    from zhiwang.accounts.models import OrgUnit

    other = OrgUnit.objects.filter(kind=source_unit.kind, is_active=True).exclude(pk=source_unit.pk).first()
    if other is not None:
        third = _upload(steward_client, other, template, _people_bytes())
        assert third.status_code == 302 and ImportBatch.objects.count() == 2
        assert _messages(third) == []


def test_an_import_of_a_validated_file_lands_on_the_validation_and_says_to_publish_it(
    steward_client, steward, source_unit, template, tmp_path, queued
):
    batch = _validated(steward, source_unit, template, tmp_path)
    answer = _upload(steward_client, source_unit, template, _people_bytes())
    assert answer["Location"] == reverse("registry:import_detail", args=[batch.pk])
    assert _messages(answer) == [_zh(VALIDATED_BEFORE)]
    assert _zh(VALIDATED_BEFORE) in steward_client.get(answer["Location"]).content.decode()
    again = _upload(steward_client, source_unit, template, _people_bytes(), validate_only=True)
    assert again["Location"] == reverse("registry:import_detail", args=[batch.pk])
    assert _messages(again) == [_zh(VALIDATION_BEFORE)]


# --- 4. the wizard lists each template's headers, and a sample file per template -----------------


def test_the_wizard_lists_every_templates_headers_with_the_required_ones_marked(steward_client, templates):
    page = steward_client.get(reverse("registry:import_new"))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="template-guide"') == MappingTemplate.objects.count()
    police = templates["person"]
    guide = html.split(f'data-template-guide="{police.pk}"')[1].split('<div class="template-guide"')[0]
    for header in ("公民身份号码", "身份证号码", "身份证号", "姓名", "现住址", "户籍类型"):
        assert f"<code>{header}</code>" in guide
    required_rows = [
        row for row in guide.split('data-testid="template-column"')[1:] if "template-column-required" in row
    ]
    assert sorted(row.split('data-field="')[1].split('"')[0] for row in required_rows) == sorted(
        REQUIRED["person"]
    )
    assert reverse("registry:import_template_sample", args=[police.pk]) in guide
    assert "registry/import_form.js" in html  # shows the chosen template's only


def test_a_template_without_a_required_header_says_so_and_offers_no_sample(steward_client, templates):
    broken = MappingTemplate.objects.create(name="只有姓名", kind="person", columns={"姓名": "name"})
    html = steward_client.get(reverse("registry:import_new")).content.decode()
    guide = html.split(f'data-template-guide="{broken.pk}"')[1].split('<div class="template-guide"')[0]
    assert 'data-field="id_number"' in guide and 'class="errors"' in guide
    assert reverse("registry:import_template_sample", args=[broken.pk]) not in guide


def _sample(client, template) -> tuple[bytes, list[list[str]]]:
    answer = client.get(reverse("registry:import_template_sample", args=[template.pk]))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    body = answer.content
    assert body.startswith("\ufeff".encode())
    return body, list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("kind", ["person", "entity", "housing"])
def test_each_templates_sample_file_has_its_headers_and_one_invented_row(steward_client, templates, kind):
    template = templates[kind]
    _body, rows = _sample(steward_client, template)
    assert len(rows) == 2
    header, example = rows
    assert set(header) <= set(template.columns)
    mapped = {template.columns[h] for h in header}
    assert mapped == {f for f in template.columns.values() if f in FIELDS[kind]}  # one per field
    assert set(REQUIRED[kind]) <= mapped
    assert all(example)  # an example for every column
    values = dict(zip((template.columns[h] for h in header), example, strict=True))
    if kind == "person":
        assert values["name"] == "张三" and validate_id_number(values["id_number"]) == values["id_number"]
    if kind == "entity":
        assert validate_credit_code(values["credit_code"]) == values["credit_code"]
    assert values == {name: SAMPLE_VALUES[kind][name] for name in values}


@pytest.mark.parametrize("kind", ["person", "entity", "housing"])
def test_a_sample_file_validates_without_a_rejected_row_but_the_housing_address(
    steward, source_unit, templates, tmp_path, steward_client, kind
):
    """The sample's row passes every check; only its invented address matches no standard address
    (a warning for people and entities; for housing, whose address is required, a rejection)."""
    template = templates[kind]
    body, _rows = _sample(steward_client, template)
    path = tmp_path / "sample.csv"
    path.write_bytes(body)
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward,
            kind=kind,
            source=source_unit,
            file_path=path,
            template=template,
            validate_only=True,
        )
    )
    assert batch.status == ImportStatus.VALIDATED and batch.rows_read == 1
    issues = {(i.field, i.code, i.severity) for i in ImportIssue.objects.filter(batch=batch)}
    if kind == "housing":
        assert batch.rows_rejected == 1 and issues == {("address", "address.unmatched", IssueSeverity.ERROR)}
    else:
        assert batch.rows_rejected == 0 and batch.rows_created == 1
        assert issues <= {("address", "address.unmatched", IssueSeverity.WARNING)}


def test_the_sample_file_is_for_data_stewards_only(grid_worker, templates):
    client = Client()
    client.force_login(grid_worker)
    answer = client.get(reverse("registry:import_template_sample", args=[templates["person"].pk]))
    assert answer.status_code == 403
    steward = Client()
    from zhiwang.accounts.models import User

    steward.force_login(User.objects.get(username="demo_steward"))
    assert steward.get(reverse("registry:import_template_sample", args=[999_999])).status_code == 404


# --- 5. Resume beside the state line; rejected rows first -----------------------------------------


def test_resume_sits_by_the_error_line_not_in_the_report(
    steward_client, steward, source_unit, template, tmp_path
):
    path = tmp_path / "people.csv"
    path.write_bytes(_people_bytes())
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, error="模拟：工作进程中断")
    html = steward_client.get(reverse("registry:import_detail", args=[batch.pk])).content.decode()
    state = html.split('data-testid="import-state"')[1].split('<section class="card"><h2>')[0]
    assert "模拟：工作进程中断" in state and reverse("registry:import_resume", args=[batch.pk]) in state
    report = html.split('data-testid="issues"')[0].split("校验报告")[-1]
    assert reverse("registry:import_resume", args=[batch.pk]) not in report
    assert html.count(reverse("registry:import_resume", args=[batch.pk])) == 1


def test_the_report_lists_rejected_rows_before_warnings(
    steward_client, steward, source_unit, template, tmp_path
):
    lines = ["姓名,公民身份号码,现住址"]
    lines += [f"居民{i},{IDS[i]},火星某路{i}号" for i in range(5)]  # warnings: rows 2-6
    lines += ["坏号,440305199013320011,"]  # rejected: row 7
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    batch = pipeline.import_batch_run(
        batch=pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
    )
    assert batch.rows_rejected == 1
    shown = selectors.import_issues(batch=batch)
    assert [i.severity for i in shown][0] == IssueSeverity.ERROR and shown[0].row == 7
    assert [i.row for i in shown[1:]] == [2, 3, 4, 5, 6]
    # the page's limit keeps the rejected rows: only warnings are cut
    few = selectors.import_issues(batch=batch, limit=2)
    assert [(i.row, i.severity) for i in few] == [(7, IssueSeverity.ERROR), (2, IssueSeverity.WARNING)]
    html = steward_client.get(reverse("registry:import_detail", args=[batch.pk])).content.decode()
    table = html.split('data-testid="issues"')[1]
    assert table.index("<td>7</td>") < table.index("<td>2</td>")
