"""Governance index (formula, ranking, red/black list) and reports (Excel, PDF, progress)."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from django.urls import reverse

from zhiwang.analytics import services
from zhiwang.analytics.index import governance_index_compute, score, validate_weights
from zhiwang.analytics.models import GovernanceIndex, IndexFormula, Report
from zhiwang.core.errors import ServiceError

from .conftest import HISTORY_END, MONTH_ENDED


def test_score_formula():
    weights = {"on_time_closure_rate": 1, "rework_rate": 1}
    assert score({"on_time_closure_rate": 0.8, "rework_rate": 0.2}, weights) == 80.0
    assert score({"on_time_closure_rate": 0.5}, weights) == 50.0  # missing indicators are left out
    assert score({}, weights) is None
    with pytest.raises(ServiceError):
        validate_weights({"happiness": 1})
    with pytest.raises(ServiceError):
        validate_weights({"rework_rate": -1})


@pytest.mark.django_db
def test_index_ranks_and_lists(history, city_leader, nanshan_dispatcher, client):
    # no minimum volume: the 30-ticket history leaves no place 5 tickets due to close in the month
    IndexFormula.objects.create(name="测试", red_count=1, black_count=1, min_volume=0)
    month = HISTORY_END.date().replace(day=1)
    assert governance_index_compute(month=month, now=MONTH_ENDED) > 0
    rows = (
        GovernanceIndex.objects.filter(month=month, level="subdistrict").exclude(rank=None).order_by("rank")
    )
    assert rows[0].standing == "red"
    if rows.count() > 1:
        assert rows.last().standing == "black"
    scores = [r.score for r in rows]
    assert scores == sorted(scores, reverse=True)
    client.force_login(city_leader)
    page = client.get(reverse("analytics:index"), {"month": month.strftime("%Y-%m")})
    assert page.status_code == 200 and "on_time_closure_rate" in page.content.decode()
    body = client.get("/api/v1/analytics/index").json()
    assert body["rows"] and body["formula"]["name"] == "测试"
    # a district dispatcher sees only their district's subdistricts
    client.force_login(nanshan_dispatcher)
    codes = [r["division"] for r in client.get("/api/v1/analytics/index").json()["rows"]]
    assert all(code.startswith("440305") for code in codes)


@pytest.mark.django_db
def test_report_excel_and_pdf(history, city_leader, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(city_leader)
    response = client.post(
        "/api/v1/analytics/reports",
        {"division": "440305000000", "period": "2026-11", "idempotency_key": "r-1"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    again = client.post(
        "/api/v1/analytics/reports",
        {"division": "440305000000", "period": "2026-11", "idempotency_key": "r-1"},
        content_type="application/json",
    )
    assert again.status_code == 200 and Report.objects.count() == 1
    report = Report.objects.get()
    # immediate task mode in tests runs at commit; run it here if the worker has not yet
    if report.status != "done":
        services.report_generate(report_id=report.pk)
        report.refresh_from_db()
    assert report.status == "done" and report.progress == 100
    from openpyxl import load_workbook

    xlsx = client.get(reverse("analytics:report_download", args=[report.pk, "xlsx"]))
    book = load_workbook(BytesIO(b"".join(xlsx.streaming_content)))
    assert book.worksheets[1]._charts, "the trend sheet carries a native chart"
    pdf = b"".join(
        client.get(reverse("analytics:report_download", args=[report.pk, "pdf"])).streaming_content
    )
    assert pdf.startswith(b"%PDF")
    assert client.get(f"/api/v1/analytics/reports/{report.pk}").json()["status"] == "done"


@pytest.mark.django_db
def test_report_bad_input_leaves_no_trace(city_leader, nanshan_dispatcher, client):
    client.force_login(city_leader)
    bad = client.post("/api/v1/analytics/reports", {"period": "2026-13"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "period"
    client.force_login(nanshan_dispatcher)
    hidden = client.post(
        "/api/v1/analytics/reports",
        {"division": "440303000000", "period": "2026-Q2"},
        content_type="application/json",
    )
    assert hidden.status_code == 404
    assert not Report.objects.exists()
    assert services.report_period("2026-Q4") == (date(2026, 10, 1), date(2027, 1, 1))


@pytest.mark.django_db
def test_a_report_whose_worker_died_is_given_up_and_its_key_retries(
    city_leader, client, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """A worker killed mid-report (SystemExit escapes ``except Exception``) left it "running" for
    ever, the page polling every 2 s and the same key answering the stuck row."""
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.analytics import reports

    settings.MEDIA_ROOT = tmp_path
    real_build = reports.build_report_files

    def dies(report, *, progress):
        progress(30)
        raise SystemExit("killed")

    monkeypatch.setattr(reports, "build_report_files", dies)
    client.force_login(city_leader)
    body = {"division": "440305000000", "period": "2026-10", "idempotency_key": "dies"}
    assert client.post("/api/v1/analytics/reports", body, content_type="application/json").status_code == 201
    report = Report.objects.get()
    with pytest.raises(SystemExit):
        services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert (report.status, report.progress) == ("running", 30)
    assert services.reports_give_up_stale() == 0  # still within the grace time
    later = timezone.now() + timedelta(minutes=settings.ZHIWANG_REPORT_STALE_MINUTES + 1)
    assert services.reports_give_up_stale(now=later) == 1
    report.refresh_from_db()
    assert report.status == "failed" and "no progress" in report.error
    shown = client.get(f"/api/v1/analytics/reports/{report.pk}").json()
    assert shown["status"] == "failed" and "killed" not in shown["error"] and shown["error"]
    page = client.get(reverse("analytics:reports")).content.decode()
    assert "hx-trigger" not in page  # no more polling

    monkeypatch.setattr(reports, "build_report_files", real_build)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs at commit (immediate mode)
        again = client.post("/api/v1/analytics/reports", body, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == report.pk
    report.refresh_from_db()
    assert Report.objects.count() == 1 and report.status == "done" and report.error == ""


@pytest.mark.django_db
def test_a_failed_report_shows_no_library_words(city_leader, client, settings, tmp_path, monkeypatch):
    from zhiwang.analytics import reports

    settings.MEDIA_ROOT = tmp_path

    def fails(report, *, progress):
        raise ValueError("/srv/zhiwang/media/reports/x.xlsx: disk quota exceeded")

    monkeypatch.setattr(reports, "build_report_files", fails)
    client.force_login(city_leader)
    client.post(
        "/api/v1/analytics/reports",
        {"division": "440305000000", "period": "2026-10", "idempotency_key": "f"},
        content_type="application/json",
    )
    report = Report.objects.get()
    with pytest.raises(ValueError):
        services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "failed" and "disk quota" in report.error  # for the administrator
    shown = client.get(f"/api/v1/analytics/reports/{report.pk}").json()
    assert "disk quota" not in shown["error"]
    assert "disk quota" not in client.get(reverse("analytics:reports")).content.decode()
