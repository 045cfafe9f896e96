"""The demo: organisations per subdistrict, mediators, a centre and cases in every state; idempotent."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from tests.accounts.test_demo_names import ROLE_WORDS
from zhiwang.accounts.models import User
from zhiwang.disputes.demo import (
    TRADE_NAME_FIRST,
    TRADE_NAME_SECOND,
    company_name,
    company_names,
    demo_disputes_create,
)
from zhiwang.disputes.models import CaseStatus, DisputeCase, MediationOrganisation, Party, Visit
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
    assert again["cases in all"] == first["cases in all"] == DisputeCase.objects.count()
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


# --- each case its own story; made-up company names ------------------------------------------------


def test_no_two_cases_or_visits_share_their_facts():
    """Was: the 11 cases took 8 stories in turn, so three pairs of cases had the same title and
    facts, and the three visits repeated the first three cases' facts."""
    demo_disputes_create(seed=3)
    cases = list(DisputeCase.objects.filter(idempotency_key__contains="demo-3-case-"))
    assert len(cases) == 11
    facts = [case.facts for case in cases]
    assert len(set(facts)) == len(facts)
    assert len({case.title for case in cases}) == len(cases)
    matters = [visit.matter for visit in Visit.objects.all()]
    assert len(set(matters)) == 3 and not set(matters) & set(facts)


COMPANY = re.compile(r"^深圳市[\u4e00-\u9fff]{2}(物业管理|健身服务|商贸)有限公司$")


def test_company_respondents_have_plausible_varied_made_up_names():
    demo_disputes_create(seed=3)
    companies = list(
        Party.objects.filter(kind="entity", case__idempotency_key__contains="demo-3-case-").select_related(
            "case"
        )
    )
    assert len(companies) >= 3
    names = [party.name for party in companies]
    assert len(set(names)) == len(names), names
    for party in companies:
        assert COMPANY.match(party.name), party.name
        assert party.name != f"深圳市{party.case.title[:2]}有限公司"  # not "深圳市物业有限公司"
        trade = party.name[3:5]
        assert trade[0] in TRADE_NAME_FIRST and trade[1] in TRADE_NAME_SECOND
    by_category = {party.case.category.code: party.name for party in companies}
    assert by_category["property_management"].endswith("物业管理有限公司")
    assert by_category["consumer"].endswith("健身服务有限公司")


def test_company_names_are_the_same_for_a_seed_and_vary_between_seeds():
    first = company_names(1)
    assert company_names(1) == first  # the same on every run
    assert len(set(first)) == len(first) == len(TRADE_NAME_FIRST) * len(TRADE_NAME_SECOND)
    assert company_names(2)[:3] != first[:3]
    assert company_name("鹏远", "property_management") == "深圳市鹏远物业管理有限公司"
    assert company_name("澜庭", "contract") == "深圳市澜庭商贸有限公司"
