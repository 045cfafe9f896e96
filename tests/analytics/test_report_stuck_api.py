"""The API says what the reports page says of a report running with no progress: ``stuck`` (by the
page's own function, ``services.report_stuck``) and ``stalled_minutes`` since its last progress
step, so a client can offer to run it again (its idempotency key sent again) as the page does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.analytics.test_report_stuck import _running, _status, committed, enqueued  # noqa: F401
from zhiwang.analytics import services
from zhiwang.analytics.models import Report, ReportStatus

pytestmark = pytest.mark.django_db


def _api(client, user, report) -> dict:
    client.force_login(user)
    response = client.get(f"/api/v1/analytics/reports/{report.pk}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_api_says_a_report_appears_stuck_as_the_page_does(client, city_leader):
    moving = _running(city_leader, minutes=5, key="moving")
    stuck = _running(city_leader, minutes=16)
    # just under and just over the quarter-hour
    under = _running(city_leader, minutes=14.9, key="under")
    over = _running(city_leader, minutes=15.1, key="over")
    for report, expected, minutes in (
        (moving, False, 5),
        (under, False, 14),
        (over, True, 15),
        (stuck, True, 16),
    ):
        body = _api(client, city_leader, report)
        assert body["status"] == "running"
        assert body["stuck"] is expected, report.idempotency_key
        assert body["stalled_minutes"] == minutes
        # the same answer as the page's status cell, which polls the same report
        assert ('data-testid="report-stuck"' in _status(client, city_leader, report)) is expected
        assert services.report_stuck(report) is expected


def test_a_report_not_running_is_neither_stuck_nor_stalled(client, city_leader):
    """Queued (however long: the queued hint's case), done or failed: nothing is expected to move."""
    old = _running(city_leader, minutes=60)
    for status in (ReportStatus.QUEUED, ReportStatus.DONE, ReportStatus.FAILED):
        Report.objects.filter(pk=old.pk).update(status=status)
        body = _api(client, city_leader, old)
        assert (body["status"], body["stuck"], body["stalled_minutes"]) == (status, False, None)


def test_a_report_run_again_is_no_longer_stuck(client, city_leader, nanshan_dispatcher, enqueued, committed):  # noqa: F811
    stuck = _running(city_leader, minutes=20, key="api-stuck")
    assert _api(client, nanshan_dispatcher, stuck)["stuck"] is True
    # the page's button, by another analyst of Nanshan
    with committed():
        client.post(reverse("analytics:report_rerun", args=[stuck.pk]))
    body = _api(client, nanshan_dispatcher, stuck)
    assert (body["status"], body["stuck"], body["stalled_minutes"]) == ("queued", False, None)
    # the key sent again answers the same (the request's answer carries the flag too)
    client.force_login(city_leader)
    again = _running(city_leader, minutes=30, key="api-again")
    body = {"division": "440305000000", "period": "2025-10", "idempotency_key": "api-again"}
    with committed():
        answer = client.post("/api/v1/analytics/reports", body, content_type="application/json").json()
    assert answer["id"] == again.pk
    assert (answer["status"], answer["stuck"], answer["stalled_minutes"]) == ("queued", False, None)
    assert enqueued == [stuck.pk, again.pk]


def test_a_report_of_another_district_is_not_found(client, city_leader, luohu_dispatcher):
    stuck = _running(city_leader, minutes=20)
    client.force_login(luohu_dispatcher)
    response = client.get(f"/api/v1/analytics/reports/{stuck.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "analytics.report_not_found"


def test_stalled_minutes_counts_from_the_request_when_no_step_was_written(client, city_leader):
    report = _running(city_leader, minutes=0, key="no-step")
    Report.objects.filter(pk=report.pk).update(
        updated_at=None, created_at=report.created_at - timedelta(minutes=40)
    )
    body = _api(client, city_leader, Report.objects.get(pk=report.pk))
    assert body["stuck"] is True and body["stalled_minutes"] == 40
