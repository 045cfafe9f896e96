"""Migration disputes 0011: a case whose agreement (recorded before agreements raised the amount
involved) settles more than the case involves is raised to it, with a timeline row dated at the
agreement (or, when the amount was corrected after the agreement, just after the last correction),
so that the amount read from the timeline as of now is the field's and earlier periods read what was
recorded then; a case whose agreement settles as much or less is left alone.

A transactional test (it migrates) in its own file: pytest-django empties every table after it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import QuerySet
from django.utils import timezone, translation

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
    row = CaseEvent.objects.get(case=legacy, action="raise_amount")  # as ``agreement_reach`` writes it
    agreement = Agreement.objects.get(case=legacy)
    assert row.at == agreement.created_at and row.actor is None
    assert row.payload["before"] == {"amount": "3500.00"} and row.payload["after"] == {"amount": "50000.00"}
    with translation.override("en"):
        assert row.change_text == "Amount involved (yuan): 3,500.00 → 50,000.00"
        assert agreement.number in row.note_text
    assert DisputeCase.objects.get(pk=below.pk).amount == Decimal("3500.00")
    assert not CaseEvent.objects.filter(case=below, action__in=("update", "raise_amount")).exists()


def _amount_as_of(case, at):
    from zhiwang.disputes.models import DisputeCase
    from zhiwang.disputes.selectors.cases import amount_as_of

    return DisputeCase.objects.filter(pk=case.pk).annotate(a=amount_as_of(at)).get().a


def _stamp(rows, at):
    """Date timeline rows back (the queryset refuses edits: history is appended, never edited)."""
    QuerySet.update(rows, at=at)


def _migrate():
    try:
        migrate_to(BEFORE)
        migrate_to(AFTER)
    finally:
        migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_a_correction_before_the_agreement_is_the_raise_before(city_restored, mediating_case, world):
    from zhiwang.disputes.models import Agreement, CaseEvent, DisputeCase
    from zhiwang.disputes.services import agreement_reach, case_update

    # given a case corrected from 100 to 300 on day -3, agreed (at 300) on day -2, the agreement's
    # amount as recorded before the rule: 5,000
    case = mediating_case(amount="100")
    case_update(case=case, actor=world.mediator, amount="300", note="改正")
    now = timezone.now()
    _stamp(CaseEvent.objects.filter(case=case, action="update"), now - timedelta(days=3))
    case.refresh_from_db()
    agreement_reach(
        case=case,
        actor=world.mediator,
        form="written",
        terms="付五千元。",
        performance_manner="转账",
        performance_deadline="2099-12-31",
    )
    Agreement.objects.filter(case=case).update(amount=Decimal("5000"), created_at=now - timedelta(days=2))
    agreement = Agreement.objects.get(case=case)
    # when the migration runs
    _migrate()
    # then the raise is dated at the agreement, from the amount as of then
    assert DisputeCase.objects.get(pk=case.pk).amount == Decimal("5000.00")
    rows = list(
        CaseEvent.objects.filter(case=case, action__in=("update", "raise_amount")).order_by("at", "pk")
    )
    assert [r.payload["after"] for r in rows] == [{"amount": "300.00"}, {"amount": "5000.00"}]
    assert [r.action for r in rows] == ["update", "raise_amount"]
    raise_row = rows[-1]
    assert raise_row.at == agreement.created_at and raise_row.payload["before"] == {"amount": "300.00"}
    assert raise_row.from_state == raise_row.to_state == "agreed"
    assert _amount_as_of(case, now - timedelta(days=4)) == Decimal("100.00")
    assert _amount_as_of(case, agreement.created_at) == Decimal("300.00")
    assert _amount_as_of(case, agreement.created_at + timedelta(seconds=1)) == Decimal("5000.00")
    assert _amount_as_of(case, timezone.now() + timedelta(seconds=1)) == Decimal("5000.00")


@pytest.mark.django_db(transaction=True)
def test_a_correction_after_the_agreement_is_raised_after_it(city_restored, agreed_case, world):
    from zhiwang.disputes.models import Agreement, CaseEvent, DisputeCase
    from zhiwang.disputes.services import case_update

    # given a case at 100, agreed on day -2, corrected to 200 on day -1; the agreement's amount as
    # recorded before the rule: 5,000
    case = agreed_case(amount="100")
    case_update(case=case, actor=world.mediator, amount="200", note="改正")
    now = timezone.now()
    correction = CaseEvent.objects.get(case=case, action="update")
    _stamp(CaseEvent.objects.filter(pk=correction.pk), now - timedelta(days=1))
    correction.refresh_from_db()
    Agreement.objects.filter(case=case).update(amount=Decimal("5000"), created_at=now - timedelta(days=2))
    version = DisputeCase.objects.get(pk=case.pk).version
    # when the migration runs
    _migrate()
    # then the raise follows the correction, from the amount it set
    raised = DisputeCase.objects.get(pk=case.pk)
    assert raised.amount == Decimal("5000.00") and raised.version == version + 1
    row = CaseEvent.objects.get(case=case, action="raise_amount")
    assert row.at == correction.at + timedelta(microseconds=1) and row.actor is None
    assert row.payload["before"] == {"amount": "200.00"} and row.payload["after"] == {"amount": "5000.00"}
    assert row.payload["backfill"] is True and row.from_state == row.to_state == correction.to_state
    # as of now the timeline reads the field; before, what was recorded then
    assert _amount_as_of(case, timezone.now() + timedelta(seconds=1)) == raised.amount
    assert _amount_as_of(case, now - timedelta(days=1, hours=12)) == Decimal("100.00")
    assert _amount_as_of(case, row.at) == Decimal("200.00")
    assert _amount_as_of(case, row.at + timedelta(microseconds=1)) == Decimal("5000.00")


@pytest.mark.django_db(transaction=True)
def test_a_correction_after_the_agreement_up_to_it_is_left_alone(city_restored, agreed_case, world):
    from zhiwang.disputes.models import Agreement, CaseEvent, DisputeCase
    from zhiwang.disputes.services import case_update

    # given an agreement of 5,000 (before the rule) and a later correction up to 6,000
    case = agreed_case(amount="100")
    case_update(case=case, actor=world.mediator, amount="6000", note="改正")
    Agreement.objects.filter(case=case).update(amount=Decimal("5000"))
    # when the migration runs, then nothing is raised
    _migrate()
    assert DisputeCase.objects.get(pk=case.pk).amount == Decimal("6000.00")
    assert CaseEvent.objects.filter(case=case, action__in=("update", "raise_amount")).count() == 1
