"""Marking the staff inbox read (``tickets.notification_selectors`` reads it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import NotFound
from zhiwang.tickets.notification_selectors import notifications_visible_to


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark ``user``'s unread notifications read — those in ``ids``, or all of them; returns how many.

    A notification the user may not read is never touched (one named alone that is not theirs:
    ``tickets.notification_not_found``, 404, as for one that does not exist). Idempotent: marking a
    read notification again changes nothing.
    """
    visible = notifications_visible_to(user).order_by()
    if ids is not None:
        wanted = {int(i) for i in ids}
        if len(wanted) == 1 and not visible.filter(pk__in=wanted).exists():
            raise NotFound("tickets.notification_not_found", _("No such notification."), field="notification")
        visible = visible.filter(pk__in=wanted)
    return visible.filter(read_at__isnull=True).update(read_at=timezone.now())
