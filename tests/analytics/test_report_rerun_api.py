"""``POST /api/v1/analytics/reports/{id}/rerun``: the reports page's "Run the report again" for
a big-screen or integration client, by the page's own rule (``services.report_rerun``): a report
running with no progress for 15 minutes is queued again, the same report, by anybody who may
request a report of its division; anything else is 409 ``analytics.report_not_stuck``, nothing
queued; another district's report is 404 as every report endpoint answers it."""

from __future__ import annotations

import threading

import pytest
from django.urls import reverse

from tests.analytics import test_report_stuck as stuck_tests
from tests.analytics.test_report_stuck import _running, _status
from tests.threads import needs_row_locks, run_in_threads
from zhiwang.analytics import services
from zhiwang.analytics.models import Report, ReportStatus
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division

NANSHAN, LUOHU = "440305000000", "440303000000"

# the stuck-report tests' fixtures, as they are: the queue recorded, the commit run on demand
enqueued = stuck_tests.enqueued
committed = stuck_tests.committed


def _district_leader(code: str, username: str):
    from zhiwang.accounts.services import user_create

    return user_create(
        username=username,
        password=None,
        role="leader",
        full_name="区领导",
        jurisdictions=[Division.objects.get(code=code)],
    )


@pytest.fixture
def nanshan_leader(db):
    return _district_leader(NANSHAN, "ns_leader_rerun")


@pytest.fixture
def luohu_leader(db):
    """A leader of Luohu: Nanshan's reports are outside their jurisdiction."""
    return _district_leader(LUOHU, "lh_leader_rerun")


def _rerun(client, user, report_id, language="en"):
    if user is not None:
        client.force_login(user)
    client.cookies["django_language"] = language
    return client.post(f"/api/v1/analytics/reports/{report_id}/rerun", content_type="application/json")


@pytest.mark.django_db
def test_a_stuck_report_is_run_again_and_completes(
    client, city_leader, nanshan_leader, committed, settings, tmp_path
):
    """Given a report of Nanshan stuck for 20 minutes (requested by the city leader), when a
    leader of Nanshan runs it again through the API, then the same report is queued from 0 %,
    and the task (``ZHIWANG_TASKS=immediate``: at the commit) makes its files."""
    settings.MEDIA_ROOT = tmp_path
    stuck = _running(city_leader, minutes=20, key="rerun-happy")
    with committed():
        response = _rerun(client, nanshan_leader, stuck.pk)
        assert response.status_code == 200, response.content
        body = response.json()
        # answered before the commit: queued again, no longer stuck
        assert (body["id"], body["status"], body["progress"], body["stuck"]) == (stuck.pk, "queued", 0, False)
        assert body["stalled_minutes"] is None
    stuck.refresh_from_db()
    assert (stuck.status, stuck.progress, stuck.error) == (ReportStatus.DONE, 100, ""), stuck.error
    assert stuck.xlsx and stuck.pdf
    assert Report.objects.count() == 1  # the same report, no second one
    after = client.get(f"/api/v1/analytics/reports/{stuck.pk}").json()
    assert after["status"] == "done" and after["stuck"] is False
    assert after["xlsx"] == reverse("analytics:report_download", args=[stuck.pk, "xlsx"])


@pytest.mark.django_db
def test_a_report_not_stuck_is_refused_and_left_as_it_is(client, city_leader, enqueued, committed):
    """Running and moving, queued, done, failed: 409 ``analytics.report_not_stuck`` saying why,
    nothing queued, the report unchanged; the page offers no button for any of them either."""
    report = _running(city_leader, minutes=14, key="rerun-moving")
    expected = {
        ReportStatus.RUNNING: "it is running and has shown progress in the last 15 minutes",
        ReportStatus.QUEUED: "it is queued and will run as soon as the task worker takes it",
        ReportStatus.DONE: "it is done and its files are ready",
        ReportStatus.FAILED: "it failed. Request it again (its idempotency key sent again",
    }
    for status, words in expected.items():
        Report.objects.filter(pk=report.pk).update(status=status)
        before = Report.objects.values().get(pk=report.pk)
        assert 'data-testid="report-rerun"' not in _status(
            client, city_leader, Report.objects.get(pk=report.pk)
        )
        with committed():
            response = _rerun(client, city_leader, report.pk)
        assert response.status_code == 409, (status, response.content)
        error = response.json()["error"]
        assert error["code"] == "analytics.report_not_stuck"
        assert error["message"].startswith("This report is not stuck: ") and words in error["message"], status
        assert Report.objects.values().get(pk=report.pk) == before
    assert enqueued == [] and Report.objects.count() == 1
    # in the city's language too (the catalogue may not have it yet: then the English text)
    zh = _rerun(client, city_leader, report.pk, language="zh-hans")
    assert zh.status_code == 409 and zh.json()["error"]["code"] == "analytics.report_not_stuck"


