"""Writes of the analytics app: alerts (raise, decide, subscribe), the governance index, reports.

Rollup writes live in ``rollups/`` (they follow the ticket timeline, not a user's request).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics import alerts as detectors
from zhiwang.analytics.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AlertSubscription,
    Report,
    ReportStatus,
)
from zhiwang.analytics.selectors import require_analyst
from zhiwang.analytics.selectors.place import FIRST_DAY, LAST_DAY
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.masking import mask_data, mask_text
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Notification, Ticket

logger = logging.getLogger(__name__)

# --- alerts -----------------------------------------------------------------------------------


def _surge_tickets(finding: detectors.Finding) -> list[int]:
    qs = Ticket.objects.filter(
        category_id=finding.category_id,
        received_at__gte=finding.window_start,
        received_at__lt=finding.window_end,
    )
    qs = (
        qs.filter(grid_id=finding.grid_id) if finding.grid_id else qs.filter(community_id=finding.division_id)
    )
    return list(qs.order_by("pk").values_list("pk", flat=True)[:200])


def _subscribers(division_id: int | None, kind: str) -> list[int]:
    """Units subscribed to a division that contains ``division_id`` (city-wide alerts: city subscriptions)."""
    if division_id is None:
        subs = AlertSubscription.objects.filter(division__level="city")
    else:
        division = Division.objects.filter(pk=division_id).only("code").first()
        if division is None:
            return []
        prefixes = {division.code[:n].ljust(12, "0") for n in (4, 6, 9, 12)}
        subs = AlertSubscription.objects.filter(division__code__in=prefixes)
    return sorted({s.unit_id for s in subs if not s.kinds or kind in s.kinds})


@transaction.atomic
def alert_raise(*, finding: detectors.Finding, cooldown_days: int = 3) -> tuple[Alert | None, bool]:
    """Record a finding: update the open alert with the same key, or raise a new one.

    De-duplication: one open alert per key; a key decided (handled or false) less than
    ``cooldown_days`` ago is not raised again. Returns ``(alert, created)``; ``(None, False)``
    when the cool-down suppressed it. New alerts notify the subscribed units; an open alert
    whose finding moved to another place follows it and notifies the units newly responsible.

    Alerts and their notifications are read by many people: the key, the explanation and every
    text of the detail are masked here (``mask_text``), whatever the detector wrote. Masking is
    deterministic, so the same series keeps the same key.
    """
    finding.key = mask_text(finding.key)[:160]
    finding.explanation = mask_text(finding.explanation)
    finding.detail = mask_data(finding.detail)
    current = Alert.objects.select_for_update().filter(key=finding.key, status=AlertStatus.OPEN).first()
    if current is not None and finding.kind == AlertKind.SURGE and current.window_end >= finding.window_start:
        # one alert per event: later findings of the same event (touching or overlapping windows)
        # widen it, never narrow it; a later, separate event replaces the window
        finding.window_start = min(finding.window_start, current.window_start)
        finding.window_end = max(finding.window_end, current.window_end)
    if finding.kind == AlertKind.SURGE and not finding.ticket_ids:
        finding.ticket_ids = _surge_tickets(finding)
    fields = {
        "explanation": finding.explanation[:500],
        "window_start": finding.window_start,
        "window_end": finding.window_end,
        "observed": finding.observed,
        "expected": finding.expected,
        "spread": finding.spread,
        "score": finding.score,
        "ticket_ids": finding.ticket_ids,
        "detail": finding.detail,
        # the place follows the finding: a repeated caller or a topic whose tickets spread to
        # another district is that place's alert now (``_common_division`` widens it)
        "division_id": finding.division_id,
        "grid_id": finding.grid_id,
        "category_id": finding.category_id,
    }
    if current is not None:
        # The open alert is moved rather than closed and raised again: there is one open alert
        # per key, its history (raised at, ticket list) stays whole, and no decision is faked
        # (a closed alert would also start the cool-down that suppresses the key). Units that
        # become responsible with the move are told as on a new raise; those told already are not.
        told = set(_subscribers(current.division_id, current.kind))
        moved = current.division_id != finding.division_id
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        if moved:
            _notify(current, [u for u in _subscribers(current.division_id, current.kind) if u not in told])
        return current, False
    recent = Alert.objects.filter(
        key=finding.key, decided_at__gte=timezone.now() - timedelta(days=cooldown_days)
    ).exists()
    if recent:
        return None, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(kind=finding.kind, key=finding.key, **fields)
    except IntegrityError:  # a concurrent detector raised it first
        return Alert.objects.get(key=finding.key, status=AlertStatus.OPEN), False
    _notify(alert, _subscribers(alert.division_id, alert.kind))
    return alert, True


def _notify(alert: Alert, unit_ids: list[int]) -> None:
    """Tell ``unit_ids`` about ``alert`` (in-app notification with its masked explanation)."""
    Notification.objects.bulk_create(
        [
            Notification(unit_id=unit_id, kind="analytics_alert", message=alert.explanation[:500])
            for unit_id in unit_ids
        ]
    )


def alerts_detect(*, today: date | None = None, kinds: list[str] | None = None) -> dict[str, int]:
    """Run the detectors for ``today`` (default: today) and record what they find; returns counts."""
    today = today or timezone.localdate()
    counts = {"found": 0, "created": 0, "updated": 0, "suppressed": 0}
    for kind, detect in detectors.DETECTORS.items():
        if kinds and kind not in kinds:
            continue
        for finding in detect(today=today):
            counts["found"] += 1
            alert, created = alert_raise(finding=finding)
            counts["created" if created else ("updated" if alert else "suppressed")] += 1
    return counts


def _alert_for(user, alert_id: int) -> Alert:
    require_analyst(user)
    alert = Alert.objects.visible_to(user).select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("analytics.alert_not_found", _("There is no such alert in your jurisdiction."))
    return alert


@transaction.atomic
def alert_decide(*, alert_id: int, user, status: str, note: str = "") -> Alert:
    """Mark an alert handled or a false alarm (idempotent: the same decision again changes nothing)."""
    if status not in (AlertStatus.HANDLED, AlertStatus.FALSE):
        raise ServiceError(
            "analytics.decision_unknown", _("Mark the alert handled or false."), field="status"
        )
    alert = _alert_for(user, alert_id)
    if alert.status == status:
        return alert
    if alert.status != AlertStatus.OPEN:
        raise ServiceError(
            "analytics.alert_decided",
            _("This alert was already marked “%(status)s”.") % {"status": alert.get_status_display()},
            field="status",
            status=409,
        )
    alert.status = status
    alert.decided_by = user
    alert.decided_at = timezone.now()
    alert.decision_note = (note or "")[:500]
    alert.save()
    return alert


@transaction.atomic
def alert_subscribe(
    *, user, unit_code: str, division_code: str, kinds: list[str] | None = None
) -> AlertSubscription:
    """Subscribe a unit to the alerts of a division in the user's jurisdiction (idempotent)."""
    require_analyst(user)
    kinds = [k for k in (kinds or []) if k]
    if unknown := [k for k in kinds if k not in AlertKind.values]:
        raise ServiceError(
            "analytics.kind_unknown", _("Unknown alert kind %(kind)s.") % {"kind": unknown[0]}, field="kinds"
        )
    division = Division.objects.filter(code=(division_code or "").strip()).first()
    scope = scope_of(user)
    if division is None or not (scope.everything or division.pk in scope.division_ids):
        raise ServiceError(
            "analytics.place_unknown",
            _("There is no division %(code)s in your jurisdiction.") % {"code": division_code},
            field="division",
        )
    unit = OrgUnit.objects.filter(code=(unit_code or "").strip(), is_active=True).first()
    if unit is None:
        raise ServiceError(
            "analytics.unit_unknown", _("There is no unit %(code)s.") % {"code": unit_code}, field="unit"
        )
    if (
        not scope.everything
        and unit.pk != getattr(user, "org_unit_id", None)
        and unit.division_id not in scope.division_ids
    ):
        raise PermissionDeniedError(
            "analytics.unit_not_allowed",
            _("You may only subscribe units of your jurisdiction."),
            field="unit",
        )
    subscription, created = AlertSubscription.objects.get_or_create(
        unit=unit, division=division, defaults={"kinds": kinds, "created_by": user}
    )
    if not created and subscription.kinds != kinds:
        subscription.kinds = kinds
        subscription.save(update_fields=["kinds"])
    return subscription


