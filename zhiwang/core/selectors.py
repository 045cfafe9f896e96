"""Reads of the core app."""

from __future__ import annotations

from django.db.models import QuerySet

from zhiwang.core.models import AdminNotice


def admin_notice_open_list(*, user) -> QuerySet[AdminNotice]:
    """Open administrator notices, newest first; only staff users see them."""
    if user is None or not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return AdminNotice.objects.none()
    return AdminNotice.objects.filter(resolved_at__isnull=True).order_by("-last_seen_at")
