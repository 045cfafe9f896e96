"""Mediating a case: sessions, the agreement, performance follow-up and extension of the target."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    Agreement,
    AgreementForm,
    DisputeCase,
    MediationSession,
    PerformanceFollowUp,
    PerformanceStatus,
)
from zhiwang.disputes.services.casekit import A, _agreement, _apply
from zhiwang.disputes.services.common import (
    add_months,
    clean,
    next_number,
    parse_amount,
    parse_date,
    require,
)
from zhiwang.disputes.texts import SystemText


@transaction.atomic
def session_record(
    *,
    case: DisputeCase,
    actor,
    record: str,
    held_at: datetime | None = None,
    place: str = "",
    attendees: str = "",
    online: bool = False,
) -> MediationSession:
    """Record one mediation session (调解记录); the first one starts the mediation."""
    record = require(record, "record", _("Write what happened at the session."))
    now = timezone.now()
    held_at = held_at or now
    if timezone.is_naive(held_at):  # a local time without zone (API clients, forms)
        held_at = timezone.make_aware(held_at)
    if held_at > now + timedelta(hours=1):
        raise ServiceError(
            "disputes.session_in_future",
            _("A session cannot be recorded before it is held."),
            field="held_at",
        )
    if held_at < case.received_at - timedelta(days=1):
        raise ServiceError(
            "disputes.session_before_case",
            _("The session is dated before the case was registered."),
            field="held_at",
        )
    _apply(case, A.RECORD_SESSION, actor=actor, note=record[:500], payload={"held_at": held_at})
    return MediationSession.objects.create(
        case=case,
        held_at=held_at,
        place=clean(place)[:128],
        mediator=actor,
        attendees=clean(attendees)[:255],
        record=record,
        online=bool(online),
    )


@transaction.atomic
def agreement_reach(
    *,
    case: DisputeCase,
    actor,
    form: str,
    terms: str,
    performance_manner: str,
    performance_deadline,
    facts: str = "",
    signed_on=None,
    amount=None,
) -> Agreement:
    """Record the agreement (调解协议): terms and the manner and deadline of performance are required.

    ``amount`` is what the agreement settles, in yuan (协议金额; summed as "amount resolved" once
    the case closes as mediated successfully); not given (``None`` or empty), it is the case's
    amount involved. A value that is not an amount is ``disputes.amount_invalid`` on ``amount``.
    An amount above the case's amount involved (often 0: unknown at registration) raises it to
    the agreement's, in the same transaction, with its own timeline row by the system
    (``raise_amount``: the amount before and after, ``texts.AMOUNT_RAISED``): a case never involves
    less than its agreement resolves. A lower amount leaves the amount involved as it is.

    Raises ``disputes.performance_terms_missing`` (with the fields), ``disputes.invalid`` (e.g.
    ``signed_on`` in the future, ``disputes.date_in_future``, or before the day the case was
    registered, ``disputes.agreement_before_case``).
    """
    errors = ErrorList()
    if form not in AgreementForm.values:
        errors.add("form", "disputes.choice_invalid", _("Choose an oral or a written agreement."))
    terms = clean(terms)
    manner = clean(performance_manner)
    missing = ErrorList()
    if not terms:
        missing.add("terms", "disputes.performance_terms_missing", _("Write the terms the parties agreed."))
    if not manner:
        missing.add(
            "performance_manner",
            "disputes.performance_terms_missing",
            _("Say how the agreement is to be performed."),
        )
    if performance_deadline in (None, ""):
        missing.add(
            "performance_deadline",
            "disputes.performance_terms_missing",
            _("Give the deadline by which the agreement is to be performed."),
        )
    missing.raise_if_any(
        "disputes.performance_terms_missing",
        _("An agreement needs its terms and the manner and deadline of performance."),
    )
    today = timezone.localdate()
    try:
        deadline = parse_date(performance_deadline, "performance_deadline")
        signed = parse_date(signed_on, "signed_on") if signed_on not in (None, "") else today
    except ServiceError as error:
        raise error
    if signed > today:
        errors.add("signed_on", "disputes.date_in_future", _("The agreement cannot be signed in the future."))
    elif signed < timezone.localdate(case.received_at):
        errors.add(
            "signed_on",
            "disputes.agreement_before_case",
            _("The agreement is dated before the case was registered."),
        )
    agreed = case.amount
    if amount not in (None, ""):
        try:
            agreed = parse_amount(amount)
        except ServiceError as error:
            errors.add("amount", error.code, error.message)
    if deadline < signed:
        errors.add(
            "performance_deadline",
            "disputes.deadline_before_signing",
            _("The performance deadline is before the agreement was signed."),
        )
    errors.raise_if_any("disputes.invalid")
    _apply(
        case,
        A.REACH_AGREEMENT,
        actor=actor,
        note=terms[:500],
        payload={"form": form, "deadline": deadline, "amount": str(agreed)},
    )
    agreement = Agreement.objects.create(
        case=case,
        form=form,
        number=next_number("XY"),
        facts=clean(facts) or case.facts,
        terms=terms,
        performance_manner=manner[:255],
        performance_deadline=deadline,
        amount=agreed,
        signed_on=signed,
        created_by=actor,
    )
    if agreed > case.amount:
        _raise_amount(case, agreement, actor=actor)
    return agreement


def _raise_amount(case: DisputeCase, agreement: Agreement, *, actor) -> None:
    """Raise the case's amount involved to what ``agreement`` settles, on the timeline as a
    ``raise_amount`` row by the system (``actor=None``; who recorded the agreement in
    ``raised_by``, as a ``report_up`` row keeps it): nobody chose the new amount, the rule did. The
    amounts before and after are in the payload as a correction's (``case_update``), which
    ``selectors.amount_as_of`` reads from both, and the row's change line."""
    before = case.amount
    case.amount = agreement.amount
    raised = SystemText(texts.AMOUNT_RAISED, {"number": agreement.number})
    changed = SystemText(
        texts.CASE_CHANGED, {"changes": [{"field": "amount", "from": str(before), "to": str(case.amount)}]}
    )
    _apply(
        case,
        A.RAISE_AMOUNT,
        actor=None,
        note=raised.stored,
        payload={
            "before": {"amount": str(before)},
            "after": {"amount": str(case.amount)},
            "agreement": agreement.number,
            "raised_by": getattr(actor, "username", None),
            **raised.note_keys(),
            **changed.change_keys(),
        },
        fields=["amount"],
    )


