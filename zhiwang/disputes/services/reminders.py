"""The periodic reminder sweep: one-month targets, confirmation windows, performance deadlines, backlog limits.

Each reminder is a ``DisputeAlert`` made once per (case, recipient, kind, deadline) and a
``remind`` row on the case's timeline when it is new, so running the sweep twice (two
workers, a manual run) reminds exactly once. Both keep the sentence as a code with parameters
(``disputes.texts``): the sweep runs in no reader's language, each reader gets their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    AgreementForm,
    AlertKind,
    CaseEvent,
    CaseStatus,
    ConfirmationStatus,
    DisputeAlert,
    DisputeCase,
    Mediator,
    PerformanceStatus,
)
from zhiwang.disputes.selectors import near_days
from zhiwang.disputes.services.casekit import CONFIRMATION_DAYS, _alert
from zhiwang.disputes.services.common import users_over
from zhiwang.disputes.services.confirmation import confirmation_deadline
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import CaseAction


@dataclass
class SweepResult:
    target_near: int = 0
    confirmation_closing: int = 0
    performance_due: int = 0
    backlog_due: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _mediators_of(case: DisputeCase) -> list:
    if case.mediator_id is not None:
        return [case.mediator]
    if case.organisation_id is not None:
        return [
            m.user
            for m in Mediator.objects.filter(
                organisation_id=case.organisation_id, is_active=True
            ).select_related("user")
        ]
    return list(users_over(case.division, ("dispatcher",)))


def _remind(case: DisputeCase, users, kind: str, due_key: str, text: SystemText) -> int:
    with transaction.atomic():
        made = _alert(case, users, kind, due_key=due_key, text=text)
        if made:
            CaseEvent.objects.create(
                case=case,
                actor=None,
                action=CaseAction.REMIND,
                from_state=case.status,
                to_state=case.status,
                note=text.stored,
                payload={"kind": kind, "due": due_key, "recipients": made, **text.note_keys()},
            )
    return made


def reminders_sweep(*, now: datetime | None = None) -> SweepResult:
    """Remind mediators and leaders of what falls due soon (see the module docstring)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = SweepResult()
    near = now + timedelta(days=near_days())
    for case in DisputeCase.objects.filter(
        status__in=(CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.MEDIATING), target_at__lte=near
    ).select_related("mediator", "division"):
        day = timezone.localdate(case.target_at)
        text = SystemText(
            texts.TARGET_PAST if case.target_at <= now else texts.TARGET_NEAR,
            {"number": case.number, "date": day.isoformat()},
        )
        result.target_near += _remind(case, _mediators_of(case), AlertKind.TARGET_NEAR, day.isoformat(), text)

    # The window may end later than 30 days after signing (moved past holidays): look a
    # fortnight further back and keep the agreements whose last day is within 5 days.
    first_signed = today - timedelta(days=CONFIRMATION_DAYS + 14)
    closing_from = today - timedelta(days=CONFIRMATION_DAYS - 5)
    for case in DisputeCase.objects.filter(
        status=CaseStatus.AGREED,
        agreement__form=AgreementForm.WRITTEN,
        agreement__confirmation_status=ConfirmationStatus.NONE,
        agreement__signed_on__gte=first_signed,
        agreement__signed_on__lte=closing_from,
    ).select_related("agreement", "mediator", "division"):
        last = confirmation_deadline(case.agreement)
        if not today <= last <= today + timedelta(days=5):
            continue
        text = SystemText(texts.CONFIRMATION_CLOSING, {"number": case.number, "date": last.isoformat()})
        result.confirmation_closing += _remind(
            case, _mediators_of(case), AlertKind.CONFIRMATION_CLOSING, last.isoformat(), text
        )

    for case in DisputeCase.objects.filter(
        status=CaseStatus.AGREED,
        agreement__performance_status__in=(PerformanceStatus.PENDING, PerformanceStatus.PARTLY),
        agreement__performance_deadline__lte=today + timedelta(days=3),
    ).select_related("agreement", "mediator", "division"):
        deadline = case.agreement.performance_deadline
        text = SystemText(texts.PERFORMANCE_DUE, {"number": case.number, "date": deadline.isoformat()})
        result.performance_due += _remind(
            case, _mediators_of(case), AlertKind.PERFORMANCE_DUE, deadline.isoformat(), text
        )

    for case in DisputeCase.objects.filter(
        is_backlog=True,
        status__in=(CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.MEDIATING, CaseStatus.AGREED),
        backlog_deadline__lte=today + timedelta(days=near_days()),
    ).select_related("responsible_leader", "mediator", "division"):
        due = case.backlog_deadline.isoformat()
        text = SystemText(texts.BACKLOG_DUE, {"number": case.number, "date": due})
        users = [case.responsible_leader, *([case.mediator] if case.mediator_id else [])]
        result.backlog_due += _remind(case, users, AlertKind.BACKLOG_DUE, due, text)
    return result


def alerts_mark_read(*, user, alert_ids: list[int] | None = None) -> int:
    """Mark the user's own alerts read (all unread ones when ``alert_ids`` is None); returns how many."""
    qs = DisputeAlert.objects.filter(recipient=user, read_at__isnull=True)
    if alert_ids is not None:
        qs = qs.filter(pk__in=alert_ids)
    return qs.update(read_at=timezone.now())
