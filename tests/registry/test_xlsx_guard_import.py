"""A registry import of an Excel file that unzips to far more than it weighs is refused on the
file, before openpyxl reads it (``core.xlsx_guard``); the reader stops where Excel's sheet ends."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from tests.xlsx_bombs import header_row, shared_strings_bomb, write_workbook
from zhiwang.core.errors import ServiceError
from zhiwang.registry.imports import pipeline, reading
from zhiwang.registry.models import ImportBatch
from zhiwang.registry.validation import FIELDS

pytestmark = pytest.mark.usefixtures("import_dir")

RATIO_MESSAGE = (
    "The Excel file is compressed far more than real workbooks are (a part unpacks to more than "
    "%(ratio)d times its size), so it was not opened; save it again in Excel or WPS, or as CSV."
)


def test_a_shared_strings_bomb_is_refused_on_the_file_with_little_memory(
    steward, source_unit, template, tmp_path
):
    path = shared_strings_bomb(tmp_path / "人口.xlsx", header=("姓名", "公民身份号码"))
    tracemalloc.start()
    try:
        with pytest.raises(ServiceError) as caught:
            pipeline.import_batch_create(
                actor=steward, kind="person", source=source_unit, file_path=path, template=template
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_large_unzipped", "file")
    assert peak < 8 << 20  # openpyxl would have read 64 MiB of strings
    assert not ImportBatch.objects.exists()


def test_the_wizard_shows_the_refusal_on_the_file_field(steward, source_unit, template, tmp_path):
    client = Client()
    client.force_login(steward)
    bomb = shared_strings_bomb(tmp_path / "bomb.xlsx", header=("姓名", "公民身份号码")).read_bytes()
    with translation.override("zh-hans"):
        response = client.post(
            "/registry/imports/new/",
            {
                "kind": "person",
                "source": source_unit.pk,
                "template": template.pk,
                "file": SimpleUploadedFile("人口.xlsx", bomb),
            },
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
        message = gettext(RATIO_MESSAGE) % {"ratio": 100}
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportBatch.objects.exists()


def _source(path):
    return reading.SourceFile(path, {"姓名": "name", "公民身份号码": "id_number"}, FIELDS["person"].keys())


def test_the_reader_stops_at_excels_last_row_when_row_numbers_jump(tmp_path, monkeypatch):
    # openpyxl fills the gap before row 1,000,000,000 with empty rows, one by one
    monkeypatch.setattr(reading, "EXCEL_MAX_ROWS", 20)
    path = write_workbook(
        tmp_path / "jump.xlsx", rows=header_row("姓名", "公民身份号码") + b'<row r="1000000000"/>'
    )
    source = _source(path)
    with pytest.raises(ServiceError) as caught:
        list(source.rows())
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_many_rows", "file")


def test_the_reader_refuses_a_row_wider_than_excel_allows(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "EXCEL_MAX_COLUMNS", 5)
    wide = b'<row r="2"><c r="H2" t="inlineStr"><is><t>x</t></is></c></row>'
    path = write_workbook(tmp_path / "wide.xlsx", rows=header_row("姓名", "公民身份号码") + wide)
    with pytest.raises(ServiceError) as caught:
        list(_source(path).rows())  # the header search reads it already
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_many_columns", "file")