@transaction.atomic
def alert_unsubscribe(*, user, subscription_id: int) -> None:
    require_analyst(user)
    scope = scope_of(user)
    sub = AlertSubscription.objects.filter(pk=subscription_id).first()
    if sub is None or not (scope.everything or sub.division_id in scope.division_ids):
        raise NotFound("analytics.subscription_not_found", _("There is no such subscription."))
    sub.delete()


# --- reports ------------------------------------------------------------------------------------


#: The two forms of a period: ``YYYY-MM`` (also ``YYYY-M``) and ``YYYY-Qn``; ASCII digits only.
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})", re.ASCII)
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])", re.ASCII)


def report_period_parse(period: str) -> tuple[str, date, date]:
    """``YYYY-MM`` (month) or ``YYYY-Qn`` (quarter) → ``(canonical, start, end)``, ``[start, end)``.

    Surrounding spaces, a lower-case ``q`` and a one-digit month are forgiven; the canonical form
    (``2026-01``, ``2026-Q2``) is what a report stores, so one period is one name. Anything else,
    and years outside the dashboards' calendar, is ``analytics.period_invalid``.
    """
    text = (period or "").strip().upper()
    try:
        if quarter_match := _QUARTER.fullmatch(text):
            year, quarter = int(quarter_match[1]), int(quarter_match[2])
            canonical = f"{year:04d}-Q{quarter}"
            start = date(year, 3 * quarter - 2, 1)
            end = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
        elif month_match := _MONTH.fullmatch(text):
            year, month = int(month_match[1]), int(month_match[2])
            canonical = f"{year:04d}-{month:02d}"
            start = date(year, month, 1)
            end = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        else:
            raise ValueError
        if not FIRST_DAY <= start <= LAST_DAY:
            raise ValueError
    except ValueError:
        raise ServiceError(
            "analytics.period_invalid",
            _("Give the period as YYYY-MM or YYYY-Qn (e.g. 2026-Q2)."),
            field="period",
        ) from None
    return canonical, start, end