@pytest.mark.django_db
def test_another_districts_report_is_not_found(client, city_leader, luohu_leader, enqueued, committed):
    """A leader of Luohu cannot run Nanshan's stuck report: 404 as ``GET /reports/{id}`` answers
    it (the report's existence is not told), nothing queued; nor an id that does not exist."""
    stuck = _running(city_leader, minutes=20, key="rerun-scope")
    client.force_login(luohu_leader)
    assert client.get(f"/api/v1/analytics/reports/{stuck.pk}").status_code == 404
    for report_id in (stuck.pk, 0, 2**63, 10**30):
        with committed():
            response = _rerun(client, luohu_leader, report_id)
        assert response.status_code == 404, (report_id, response.content)
        assert response.json()["error"]["code"] == "analytics.report_not_found"
    stuck.refresh_from_db()
    assert (stuck.status, stuck.progress) == (ReportStatus.RUNNING, 30) and enqueued == []


@pytest.mark.django_db
def test_anonymous_and_non_analysts_cannot_run_a_report_again(
    client, city_leader, citizen, grid_worker, enqueued, committed
):
    stuck = _running(city_leader, minutes=20, key="rerun-who")
    with committed():
        anonymous = _rerun(client, None, stuck.pk)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "auth.required"
    for user in (citizen, grid_worker):
        with committed():
            response = _rerun(client, user, stuck.pk)
        assert response.status_code == 403, (user.username, response.content)
        assert response.json()["error"]["code"] == "analytics.not_allowed"
    stuck.refresh_from_db()
    assert stuck.status == ReportStatus.RUNNING and enqueued == []
    # a GET is no rerun
    client.force_login(city_leader)
    assert client.get(f"/api/v1/analytics/reports/{stuck.pk}/rerun").status_code == 405


@pytest.mark.django_db
def test_a_second_rerun_queues_nothing_more(client, city_leader, nanshan_dispatcher, enqueued, committed):
    """Run again twice (a double click, a retry): queued once; the second is 409 (queued, no
    longer stuck); the page's button after it says the same and queues nothing either."""
    stuck = _running(city_leader, minutes=20, key="rerun-twice")
    with committed():
        first = _rerun(client, nanshan_dispatcher, stuck.pk)
    with committed():
        second = _rerun(client, city_leader, stuck.pk)
    assert first.status_code == 200 and first.json()["status"] == "queued"
    assert second.status_code == 409 and second.json()["error"]["code"] == "analytics.report_not_stuck"
    assert "it is queued" in second.json()["error"]["message"]
    with committed():
        page = client.post(reverse("analytics:report_rerun", args=[stuck.pk]), follow=True)
    assert "no longer stuck" in page.content.decode()
    assert enqueued == [stuck.pk] and Report.objects.count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_reruns_at_once_queue_the_report_once(city_restored, monkeypatch):
    """Both requests find the report stuck before either writes (a barrier holds them there);
    the conditional update lets one queue it, the other waits on the row, finds it queued and is
    refused. One task is enqueued, one report exists."""
    from zhiwang.accounts.models import User

    leader = User.objects.get(username="demo_leader")
    stuck = _running(leader, minutes=20, key="rerun-race")
    calls: list[int] = []
    monkeypatch.setattr(services, "_enqueue_report", calls.append)
    barrier = threading.Barrier(2)
    real_stuck = services.report_stuck

    def stuck_then_wait(report, **kwargs):
        answer = real_stuck(report, **kwargs)
        barrier.wait(timeout=10)  # both have read it stuck: now both update
        return answer

    monkeypatch.setattr(services, "report_stuck", stuck_then_wait)

    def rerun():
        return services.report_rerun(user=leader, report_id=stuck.pk, refuse_not_stuck=True)

    results = run_in_threads(rerun, rerun)
    queued = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(queued) == 1 and queued[0][1] is True, results
    assert len(refused) == 1 and isinstance(refused[0], ServiceError), results
    assert (refused[0].code, refused[0].status) == ("analytics.report_not_stuck", 409)
    assert calls == [stuck.pk] and Report.objects.count() == 1
    assert Report.objects.get(pk=stuck.pk).status == ReportStatus.QUEUED
