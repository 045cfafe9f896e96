# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""What a hotline import's page says of who started it, read in Chinese, and the example file.

- Run again once and run again several times are two sentences, not one plural: Chinese has a
  single plural form, so the plural entry said "已重新运行 1 次，最近一次由…" for one re-run.
- Chinese puts no space between two sentences ("…上传。已由…"); English keeps one.
- The example file's calls were received before the download, also early in the morning (its
  times were 09:30 and 10:05 today: every row was refused before 10:05 as received in the future).

The Chinese entries of the two re-run sentences are new in this change: the tests give the
catalog the entries the lead adds."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    city_dispatcher,
    frozen_now,
    hotline,
    nanshan_building,
    nanshan_community,
)
from tests.tickets.test_inactive_actor import make_run
from zhiwang.core.sentences import sentence_gap
from zhiwang.tickets.models import Ticket, TicketImport, TicketImportStatus

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
ONCE = (
    "an import run again once",
    "Run again by %(who)s on %(when)s: the tickets created since are filed as their work.",
    "已由 %(who)s 于 %(when)s 重新运行：此后新建的工单记在其名下。",
)
SEVERAL = (
    "an import run again several times",
    "Run again %(count)s times, last by %(who)s on %(when)s: each run's tickets are filed as the "
    "work of whoever ran it.",
    "已重新运行 %(count)s 次，最近一次由 %(who)s 于 %(when)s 发起：每次运行新建的工单均记在发起人名下。",
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _catalog():
    return translation.trans_real.translation("zh-hans")._catalog._catalogs[0]


@pytest.fixture
def chinese_catalog(monkeypatch):
    """The zh-hans entries as the catalog will have them."""
    for context, msgid, msgstr in (ONCE, SEVERAL):
        monkeypatch.setitem(_catalog(), f"{context}\x04{msgid}", msgstr)


def _restart(run: TicketImport, by, count: int) -> TicketImport:
    TicketImport.objects.filter(pk=run.pk).update(
        restarted_by=by, restarted_at=timezone.now(), restart_count=count, status=TicketImportStatus.DONE
    )
    run.refresh_from_db()
    return run


def _hint(client, run, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(f"/call-imports/{run.pk}/")
    assert response.status_code == 200
    found = re.search(r'<p class="hint">(.*?)</p>', response.content.decode(), re.S)
    return re.sub(r"<[^>]+>", "", found.group(1))  # the text as read (the span's tags dropped)


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def test_run_again_once_reads_naturally_in_chinese_without_a_space_between_the_sentences(
    client, hotline, city_dispatcher, nanshan_building, chinese_catalog
):
    run = _restart(make_run(hotline, nanshan_building), city_dispatcher, 1)
    client.force_login(hotline)
    hint = _hint(client, run, "zh-hans")
    assert hint == (
        f"{hotline.display_name} 于 {_when(run.created_at)} 上传。"
        f"已由 {city_dispatcher.display_name} 于 {_when(run.restarted_at)} 重新运行：此后新建的工单记在其名下。"
    ), hint
    assert "1 次" not in hint and "。 " not in hint


def test_run_again_several_times_counts_in_chinese(
    client, hotline, city_dispatcher, nanshan_building, chinese_catalog
):
    run = _restart(make_run(hotline, nanshan_building), city_dispatcher, 3)
    client.force_login(hotline)
    hint = _hint(client, run, "zh-hans")
    assert hint.endswith(
        f"上传。已重新运行 3 次，最近一次由 {city_dispatcher.display_name} 于 {_when(run.restarted_at)} "
        "发起：每次运行新建的工单均记在发起人名下。"
    ), hint


def test_in_english_the_sentences_keep_their_space_and_one_re_run_is_not_counted(
    client, hotline, city_dispatcher, nanshan_building, chinese_catalog
):
    run = _restart(make_run(hotline, nanshan_building), city_dispatcher, 1)
    client.force_login(hotline)
    assert _hint(client, run, "en") == (
        f"Uploaded by {hotline.display_name} on {_when(run.created_at)}. "
        f"Run again by {city_dispatcher.display_name} on {_when(run.restarted_at)}: "
        "the tickets created since are filed as their work."
    )
    never = make_run(hotline, nanshan_building)  # never run again: the upload alone, no trailing space
    assert _hint(client, never, "en") == f"Uploaded by {hotline.display_name} on {_when(never.created_at)}."


def test_a_translation_that_kept_the_count_does_not_break_the_page(
    client, hotline, city_dispatcher, nanshan_building, monkeypatch
):
    # the plural entry's Chinese carried over to the new sentence (msgmerge matches it by its text)
    context, msgid, _ = ONCE
    monkeypatch.setitem(_catalog(), f"{context}\x04{msgid}", SEVERAL[2])
    run = _restart(make_run(hotline, nanshan_building), city_dispatcher, 1)
    client.force_login(hotline)
    assert "已重新运行 1 次" in _hint(client, run, "zh-hans")


def test_the_names_in_the_sentences_are_escaped(client, hotline, city_dispatcher, nanshan_building):
    city_dispatcher.full_name = "<b>许峰</b>"
    city_dispatcher.save(update_fields=["full_name"])
    run = _restart(make_run(hotline, nanshan_building), city_dispatcher, 1)
    client.force_login(hotline)
    client.cookies["django_language"] = "en"
    html = client.get(f"/call-imports/{run.pk}/").content.decode()
    assert "&lt;b&gt;许峰&lt;/b&gt;" in html and "<b>许峰" not in html


@pytest.mark.parametrize(
    ("before", "gap"),
    [("于 2026-11-23 10:00 上传。", ""), ("已核对：", ""), ("Uploaded on 2026-11-23.", " "), ("说明", " ")],
)
def test_sentence_gap(before, gap):
    assert sentence_gap(before) == gap


@pytest.mark.parametrize(
    "early", [datetime(2026, 11, 23, 6, 0, tzinfo=TZ), datetime(2026, 11, 23, 0, 10, tzinfo=TZ)]
)
def test_the_example_file_passes_the_check_early_in_the_morning(
    client, hotline, frozen_now, early, django_capture_on_commit_callbacks
):
    frozen_now(early)
    client.force_login(hotline)
    response = client.get("/call-imports/example.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    received = [datetime.strptime(row[-1], "%Y-%m-%d %H:%M").replace(tzinfo=TZ) for row in rows[1:]]
    assert len(received) == 2 and received[0] < received[1] < early, received
    assert early - received[0] <= timedelta(hours=2)  # recent calls, not a day-old backlog
    example = SimpleUploadedFile("example.csv", response.content, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/call-imports/", {"file": example, "channel": "hotline", "validate_only": "on"})
    run = TicketImport.objects.get()
    assert (run.status, run.rows_done, run.refused) == (TicketImportStatus.DONE, 2, 0), run.refused_rows
    assert not Ticket.objects.exists()
