"""Walkthrough fixes of the hotline import: an impossible call time refuses its row (not the run),
a category left empty that the model cannot place, the column a reason is reported under, and
several reasons joined as sentences."""

from __future__ import annotations

import csv

import pytest
from django.utils import translation
from django.utils.translation import gettext

from tests.tickets.conftest import SANITATION
from zhiwang.tickets.hotline_import import import_tickets, join_messages, write_report
from zhiwang.tickets.models import Ticket, TicketImport, TicketImportStatus
from zhiwang.tickets.tasks import ticket_import_run

pytestmark = pytest.mark.django_db

HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,来电时间,经度"
BAD_TIME = "Write the call time as 2026-11-20 10:05."


def _csv(tmp_path, lines: list[str]):
    path = tmp_path / "calls.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _three_rows(middle: str) -> list[str]:
    return [
        f"T-001,咨询,{SANITATION},请问垃圾分类的投放时间是几点？,王敏,,2026-11-20 10:05,",
        middle,
        f"T-003,咨询,{SANITATION},请问大件垃圾怎么预约清运？,李强,,2026-11-20 11:00,",
    ]


@pytest.mark.parametrize("moment", ["2026-13-45", "2026-11-20 25:00", "2026/02/30 10:00", "0000-01-01"])
def test_an_impossible_call_time_refuses_its_row_and_the_others_are_imported(tmp_path, moment):
    middle = f"T-002,咨询,{SANITATION},请问厨余垃圾怎么投放？,赵六,,{moment},"
    summary = import_tickets(_csv(tmp_path, _three_rows(middle)))
    assert [r.outcome for r in summary.rows] == ["created", "refused", "created"]
    refused = summary.rows[1]
    assert (refused.code, refused.field, refused.column) == ("tickets.bad_time", "received_at", "来电时间")
    assert refused.message == gettext(BAD_TIME)
    assert set(Ticket.objects.values_list("idempotency_key", flat=True)) == {"hotline:T-001", "hotline:T-003"}


@pytest.mark.parametrize("lon", ["nan", "inf", "1e999"])
def test_a_coordinate_that_is_no_finite_number_refuses_its_row(tmp_path, lon):
    middle = f"T-002,咨询,{SANITATION},请问厨余垃圾怎么投放？,赵六,,2026-11-20 10:30,{lon}"
    summary = import_tickets(_csv(tmp_path, _three_rows(middle)))
    assert [r.outcome for r in summary.rows] == ["created", "refused", "created"]
    assert (summary.rows[1].code, summary.rows[1].field) == ("geo.not_a_number", "lon")


def test_the_run_of_a_file_with_an_impossible_time_ends_done_not_failed(tmp_path, settings, hotline):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = _csv(tmp_path, _three_rows(f"T-002,咨询,{SANITATION},请问厨余垃圾怎么投放？,赵六,,2026-13-45,"))
    run = TicketImport(channel="hotline", file_name="calls.csv", created_by=hotline)
    with open(path, "rb") as handle:
        from django.core.files import File

        run.file.save("calls.csv", File(handle), save=False)
    run.save()
    run = ticket_import_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TicketImportStatus.DONE and (run.created, run.refused) == (2, 1)
    assert [r["code"] for r in run.refused_rows] == ["tickets.bad_time"]
    assert run.refused_rows[0]["column"] == "来电时间"


GIBBERISH = "qzxv wplk mmrt yyqo bbzn"  # no category of the catalogue can be inferred from it


def test_an_empty_category_the_model_cannot_place_asks_for_the_column(tmp_path):
    summary = import_tickets(_csv(tmp_path, [f"T-010,咨询,,{GIBBERISH},王敏,,2026-11-20 10:05,"]))
    [row] = summary.rows
    assert row.outcome == "refused"
    assert (row.code, row.field, row.column) == ("tickets.category_not_inferred", "category", "分类编码")
    assert "catalogue" not in row.message


def test_an_unknown_category_written_in_the_file_is_still_refused_as_unknown(tmp_path):
    summary = import_tickets(_csv(tmp_path, [f"T-011,咨询,999999,{GIBBERISH},王敏,,2026-11-20 10:05,"]))
    assert summary.rows[0].code == "tickets.category_unknown"


def test_an_empty_description_is_reported_under_its_own_column(tmp_path):
    summary = import_tickets(_csv(tmp_path, ["T-012,咨询,,,王敏,,2026-11-20 10:05,"]))
    [row] = summary.rows
    assert row.outcome == "refused" and (row.field, row.column) == ("description", "诉求内容")
    with translation.override("zh-hans"):
        summary = import_tickets(_csv(tmp_path, ["T-012,咨询,,,王敏,,2026-11-20 10:05,"]))
    assert "。;" not in summary.rows[0].message


def test_reasons_are_joined_as_sentences():
    assert join_messages(["请描述问题。", "电话号码无效。"]) == "请描述问题。电话号码无效。"
    assert join_messages(["Describe it.", "Bad phone."]) == "Describe it. Bad phone."
    from django.utils import translation

    with translation.override("en"):
        assert join_messages(["a", "b"]) == "a; b"
    with translation.override("zh-hans"):
        assert join_messages(["a", "b"]) == "a；b"


def test_the_report_shows_the_files_headers_and_no_derived_call_id(tmp_path):
    lines = [f",咨询,{SANITATION},请问厨余垃圾怎么投放？,赵六,call me,2026-11-20 10:30,"]
    summary = import_tickets(_csv(tmp_path, lines))
    [row] = summary.rows
    assert row.outcome == "refused" and row.derived and row.external_id.startswith("row-")
    report = tmp_path / "report.csv"
    write_report(summary, report)
    with open(report, encoding="utf-8-sig", newline="") as handle:
        header, line = list(csv.reader(handle))
    assert line[header.index("来电编号")] == ""
    assert line[header.index("字段")] == "联系电话"
    assert line[header.index("错误代码")] == "tickets.phone_invalid"
