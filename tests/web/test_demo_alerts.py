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
    seen, bar = [], []

    def detect(*, today):
        seen.append(today)
        return {"found": 1, "created": 1, "resolved": 0}

    monkeypatch.setattr(demo, "alert_detection", lambda: detect)
    totals = demo.demo_alerts_detect(days=3, progress=lambda done, total: bar.append((done, total)))
    today = timezone.localdate()
    assert seen == [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    assert totals == {"found": 4, "created": 4, "resolved": 0}
    assert bar[-1] == (4, 4) and len(bar) == 4  # the demo's progress bar, one step a day


def test_it_is_the_analytics_entry_point():
    # found by name (``web`` does not import ``analytics``), and the very function the task calls
    assert demo.alert_detection() is alerts_detect


@pytest.fixture
def _quicker_demo(settings, trainings_reused):
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60  # as tests/web/test_demo_command.py


def test_the_demo_says_what_the_detection_raised(_quicker_demo):
    out = StringIO()
    call_command("demo", "--scale", "tiny", "--no-progress", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("Alerts: "))
    raised = int(line.split()[1])
    assert raised == Alert.objects.count()
    # run again, the same days find the same alerts: none is raised twice
    again = demo.demo_alerts_detect(days=demo.DEMO_DAYS)
    assert again.get("created", 0) == 0 and Alert.objects.count() == raised


def test_a_past_day_s_alerts_are_raised_that_day(monkeypatch):
    """Was: every demo alert showed the minute the demo ran as its "raised at"."""
    from datetime import datetime, time

    from zhiwang.geo.models import Division

    division = Division.objects.order_by("code").first()

    def detect(*, today):
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
