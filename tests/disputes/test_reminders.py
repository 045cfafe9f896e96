"""The reminder sweep (one-month target, confirmation window, performance, backlog) and the indicators."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from zhiwang.disputes.models import AlertKind, DisputeAlert
from zhiwang.disputes.selectors import dispute_indicators, ledger_summary
from zhiwang.disputes.services import case_close, case_mark_backlog, reminders_sweep
from zhiwang.disputes.services.confirmation import confirmation_last_day
from zhiwang.disputes.tasks import disputes_reminder_task

pytestmark = pytest.mark.django_db


def _signed_with_window_closing_soon():
    """A signing day whose confirmation window (moved past holidays) ends within the next 5 days."""
    today = timezone.localdate()
    for back in range(27, 45):
        signed = today - timedelta(days=back)
        if today <= confirmation_last_day(signed) <= today + timedelta(days=5):
            return signed
    raise AssertionError("no signing day found")  # cannot happen: 30 days back always closes soon


def test_sweep_reminds_once_per_deadline(assigned_case, agreed_case, make_case, world):
    near = assigned_case(received_at=timezone.now() - timedelta(days=26))
    agreed = agreed_case(signed_on=_signed_with_window_closing_soon().isoformat())
    backlog = make_case(source="petition")
    case_mark_backlog(
        case=backlog,
        actor=world.sub_dispatcher,
        deadline=(timezone.localdate() + timedelta(days=3)).isoformat(),
        leader=world.leader,
    )
    first = reminders_sweep()
    assert first.target_near >= 1 and first.confirmation_closing == 1 and first.backlog_due == 1
    assert DisputeAlert.objects.filter(
        case=near, kind=AlertKind.TARGET_NEAR, recipient=world.mediator
    ).exists()
    assert DisputeAlert.objects.filter(case=agreed, kind=AlertKind.CONFIRMATION_CLOSING).exists()
    assert near.events.filter(action="remind").count() == 1
    again = disputes_reminder_task.call_local()
    assert again == {"target_near": 0, "confirmation_closing": 0, "performance_due": 0, "backlog_due": 0}
    assert near.events.filter(action="remind").count() == 1


def test_indicators_and_ledger(agreed_case, mediating_case, make_case, world):
    won = agreed_case(risk="orange", amount="10000")
    case_close(case=won, actor=world.mediator, outcome="success")
    lost = mediating_case(amount="500")
    case_close(case=lost, actor=world.mediator, outcome="failed")
    make_case(category="labour", amount="2000")
    numbers = dispute_indicators(user=world.sub_dispatcher)
    assert numbers["received"] == 3 and numbers["closed"] == 2 and numbers["success"] == 1
    assert numbers["success_rate"] == 0.5
    assert numbers["prevented_escalation"] == 1  # the orange one settled
    assert numbers["amount_involved"] == Decimal("12500.00")
    assert numbers["amount_resolved"] == Decimal("10000.00")
    assert dispute_indicators(user=world.lh_dispatcher)["received"] == 0
    by_category = {row["key"]: row for row in ledger_summary(user=world.sub_dispatcher, by="category")}
    assert by_category["neighbours"]["total"] == 2 and by_category["labour"]["open"] == 1
    by_status = {row["key"]: row["total"] for row in ledger_summary(user=world.sub_dispatcher, by="status")}
    assert by_status == {"closed": 2, "received": 1}
