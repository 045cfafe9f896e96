"""Marking the staff inbox read (``tickets.notification_selectors`` reads it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import NotFound
from zhiwang.tickets.notification_selectors import notifications_visible_to

#: The largest id a notification can have (a 64-bit primary key). A larger one names nothing; it
#: never reaches the database, where SQLite cannot even bind it.
MAX_NOTIFICATION_ID = 2**63 - 1


def _not_found() -> NotFound:
    return NotFound("tickets.notification_not_found", _("No such notification."), field="notification")


def notifications_mark_read(*, user, ids: Iterable[int] | None = None, up_to: int | None = None) -> int:
    """Mark ``user``'s unread notifications read — those in ``ids``, or all of them; returns how many.

    ``up_to``: only those with an id up to it (a page sends the highest id it showed, so that a
    notification arriving after it was shown is not marked read unseen).

    A notification the user may not read is never touched (one named alone that is not theirs:
    ``tickets.notification_not_found``, 404, as for one that does not exist). Idempotent: marking a
    read notification again changes nothing.
    """
    visible = notifications_visible_to(user).order_by()
    if ids is not None:
        named = {int(i) for i in ids}
        wanted = {i for i in named if 1 <= i <= MAX_NOTIFICATION_ID}
        if len(named) == 1:
            if not wanted:
                raise _not_found()
            visible = visible.filter(pk=wanted.pop())
            if not visible.exists():
                raise _not_found()
        else:
            visible = visible.filter(pk__in=wanted)
    if up_to is not None:
        visible = visible.filter(pk__lte=min(int(up_to), MAX_NOTIFICATION_ID))
    return visible.filter(read_at__isnull=True).update(read_at=timezone.now())
