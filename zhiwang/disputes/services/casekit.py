"""The kit every case service shares: the guarded transition, choices, alerts and the report upward."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    Agreement,
    AlertKind,
    CaseEvent,
    DisputeAlert,
    DisputeCase,
    DisputeCategory,
    MediationOrganisation,
    RiskColour,
)
from zhiwang.disputes.services.common import (
    clean,
    users_over,
)
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import (
    CASE_WORKFLOW,
    CaseAction,
    organisation_serves,
)
from zhiwang.geo.models import Division

A = CaseAction
#: Judicial confirmation must be applied for within this many days of the agreement.
CONFIRMATION_DAYS = 30


@dataclass
class CaseResult:
    case: DisputeCase
    created: bool


def _apply(case: DisputeCase, action: str, *, actor, note: str = "", payload=None, fields=()) -> CaseEvent:
    """Apply a transition to ``case`` as the caller saw it: its ``version`` must still be the stored one.

    The row is locked first (PostgreSQL; SQLite's IMMEDIATE transaction holds the write lock),
    so of two people acting on the same version of a case, the second gets ``workflow.conflict``
    (409) even when the action keeps the state (an update, a reassignment, a follow-up).
    """
    stored = (
        DisputeCase.objects.select_for_update().filter(pk=case.pk).values_list("version", flat=True).first()
    )
    if stored is not None and stored != case.version:
        raise Conflict(
            "workflow.conflict",
            _("Somebody changed this case first (you saw version %(seen)s, it is now %(now)s). Reload it.")
            % {"seen": case.version, "now": stored},
        )
    case.version += 1
    try:
        return CASE_WORKFLOW.apply(
            case,
            action,
            actor=actor,
            timeline_model=CaseEvent,
            note=note,
            payload=payload,
            update_fields=["version", *fields],
        )
    except Exception:
        case.version -= 1  # refused and rolled back: the caller's object is as it was
        raise


def _category(code, field: str = "category") -> DisputeCategory:
    found = DisputeCategory.objects.filter(code=clean(code), is_active=True).first()
    if found is None:
        raise ServiceError(
            "disputes.category_unknown", _("Choose one of the dispute categories."), field=field
        )
    return found


def _choice(value, choices, field: str, default=None) -> str:
    value = clean(value) or default
    if value not in choices.values:
        raise ServiceError("disputes.choice_invalid", _("Choose one of the offered values."), field=field)
    return value


def _people(value) -> int:
    try:
        people = int(value if value not in (None, "") else 2)
    except (TypeError, ValueError):
        people = 0
    if people < 1 or people > 1_000_000:
        raise ServiceError(
            "disputes.people_invalid",
            _("Enter how many people are involved (1 or more)."),
            field="people_involved",
        )
    return people


def _serves(organisation: MediationOrganisation, division: Division) -> bool:
    return organisation_serves(organisation, division)


def _agreement(case: DisputeCase) -> Agreement:
    agreement = Agreement.objects.filter(case=case).first()
    if agreement is None:
        raise ServiceError("disputes.no_agreement", _("This case has no agreement."))
    return agreement


def _alert(case: DisputeCase, users, kind: str, *, due_key: str, text: SystemText) -> int:
    """Alerts once per (case, user, kind, due_key); returns how many were new.

    The message is kept as ``text``'s code and parameters, rendered in each reader's language, and as
    the sentence in the city's language (``disputes.texts``).
    """
    made = 0
    defaults = {"message": text.stored[:500], "message_code": text.code, "message_params": dict(text.params)}
    for user in users:
        if user is None:
            continue
        _row, created = DisputeAlert.objects.get_or_create(
            case=case, recipient=user, kind=kind, due_key=due_key[:32], defaults=defaults
        )
        made += created
    return made


def _report_up(case: DisputeCase, *, actor) -> int:
    """Red: leaders and dispatchers above the place at once; orange: the dispatchers (same day)."""
    about = {"number": case.number, "place": case.division.name, "title": case.title}
    if case.risk == RiskColour.RED:
        roles, kind, text = ("leader", "dispatcher"), AlertKind.RED_RISK, SystemText(texts.RED_RISK, about)
    else:
        roles, kind, text = ("dispatcher",), AlertKind.ORANGE_RISK, SystemText(texts.ORANGE_RISK, about)
    recipients = list(users_over(case.division, roles))
    made = _alert(case, recipients, kind, due_key=case.risk, text=text)
    case.reported_up_at = timezone.now()
    # Written by the system: whoever raised the risk, the report itself is automatic.
    _apply(
        case,
        A.REPORT_UP,
        actor=None,
        note=text.stored,
        payload={
            "risk": case.risk,
            "recipients": [u.username for u in recipients],
            "new_alerts": made,
            "raised_by": getattr(actor, "username", None),
            **text.note_keys(),
        },
        fields=["reported_up_at"],
    )
    return made
