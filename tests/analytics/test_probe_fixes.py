"""``POST /api/v1/analytics/reports``: an idempotency key sent again for another report is refused."""

from __future__ import annotations

import pytest

from zhiwang.analytics.models import Report

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/reports"


def _request(client, **body):
    return client.post(URL, body, content_type="application/json")


def test_a_key_sent_again_for_another_period_or_place_is_422(
    nanshan_dispatcher, nanshan_community, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(nanshan_dispatcher)
    first = _request(client, period="2026-10", idempotency_key="r1")
    assert first.status_code == 201, first.json()
    for other in (
        {"period": "2026-09"},
        {"period": "2026-Q4"},
        {"period": "2026-10", "division": nanshan_community.parent.code},  # a subdistrict, not the district
    ):
        answer = _request(client, idempotency_key="r1", **other)
        assert answer.status_code == 422, (other, answer.json())
        error = answer.json()["error"]
        assert error["code"] == "analytics.idempotency_key_reused" and error["field"] == "idempotency_key"
    assert Report.objects.count() == 1
    assert Report.objects.get().period == "2026-10"


def test_the_same_request_spelled_otherwise_answers_the_first_report(
    nanshan_dispatcher, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(nanshan_dispatcher)
    first = _request(client, period="2026-10", idempotency_key="r2").json()
    # the default place named, and the period as the parser cleans it: the same report
    again = _request(client, period=" 2026-10 ", division="440305000000", idempotency_key="r2")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first["id"] and first["division"] == "440305000000"


def test_a_failed_report_is_retried_only_by_its_own_request(nanshan_dispatcher, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(nanshan_dispatcher)
    first = _request(client, period="2026-10", idempotency_key="r3").json()
    Report.objects.filter(pk=first["id"]).update(status="failed", error="boom")
    other = _request(client, period="2026-09", idempotency_key="r3")
    assert other.status_code == 422
    assert Report.objects.get(pk=first["id"]).status == "failed"  # not queued again for the wrong period
    retried = _request(client, period="2026-10", idempotency_key="r3")
    assert retried.status_code == 200 and retried.json()["status"] in ("queued", "running", "done")
