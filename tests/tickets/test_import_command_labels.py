"""``zhiwang import-tickets`` names a refused row's column as the web import's report does: the
file's own header (电话, 类型, …), else the field's usual Chinese header — never the pipeline's
field name (``reporter_phone``), in either language.

Persona: the 12345 operator (``--operator``).
"""

from __future__ import annotations

import csv
import re

import pytest
from django.core.management import call_command
from django.utils import translation

from tests.tickets.conftest import SANITATION
from zhiwang.tickets.hotline_import import import_tickets, write_report

pytestmark = pytest.mark.django_db

#: Other accepted headers than the usual ones (联系电话, 诉求类型, 诉求内容, 经度).
OWN_HEADER = "来电编号,类型,分类编码,内容,姓名,电话,标准地址编码,来电时间,经度"
USUAL_HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,标准地址编码,来电时间,经度"


def calls_file(tmp_path, header: str, building) -> str:
    lines = [
        f"C-1,投诉,{SANITATION},楼下噪音很大。,赵六,call me,{building.code},2026-11-20 12:00,",  # phone
        f"C-2,闲聊,{SANITATION},随便说说这件事情。,孙七,,,2026-11-20 12:30,",  # kind
        f"C-3,投诉,{SANITATION},路灯不亮很久了。,周八,,{building.code},2026-11-20 13:00,东经",  # lon
    ]
    path = tmp_path / "calls.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return str(path)


def refused_lines(out: str) -> dict[str, tuple[str, str]]:
    """Row → (code, column) of the printed refusals."""
    found = re.findall(r"row (\d+): (\S+) \[([^\]]*)\] ", out)
    return {row: (code, column) for row, code, column in found}


def run(path: str, hotline, capsys) -> dict[str, tuple[str, str]]:
    call_command("import_tickets", path, "--no-progress", "--operator", hotline.username)
    return refused_lines(capsys.readouterr().out)


def test_the_command_names_the_files_own_columns(tmp_path, nanshan_building, hotline, capsys):
    refused = run(calls_file(tmp_path, OWN_HEADER, nanshan_building), hotline, capsys)
    assert refused == {
        "2": ("tickets.phone_invalid", "电话"),
        "3": ("tickets.kind_unknown", "类型"),
        "4": ("geo.not_a_number", "经度"),
    }


def test_the_usual_headers_and_no_field_names(tmp_path, nanshan_building, hotline, capsys):
    call_command(
        "import_tickets",
        calls_file(tmp_path, USUAL_HEADER, nanshan_building),
        "--no-progress",
        "--operator",
        hotline.username,
    )
    out = capsys.readouterr().out
    assert {column for _code, column in refused_lines(out).values()} == {"联系电话", "诉求类型", "经度"}
    for name in ("reporter_phone", "[kind]", "[lon]"):
        assert name not in out


def test_the_command_and_the_report_name_the_same_column_in_english_too(
    tmp_path, nanshan_building, hotline, capsys
):
    """The column is the file's text, whatever the language; the report (the web import's too)
    names the same one."""
    path = calls_file(tmp_path, OWN_HEADER, nanshan_building)
    with translation.override("en"):
        call_command("import_tickets", path, "--no-progress", "--validate-only")
        printed = refused_lines(capsys.readouterr().out)
    report = tmp_path / "report.csv"
    write_report(import_tickets(path, validate_only=True), report)
    with open(report, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    in_report = {row[0]: (row[4], row[5]) for row in rows if row[2] == "未通过"}
    assert printed == in_report
    assert {column for _code, column in printed.values()} == {"电话", "类型", "经度"}