def report_period(period: str) -> tuple[date, date]:
    """``YYYY-MM`` (month) or ``YYYY-Qn`` (quarter) → ``[start, end)`` (see ``report_period_parse``)."""
    _canonical, start, end = report_period_parse(period)
    return start, end


def report_key(user, key: str) -> str:
    """The stored form of a report's idempotency key: ``u<user id>:<key>``, at most 80 characters.

    A longer one is ``u<user id>:h:`` and a digest of the key, never cut: two keys that differ
    only at the end are two requests.
    """
    return stored_report_key(user.pk, key)


def stored_report_key(user_id, key: str) -> str:
    plain = f"u{user_id}:{key}"
    if len(plain) <= 80:
        return plain
    return f"u{user_id}:h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:56]


@transaction.atomic
def report_request(
    *, user, division_code: str, period: str, idempotency_key: str = ""
) -> tuple[Report, bool]:
    """Queue a report of a division for a month or quarter; the task worker makes the files.

    The same key (or, without one, the same user, division and period while a report is queued
    or running) returns the existing report instead of queueing a second one.
    """
    from zhiwang.analytics.selectors import place_for

    require_analyst(user)
    place = place_for(user=user, code=division_code)
    normalized, start, end = report_period_parse(period)
    # keys are per requester (as the tickets API's ids): another user's equal key is another report
    key = report_key(
        user,
        idempotency_key.strip()
        or hashlib.sha256(
            f"{user.pk}:{place.code}:{normalized}:{timezone.now():%Y%m%d%H%M}".encode()
        ).hexdigest()[:40],
    )
    existing = Report.objects.select_for_update().filter(idempotency_key=key).first()
    if existing is not None:
        if existing.status == ReportStatus.FAILED:
            # a retry with the key of a failed report tries again (the key still makes one report)
            existing.status, existing.progress, existing.error = ReportStatus.QUEUED, 0, ""
            existing.updated_at = timezone.now()
            existing.save(update_fields=["status", "progress", "error", "updated_at"])
            transaction.on_commit(lambda: _enqueue_report(existing.pk))
        return existing, False
    report = Report.objects.create(
        division=place.division,
        period=normalized,
        start=start,
        end=end,
        idempotency_key=key,
        requested_by=user,
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: _enqueue_report(report.pk))
    return report, True