@transaction.atomic
def performance_follow_up(*, case: DisputeCase, actor, status: str, note: str = "") -> PerformanceFollowUp:
    """A follow-up visit on performance (履行回访); the agreement keeps the latest finding."""
    agreement = _agreement(case)
    if status not in PerformanceStatus.values or status == PerformanceStatus.PENDING:
        raise ServiceError(
            "disputes.choice_invalid", _("Say whether the agreement was performed."), field="status"
        )
    agreement.performance_status = status
    _apply(case, A.FOLLOW_UP, actor=actor, note=clean(note), payload={"performance": status})
    agreement.save(update_fields=["performance_status"])
    return PerformanceFollowUp.objects.create(
        case=case, at=timezone.now(), status=status, note=clean(note), by=actor
    )


#: How far past the one-month target an extension may move it, in calendar days, all extensions
#: together, unless ``ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS`` says otherwise (docs/disputes.md
#: "Extension"). People's mediation is normally done within a month, extendable with the parties'
#: consent (DOMAIN.md), with no limit written there: ours keeps "extended" from meaning "open for
#: ever" — a dispute unresolved by then is referred or closed. A city with a written rule sets it.
EXTENSION_MAX_DAYS = 30


def extension_max_days() -> int:
    """The extension cap in calendar days: ``ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS`` (default
    ``EXTENSION_MAX_DAYS``). Read on each use, so a test or a deployment's override applies at once;
    a value that is not a whole number of at least 1 day is a configuration error, named as such,
    never silently replaced (0 would refuse every extension the law allows)."""
    value = getattr(settings, "ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS", EXTENSION_MAX_DAYS)
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ImproperlyConfigured(
            f"ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS must be a whole number of days, 1 or more (got {value!r})."
        )
    return int(text)


def extension_last_day(case: DisputeCase) -> date:
    """The latest target an extension may set: ``extension_max_days()`` after the one-month target.

    Counted from the target the case was registered with (one month after it was received, on the
    local calendar), not from the current one: extending again never moves the limit.
    """
    return timezone.localdate(add_months(case.received_at, 1)) + timedelta(days=extension_max_days())


@transaction.atomic
def case_extend(*, case: DisputeCase, actor, until, reason: str) -> DisputeCase:
    """Extend the one-month target with the parties' consent (延长调解期限).

    The new target is later than the current one (``disputes.extension_not_later``) and at most
    ``extension_max_days()`` past the one-month target (``disputes.extension_too_long``, field
    ``until``); within that limit it may be extended again, each time with a reason.
    """
    reason = require(reason, "reason", _("Say why, and that the parties consent."))
    new_day = parse_date(until, "until")
    if new_day <= timezone.localdate(case.target_at):
        raise ServiceError(
            "disputes.extension_not_later",
            _("The new target must be later than the current one."),
            field="until",
        )
    last_day = extension_last_day(case)
    if new_day > last_day:
        raise ServiceError(
            "disputes.extension_too_long",
            _(
                "An extension may move the target at most %(days)d days past the one-month "
                "target: to %(date)s at the latest."
            )
            % {"days": extension_max_days(), "date": last_day.isoformat()},
            field="until",
        )
    previous = case.target_at
    # On the local calendar: replacing the day of the UTC value could land a day off.
    case.target_at = timezone.localtime(case.target_at).replace(
        year=new_day.year, month=new_day.month, day=new_day.day
    )
    case.extended = True
    # the new target date on the timeline beside the reason, worded for each reader (local dates)
    moved = SystemText(
        texts.TARGET_MOVED,
        {"from": timezone.localdate(previous).isoformat(), "to": new_day.isoformat()},
    )
    _apply(
        case,
        A.EXTEND,
        actor=actor,
        note=reason,
        payload={"from": previous, "to": case.target_at, **moved.change_keys()},
        fields=["target_at", "extended"],
    )
    return case
