"""Writes of the core app that other apps call: administrator notices.

Work-calendar services live in ``core.workcalendar.services``.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from zhiwang.core.models import AdminNotice, NoticeLevel


def admin_notice_raise(*, key: str, message: str, level: str = NoticeLevel.WARNING) -> AdminNotice:
    """Record that problem ``key`` happened (again); one row per key, however often.

    The first call creates the notice; later calls bump ``count`` and ``last_seen_at``,
    refresh ``message`` and ``level``, and reopen a resolved notice (the problem is back).
    Safe under concurrency: two first calls racing end in one row with count 2.
    """
    if level not in NoticeLevel.values:
        raise ValueError(f"unknown notice level {level!r}")
    message = str(message)
    with transaction.atomic():
        if not _notice_bump(key=key, message=message, level=level):
            try:
                # A savepoint, so losing the insert race does not break the caller's transaction.
                with transaction.atomic():
                    return AdminNotice.objects.create(key=key, message=message, level=level)
            except IntegrityError:
                _notice_bump(key=key, message=message, level=level)
        return AdminNotice.objects.get(key=key)


def _notice_bump(*, key: str, message: str, level: str) -> int:
    return AdminNotice.objects.filter(key=key).update(
        count=F("count") + 1, last_seen_at=timezone.now(), message=message, level=level, resolved_at=None
    )


def admin_notice_resolve(*, key: str) -> bool:
    """Mark notice ``key`` resolved (its cause is gone); False when there was no open notice."""
    return bool(
        AdminNotice.objects.filter(key=key, resolved_at__isnull=True).update(resolved_at=timezone.now())
    )
