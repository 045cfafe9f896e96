"""Reports are official documents: always in the city's language (English review, F4); a report of a
period that has not ended says plainly that it covers only up to the day it was made."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from zhiwang.analytics import services
from zhiwang.analytics.models import Report

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


def _quarter(day) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _last_month(day) -> str:
    return f"{day.replace(day=1) - timedelta(days=1):%Y-%m}"


def _make(user, period, key, language="en"):
    """Request and make a report with ``language`` active, as immediate tasks run it for an
    English requester."""
    with translation.override(language):
        report, _created = services.report_request(
            user=user, division_code="440305000000", period=period, idempotency_key=key
        )
        services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "done"
    return report


def _book(report):
    from openpyxl import load_workbook

    with report.xlsx.open("rb") as f:
        return load_workbook(BytesIO(f.read()))


def _pdf_title(report) -> str:
    """The PDF's document title (reportlab writes it as an escaped UTF-16 literal string)."""
    with report.pdf.open("rb") as f:
        raw = f.read()
    literal = re.search(rb"/Title \((.*?)\) /Trapped", raw, re.S)[1]
    unescaped = re.sub(
        rb"\\([0-7]{3}|.)", lambda m: bytes([int(m[1], 8)]) if len(m[1]) == 3 else m[1], literal
    )
    return unescaped.decode("utf-16") if unescaped.startswith(b"\xfe\xff") else unescaped.decode("latin-1")


def test_a_report_made_for_an_english_requester_is_in_the_citys_language(city_leader, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report = _make(city_leader, _last_month(timezone.localdate()), "en-1", "en")
    book = _book(report)
    assert book.sheetnames[:3] == ["概况", "趋势", "分类"], book.sheetnames
    title = book.worksheets[0]["A1"].value
    assert title.startswith("南山区") and "ticket report" not in title and CJK.search(title)
    assert _pdf_title(report) == title


def test_the_same_report_whichever_language_made_it(city_leader, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    period = _last_month(timezone.localdate())
    english = _book(_make(city_leader, period, "a", "en"))
    chinese = _book(_make(city_leader, period, "b", "zh-hans"))
    assert english.sheetnames == chinese.sheetnames
    assert english.worksheets[0]["A1"].value == chinese.worksheets[0]["A1"].value


def test_a_report_of_a_period_not_ended_says_it_covers_up_to_today(city_leader, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    today = timezone.localdate()
    report = _make(city_leader, _quarter(today), "q", "zh-hans")
    book = _book(report)
    summary = book.worksheets[0]
    assert today.isoformat() in summary["A1"].value  # the title says up to when
    assert today.isoformat() in summary["A3"].value  # and a sentence under it
    days = [row[0].value for row in book.worksheets[1].iter_rows(min_row=2)]
    assert days and max(days).date() == today  # no empty days after today in the trend
    assert today.isoformat() in _pdf_title(report)
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("analytics:reports")).content.decode()
    partial = re.search(r'data-testid="report-partial">([^<]*)<', page)
    assert partial and today.isoformat() in partial[1] and "not ended" in partial[1]


def test_a_report_of_an_ended_period_has_no_such_note(city_leader, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    today = timezone.localdate()
    report = _make(city_leader, _last_month(today), "m")
    summary = _book(report).worksheets[0]
    assert today.isoformat() not in summary["A1"].value and summary["A3"].value is None
    client.force_login(city_leader)
    assert "report-partial" not in client.get(reverse("analytics:reports")).content.decode()


def test_a_queued_report_of_a_running_period_says_so(city_leader, client):
    today = timezone.localdate()
    Report.objects.create(
        division=_nanshan(),
        period=_quarter(today),
        start=today.replace(day=1),
        end=today + timedelta(days=40),
        idempotency_key="queued",
        requested_by=city_leader,
    )
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("analytics:reports")).content.decode()
    assert 'data-testid="report-partial"' in page and "up to today" in page


def _nanshan():
    from zhiwang.geo.models import Division

    return Division.objects.get(code="440305000000")


def test_a_period_that_has_not_begun_is_refused(city_leader):
    from zhiwang.core.errors import ServiceError

    next_year = timezone.localdate().year + 1
    with pytest.raises(ServiceError) as refused:
        services.report_request(user=city_leader, division_code="440305000000", period=f"{next_year}-01")
    assert (refused.value.code, refused.value.field) == ("analytics.period_not_started", "period")
    assert not Report.objects.exists()
