"""The staff inbox (站内通知): notifications addressed to a user or to their unit.

The services write them (dispatch, returns, urges and supervision by the clock sweep, analytics
alerts); these read them. A unit's notification is shared by its members: read by one, it is
read for the unit, as in a shared mailbox (one row, not one per member).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from zhiwang.tickets.models import Notification


def notifications_visible_to(user) -> QuerySet[Notification]:
    """The notifications ``user`` may read: to them, or to their org unit; newest first."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    addressed = Q(recipient_id=user.pk)
    if getattr(user, "org_unit_id", None):
        addressed |= Q(unit_id=user.org_unit_id)
    return Notification.objects.filter(addressed).select_related("ticket").order_by("-created_at", "-pk")


def notifications_unread_count(user) -> int:
    """How many of ``user``'s notifications nobody has read yet (the badge in the top bar)."""
    return notifications_visible_to(user).filter(read_at__isnull=True).order_by().count()
