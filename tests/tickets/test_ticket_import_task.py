"""The hotline import run in the task worker: progress on the row (throttled), totals, report, failures."""

from __future__ import annotations

import csv

import pytest
from django.core.files.base import ContentFile

from tests.tickets.conftest import SANITATION
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import hotline_import, tasks
from zhiwang.tickets.hotline_import import ImportSummary, RowOutcome
from zhiwang.tickets.models import Ticket, TicketImport, TicketImportStatus

pytestmark = pytest.mark.django_db

HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,标准地址编码,来电时间"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_run(hotline, content: bytes, **fields) -> TicketImport:
    run = TicketImport(file_name="calls.csv", created_by=hotline, unit_id=hotline.org_unit_id, **fields)
    run.file.save("calls.csv", ContentFile(content), save=False)
    run.save()
    return run


def calls(building) -> bytes:
    lines = [
        HEADER,
        f"T-1,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,{building.code},2026-11-20 10:05",
        f"T-2,投诉,{SANITATION},楼下噪音很大。,赵六,call me,{building.code},2026-11-20 12:00",
        f"T-3,闲聊,{SANITATION},随便说说这件事情。,孙七,,,2026-11-20 12:30",
    ]
    return ("\n".join(lines) + "\n").encode("gb18030")


def test_the_task_imports_the_file_and_writes_totals_refused_rows_and_report(
    hotline, nanshan_building, monkeypatch
):
    monkeypatch.setattr(TicketImport, "REFUSED_SHOWN", 1)  # the page keeps the first ones only
    run = make_run(hotline, calls(nanshan_building))
    tasks.ticket_import_task(run.pk)  # ZHIWANG_TASKS=immediate: runs here
    run.refresh_from_db()
    assert run.status == TicketImportStatus.DONE and run.started_at and run.finished_at and not run.error
    assert (run.created, run.existing, run.refused, run.rows_done, run.rows_total) == (1, 0, 2, 3, 3)
    assert [r["row"] for r in run.refused_rows] == [3] and run.refused_rows[0]["field"] == "reporter_phone"
    ticket = Ticket.objects.get(idempotency_key="hotline:T-1")
    assert ticket.events.filter(actor=hotline).exists()  # recorded as the uploader's work
    with run.report.open("rb") as handle:
        rows = list(csv.reader(handle.read().decode("utf-8-sig").splitlines()))
    assert [r[:3] for r in rows[1:]] == [
        ["2", "T-1", "已立单"],
        ["3", "T-2", "未通过"],
        ["4", "T-3", "未通过"],
    ]
    assert rows[1][3] == ticket.number

    first_report = run.report.name
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)
    tasks.ticket_import_run(run_id=run.pk)  # run again: nothing new, the old report replaced
    run.refresh_from_db()
    assert (run.status, run.created, run.existing, run.refused) == (TicketImportStatus.DONE, 0, 1, 2)
    assert run.report.name != first_report and not run.report.storage.exists(first_report)
    assert Ticket.objects.filter(idempotency_key__startswith="hotline:T-").count() == 1


def test_a_finished_run_is_not_run_twice(hotline, nanshan_building):
    run = make_run(hotline, calls(nanshan_building))
    tasks.ticket_import_run(run_id=run.pk)
    TicketImport.objects.filter(pk=run.pk).update(created=99)
    tasks.ticket_import_run(run_id=run.pk)
    assert TicketImport.objects.get(pk=run.pk).created == 99


@pytest.mark.parametrize(("seconds", "seen"), [(3600, [1, 1, 1, 1]), (0, [1, 2, 3, 4])])
def test_progress_is_written_at_most_every_so_often(hotline, monkeypatch, seconds, seen):
    """The row shows rows read as batches finish, but is written at most every IMPORT_PROGRESS_SECONDS."""
    run = make_run(hotline, b"unused")
    observed = []

    def fake_import(path, *, channel, actor, validate_only, progress, **kwargs):
        assert (channel, actor, validate_only) == ("hotline", hotline, False)
        for done in range(1, 5):
            progress(done, 4)
            observed.append(TicketImport.objects.get(pk=run.pk).rows_done)
        return ImportSummary(rows=[RowOutcome(n, f"C-{n}", "existing", number="X") for n in range(4)])

    monkeypatch.setattr(hotline_import, "import_tickets", fake_import)
    monkeypatch.setattr(tasks, "IMPORT_PROGRESS_SECONDS", seconds)
    tasks.ticket_import_run(run_id=run.pk)
    assert observed == seen
    run.refresh_from_db()
    assert (run.status, run.rows_done, run.existing) == (TicketImportStatus.DONE, 4, 4)


def test_a_file_that_cannot_be_read_fails_the_run_with_its_message(hotline, monkeypatch):
    run = make_run(hotline, b"unused")

    def broken(path, **kwargs):
        kwargs["progress"](500, 2000)
        raise ServiceError("import.encoding", "第 123 字节既非 UTF-8 也非 GBK", field="file")

    monkeypatch.setattr(hotline_import, "import_tickets", broken)
    tasks.ticket_import_run(run_id=run.pk)  # a bad file is the user's matter: not raised
    run.refresh_from_db()
    assert run.status == TicketImportStatus.FAILED and run.error == "第 123 字节既非 UTF-8 也非 GBK"
    assert run.rows_done == 500 and run.finished_at is not None and not run.report


def test_an_unexpected_error_fails_the_run_and_is_raised(hotline, monkeypatch):
    run = make_run(hotline, b"unused")

    def crash(path, **kwargs):
        raise RuntimeError("disk full at /var/lib/zhiwang/media/imports")

    monkeypatch.setattr(hotline_import, "import_tickets", crash)
    with pytest.raises(RuntimeError, match="disk full"):  # the worker logs it in full
        tasks.ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    # the operator reads what to do, not the exception's own text
    assert run.status == TicketImportStatus.FAILED
    assert run.error == "导入因系统错误中断（RuntimeError），已记入日志。请再运行一次，或告知管理员。"
    assert "/var/lib" not in run.error


def test_runs_are_seen_by_their_unit_and_by_city_wide_users(
    hotline, nanshan_dispatcher, luohu_dispatcher, subdistrict_dispatcher, admin_user, citizen
):
    run = make_run(nanshan_dispatcher, b"x")
    assert list(TicketImport.objects.visible_to(nanshan_dispatcher)) == [run]
    assert list(TicketImport.objects.visible_to(admin_user)) == [run]
    assert list(TicketImport.objects.visible_to(hotline)) == [run]  # city jurisdiction
    for outsider in (luohu_dispatcher, subdistrict_dispatcher, citizen):
        assert not TicketImport.objects.visible_to(outsider).exists()
    own = make_run(citizen, b"x")  # without a unit: one's own runs only
    assert list(TicketImport.objects.visible_to(citizen)) == [own]