def _enqueue_report(report_id: int) -> None:
    from zhiwang.analytics.tasks import report_generate_task

    report_generate_task(report_id)


def may_download_report(user, report: Report, *, in_scope: bool = False) -> bool:
    """Whether ``user`` may have ``report``'s files: it lies in their jurisdiction (``in_scope``:
    the caller read it through ``Report.objects.visible_to(user)``), and when the files hold
    dispute figures, they see dispute cases too (as on the dashboard and the API)."""
    from zhiwang.analytics.selectors import is_analyst, may_see_disputes

    if not is_analyst(user):
        return False
    if not in_scope and not Report.objects.visible_to(user).filter(pk=report.pk).exists():
        return False
    return not report.includes_disputes or may_see_disputes(user)


def report_file(*, user, report_id: int, fmt: str):
    """The Excel or PDF file of a report for ``user`` to download.

    ``analytics.report_not_found`` (404) when there is no such report or file in their
    jurisdiction; ``analytics.report_disputes_not_allowed`` (403) when the files hold dispute
    figures and ``user`` does not see dispute cases.
    """
    require_analyst(user)
    report = Report.objects.visible_to(user).select_related("division").filter(pk=report_id).first()
    file = getattr(report, fmt, None) if report is not None and fmt in ("xlsx", "pdf") else None
    if not file:
        raise NotFound("analytics.report_not_found", _("There is no such report in your jurisdiction."))
    if not may_download_report(user, report, in_scope=True):
        raise PermissionDeniedError(
            "analytics.report_disputes_not_allowed",
            _("This report includes dispute figures, which your role does not see."),
        )
    return report, file


def report_generate(*, report_id: int) -> Report:
    """Make the Excel and PDF files of a queued report, updating ``progress`` as it goes."""
    from zhiwang.analytics.reports import build_report_files

    report = Report.objects.get(pk=report_id)
    if report.status == ReportStatus.DONE:
        return report
    Report.objects.filter(pk=report.pk).update(
        status=ReportStatus.RUNNING, progress=5, updated_at=timezone.now()
    )

    def progress(value: int) -> None:
        Report.objects.filter(pk=report.pk).update(progress=value, updated_at=timezone.now())

    try:
        build_report_files(report, progress=progress)
    except Exception as error:  # recorded for the administrator; the page says it failed
        logger.exception("report %s failed", report.pk)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.FAILED,
            error=f"{type(error).__name__}: {error}"[:500],
            updated_at=timezone.now(),
        )
        raise
    report.status = ReportStatus.DONE
    report.progress = 100
    report.finished_at = timezone.now()
    report.save(update_fields=["status", "progress", "finished_at", "xlsx", "pdf", "includes_disputes"])
    return report


def reports_give_up_stale(*, now=None) -> int:
    """Mark failed the reports queued or running that showed no progress for
    ``ZHIWANG_REPORT_STALE_MINUTES`` (default 30): their worker died or the queue lost them, and
    their page would otherwise poll for ever. Returns how many; their requesters can ask again
    (the same idempotency key retries a failed report)."""
    from django.conf import settings
    from django.db.models import Q

    minutes = settings.ZHIWANG_REPORT_STALE_MINUTES
    before = (now or timezone.now()) - timedelta(minutes=minutes)
    stale = Report.objects.filter(status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)).filter(
        Q(updated_at__lt=before) | Q(updated_at=None, created_at__lt=before)
    )
    return stale.update(
        status=ReportStatus.FAILED,
        error=f"no progress for {minutes} minutes: the task worker stopped or lost the job",
        updated_at=now or timezone.now(),
    )
