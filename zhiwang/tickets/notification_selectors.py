"""The staff inbox (站内通知): notifications addressed to a user or to their unit.

The services write them (dispatch, returns, urges and supervision by the clock sweep, analytics
alerts); these read them. A unit's notification is shared by its members: read by one, it is
read for the unit, as in a shared mailbox (one row, not one per member).

Only staff have an inbox (``accounts.roles.is_staff_member``: an active user of a staff role; a
superuser counts as an administrator). Everybody else reads none and marks none — a citizen whose
user still names the unit they left, an integration client's service user created for a unit: a
machine must not read the unit's messages, nor clear the badge its people rely on. The page, the
badge in the top bar, the API and marking read all start from ``notifications_visible_to``.
"""

from __future__ import annotations

from django.db.models import Max, Q, QuerySet

from zhiwang.accounts.roles import is_staff_member
from zhiwang.tickets.models import Notification

#: What a list shows of a notification and of its ticket (its number, for the link): the ticket's
#: wide columns (description, reply, classification…) are never loaded for a page of the inbox.
LIST_FIELDS = (
    "id",
    "recipient_id",
    "unit_id",
    "ticket_id",
    "kind",
    "message",
    "created_at",
    "read_at",
    "ticket__number",
    "link",
)


def notifications_visible_to(user) -> QuerySet[Notification]:
    """The notifications ``user`` may read: to them, or to their org unit; newest first.

    None at all for anybody but staff (see the module's docstring).
    """
    if not is_staff_member(user):
        return Notification.objects.none()
    addressed = Q(recipient_id=user.pk)
    if getattr(user, "org_unit_id", None):
        addressed |= Q(unit_id=user.org_unit_id)
    return Notification.objects.filter(addressed).order_by("-created_at", "-pk")


def notifications_listed(user) -> QuerySet[Notification]:
    """``notifications_visible_to(user)`` as a list shows them: with the ticket's number only."""
    return notifications_visible_to(user).select_related("ticket").only(*LIST_FIELDS)


def notifications_latest_unread_id(user) -> int | None:
    """The highest id among ``user``'s unread notifications, or None: the bound a page that shows
    them sends with "mark all read" (``up_to``), so that one arriving after it is not marked unseen."""
    return notifications_visible_to(user).filter(read_at__isnull=True).aggregate(latest=Max("pk"))["latest"]


def notifications_unread_count(user) -> int:
    """How many of ``user``'s notifications nobody has read yet (the badge in the top bar)."""
    return notifications_visible_to(user).filter(read_at__isnull=True).order_by().count()
