"""Migration disputes 0011: a case whose agreement (recorded before agreements raised the amount
involved) settles more than the case involves is raised to it, with a timeline row dated at the
agreement; a case whose agreement settles as much or less is left alone.

A transactional test (it migrates) in its own file: pytest-django empties every table after it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("disputes", "0010_case_source_hotline")]
AFTER = [("disputes", "0011_amount_involved_from_agreements")]


@pytest.mark.django_db(transaction=True)
def test_cases_below_their_agreement_are_raised(city_restored, agreed_case, world):
    from zhiwang.disputes.models import Agreement, CaseEvent, DisputeCase

    legacy = agreed_case(amount="3500")
    Agreement.objects.filter(case=legacy).update(amount=Decimal("50000"))  # as recorded before the rule
    below = agreed_case(amount="3500")
    Agreement.objects.filter(case=below).update(amount=Decimal("1000"))
    version = DisputeCase.objects.get(pk=legacy.pk).version
    try:
        migrate_to(BEFORE)
        migrate_to(AFTER)
    finally:
        migrate_to_latest()
    raised = DisputeCase.objects.get(pk=legacy.pk)
    assert raised.amount == Decimal("50000.00") and raised.version == version + 1
    row = CaseEvent.objects.get(case=legacy, action="update")
    agreement = Agreement.objects.get(case=legacy)
    assert row.at == agreement.created_at and row.actor is None
    assert row.payload["before"] == {"amount": "3500.00"} and row.payload["after"] == {"amount": "50000.00"}
    with translation.override("en"):
        assert row.change_text == "Amount involved (CNY): 3,500.00 → 50,000.00"
        assert agreement.number in row.note_text
    assert DisputeCase.objects.get(pk=below.pk).amount == Decimal("3500.00")
    assert not CaseEvent.objects.filter(case=below, action="update").exists()
