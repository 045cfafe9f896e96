"""The hotline import pages: upload a file of calls, the run imports it, the page shows what happened.

Tasks run immediately (ZHIWANG_TASKS=immediate) once the upload's transaction commits
(``django_capture_on_commit_callbacks``). Personas: the 12345 operator (city-wide), the
Nanshan and Luohu dispatchers (one unit each), a handler and a citizen (not allowed).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from zhiwang.accounts.models import User
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets.models import Ticket, TicketCounter, TicketImport, TicketImportStatus

pytestmark = pytest.mark.django_db

SANITATION = "010214"  # 环境卫生: via the dispatcher to the subdistrict office
HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,事发地址,标准地址编码,来电时间"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def persona(username: str) -> User:
    return User.objects.get(username=username)


@pytest.fixture
def hotline(db):
    return persona("demo_hotline")


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def calls_file(building, *, name="来电.csv", encoding="gbk", prefix="W") -> SimpleUploadedFile:
    """A title row, the header, a valid call and a call with a bad phone number (row 4)."""
    lines = [
        "12345热线来电登记表",
        HEADER,
        f"{prefix}-001,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
        f"{prefix}-002,投诉,{SANITATION},楼下噪音很大。,赵六,call me,,{building.code},2026-11-20 12:00",
    ]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(encoding), content_type="text/csv")


def upload(client, capture, file, **fields):
    with capture(execute=True):
        return client.post("/call-imports/", {"file": file, "channel": "hotline", **fields})


def report_rows(client, run) -> list[list[str]]:
    response = client.get(f"/call-imports/{run.pk}/report.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_operator_imports_a_gbk_file_and_sees_totals_and_refused_rows(
    client, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    response = upload(client, django_capture_on_commit_callbacks, calls_file(building))
    run = TicketImport.objects.get()
    assert response.status_code == 302 and response.url == f"/call-imports/{run.pk}/"
    assert run.status == TicketImportStatus.DONE and run.file_name == "来电.csv"
    assert (run.created, run.existing, run.refused, run.rows_done) == (1, 0, 1, 2)
    assert run.created_by == hotline and run.unit_id == hotline.org_unit_id
    ticket = Ticket.objects.get(idempotency_key="hotline:W-001")
    assert ticket.channel == "hotline" and ticket.reporter_name == "王敏" and ticket.address_id == building.pk
    assert not Ticket.objects.filter(idempotency_key="hotline:W-002").exists()
    assert run.refused_rows == [
        {
            "row": 4,
            "external_id": "W-002",
            "code": "tickets.phone_invalid",
            "field": "reporter_phone",
            "column": "联系电话",  # the header the operator's file used
            "message": run.refused_rows[0]["message"],
        }
    ]

    html = client.get(f"/call-imports/{run.pk}/").content.decode()
    assert 'data-status="done"' in html and "hx-get" not in html  # finished: no more polling
    assert 'data-testid="rows-created">1<' in html and 'data-testid="rows-refused">1<' in html
    assert "W-002" in html and "联系电话" in html and run.refused_rows[0]["message"] in html
    rows = report_rows(client, run)
    assert rows[0] == ["行号", "来电编号", "结果", "工单编号", "错误代码", "字段", "说明"]
    assert rows[1][:4] == ["3", "W-001", "已立单", ticket.number]
    assert rows[2][:3] == ["4", "W-002", "未通过"] and rows[2][5] == "联系电话"

    # The same file again: nothing new, the call is reported as imported before.
    upload(client, django_capture_on_commit_callbacks, calls_file(building))
    again = TicketImport.objects.latest("pk")
    assert (again.created, again.existing, again.refused) == (0, 1, 1)
    assert Ticket.objects.filter(idempotency_key__startswith="hotline:W-").count() == 1
    listing = client.get("/call-imports/").content.decode()
    assert f"/call-imports/{run.pk}/" in listing and f"/call-imports/{again.pk}/" in listing


def test_validate_only_writes_nothing_then_the_file_is_imported_for_real(
    client, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    upload(
        client, django_capture_on_commit_callbacks, calls_file(building, encoding="utf-8"), validate_only="on"
    )
    checked = TicketImport.objects.get()
    assert checked.validate_only and checked.status == TicketImportStatus.DONE
    assert (checked.created, checked.refused) == (1, 1)
    assert not Ticket.objects.exists() and not TicketCounter.objects.exists()
    assert report_rows(client, checked)[1][2] == "可立单"
    assert 'data-testid="import-for-real"' in client.get(f"/call-imports/{checked.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/call-imports/{checked.pk}/again/")
    real = TicketImport.objects.exclude(pk=checked.pk).get()
    assert response.url == f"/call-imports/{real.pk}/"
    assert not real.validate_only and real.file.name == checked.file.name
    assert (real.status, real.created, real.refused) == (TicketImportStatus.DONE, 1, 1)
    assert Ticket.objects.filter(idempotency_key="hotline:W-001").count() == 1


def test_a_failed_run_can_be_run_again(client, hotline, building, django_capture_on_commit_callbacks):
    client.force_login(hotline)
    upload(client, django_capture_on_commit_callbacks, calls_file(building))
    run = TicketImport.objects.get()
    assert client.post(f"/call-imports/{run.pk}/again/").status_code == 409  # done: nothing to run again
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED, error="worker lost")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/call-imports/{run.pk}/again/")
    run.refresh_from_db()
    assert (run.status, run.error, run.created, run.existing) == (TicketImportStatus.DONE, "", 0, 1)


def test_a_double_click_on_run_again_queues_the_run_once(
    client, hotline, building, django_capture_on_commit_callbacks
):
    from zhiwang.core.errors import ServiceError
    from zhiwang.web.tickets.import_runs import import_run_again

    client.force_login(hotline)
    upload(client, django_capture_on_commit_callbacks, calls_file(building))
    TicketImport.objects.update(status=TicketImportStatus.FAILED, error="worker lost")
    first_view, second_view = TicketImport.objects.get(), TicketImport.objects.get()  # two clicks, one page
    import_run_again(run=first_view, actor=hotline)
    with pytest.raises(ServiceError) as caught:
        import_run_again(run=second_view, actor=hotline)
    assert caught.value.code == "tickets.import_busy"
    assert TicketImport.objects.get().status == TicketImportStatus.QUEUED


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("calls.pdf", b"%PDF-1.4", "CSV"),
        ("calls.csv", b"", "空"),  # Django's own check: an empty upload
        ("calls.csv", b"\n\n", "诉求内容"),  # no header row at all
        ("calls.csv", "来电编号,来电人\nC-1,王敏\n".encode("gbk"), "诉求类型"),
        ("calls.csv", "甲,乙,丙\n1,2,3\n".encode(), "诉求内容"),
        ("calls.xlsx", b"not really a workbook", "Excel"),
        ("calls.csv", b"\xff\xfe\x00\x00", "GBK"),  # neither UTF-8 nor GBK
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_on_the_form(
    client, hotline, name, content, expected, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    file = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/call-imports/", {"file": file, "channel": "hotline"})
    assert response.status_code == 400 and not callbacks
    html = response.content.decode()
    assert 'data-testid="form-errors"' in html and "field-errors" in html
    errors = response.context["form"].errors["file"]
    assert any(expected in str(e) or expected in html for e in errors)
    assert not TicketImport.objects.exists()


def test_the_example_file_has_the_chinese_headers_and_passes_the_check(
    client, hotline, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    response = client.get("/call-imports/example.csv")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == HEADER.split(",") and len(rows) == 3
    example = SimpleUploadedFile("example.csv", response.content, content_type="text/csv")
    upload(client, django_capture_on_commit_callbacks, example, validate_only="on")
    run = TicketImport.objects.get()
    assert run.status == TicketImportStatus.DONE and run.rows_done == 2 and not run.error
    assert not Ticket.objects.exists()


def test_only_staff_who_record_calls_may_import(
    client, citizen, building, nanshan_dispatcher, django_capture_on_commit_callbacks
):
    assert client.get("/call-imports/").status_code == 302  # anonymous: sign in first
    for user in (citizen, persona("demo_sub_handler"), persona("demo_grid_worker")):
        client.force_login(user)
        assert client.get("/call-imports/").status_code == 403
        assert client.get("/call-imports/example.csv").status_code == 403
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/call-imports/", {"file": calls_file(building), "channel": "hotline"})
        assert response.status_code == 403
    assert not TicketImport.objects.exists() and not Ticket.objects.exists()
    client.force_login(nanshan_dispatcher)  # dispatchers record calls too (the intake page's roles)
    assert client.get("/call-imports/").status_code == 200
    assert 'href="/call-imports/"' in client.get("/intake/").content.decode()


def test_another_units_run_is_not_found(
    client, nanshan_dispatcher, luohu_dispatcher, hotline, building, django_capture_on_commit_callbacks
):
    client.force_login(nanshan_dispatcher)
    upload(client, django_capture_on_commit_callbacks, calls_file(building, name="南山来电.csv"))
    run = TicketImport.objects.get()
    assert run.unit_id == nanshan_dispatcher.org_unit_id
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)

    client.force_login(luohu_dispatcher)
    for url in ("", "progress/", "report.csv"):
        assert client.get(f"/call-imports/{run.pk}/{url}").status_code == 404
    assert client.post(f"/call-imports/{run.pk}/again/").status_code == 404
    assert "南山来电.csv" not in client.get("/call-imports/").content.decode()
    assert TicketImport.objects.get(pk=run.pk).status == TicketImportStatus.FAILED  # not run again

    client.force_login(hotline)  # city-wide: sees every unit's runs
    assert client.get(f"/call-imports/{run.pk}/").status_code == 200
    assert "南山来电.csv" in client.get("/call-imports/").content.decode()


def test_the_page_polls_while_the_run_is_open(client, hotline, building, django_capture_on_commit_callbacks):
    client.force_login(hotline)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # no worker: stays queued
        client.post("/call-imports/", {"file": calls_file(building), "channel": "hotline"})
    assert len(callbacks) == 1
    run = TicketImport.objects.get()
    assert run.status == TicketImportStatus.QUEUED and run.rows_total == 2
    html = client.get(f"/call-imports/{run.pk}/progress/").content.decode()
    assert 'data-status="queued"' in html and f'hx-get="/call-imports/{run.pk}/progress/"' in html
    assert "0 / 2" in html
    assert client.get(f"/call-imports/{run.pk}/report.csv").status_code == 404  # no report yet
    assert client.post(f"/call-imports/{run.pk}/again/").status_code == 409  # still open, not stalled
    callbacks[0]()
    html = client.get(f"/call-imports/{run.pk}/progress/").content.decode()
    assert 'data-status="done"' in html and "hx-get" not in html
