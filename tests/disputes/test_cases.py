"""Dispute case services: registration, assignment, mediation, agreement, confirmation, referral, closure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, ENTITY_CODE, actions, parties
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.disputes.models import (
    Agreement,
    AlertKind,
    CaseEvent,
    CaseStatus,
    DisputeAlert,
    DisputeCase,
    Party,
)
from zhiwang.disputes.services import (
    agreement_reach,
    case_assign,
    case_close,
    case_extend,
    case_mark_backlog,
    case_refer,
    case_register,
    case_update,
    confirmation_apply,
    performance_follow_up,
    session_record,
)
from zhiwang.disputes.services.common import keyed_hash

pytestmark = pytest.mark.django_db


def test_register_stores_parties_validated_hashed_and_masked(make_case):
    case = make_case(
        parties=parties(
            **{"1__kind": "entity", "1__name": "深圳某物业公司", "1__identifier": ENTITY_CODE.lower()}
        )
    )
    assert case.status == CaseStatus.RECEIVED
    assert case.number.startswith("TJ")
    assert timezone.localdate(case.target_at) > timezone.localdate(case.received_at) + timedelta(days=27)
    applicant, respondent = case.parties.order_by("role")
    assert applicant.identifier == APPLICANT_ID
    assert applicant.identifier_hash == keyed_hash(APPLICANT_ID)
    assert applicant.masked_identifier == APPLICANT_ID[:3] + "*" * 11 + APPLICANT_ID[-4:]
    assert applicant.masked_name == "张**"
    assert applicant.masked_phone == "138****8001"
    assert respondent.identifier == ENTITY_CODE  # normalized upper case
    assert respondent.masked_name == "深圳某物业公司"  # an entity's name is public
    assert actions(case) == ["receive"]


def test_missing_parties_is_a_clear_error_and_writes_nothing(make_case):
    before = DisputeCase.objects.count()
    with pytest.raises(ServiceError) as caught:
        make_case(parties=[parties()[0]])
    assert caught.value.code == "disputes.invalid"
    assert caught.value.fields[0].field == "parties"
    assert caught.value.fields[0].code == "disputes.parties_missing"
    assert (
        DisputeCase.objects.count() == before and not Party.objects.filter(case__number__isnull=True).exists()
    )


def test_bad_identifier_names_the_party_field(make_case):
    with pytest.raises(ServiceError) as caught:
        make_case(
            parties=parties(
                **{"0__identifier": APPLICANT_ID[:-1] + ("0" if APPLICANT_ID[-1] != "0" else "1")}
            )
        )
    assert caught.value.fields[0].field == "parties.0.identifier"
    assert caught.value.fields[0].code == "id_number.check_digit"


def test_missing_facts_and_unknown_category_are_reported_together(make_case):
    with pytest.raises(ServiceError) as caught:
        make_case(facts="  ", category="nope", amount="-3")
    fields = {f.field for f in caught.value.fields}
    assert {"facts", "category", "amount"} <= fields


def test_registration_is_idempotent(make_case):
    first = make_case(idempotency_key="req-1")
    second = make_case(idempotency_key="req-1")  # other content: tests/disputes/test_review_fixes_disputes.py
    assert first.pk == second.pk
    assert DisputeCase.objects.filter(idempotency_key__endswith=":req-1").count() == 1


def test_register_outside_jurisdiction_is_refused(make_case, world):
    with pytest.raises(PermissionDeniedError):
        make_case(actor=world.lh_dispatcher)


def test_assignment_is_fair_by_workload(make_case, world):
    first = case_assign(case=make_case(), actor=world.sub_dispatcher)
    second = case_assign(case=make_case(), actor=world.sub_dispatcher)
    assert first.organisation == world.org  # the most local organisation serving the place
    assert {first.mediator, second.mediator} == {world.mediator, world.mediator2}
    assert first.status == CaseStatus.ASSIGNED
    assert DisputeAlert.objects.filter(case=first, recipient=first.mediator, kind=AlertKind.ASSIGNED).exists()


def test_assignment_refuses_an_organisation_of_another_place_and_a_foreign_mediator(make_case, world):
    case = make_case()
    with pytest.raises(ServiceError) as caught:
        case_assign(case=case, actor=world.sub_dispatcher, organisation=world.lh_org)
    assert caught.value.code == "disputes.organisation_out_of_area"
    with pytest.raises(ServiceError) as caught:
        case_assign(case=case, actor=world.sub_dispatcher, organisation=world.org, mediator=world.lh_mediator)
    assert caught.value.code == "disputes.mediator_not_member"


def test_mediator_at_capacity_is_skipped(make_case, world):
    world.mediator.mediator.capacity = 1
    world.mediator.mediator.save()
    world.mediator2.mediator.capacity = 1
    world.mediator2.mediator.save()
    case_assign(case=make_case(), actor=world.sub_dispatcher)
    case_assign(case=make_case(), actor=world.sub_dispatcher)
    with pytest.raises(ServiceError) as caught:
        case_assign(case=make_case(), actor=world.sub_dispatcher)
    assert caught.value.code == "disputes.mediator_full"


def test_session_agreement_confirmation_follow_up_close(agreed_case, world):
    case = agreed_case()
    assert case.status == CaseStatus.AGREED
    agreement = case.agreement
    assert agreement.number.startswith("XY")
    confirmation_apply(case=case, actor=world.mediator, court="南山区人民法院")
    performance_follow_up(case=case, actor=world.mediator, status="performed", note="已转账")
    case_close(case=case, actor=world.mediator, outcome="success", note="履行完毕")
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.outcome == "success"
    assert actions(case) == [
        "receive",
        "assign",
        "record_session",
        "reach_agreement",
        "apply_confirmation",
        "follow_up",
        "close",
    ]
    close = case.events.get(action="close")
    assert (close.from_state, close.to_state, close.actor) == ("agreed", "closed", world.mediator)


def test_agreement_without_performance_terms_is_refused(mediating_case, world):
    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        agreement_reach(
            case=case,
            actor=world.mediator,
            form="written",
            terms="双方和解",
            performance_manner="",
            performance_deadline="",
        )
    assert caught.value.code == "disputes.performance_terms_missing"
    assert {f.field for f in caught.value.fields} == {"performance_manner", "performance_deadline"}
    case.refresh_from_db()
    assert case.status == CaseStatus.MEDIATING and not Agreement.objects.filter(case=case).exists()
    assert "reach_agreement" not in actions(case)


def test_confirmation_after_thirty_days_is_refused(agreed_case, world):
    # Fixed dates: signed Monday 3 March 2025, the 30th day is Wednesday 2 April (a working day).
    case = agreed_case(signed_on="2025-03-03")
    with pytest.raises(ServiceError) as caught:
        confirmation_apply(case=case, actor=world.mediator, applied_on="2025-04-03", court="南山区人民法院")
    assert caught.value.code == "disputes.confirmation_window_closed"
    assert caught.value.field == "applied_on"
    case.agreement.refresh_from_db()
    assert case.agreement.confirmation_status == ""
    # On the 30th day it is still possible.
    ok = agreed_case(signed_on="2025-03-03")
    assert (
        confirmation_apply(
            case=ok, actor=world.mediator, applied_on="2025-04-02", court="南山区人民法院"
        ).confirmation_status
        == "applied"
    )


def test_oral_agreement_cannot_be_confirmed(agreed_case, world):
    case = agreed_case(form="oral")
    with pytest.raises(ServiceError) as caught:
        confirmation_apply(case=case, actor=world.mediator, court="法院")
    assert caught.value.code == "disputes.confirmation_oral"


def test_closing_without_outcome_is_refused(mediating_case, world):
    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        case_close(case=case, actor=world.mediator, outcome="")
    assert caught.value.code == "disputes.outcome_required" and caught.value.field == "outcome"
    with pytest.raises(ServiceError) as caught:
        case_close(case=case, actor=world.mediator, outcome="success")
    assert caught.value.code == "disputes.outcome_needs_agreement"
    case.refresh_from_db()
    assert case.status == CaseStatus.MEDIATING and "close" not in actions(case)
    case_close(case=case, actor=world.mediator, outcome="failed", note="双方分歧过大")
    assert case.status == CaseStatus.CLOSED


def test_referral_needs_kind_and_reason_then_closes_as_referred(mediating_case, world):
    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        case_refer(case=case, actor=world.mediator, kind="litigation", reason=" ")
    assert caught.value.field == "reason"
    case_refer(case=case, actor=world.mediator, kind="litigation", reason="被申请人拒绝调解")
    assert case.status == CaseStatus.REFERRED
    with pytest.raises(ServiceError) as caught:
        case_close(case=case, actor=world.mediator, outcome="failed")
    assert caught.value.code == "disputes.outcome_referred"
    case_close(case=case, actor=world.mediator, outcome="referred")
    assert case.status == CaseStatus.CLOSED


def test_illegal_transitions_are_refused(make_case, assigned_case, world):
    case = make_case()
    with pytest.raises(ServiceError) as caught:
        session_record(case=case, actor=world.mediator, record="x")
    # Not assigned yet: the mediator's organisation does not hold it, and the state forbids it.
    assert caught.value.code in ("workflow.illegal_transition", "workflow.permission_denied")
    assigned = assigned_case()
    with pytest.raises(ServiceError) as caught:
        agreement_reach(
            case=assigned,
            actor=world.mediator,
            form="oral",
            terms="t",
            performance_manner="m",
            performance_deadline="2099-01-01",
        )
    assert caught.value.code == "workflow.illegal_transition"


def test_only_the_organisations_mediators_work_the_case(assigned_case, world):
    case = assigned_case()
    with pytest.raises(PermissionDeniedError):
        session_record(case=case, actor=world.lh_mediator, record="我来调解")
    session_record(case=case, actor=world.mediator2, record="同组织的调解员也可以记录")  # same organisation
    case.refresh_from_db()
    assert case.status == CaseStatus.MEDIATING


def test_red_risk_is_reported_upward_at_once(make_case, world):
    case = make_case(risk="red", scale="group", people_involved=30)
    alerts = DisputeAlert.objects.filter(case=case, kind=AlertKind.RED_RISK)
    recipients = set(alerts.values_list("recipient__username", flat=True))
    assert {"demo_leader", "demo_sub_dispatcher", "demo_ns_dispatcher", "demo_city_dispatcher"} <= recipients
    assert "demo_lh_dispatcher" not in recipients
    case.refresh_from_db()
    assert case.reported_up_at is not None
    assert actions(case) == ["receive", "report_up"]


def test_raising_risk_to_orange_alerts_dispatchers_only(make_case, world):
    case = make_case()
    case_update(case=case, actor=world.sub_dispatcher, risk="orange", note="双方冲突升级")
    recipients = set(DisputeAlert.objects.filter(case=case).values_list("recipient__username", flat=True))
    assert "demo_sub_dispatcher" in recipients and "demo_leader" not in recipients


def test_backlog_needs_a_leader_of_the_place(make_case, world):
    case = make_case(source="petition")
    deadline = (timezone.localdate() + timedelta(days=60)).isoformat()
    with pytest.raises(ServiceError) as caught:
        case_mark_backlog(case=case, actor=world.sub_dispatcher, deadline=deadline, leader=world.mediator)
    assert caught.value.code == "disputes.leader_invalid"
    case_mark_backlog(
        case=case, actor=world.sub_dispatcher, deadline=deadline, leader=world.leader, note="包案"
    )
    assert case.is_backlog and case.responsible_leader == world.leader
    assert DisputeAlert.objects.filter(case=case, recipient=world.leader, kind=AlertKind.BACKLOG_DUE).exists()


def test_extension_moves_the_target(assigned_case, world):
    case = assigned_case()
    later = timezone.localdate(case.target_at) + timedelta(days=15)
    with pytest.raises(ServiceError):
        case_extend(
            case=case, actor=world.mediator, until=timezone.localdate().isoformat(), reason="双方同意"
        )
    case_extend(case=case, actor=world.mediator, until=later.isoformat(), reason="双方同意延长")
    case.refresh_from_db()
    assert timezone.localdate(case.target_at) == later and case.extended


def test_stale_object_conflicts(assigned_case, world):
    case = assigned_case()
    stale = DisputeCase.objects.get(pk=case.pk)
    session_record(case=case, actor=world.mediator, record="第一次")
    case_refer(case=case, actor=world.mediator, kind="arbitration", reason="申请仲裁")
    with pytest.raises(ServiceError) as caught:
        session_record(case=stale, actor=world.mediator, record="旧页面")
    assert caught.value.code == "workflow.conflict"
    assert CaseEvent.objects.filter(case=case, action="record_session").count() == 1


def test_registration_by_a_citizen_is_refused(world, citizen):
    with pytest.raises(PermissionDeniedError):
        case_register(
            actor=citizen, title="t", facts="f", category="other", division=world.community, parties=parties()
        )
