"""`zhiwang demo` runs the early-warning detection over the history's days (``demo_alerts_detect``):
a fresh demo's alerts page has content before the twice-hourly task first runs."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from zhiwang.analytics.models import Alert
from zhiwang.analytics.services import alerts_detect
from zhiwang.web.management.commands import demo

pytestmark = pytest.mark.django_db


def test_the_detectors_run_for_each_day_oldest_first(monkeypatch):
    seen, bar, asked = [], [], []

    def detect(*, today, kinds=None):
        seen.append(today)
        asked.append(kinds)
        return {"found": 1, "created": 1, "resolved": 0}

    monkeypatch.setattr(demo, "alert_detection", lambda: detect)
    totals = demo.demo_alerts_detect(days=3, progress=lambda done, total: bar.append((done, total)))
    today = timezone.localdate()
    assert seen == [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    assert totals == {"found": 4, "created": 4, "resolved": 0}
    assert bar[-1] == (4, 4) and len(bar) == 4  # the demo's progress bar, one step a day
    # a detector that reads only the present (reopened tickets as they are now) runs for today only:
    # on a past day it would raise its alert before the ticket existed
    for kinds in asked[:-1]:
        assert "repeat_reopen" not in kinds and {"surge", "address_cluster", "repeat_caller"} <= set(kinds)
    assert asked[-1] is None  # today: every detector


def test_it_is_the_analytics_entry_point():
    # found by name (``web`` does not import ``analytics``), and the very function the task calls
    assert demo.alert_detection() is alerts_detect


@pytest.fixture
def _quicker_demo(settings, trainings_reused):
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60  # as tests/web/test_demo_command.py


def test_a_past_day_s_alerts_are_raised_that_day(monkeypatch):
    """Was: every demo alert showed the minute the demo ran as its "raised at"."""
    from datetime import datetime, time

    from zhiwang.geo.models import Division

    division = Division.objects.order_by("code").first()

    def detect(*, today, kinds=None):
        Alert.objects.create(
            kind="surge",
            key=f"demo-{today}",
            division=division,
            window_start=timezone.make_aware(datetime.combine(today, time.min)),
            window_end=timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min)),
            explanation="surge",
        )
        return {"created": 1}

    monkeypatch.setattr(demo, "alert_detection", lambda: detect)
    demo.demo_alerts_detect(days=2)
    today = timezone.localdate()
    raised = {a.key: timezone.localtime(a.created_at) for a in Alert.objects.all()}
    two_ago = today - timedelta(days=2)
    assert raised[f"demo-{two_ago}"] == timezone.make_aware(
        datetime.combine(two_ago + timedelta(days=1), time(0, 7))
    )
    assert raised[f"demo-{today}"].date() == today  # today's: now


def test_a_fresh_demo_has_an_alert_of_every_kind_at_its_planted_events(_quicker_demo):
    """Was: only chance topic clusters. The history's planted events (``tickets.history_events``)
    are found by the detectors themselves: no alert is written by the demo. The demo says how many
    it raised, and running the days again raises none twice. (One demo for both: building it is
    the slowest step of the suite.)"""
    from zhiwang.analytics.models import AlertKind
    from zhiwang.tickets.models import Ticket

    out = StringIO()
    call_command("demo", "--scale", "tiny", "--no-progress", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("Alerts: "))
    raised = int(line.split()[1])
    assert raised == Alert.objects.count()
    alerts = list(Alert.objects.select_related("division", "category"))
    assert {a.kind for a in alerts} == set(AlertKind.values)
    planted = Ticket.objects.filter(idempotency_key__regex=r":demo-1-[a-z]+-")

    def tickets_of(alert) -> set[str]:
        keys = alert.memberships.values_list("ticket__idempotency_key", flat=True)
        return {key.split(":demo-1-")[1].split("-")[0] for key in keys if ":demo-1-" in key}

    # the noise surge in 高新区社区 (or one of its grids) and the wage arrears at one factory
    surges = {(a.division.code, a.category.code) for a in alerts if a.kind == AlertKind.SURGE}
    assert ("440305007023", "040203") in surges and ("440306026001", "150306") in surges
    clusters = [a for a in alerts if a.kind == AlertKind.ADDRESS_CLUSTER]
    assert any(tickets_of(a) == {"wages"} and a.observed == 9 for a in clusters)
    callers = [a for a in alerts if a.kind == AlertKind.REPEAT_CALLER]
    assert any(tickets_of(a) == {"fumes"} and a.observed >= 4 for a in callers)
    (reopen,) = [a for a in alerts if a.kind == AlertKind.REPEAT_REOPEN]
    sewer = planted.get(idempotency_key__contains="-sewer-")
    assert list(reopen.memberships.values_list("ticket_id", flat=True)) == [sewer.pk]
    # raised when the detection saw it (today), not on a replayed day before the ticket existed
    assert reopen.created_at > sewer.received_at and timezone.localtime(reopen.created_at).date() == (
        timezone.localdate()
    )
    # run again, the same days find the same alerts: none is raised twice
    again = demo.demo_alerts_detect(days=demo.DEMO_DAYS)
    assert again.get("created", 0) == 0 and Alert.objects.count() == raised
