"""The mapping templates' sample file as Excel: the ID-number and phone cells are text.

The CSV sample's 18-digit ID number, opened and saved again in Excel, became 4.4E+17 (the
number as Excel keeps it, three digits lost): a steward who starts from the sample in Excel
imports a file that rejects every row. The workbook stores those cells as strings in columns
formatted as text (``@``), from the same rows as the CSV sample; the wizard links both.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import ImportIssue, ImportStatus, IssueSeverity, MappingTemplate

pytestmark = pytest.mark.usefixtures("import_dir")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def steward_client(steward) -> Client:
    client = Client()
    client.force_login(steward)
    return client


def _xlsx(client, template):
    answer = client.get(reverse("registry:import_template_sample_xlsx", args=[template.pk]))
    assert answer.status_code == 200 and answer["Content-Type"] == XLSX
    assert "attachment" in answer["Content-Disposition"] and ".xlsx" in answer["Content-Disposition"]
    body = b"".join(answer.streaming_content)
    return body, load_workbook(io.BytesIO(body)).active


def _csv_rows(client, template) -> list[list[str]]:
    body = client.get(reverse("registry:import_template_sample", args=[template.pk])).content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("kind", ["person", "entity", "housing"])
def test_the_workbook_holds_the_csv_samples_rows_with_ids_and_phones_as_text(steward_client, templates, kind):
    template = templates[kind]
    _body, sheet = _xlsx(steward_client, template)
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows == _csv_rows(steward_client, template)  # one definition of the sample
    header = rows[0]
    text_columns = {
        index
        for index, title in enumerate(header, start=1)
        if template.columns[title] in ("id_number", "credit_code", "phone", "owner_phone")
    }
    assert text_columns  # every kind has an ID, a code or a phone
    for index in text_columns:
        letter = sheet.cell(row=1, column=index).column_letter
        example = sheet.cell(row=2, column=index)
        assert example.data_type == "s" and isinstance(example.value, str)
        assert example.number_format == "@"
        assert sheet.column_dimensions[letter].number_format == "@"  # rows typed below stay text
    if kind == "person":
        id_column = next(i for i in text_columns if template.columns[header[i - 1]] == "id_number")
        assert sheet.cell(row=2, column=id_column).value == "440305199001010018"


@pytest.mark.parametrize("kind", ["person", "entity", "housing"])
def test_the_workbook_validates_like_the_csv_sample(
    steward, source_unit, templates, tmp_path, steward_client, kind
):
    template = templates[kind]
    body, _sheet = _xlsx(steward_client, template)
    path = tmp_path / "sample.xlsx"
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
    if kind == "housing":  # its required address matches no standard address
        assert batch.rows_rejected == 1 and issues == {("address", "address.unmatched", IssueSeverity.ERROR)}
    else:
        assert batch.rows_rejected == 0
        assert issues <= {("address", "address.unmatched", IssueSeverity.WARNING)}


def test_a_header_that_looks_like_a_formula_stays_text(steward_client, templates):
    template = MappingTemplate.objects.create(
        name="公式/表头?", kind="person", columns={'=HYPERLINK("x")': "id_number", "姓名": "name"}
    )
    _body, sheet = _xlsx(steward_client, template)
    first = sheet.cell(row=1, column=1)
    assert first.value == '=HYPERLINK("x")' and first.data_type == "s"
    assert sheet.title == "公式 表头"  # a worksheet title may not hold / or ?


def test_the_wizard_links_both_samples(steward_client, templates):
    police = templates["person"]
    html = steward_client.get(reverse("registry:import_new")).content.decode()
    guide = html.split(f'data-template-guide="{police.pk}"')[1].split('<div class="template-guide"')[0]
    assert reverse("registry:import_template_sample_xlsx", args=[police.pk]) in guide
    assert reverse("registry:import_template_sample", args=[police.pk]) in guide


def test_the_workbook_is_for_data_stewards_only(grid_worker, templates):
    client = Client()
    client.force_login(grid_worker)
    url = reverse("registry:import_template_sample_xlsx", args=[templates["person"].pk])
    assert client.get(url).status_code == 403
