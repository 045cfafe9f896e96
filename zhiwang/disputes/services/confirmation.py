"""Judicial confirmation (司法确认) of a written agreement: the 30-day window and the court's ruling."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.disputes.models import (
    Agreement,
    AgreementForm,
    ConfirmationStatus,
    DisputeCase,
)
from zhiwang.disputes.services.casekit import CONFIRMATION_DAYS, A, _agreement, _apply
from zhiwang.disputes.services.common import (
    clean,
    parse_date,
    require,
)


def confirmation_last_day(signed_on: date) -> date:
    """The last day to apply for judicial confirmation of an agreement signed on ``signed_on``.

    30 days counted from the day after signing (signed 1 March → 31 March). When that day is a
    public holiday or a rest day of the work calendar, the period ends on the first working day
    after it (民法典 art. 203; 民事诉讼法 on time limits: 期间届满的最后一日是法定休假日的，以法定休假日
    结束的次日为期间的最后一日). A weekend made a working day (调休) is a working day.
    """
    last = signed_on + timedelta(days=CONFIRMATION_DAYS)
    calendar = work_calendar()
    if not calendar.is_working_day(last):
        last = calendar.next_working_day(last)
    return last


def confirmation_deadline(agreement: Agreement) -> date:
    """The last day on which judicial confirmation of ``agreement`` may be applied for."""
    return confirmation_last_day(agreement.signed_on)


@transaction.atomic
def confirmation_apply(*, case: DisputeCase, actor, applied_on=None, court: str = "") -> Agreement:
    """The parties apply to the court for judicial confirmation (司法确认), within 30 days of the agreement.

    Raises ``disputes.confirmation_window_closed`` after the 30 days,
    ``disputes.confirmation_oral`` for an oral agreement, ``disputes.confirmation_already``.
    """
    agreement = _agreement(case)
    applied = parse_date(applied_on, "applied_on") if applied_on not in (None, "") else timezone.localdate()
    if agreement.form != AgreementForm.WRITTEN:
        raise ServiceError(
            "disputes.confirmation_oral",
            _("Only a written agreement can be confirmed by a court."),
            field="form",
        )
    if agreement.confirmation_status:
        raise ServiceError(
            "disputes.confirmation_already", _("Judicial confirmation has already been applied for.")
        )
    if applied < agreement.signed_on or applied > timezone.localdate():
        raise ServiceError(
            "disputes.date_invalid",
            _("The application date must lie between the signing and today."),
            field="applied_on",
        )
    last = confirmation_deadline(agreement)
    if applied > last:
        raise ServiceError(
            "disputes.confirmation_window_closed",
            _(
                "Judicial confirmation must be applied for within 30 days of the agreement (by %(date)s, "
                "moved past public holidays and rest days)."
            )
            % {"date": last.isoformat()},
            field="applied_on",
        )
    agreement.confirmation_status = ConfirmationStatus.APPLIED
    agreement.confirmation_applied_on = applied
    agreement.confirmation_court = require(court, "court", _("Name the court applied to."))[:128]
    _apply(
        case,
        A.APPLY_CONFIRMATION,
        actor=actor,
        note=agreement.confirmation_court,
        payload={"applied_on": applied},
    )
    agreement.save(update_fields=["confirmation_status", "confirmation_applied_on", "confirmation_court"])
    return agreement


@transaction.atomic
def confirmation_result(*, case: DisputeCase, actor, confirmed: bool, note: str = "") -> Agreement:
    """The court's ruling on an application for judicial confirmation (confirmed or refused)."""
    agreement = _agreement(case)
    if agreement.confirmation_status != ConfirmationStatus.APPLIED:
        raise ServiceError(
            "disputes.confirmation_not_applied", _("Judicial confirmation has not been applied for.")
        )
    agreement.confirmation_status = ConfirmationStatus.CONFIRMED if confirmed else ConfirmationStatus.REFUSED
    _apply(
        case,
        A.CONFIRMATION_RESULT,
        actor=actor,
        note=clean(note),
        payload={"confirmed": bool(confirmed)},
    )
    agreement.save(update_fields=["confirmation_status"])
    return agreement
