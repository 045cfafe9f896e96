"""The demo: organisations per subdistrict, mediators, a centre and cases in every state; idempotent."""

from __future__ import annotations

import pytest

from zhiwang.disputes.demo import demo_disputes_create
from zhiwang.disputes.models import CaseStatus, DisputeCase, MediationOrganisation, Visit
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
