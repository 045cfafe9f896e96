"""A registry import of an Excel file that unzips to far more than it weighs is refused on the
file, before openpyxl reads it (``core.xlsx_guard``); the reader stops where Excel's sheet ends."""

from __future__ import annotations

import tracemalloc
import zipfile
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from tests.core.xlsx_child_files import SMALL_LIMIT_MB, long_workbook, merged_ranges_bomb
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


# --- what the guard cannot count: openpyxl runs in a limited child (``core.xlsx_child``) ---------


def test_a_merged_ranges_bomb_is_refused_on_the_file_at_upload(
    steward, source_unit, template, tmp_path, settings
):
    settings.ZHIWANG_XLSX_CHILD_MEMORY_MB = SMALL_LIMIT_MB
    path = merged_ranges_bomb(tmp_path / "人口.xlsx", header=("姓名", "公民身份号码"))
    tracemalloc.start()
    try:
        with pytest.raises(ServiceError) as caught:  # the header search reads to the sheet's end
            pipeline.import_batch_create(
                actor=steward, kind="person", source=source_unit, file_path=path, template=template
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_complex", "file")
    assert f"{SMALL_LIMIT_MB} MB" in caught.value.message
    assert peak < 8 << 20  # openpyxl needs about 230 MB for it, in the child
    assert not ImportBatch.objects.exists()
    assert not [p for p in (tmp_path / "imports").rglob("*") if p.is_file()]  # the checked copy is gone too


def test_the_rows_of_a_workbook_and_its_row_count_come_from_the_child(tmp_path):
    path = long_workbook(tmp_path / "people.xlsx", 250, columns=2, write_only=False)
    with zipfile.ZipFile(path) as archive:  # the sheet states its size, as Excel writes it
        assert b"<dimension" in archive.read("xl/worksheets/sheet1.xml")
    source = reading.SourceFile(path, {"列0": "name", "列1": "id_number"}, FIELDS["person"].keys())
    assert source.header.row == 1
    assert source.count_rows() == 250
    rows = list(source.rows())
    assert len(rows) == 250
    assert rows[0] == (2, {"name": "00000000", "id_number": "地址0号"})  # leading zeros kept


def test_a_workbook_imports_through_the_forked_reading_worker_too(
    steward, source_unit, template, tmp_path, settings, monkeypatch
):
    # The reading worker (a fork of the importing process) starts the openpyxl child itself.
    from openpyxl import Workbook

    from zhiwang.registry.demo import make_id_number
    from zhiwang.registry.imports import prepare
    from zhiwang.registry.models import Person

    monkeypatch.setattr(prepare, "WORKER_ON_SQLITE", True)
    settings.ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS = 1
    book = Workbook()
    book.active.append(["姓名", "公民身份号码"])
    for number in range(7):
        book.active.append(
            [f"居民{number}", make_id_number("440305", date(1980, 1, 1 + number), 100 + number, male=True)]
        )
    book.save(tmp_path / "people.xlsx")
    batch = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=tmp_path / "people.xlsx",
        template=template,
        chunk_size=3,
    )
    assert batch.rows_total == 7 and prepare.worker_wanted(batch)
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.status, batch.rows_read, batch.rows_created) == ("done", 7, 7)
    assert Person.objects.count() == 7
