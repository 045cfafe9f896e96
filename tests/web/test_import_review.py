"""Review fixes of the hotline import: a refused row's own reason, a workbook without a worksheet,
"Import this file" clicked twice, and a call id already used outside the importer's area.

Tasks run immediately (ZHIWANG_TASKS=immediate) once the upload's transaction commits
(``django_capture_on_commit_callbacks``).
"""

from __future__ import annotations

import csv
import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from zhiwang.accounts.models import User
from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.tickets import hotline_import
from zhiwang.tickets.models import Ticket, TicketImport, TicketImportStatus
from zhiwang.web.tickets import import_runs

pytestmark = pytest.mark.django_db

SANITATION = "010214"
HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,事发地址,标准地址编码,来电时间"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def hotline(db) -> User:
    return User.objects.get(username="demo_hotline")


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    """A Nanshan building (the grid worker's first grid)."""
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def csv_file(lines, name="calls.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode("utf-8"), content_type="text/csv")


def upload(client, capture, file, *, execute=True, **fields):
    with capture(execute=execute):
        return client.post("/call-imports/", {"file": file, "channel": "hotline", **fields})


def report_rows(client, run) -> list[list[str]]:
    response = client.get(f"/call-imports/{run.pk}/report.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def stored_files(settings) -> list[str]:
    return [os.path.join(d, n) for d, _dirs, names in os.walk(settings.MEDIA_ROOT) for n in names]


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


# --- 1. a refused row names its own reason --------------------------------------------------


def test_a_row_with_one_bad_field_is_reported_with_that_fields_code_and_message(
    client, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    lines = [
        HEADER,
        f"W-009,投诉,{SANITATION},楼下噪音很大很大。,赵六,call me,,{building.code},2026-11-20 12:00",
    ]
    upload(client, django_capture_on_commit_callbacks, csv_file(lines))
    run = TicketImport.objects.get()
    assert run.status == TicketImportStatus.DONE and run.refused == 1
    [row] = run.refused_rows
    assert (row["code"], row["field"]) == ("tickets.phone_invalid", "reporter_phone")
    assert row["message"] == zh("The phone number is not valid.")
    assert row["message"] != zh("The ticket has invalid fields.")
    html = client.get(f"/call-imports/{run.pk}/").content.decode()
    assert "联系电话" in html and row["message"] in html and "tickets.phone_invalid" not in html
    [_header, line] = report_rows(client, run)
    assert line[2:] == ["未通过", "", "tickets.phone_invalid", "联系电话", row["message"]]


def test_several_bad_fields_keep_the_general_code_and_list_every_message():
    error = ServiceError(
        "tickets.invalid",
        "The ticket has invalid fields.",
        field="reporter_phone",
        fields=[
            FieldError("reporter_phone", "tickets.phone_invalid", "The phone number is not valid."),
            FieldError("received_at", "tickets.received_in_future", "The time received is in the future."),
        ],
    )
    outcome = hotline_import._refused(7, "W-1", error)
    assert (outcome.code, outcome.field) == ("tickets.invalid", "reporter_phone")
    assert "The phone number is not valid." in outcome.message
    assert "The time received is in the future." in outcome.message


# --- 2. a workbook without a worksheet -----------------------------------------------------


def _chartsheet_only() -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["诉求类型", "诉求内容"])
    chart = workbook.create_chartsheet()
    chart.add_chart(BarChart())
    workbook.remove(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_reader_refuses_a_workbook_without_a_worksheet(tmp_path):
    path = tmp_path / "charts.xlsx"
    path.write_bytes(_chartsheet_only())
    with pytest.raises(ServiceError) as caught:
        SourceFile(path, hotline_import.COLUMNS, hotline_import.FIELDS)
    assert (caught.value.code, caught.value.field) == ("import.format", "file")


def test_uploading_a_workbook_without_a_worksheet_is_refused_on_the_form_and_nothing_is_kept(
    client, hotline, settings, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    file = SimpleUploadedFile("calls.xlsx", _chartsheet_only(), content_type="application/octet-stream")
    response = upload(client, django_capture_on_commit_callbacks, file)
    assert response.status_code == 400
    assert zh("The Excel file has no worksheet (only charts); put the rows on a worksheet.") in (
        response.content.decode()
    )
    assert not TicketImport.objects.exists() and stored_files(settings) == []


def test_an_unexpected_error_while_registering_an_upload_deletes_the_stored_file(
    client, hotline, building, settings, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_runs, "check_file", broken)
    client.force_login(hotline)
    client.raise_request_exception = False
    lines = [
        HEADER,
        f"W-001,投诉,{SANITATION},垃圾三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
    ]
    response = upload(client, django_capture_on_commit_callbacks, csv_file(lines))
    assert response.status_code == 500
    assert not TicketImport.objects.exists() and stored_files(settings) == []


# --- 3. "Import this file" clicked twice ---------------------------------------------------


def _validated_run(client, capture, building) -> TicketImport:
    lines = [
        HEADER,
        f"W-001,投诉,{SANITATION},垃圾三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
    ]
    upload(client, capture, csv_file(lines), validate_only="on")
    run = TicketImport.objects.get()
    assert run.validate_only and run.status == TicketImportStatus.DONE
    return run


def test_import_this_file_twice_queues_one_run_and_the_second_click_goes_to_it(
    client, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    checked = _validated_run(client, django_capture_on_commit_callbacks, building)
    with django_capture_on_commit_callbacks(execute=False):
        first = client.post(f"/call-imports/{checked.pk}/again/")
        second = client.post(f"/call-imports/{checked.pk}/again/")
    [real] = TicketImport.objects.filter(validate_only=False)
    assert real.file.name == checked.file.name and real.status == TicketImportStatus.QUEUED
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == f"/call-imports/{real.pk}/"


def test_a_stale_page_cannot_queue_the_validated_file_a_second_time(
    client, hotline, building, django_capture_on_commit_callbacks
):
    """Two requests that both loaded the validated run before either queued its import."""
    client.force_login(hotline)
    checked = _validated_run(client, django_capture_on_commit_callbacks, building)
    seen_by_first, seen_by_second = (TicketImport.objects.get(pk=checked.pk) for _ in range(2))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        one = import_runs.import_run_again(run=seen_by_first, actor=hotline)
        two = import_runs.import_run_again(run=seen_by_second, actor=hotline)
    assert one.pk == two.pk and TicketImport.objects.filter(validate_only=False).count() == 1
    assert len(queued) == 1  # the worker is asked once


def test_the_import_button_is_gone_once_the_validated_file_was_imported(
    client, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    checked = _validated_run(client, django_capture_on_commit_callbacks, building)
    page = client.get(f"/call-imports/{checked.pk}/").content.decode()
    assert 'data-testid="import-for-real"' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/call-imports/{checked.pk}/again/")
    real = TicketImport.objects.get(validate_only=False)
    assert real.status == TicketImportStatus.DONE and real.created == 1
    page = client.get(f"/call-imports/{checked.pk}/").content.decode()
    assert 'data-testid="import-for-real"' not in page
    assert 'data-testid="imported-as"' in page and f"/call-imports/{real.pk}/" in page


# --- 4. a call id already used outside the importer's area ---------------------------------


OUTSIDE = "This call id was already used for another ticket outside your area; give the call its own id."


def test_a_call_id_used_by_another_area_is_refused_without_its_ticket_number(
    client, nanshan_dispatcher, luohu_dispatcher, building, django_capture_on_commit_callbacks
):
    client.force_login(nanshan_dispatcher)
    nanshan = [
        HEADER,
        f"W-001,投诉,{SANITATION},南山：垃圾三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
    ]
    upload(client, django_capture_on_commit_callbacks, csv_file(nanshan), channel="window")
    ticket = Ticket.objects.get(idempotency_key="window:W-001")

    client.force_login(luohu_dispatcher)
    assert client.get(f"/tickets/{ticket.number}/").status_code == 404
    luohu = [
        HEADER,
        f"W-001,咨询,{SANITATION},罗湖：咨询垃圾分类投放时间。,李四,13900139000,,,2026-11-21 09:00",
    ]
    upload(client, django_capture_on_commit_callbacks, csv_file(luohu), channel="window")
    run = TicketImport.objects.latest("pk")
    assert (run.created, run.existing, run.refused) == (0, 0, 1)
    [row] = run.refused_rows
    assert (row["code"], row["field"], row["external_id"]) == (
        "tickets.import_id_taken",
        "external_id",
        "W-001",
    )
    assert row["message"] == zh(OUTSIDE)
    body = b"".join(client.get(f"/call-imports/{run.pk}/report.csv").streaming_content).decode("utf-8-sig")
    assert ticket.number not in body and "未通过" in body
    assert ticket.number not in client.get(f"/call-imports/{run.pk}/").content.decode()

    # validate-only says the same
    upload(client, django_capture_on_commit_callbacks, csv_file(luohu), channel="window", validate_only="on")
    checked = TicketImport.objects.latest("pk")
    assert (checked.created, checked.existing, checked.refused) == (0, 0, 1)
    assert checked.refused_rows[0]["code"] == "tickets.import_id_taken"

    # Nanshan importing its file again: still "imported before", with its ticket's number
    client.force_login(nanshan_dispatcher)
    upload(client, django_capture_on_commit_callbacks, csv_file(nanshan), channel="window")
    again = TicketImport.objects.latest("pk")
    assert (again.created, again.existing, again.refused) == (0, 1, 0)
    assert ticket.number in "".join(",".join(r) for r in report_rows(client, again))


def test_a_row_without_call_id_matching_another_areas_ticket_is_refused(
    client, nanshan_dispatcher, luohu_dispatcher, building, django_capture_on_commit_callbacks
):
    lines = [
        HEADER,
        f",投诉,{SANITATION},垃圾三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
    ]
    client.force_login(nanshan_dispatcher)
    upload(client, django_capture_on_commit_callbacks, csv_file(lines), channel="window")
    [ticket] = Ticket.objects.filter(idempotency_key__startswith="window:row-")

    client.force_login(luohu_dispatcher)
    upload(client, django_capture_on_commit_callbacks, csv_file(lines), channel="window")
    run = TicketImport.objects.latest("pk")
    assert (run.created, run.existing, run.refused) == (0, 0, 1)
    [row] = run.refused_rows
    assert row["code"] == "tickets.import_id_taken" and row["field"] == "external_id"
    assert ticket.number not in ",".join(",".join(r) for r in report_rows(client, run))


def test_a_call_repeated_in_one_file_is_imported_before_not_another_areas(
    client, luohu_dispatcher, building, django_capture_on_commit_callbacks
):
    """Luohu records a call located in Nanshan (it cannot see the ticket afterwards); the file
    repeats the call: the repeat is "imported before", not another area's call id."""
    row = f"W-001,投诉,{SANITATION},垃圾三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05"
    client.force_login(luohu_dispatcher)
    upload(client, django_capture_on_commit_callbacks, csv_file([HEADER, row, row]), channel="window")
    run = TicketImport.objects.get()
    assert (run.created, run.existing, run.refused) == (1, 1, 0)
    ticket = Ticket.objects.get(idempotency_key="window:W-001")
    assert client.get(f"/tickets/{ticket.number}/").status_code == 404


def test_a_validated_file_another_unit_imported_answers_409_not_a_second_run(
    client, hotline, nanshan_dispatcher, building, django_capture_on_commit_callbacks
):
    client.force_login(nanshan_dispatcher)
    checked = _validated_run(client, django_capture_on_commit_callbacks, building)
    client.force_login(hotline)  # city-wide: sees Nanshan's run and imports it
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/call-imports/{checked.pk}/again/")
    real = TicketImport.objects.get(validate_only=False)
    client.force_login(nanshan_dispatcher)  # a stale page: the hotline's run is not Nanshan's
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/call-imports/{checked.pk}/again/")
    assert response.status_code == 409 and 'data-testid="again-error"' in response.content.decode()
    assert list(TicketImport.objects.filter(validate_only=False)) == [real]
