"""A report stuck "running" after its worker died: the page says it appears stuck (to an
administrator: check the task worker) and lets whoever may request reports of its place run it
again, the same report, queued once however often the button is clicked."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from zhiwang.analytics import services
from zhiwang.analytics.models import Report, ReportStatus
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """The reports handed to the task queue (none is made: the test looks at the queueing); the
    queueing waits for the commit, so the steps run inside ``committed``."""
    calls: list[int] = []
    monkeypatch.setattr(services, "_enqueue_report", calls.append)
    return calls


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what waits for the commit (the queueing) at the block's end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _running(user, *, minutes: float, key: str = "stuck", progress: int = 30) -> Report:
    """A report of Nanshan running, its last progress ``minutes`` ago."""
    made = Report.objects.create(
        division=Division.objects.get(code="440305000000"),
        period="2025-10",
        start=date(2025, 10, 1),
        end=date(2025, 11, 1),
        idempotency_key=services.report_key(user, key),
        requested_by=user,
    )
    since = timezone.now() - timedelta(minutes=minutes)
    Report.objects.filter(pk=made.pk).update(
        status=ReportStatus.RUNNING, progress=progress, created_at=since, updated_at=since
    )
    made.refresh_from_db()
    return made


def _status(client, user, report, language="en") -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(reverse("analytics:report_status", args=[report.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_a_report_without_progress_for_a_quarter_hour_says_it_appears_stuck(client, admin_user, city_leader):
    moving = _running(city_leader, minutes=5, key="moving")
    assert "report-stuck" not in _status(client, city_leader, moving)
    stuck = _running(city_leader, minutes=16)
    for_leader = _status(client, city_leader, stuck)
    assert 'data-testid="report-stuck"' in for_leader
    assert "appears stuck" in for_leader and "no progress for 16 minutes" in for_leader
    assert "tell the administrator" in for_leader and "run_huey" not in for_leader
    assert f'action="{reverse("analytics:report_rerun", args=[stuck.pk])}"' in for_leader
    assert 'data-testid="report-rerun"' in for_leader
    for_admin = _status(client, admin_user, stuck)
    assert "task worker has probably stopped" in for_admin and "<code>zhiwang run_huey</code>" in for_admin
    assert 'data-testid="report-rerun"' in for_admin
    # still polled: the hint goes if the run moves again
    assert 'hx-trigger="every 2s"' in for_admin
    # the list shows it once, for the stuck report only
    client.force_login(city_leader)
    page = client.get(reverse("analytics:reports")).content.decode()
    assert page.count('data-testid="report-stuck"') == 1
    # queued (the queued hint's case), done or failed: not stuck, whatever its age
    for status in (ReportStatus.QUEUED, ReportStatus.DONE, ReportStatus.FAILED):
        Report.objects.filter(pk=stuck.pk).update(status=status)
        assert "report-stuck" not in _status(client, admin_user, Report.objects.get(pk=stuck.pk)), status


def test_running_a_stuck_report_again_queues_it_once(
    client, city_leader, nanshan_dispatcher, enqueued, committed
):
    """Anybody who may request a report of Nanshan may run the stuck one again (not only its
    requester): the same report is queued again, from 0 %; a second click (or a double click)
    queues nothing more, and no second report is made."""
    stuck = _running(city_leader, minutes=20)
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    url = reverse("analytics:report_rerun", args=[stuck.pk])
    assert client.get(url).status_code == 405  # a change: POST only
    with committed():
        done = client.post(url, follow=True)
    assert done.redirect_chain[-1][0] == reverse("analytics:reports")
    assert "The report was queued again." in done.content.decode()
    stuck.refresh_from_db()
    assert (stuck.status, stuck.progress, stuck.error) == (ReportStatus.QUEUED, 0, "")
    assert timezone.now() - stuck.updated_at < timedelta(minutes=1)
    assert enqueued == [stuck.pk]
    with committed():
        again = client.post(url, follow=True)
    assert "no longer stuck" in again.content.decode()
    assert enqueued == [stuck.pk] and Report.objects.count() == 1
    # the service is idempotent on its own too (two requests at once: one conditional update wins)
    with committed():
        assert services.report_rerun(user=city_leader, report_id=stuck.pk) == (stuck, False)
    assert enqueued == [stuck.pk]


def test_a_report_that_moves_is_not_run_again(client, city_leader, enqueued, committed):
    moving = _running(city_leader, minutes=3)
    client.force_login(city_leader)
    with committed():
        client.post(reverse("analytics:report_rerun", args=[moving.pk]))
    moving.refresh_from_db()
    assert moving.status == ReportStatus.RUNNING and moving.progress == 30 and enqueued == []


def test_another_districts_report_cannot_be_run_again(
    client, city_leader, luohu_dispatcher, enqueued, committed
):
    stuck = _running(city_leader, minutes=20)
    client.force_login(luohu_dispatcher)
    with committed():
        assert client.post(reverse("analytics:report_rerun", args=[stuck.pk])).status_code == 404
        assert client.post(reverse("analytics:report_rerun", args=[2**63])).status_code == 404
    stuck.refresh_from_db()
    assert stuck.status == ReportStatus.RUNNING and enqueued == []


def test_sending_a_stuck_reports_key_again_queues_it_again_once(client, city_leader, enqueued, committed):
    """The API's retry (the same idempotency key) treats a stuck report as a failed one: queued
    again, the same report; sent again at once, nothing more."""
    stuck = _running(city_leader, minutes=20, key="api-stuck")
    client.force_login(city_leader)
    body = {"division": "440305000000", "period": "2025-10", "idempotency_key": "api-stuck"}
    for _ in range(2):
        with committed():
            response = client.post("/api/v1/analytics/reports", body, content_type="application/json")
        assert response.status_code == 200
        assert response.json()["id"] == stuck.pk and response.json()["status"] == "queued"
    assert enqueued == [stuck.pk] and Report.objects.count() == 1
    # a report running and moving is left to its run
    moving = _running(city_leader, minutes=2, key="api-moving")
    body["idempotency_key"] = "api-moving"
    with committed():
        response = client.post("/api/v1/analytics/reports", body, content_type="application/json")
    assert response.json()["status"] == "running"
    assert enqueued == [stuck.pk] and moving.pk not in enqueued


def test_a_stuck_run_that_wakes_stops_without_writing(
    city_leader, enqueued, committed, monkeypatch, frozen_now
):
    """The run that was stuck, should it wake after the report was queued again, finds the report
    no longer its own at its next step and stops without writing; the new run makes the files."""
    from zhiwang.analytics import reports

    stuck = _running(city_leader, minutes=0)
    Report.objects.filter(pk=stuck.pk).update(status=ReportStatus.QUEUED)
    steps = []

    def build(report, *, progress):
        # the run hangs for 20 minutes after its claim; meanwhile somebody runs the report again
        frozen_now(frozen_now.initial + timedelta(minutes=20))
        assert services.report_rerun(user=city_leader, report_id=report.pk)[1]
        steps.append("woke")
        progress(50)
        steps.append("wrote")

    monkeypatch.setattr(reports, "build_report_files", build)
    with committed():
        services.report_generate(report_id=stuck.pk)
    assert steps == ["woke"]
    stuck.refresh_from_db()
    assert (stuck.status, stuck.progress) == (ReportStatus.QUEUED, 0) and enqueued == [stuck.pk]
