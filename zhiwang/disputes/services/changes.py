"""The ends of a case (referral, closure) and the changes that keep its state (risk, backlog, notes, reveal)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.core.figures import yuan_text
from zhiwang.core.scoping import scope_of
from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    Agreement,
    AlertKind,
    CaseEvent,
    CaseOutcome,
    CaseScale,
    CaseStatus,
    DisputeCase,
    ReferralKind,
    RiskColour,
)
from zhiwang.disputes.services.casekit import A, _alert, _apply, _category, _choice, _people, _report_up
from zhiwang.disputes.services.common import (
    clean,
    parse_amount,
    parse_date,
    require,
)
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import (
    CASE_WORKFLOW,
    may_see_parties,
    role_of,
)


@transaction.atomic
def case_refer(*, case: DisputeCase, actor, kind: str, reason: str) -> DisputeCase:
    """No agreement → arbitration, litigation, petition or administrative reconsideration, with the reason."""
    if kind not in ReferralKind.values:
        raise ServiceError(
            "disputes.referral_kind", _("Choose where the dispute is referred to."), field="kind"
        )
    case.referral_reason = require(reason, "reason", _("Give the reason for the referral."))
    case.referral_kind = kind
    case.referred_at = timezone.now()
    _apply(
        case,
        A.REFER,
        actor=actor,
        note=case.referral_reason,
        payload={"kind": kind},
        fields=["referral_kind", "referral_reason", "referred_at"],
    )
    return case


@transaction.atomic
def case_close(*, case: DisputeCase, actor, outcome: str, note: str = "") -> DisputeCase:
    """结案, never without an outcome; "mediated successfully" needs an agreement.

    Raises ``disputes.outcome_required``, ``disputes.outcome_needs_agreement``,
    ``disputes.outcome_referred`` (a referred case closes as referred or withdrawn; only a
    referred case closes as referred).
    """
    outcome = clean(outcome)
    if not outcome:
        raise ServiceError(
            "disputes.outcome_required", _("A case cannot be closed without its outcome."), field="outcome"
        )
    if outcome not in CaseOutcome.values:
        raise ServiceError("disputes.choice_invalid", _("Choose one of the outcomes."), field="outcome")
    has_agreement = Agreement.objects.filter(case=case).exists()
    if outcome == CaseOutcome.SUCCESS and not has_agreement:
        raise ServiceError(
            "disputes.outcome_needs_agreement",
            _("Record the agreement before closing the case as mediated successfully."),
            field="outcome",
        )
    if case.status == CaseStatus.REFERRED and outcome not in (CaseOutcome.REFERRED, CaseOutcome.WITHDRAWN):
        raise ServiceError(
            "disputes.outcome_referred",
            _("A referred case closes as referred or withdrawn."),
            field="outcome",
        )
    if outcome == CaseOutcome.REFERRED and case.status != CaseStatus.REFERRED:
        # The referral (where to, and why) is recorded by referring the case, not by its outcome.
        raise ServiceError(
            "disputes.outcome_referred",
            _("This case was not referred: refer it first (where to and why), then close it."),
            field="outcome",
        )
    case.outcome = outcome
    case.outcome_note = clean(note)
    case.closed_at = timezone.now()
    _apply(
        case,
        A.CLOSE,
        actor=actor,
        note=case.outcome_note,
        payload={"outcome": outcome},
        fields=["outcome", "outcome_note", "closed_at"],
    )
    return case


@transaction.atomic
def case_update(
    *,
    case: DisputeCase,
    actor,
    risk: str | None = None,
    scale: str | None = None,
    people_involved=None,
    amount=None,
    category: str | None = None,
    note: str = "",
) -> DisputeCase:
    """Correct the case's assessment; raising the risk to red or orange reports it upward at once.

    The amount involved is never less than what the case's agreement settles (the amount resolved
    is never more than the amount involved: ``agreement_reach`` raises it, and a correction after
    the agreement cannot lower it below): ``disputes.amount_below_agreement`` on ``amount``.
    """
    changes = {}
    if risk is not None and risk != case.risk:
        changes["risk"] = _choice(risk, RiskColour, "risk")
    if scale is not None and scale != case.scale:
        changes["scale"] = _choice(scale, CaseScale, "scale")
    if people_involved not in (None, ""):
        changes["people_involved"] = _people(people_involved)
    if amount not in (None, ""):
        changes["amount"] = parse_amount(amount)
    if category:
        changes["category"] = _category(category)
    changes = {k: v for k, v in changes.items() if getattr(case, k) != v}
    if not changes:
        raise ServiceError("disputes.nothing_changed", _("Nothing was changed."))
    if "amount" in changes:
        agreed = Agreement.objects.filter(case=case).values_list("amount", flat=True).first()
        if agreed is not None and changes["amount"] < agreed:
            raise ServiceError(
                "disputes.amount_below_agreement",
                _("The amount involved cannot be less than the agreement's amount (%(amount)s yuan).")
                % {"amount": yuan_text(agreed)},
                field="amount",
            )
    before = {k: str(getattr(case, k)) for k in changes}
    # what changed, worded for each reader on the timeline (``texts.CASE_CHANGED``): the codes of
    # the choices, the numbers, the category's name, in the order of the form
    changed = SystemText(
        texts.CASE_CHANGED,
        {
            "changes": [
                {"field": k, "from": _plain(getattr(case, k)), "to": _plain(v)} for k, v in changes.items()
            ]
        },
    )
    for name, value in changes.items():
        setattr(case, name, value)
    _apply(
        case,
        A.UPDATE,
        actor=actor,
        note=clean(note),
        payload={"before": before, "after": {k: str(v) for k, v in changes.items()}, **changed.change_keys()},
        fields=list(changes),
    )
    if "risk" in changes and case.risk in (RiskColour.RED, RiskColour.ORANGE):
        _report_up(case, actor=actor)
    return case


def _plain(value):
    """A changed value as JSON data: a number stays a number, a category its name, a code a string."""
    return value if value is None or isinstance(value, int) else str(value)


@transaction.atomic
def case_mark_backlog(*, case: DisputeCase, actor, deadline, leader, note: str = "") -> DisputeCase:
    """列为积案: a long-standing petition case with its own time limit and a named responsible leader (包案)."""
    day = parse_date(deadline, "backlog_deadline")
    if day < timezone.localdate():
        raise ServiceError(
            "disputes.date_in_past", _("The time limit cannot lie in the past."), field="backlog_deadline"
        )
    if (
        leader is None
        or role_of(leader) != "leader"
        or not scope_of(leader).allows_division(case.division_id)
    ):
        raise ServiceError(
            "disputes.leader_invalid",
            _("Name a leader whose jurisdiction includes this dispute."),
            field="responsible_leader",
        )
    case.is_backlog = True
    case.backlog_deadline = day
    case.responsible_leader = leader
    _apply(
        case,
        A.MARK_BACKLOG,
        actor=actor,
        note=clean(note),
        payload={"deadline": day, "leader": leader.username},
        fields=["is_backlog", "backlog_deadline", "responsible_leader"],
    )
    _alert(
        case,
        [leader],
        AlertKind.BACKLOG_DUE,
        due_key=f"named:{day.isoformat()}",
        text=SystemText(texts.BACKLOG_LEADER, {"number": case.number, "date": day.isoformat()}),
    )
    return case


@transaction.atomic
def case_note(*, case: DisputeCase, actor, note: str) -> CaseEvent:
    return CASE_WORKFLOW.apply(
        case, A.NOTE, actor=actor, timeline_model=CaseEvent, note=require(note, "note", _("Write the note."))
    )


@transaction.atomic
def case_reveal_parties(*, case: DisputeCase, actor, reason: str) -> list[dict]:
    """Unmask the parties' names, ID numbers and phones for who must contact them, and log it.

    The log is a ``reveal_parties`` row on the case's own append-only timeline; it does not
    move the case's version.
    """
    reason = require(reason, "reason", _("Say why you need the parties' personal data."))
    if not may_see_parties(actor, case):
        raise PermissionDeniedError(
            "workflow.permission_denied",
            _("You may not do “%(action)s” here.") % {"action": A.REVEAL_PARTIES.label},
        )
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        action=A.REVEAL_PARTIES,
        from_state=case.status,
        to_state=case.status,
        note=reason,
        payload={"fields": ["name", "identifier", "phone"]},
        at=timezone.now(),
    )
    return [
        {
            "id": p.pk,
            "role": p.role,
            "kind": p.kind,
            "name": p.name,
            "identifier": p.identifier,
            "phone": p.phone,
            "address": p.address,
        }
        for p in case.parties.order_by("role", "pk")
    ]


def may_act(actor, case: DisputeCase, action: str) -> bool:
    """Whether ``actor`` may do ``action`` now (for showing buttons)."""
    return action in CASE_WORKFLOW.allowed_actions(case.status, actor=actor, obj=case)
