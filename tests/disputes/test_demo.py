"""The demo: organisations per subdistrict, mediators, a centre and cases in every state; idempotent."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from tests.accounts.test_demo_names import ROLE_WORDS
from zhiwang.accounts.models import User
from zhiwang.disputes.demo import demo_disputes_create
from zhiwang.disputes.models import CaseStatus, DisputeCase, MediationOrganisation, Visit
from zhiwang.disputes.workflow import CaseAction
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db


def test_demo_builds_every_state_once(django_user_model):
    seen = []
    first = demo_disputes_create(seed=3, progress=lambda done, total: seen.append((done, total)))
    assert first["organisations"] == Division.objects.filter(level="subdistrict").count() == seen[-1][1]
    assert MediationOrganisation.objects.filter(kind="sector").count() == 1
    statuses = set(DisputeCase.objects.values_list("status", flat=True))
    assert statuses == set(CaseStatus.values)
    assert DisputeCase.objects.filter(is_backlog=True).exists()
    assert DisputeCase.objects.filter(risk="red", reported_up_at__isnull=False).exists()
    assert Visit.objects.count() == 3
    again = demo_disputes_create(seed=3)
    assert again["cases"] == 0 and again["visits"] == 0
    assert again["cases_total"] == first["cases_total"]
    assert django_user_model.objects.get(username="demo_window").check_password("zhiwang-demo-2026")


# --- the cases' timelines are stamped at the cases' own moments -------------------------------------


def test_every_timeline_row_is_stamped_within_its_case_and_in_order():
    """Was: every row was stamped when the demo ran, so a case received 40 days ago showed "受理" today."""
    before = timezone.now()
    demo_disputes_create(seed=3)
    after = timezone.now()
    cases = list(
        DisputeCase.objects.filter(idempotency_key__contains="demo-3-case-").prefetch_related("events")
    )
    assert len(cases) == 11
    for case in cases:
        rows = sorted(case.events.all(), key=lambda e: e.pk)  # as written
        ats = [row.at for row in rows]
        assert ats == sorted(ats), case.number
        assert rows[0].action == CaseAction.RECEIVE and rows[0].at == case.received_at
        latest = case.closed_at or after
        assert all(case.received_at <= at <= latest for at in ats), case.number
        assert case.received_at < before - timedelta(days=1)  # registered days ago, not now
        if case.assigned_at is not None:
            assert rows[0].at < case.assigned_at < before
    success = next(c for c in cases if c.outcome == "success")
    steps = [(e.action, e.at) for e in sorted(success.events.all(), key=lambda e: e.pk)]
    story = [a for a, _at in steps if a in STORY]
    assert story == ["receive", "assign", "record_session", "reach_agreement", "follow_up", "close"]
    moments = dict(reversed(steps))  # each action's first row
    assert moments["receive"] < moments["assign"] < moments["record_session"] < moments["reach_agreement"]
    assert moments["reach_agreement"] < moments["follow_up"] <= moments["close"] == success.closed_at
    assert success.closed_at < before - timedelta(days=7)  # closed weeks ago, as its story goes
    agreement = success.agreement
    assert agreement.signed_on == timezone.localdate(moments["reach_agreement"])
    session = success.sessions.get()
    assert session.held_at == moments["record_session"]


STORY = {"receive", "assign", "record_session", "reach_agreement", "follow_up", "close"}


def test_a_recent_case_has_its_steps_closer_together_not_in_the_future():
    from zhiwang.disputes.demo import _schedule

    now = timezone.now()
    received = now - timedelta(days=1, hours=2)
    at = _schedule("success", received=received, now=now, rng=random.Random(1))
    moments = [at[step] for step in ("assign", "session", "agreement", "follow_up", "close")]
    assert moments == sorted(moments) and received < moments[0] and moments[-1] < now


def test_the_accounts_it_makes_have_plain_names():
    demo_disputes_create(seed=3)
    users = User.objects.filter(
        Q(username__in=("demo_window", "demo_mediator2")) | Q(username__startswith="demo_mediator_")
    )
    assert users.count() > 2
    for user in users:
        assert not any(word in user.display_name for word in ROLE_WORDS), user.display_name
        assert 2 <= len(user.display_name) <= 3 and " " not in user.display_name
