"""The hotline batch import: a file of calls → tickets, row by row outcomes, idempotent, validate-only."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from tests.tickets.conftest import SANITATION, TZ
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.hotline_import import import_tickets, write_report
from zhiwang.tickets.models import Ticket, TicketCounter, TicketEvent

pytestmark = pytest.mark.django_db

HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,标准地址编码,来电时间,经度"


def _csv(tmp_path, lines: list[str], encoding="gb18030", title=True):
    path = tmp_path / "calls.csv"
    text = ("12345热线来电登记表（11月20日）\n" if title else "") + "\n".join([HEADER, *lines]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def _lines(building) -> list[str]:
    return [
        f"C-001,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,{building.code},2026/11/20 10:05,",
        f"C-002,咨询,{SANITATION},请问垃圾分类的投放时间是几点？,李强,13900139000,,2026-11-20 11:00,",
        f"C-003,投诉,{SANITATION},楼下噪音很大。,赵六,call me,{building.code},2026-11-20 12:00,",  # bad phone
        f"C-004,闲聊,{SANITATION},随便说说这件事情。,孙七,,,2026-11-20 12:30,",  # unknown kind
        f"C-005,投诉,{SANITATION},路灯不亮很久了。,周八,,{building.code},2026-11-20 13:00,东经",  # bad lon
        f",咨询,{SANITATION},没有来电编号的一通咨询电话。,吴九,,,2026-11-20 14:00,",  # no call id
    ]


def test_a_gbk_file_becomes_tickets_with_a_row_by_row_report(tmp_path, nanshan_building):
    summary = import_tickets(_csv(tmp_path, _lines(nanshan_building)))
    assert summary.totals == {"created": 3, "existing": 0, "refused": 3}
    by_id = {r.external_id: r for r in summary.rows}
    first = Ticket.objects.get(idempotency_key="hotline:C-001")
    assert (
        first.channel == "hotline" and first.kind == "complaint" and first.address_id == nanshan_building.pk
    )
    assert first.received_at == datetime(2026, 11, 20, 10, 5, tzinfo=TZ)  # local time in the file
    assert first.reporter_name == "王敏" and first.number == by_id["C-001"].number
    assert [r.row for r in summary.rows] == [3, 4, 5, 6, 7, 8]  # file lines: title, header, then rows
    assert (by_id["C-003"].code, by_id["C-003"].field) == ("tickets.phone_invalid", "reporter_phone")
    assert by_id["C-004"].field == "kind"
    assert (by_id["C-005"].code, by_id["C-005"].field) == ("geo.not_a_number", "lon")
    derived = summary.rows[-1]
    assert derived.outcome == "created" and derived.external_id.startswith("row-")

    report = tmp_path / "report.csv"
    write_report(summary, report)
    with open(report, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["行号", "来电编号", "结果", "工单编号", "错误代码", "字段", "说明"]
    assert rows[1][:4] == ["3", "C-001", "已立单", first.number]
    assert rows[3][2] == "未通过" and rows[3][5] == "联系电话" and rows[3][6]


def test_importing_the_same_file_again_creates_nothing(tmp_path, nanshan_building):
    path = _csv(tmp_path, _lines(nanshan_building))
    import_tickets(path)
    counts = (Ticket.objects.count(), TicketEvent.objects.count())
    again = import_tickets(path)
    assert again.totals == {"created": 0, "existing": 3, "refused": 3}
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == counts
    numbers = {r.external_id: r.number for r in again.rows if r.outcome == "existing"}
    assert numbers["C-001"] == Ticket.objects.get(idempotency_key="hotline:C-001").number


def test_validate_only_writes_nothing_and_uses_no_numbers(tmp_path, nanshan_building):
    path = _csv(tmp_path, _lines(nanshan_building), encoding="utf-8-sig", title=False)
    summary = import_tickets(path, validate_only=True)
    assert summary.totals == {"created": 3, "existing": 0, "refused": 3}
    assert not Ticket.objects.exists() and not TicketCounter.objects.exists()
    report = tmp_path / "check.csv"
    write_report(summary, report)
    assert "可立单" in report.read_text(encoding="utf-8-sig")
    real = import_tickets(path)
    assert min(r.number for r in real.rows if r.number).endswith("000001")


def test_an_excel_file_with_numbers_and_dates_in_cells(tmp_path, nanshan_building):
    book = Workbook()
    sheet = book.active
    sheet.append(["来电编号", "诉求类型", "分类编码", "诉求内容", "联系电话", "标准地址编码", "来电时间"])
    sheet.append(
        [
            20261120001,
            "投诉",
            SANITATION,
            "小区电梯经常停运。",
            13800138000,
            nanshan_building.code,
            datetime(2026, 11, 20, 9, 30),
        ]
    )
    path = tmp_path / "calls.xlsx"
    book.save(path)
    summary = import_tickets(path, batch_rows=1)
    assert summary.totals["created"] == 1
    ticket = Ticket.objects.get(idempotency_key="hotline:20261120001")  # not 2.0261120001e10
    assert ticket.reporter_phone == "13800138000"
    assert ticket.received_at == datetime(2026, 11, 20, 9, 30, tzinfo=TZ)


def test_a_file_without_the_needed_columns_is_refused_whole(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("来电编号,来电人\nC-1,王敏\n", encoding="utf-8")
    with pytest.raises(ServiceError) as caught:
        import_tickets(path)
    assert caught.value.code == "tickets.import_columns" and caught.value.field == "file"
    assert "诉求内容" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        import_tickets(tmp_path / "calls.pdf")
    assert caught.value.code == "import.format"


def test_the_command_reports_and_resumes(tmp_path, nanshan_building, hotline, capsys):
    path = _csv(tmp_path, _lines(nanshan_building))
    report = tmp_path / "out.csv"
    call_command(
        "import_tickets", str(path), "--report", str(report), "--no-progress", "--operator", hotline.username
    )
    out = capsys.readouterr().out
    assert (
        "3 created, 0 imported before, 3 refused" in out and "row 5: tickets.phone_invalid [联系电话]" in out
    )
    assert report.exists()
    assert TicketEvent.objects.filter(ticket__idempotency_key="hotline:C-001").get().actor_id == hotline.pk
    call_command("import_tickets", str(path), "--no-progress")
    assert "0 created, 3 imported before, 3 refused" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("import_tickets", str(path), "--operator", "nobody-here")


def test_validate_only_agrees_with_the_import_across_batches(tmp_path, nanshan_building):
    """A call id repeated in a later batch: validate-only says 'imported before', as the import will."""
    line = f"C-7,咨询,{SANITATION},请问垃圾分类的投放时间是几点？,李强,13900139000,,2026-11-20 11:00,"
    path = _csv(tmp_path, [line, line.replace("C-7", "C-8"), line])
    checked = import_tickets(path, validate_only=True, batch_rows=1)
    assert checked.totals == {"created": 2, "existing": 1, "refused": 0}
    real = import_tickets(path, batch_rows=1)
    assert real.totals == checked.totals
    assert [r.outcome for r in real.rows] == [r.outcome for r in checked.rows]


def test_the_report_keeps_a_files_formulas_inert(tmp_path, nanshan_building):
    line = (
        f"=HYPERLINK(1),咨询,{SANITATION},请问垃圾分类的投放时间是几点？,李强,13900139000,,2026-11-20 11:00,"
    )
    summary = import_tickets(_csv(tmp_path, [line]))
    report = tmp_path / "report.csv"
    write_report(summary, report)
    with open(report, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_a_category_may_be_given_by_its_name(tmp_path, nanshan_building):
    from zhiwang.tickets.models import Category

    name = Category.objects.get(code=SANITATION).name
    line = f"C-21,投诉,{name},小区门口垃圾堆了三天没人清运。,王敏,13800138000,{nanshan_building.code},2026-11-20 10:05,"
    summary = import_tickets(_csv(tmp_path, [line]))
    assert summary.totals["created"] == 1
    assert Ticket.objects.get(idempotency_key="hotline:C-21").category.code == SANITATION


def test_a_control_character_in_a_call_refuses_that_row_only(tmp_path, nanshan_building):
    """A NUL in one cell (PostgreSQL refuses it in text) is that row's error, not the batch's."""
    lines = [
        f"C-001,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,{nanshan_building.code},2026/11/20 10:05,",
        f"C-002,投诉,{SANITATION},楼下\x00噪音很大很大。,赵\x00六,,{nanshan_building.code},2026-11-20 12:00,",
    ]
    summary = import_tickets(_csv(tmp_path, lines, encoding="utf-8"))
    assert summary.totals["created"] == 1 and summary.totals["refused"] == 1
    assert Ticket.objects.filter(description__contains="垃圾堆").exists()
    [refused] = [r for r in summary.rows if r.outcome == "refused"]
    assert (refused.row, refused.code, refused.field) == (4, "tickets.invalid", "description")
