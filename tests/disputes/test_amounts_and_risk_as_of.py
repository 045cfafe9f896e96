"""The amount involved and the risk colour: an agreement raises the amount involved to what it
settles (never lowers it), and a past period's figures read both as they stood at the period's end,
from the timeline.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import CaseEvent, DisputeCase
from zhiwang.disputes.selectors import case_list, dispute_indicators, ledger_summary
from zhiwang.disputes.services import agreement_reach, case_close, case_update

pytestmark = pytest.mark.django_db


def _reach(case, actor, **extra):
    return agreement_reach(
        case=case,
        actor=actor,
        form="written",
        terms="被申请人一次性支付申请人五万元。",
        performance_manner="银行转账",
        performance_deadline="2099-12-31",
        **extra,
    )


def _updates(case):
    """The rows that changed a case field: corrections (``update``) and raises (``raise_amount``)."""
    return list(case.events.filter(action__in=("update", "raise_amount")).order_by("at", "pk"))


# --- 1. an agreement raises the amount involved ---------------------------------------------------


def test_an_agreement_above_the_amount_involved_raises_it_with_a_timeline_row(mediating_case, world):
    case = mediating_case(amount="20000")
    agreement = _reach(case, world.mediator, amount="50000")
    case.refresh_from_db()
    assert agreement.amount == Decimal("50000.00") and case.amount == Decimal("50000.00")
    (row,) = _updates(case)
    # the system's row (the rule raised it, not the mediator), naming who recorded the agreement
    assert row.action == "raise_amount" and row.actor is None
    assert row.payload["raised_by"] == world.mediator.username
    assert row.from_state == row.to_state == "agreed"
    assert row.payload["before"] == {"amount": "20000.00"}
    assert row.payload["after"] == {"amount": "50000.00"}
    with translation.override("en"):
        assert row.change_text == "Amount involved (yuan): 20,000.00 → 50,000.00"
        assert agreement.number in row.note_text
    with translation.override("zh-hans"):
        assert "20,000.00" in row.change_text and "50,000.00" in row.change_text
    # after the agreement's own row, in the same transaction (one version per row)
    assert [e.action for e in case.events.order_by("at", "pk")][-2:] == ["reach_agreement", "raise_amount"]


def test_an_agreement_on_a_case_without_an_amount_gives_it_one(mediating_case, world):
    case = mediating_case(amount="0")
    _reach(case, world.mediator, amount="800")
    case.refresh_from_db()
    assert case.amount == Decimal("800.00")
    assert _updates(case)[0].payload["before"] == {"amount": "0.00"}


@pytest.mark.parametrize("amount", ["1200", "3500", None])
def test_an_agreement_at_or_below_the_amount_involved_leaves_it(mediating_case, world, amount):
    case = mediating_case(amount="3500")
    _reach(case, world.mediator, **({"amount": amount} if amount else {}))
    case.refresh_from_db()
    assert case.amount == Decimal("3500.00")  # never lowered
    assert _updates(case) == []


def test_a_refused_agreement_raises_nothing(mediating_case, world):
    case = mediating_case(amount="100")
    with pytest.raises(Exception):  # noqa: B017 - the service's own error; what matters is the rollback
        _reach(case, world.mediator, amount="50000", signed_on="2999-01-01")
    case.refresh_from_db()
    assert case.amount == Decimal("100.00") and _updates(case) == []


def test_the_amount_resolved_never_exceeds_the_amount_involved(mediating_case, world):
    case = mediating_case(amount="20000")
    _reach(case, world.mediator, amount="50000")
    case.refresh_from_db()
    case_close(case=case, actor=world.mediator, outcome="success")
    figures = dispute_indicators(user=world.sub_dispatcher)
    assert figures["amount_resolved"] == Decimal("50000.00")
    assert figures["amount_involved"] == Decimal("50000.00")
    (row,) = ledger_summary(user=world.sub_dispatcher, by="status")
    assert row["amount"] == Decimal("50000.00")


def test_the_api_raises_it_too(client, mediating_case, world):
    case = mediating_case(amount="20000")
    client.force_login(world.mediator)
    response = client.post(
        f"/api/v1/disputes/cases/{case.number}/agreement",
        {
            "form": "written",
            "terms": "支付五万元",
            "performance_manner": "银行转账",
            "performance_deadline": "2099-12-31",
            "amount": "50000",
            "version": case.version,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    case.refresh_from_db()
    assert case.amount == Decimal("50000.00") and len(_updates(case)) == 1


def test_a_correction_cannot_lower_the_amount_below_the_agreement(mediating_case, world):
    # given a case whose agreement settles 50,000 (raising it from 20,000)
    case = mediating_case(amount="20000")
    _reach(case, world.mediator, amount="50000")
    case.refresh_from_db()
    version, rows = case.version, len(_updates(case))
    # when a correction lowers it below, with the risk changed in the same form
    with translation.override("zh-hans"), pytest.raises(ServiceError) as refused:
        case_update(case=case, actor=world.mediator, amount="100", risk="yellow", note="改正")
    # then it is refused on the amount, with the agreement's amount, and nothing is written
    error = refused.value
    assert error.code == "disputes.amount_below_agreement" and error.field == "amount"
    assert [(f.field, f.code) for f in error.fields] == [("amount", "disputes.amount_below_agreement")]
    assert "50,000.00" in error.message
    case = DisputeCase.objects.get(pk=case.pk)
    assert case.amount == Decimal("50000.00") and case.risk != "yellow"
    assert case.version == version and len(_updates(case)) == rows


def test_a_correction_may_lower_the_amount_down_to_the_agreement(mediating_case, world):
    case = mediating_case(amount="80000")
    _reach(case, world.mediator, amount="50000")
    case.refresh_from_db()
    case_update(case=case, actor=world.mediator, amount="50000", note="改正")
    case.refresh_from_db()
    assert case.amount == Decimal("50000.00")
    assert _updates(case)[-1].payload["after"] == {"amount": "50000.00"}


# --- 2. the risk colour and the amount as of a past period's end -----------------------------------


@pytest.fixture
def past_period(make_case, world):
    """A blue case for 3,500 received 40 days ago, in the period [60 days ago, 10 days ago)."""
    now = timezone.now()
    start, end = now - timedelta(days=60), now - timedelta(days=10)
    case = make_case(received_at=now - timedelta(days=40), amount="3500")
    return case, start, end


def test_a_risk_raised_after_the_periods_end_does_not_count_in_it(past_period, world):
    case, start, end = past_period
    case_update(case=case, actor=world.sub_dispatcher, risk="red", amount="90000", note="升级")
    case.refresh_from_db()
    assert case.risk == "red"
    past = dispute_indicators(user=world.sub_dispatcher, since=start, until=end)
    assert past["as_of"] == end
    assert past["red_open"] == 0 and past["amount_involved"] == Decimal("3500.00")
    # the period still running: as the case is today
    today = dispute_indicators(user=world.sub_dispatcher, since=start)
    assert today["red_open"] == 1 and today["amount_involved"] == Decimal("90000.00")
    filters = {"received_from": start, "received_to": end}
    (row,) = ledger_summary(user=world.sub_dispatcher, by="division", filters=filters)
    assert row["red"] == 0 and row["amount"] == Decimal("3500.00")
    # the list behind "red risk, open at the end" is the cases red then
    red_then = case_list(user=world.sub_dispatcher, filters={**filters, "status": "open", "risk": "red"})
    blue_then = case_list(user=world.sub_dispatcher, filters={**filters, "status": "open", "risk": "blue"})
    assert list(red_then) == [] and list(blue_then) == [case]


def test_the_value_of_the_latest_change_before_the_end_counts(make_case, world):
    now = timezone.now()
    case = make_case(received_at=now - timedelta(days=5), amount="3500")
    case_update(case=case, actor=world.sub_dispatcher, risk="orange", amount="5000")
    case.refresh_from_db()
    end = timezone.now()  # between the two changes
    case_update(case=case, actor=world.sub_dispatcher, risk="red", amount="7000")
    since = now - timedelta(days=10)
    figures = dispute_indicators(user=world.sub_dispatcher, since=since, until=end, now=timezone.now())
    assert figures["as_of"] == end
    assert figures["red_open"] == 0 and figures["amount_involved"] == Decimal("5000.00")
    filters = {"received_from": since, "received_to": end, "status": "open"}
    assert list(case_list(user=world.sub_dispatcher, filters={**filters, "risk": "orange"})) == [case]


def test_prevented_escalation_reads_the_risk_at_the_end(agreed_case, world):
    now = timezone.now()
    case = agreed_case(received_at=now - timedelta(days=40))
    case_update(case=case, actor=world.mediator, risk="red")  # raised after the period's end
    case.refresh_from_db()
    case_close(case=case, actor=world.mediator, outcome="success")
    DisputeCase.objects.filter(pk=case.pk).update(closed_at=now - timedelta(days=20))
    since, end = now - timedelta(days=60), now - timedelta(days=10)
    assert dispute_indicators(user=world.sub_dispatcher, since=since, until=end)["prevented_escalation"] == 0
    assert dispute_indicators(user=world.sub_dispatcher, since=since)["prevented_escalation"] == 1


def test_as_of_figures_take_a_bounded_number_of_queries(make_case, past_period, world):
    case, start, end = past_period
    for _ in range(5):
        other = make_case(received_at=timezone.now() - timedelta(days=30))
        case_update(case=other, actor=world.sub_dispatcher, risk="orange")
    with CaptureQueriesContext(connection) as one:
        dispute_indicators(user=world.sub_dispatcher, since=start, until=end)
    for _ in range(5):
        make_case(received_at=timezone.now() - timedelta(days=30), risk="red")
    with CaptureQueriesContext(connection) as more:
        figures = dispute_indicators(user=world.sub_dispatcher, since=start, until=end)
    assert len(more) == len(one)  # not a query per case
    assert figures["received"] == 11 and figures["red_open"] == 5


def test_the_ledger_page_shows_the_amount_as_of_the_end(client, past_period, world):
    case, start, end = past_period
    case_update(case=case, actor=world.sub_dispatcher, amount="90000")
    client.force_login(world.sub_dispatcher)
    html = client.get(
        reverse("disputes:ledger"),
        {
            "received_from": timezone.localdate(start).isoformat(),
            "received_to": timezone.localdate(end).isoformat(),
        },
    ).content.decode()
    assert 'data-testid="tile-amount-involved">3,500.00<' in html


def test_changes_are_on_the_timeline_with_both_values(make_case, world):
    case = make_case(amount="3500")
    case_update(case=case, actor=world.sub_dispatcher, risk="orange", amount="4000")
    row = CaseEvent.objects.filter(case=case, action="update").get()
    assert row.payload["before"] == {"risk": "blue", "amount": "3500.00"}
    assert row.payload["after"] == {"risk": "orange", "amount": "4000.00"}
