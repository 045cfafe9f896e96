"""The staff inbox over the API, mounted at ``/api/v1/notifications/``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Path, Query, Router, Schema

from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.tickets.models import Notification
from zhiwang.tickets.notification_selectors import notifications_listed, notifications_unread_count
from zhiwang.tickets.services.notifications import MAX_NOTIFICATION_ID, notifications_mark_read

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    ticket: str | None  # the ticket's number; its page checks who may open it
    link: str  # the page it is about when not a ticket's (an alert: /analytics/alerts/?alert=ID), else ""
    to: str  # "me" or "unit" (a unit's notification is shared: read by one member, read for all)
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_ticket(notification: Notification) -> str | None:
        return notification.ticket.number if notification.ticket_id else None

    @staticmethod
    def resolve_to(notification: Notification) -> str:
        return "me" if notification.recipient_id else "unit"


class UnreadOut(Schema):
    unread: int


class MarkedOut(Schema):
    marked: int


@router.get("/", response=list[NotificationOut], summary="My notifications and my unit's, newest first")
@paginate(LimitOffsetPagination)
def notification_list(request, unread: bool = False, kind: str = ""):
    """``unread=true``: only those nobody has read; ``kind``: one kind (e.g. ``urged``, ``analytics_alert``)."""
    notifications = notifications_listed(request.user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    if kind.strip():
        notifications = notifications.filter(kind=kind.strip())
    return notifications  # a query: the page is cut from it, not from a list


@router.get("/unread-count", response=UnreadOut, summary="How many are unread")
def notification_unread_count(request):
    return {"unread": notifications_unread_count(request.user)}


class ReadAllIn(Schema):
    #: The highest id the caller has shown (``id`` of the newest item it listed): one that arrived
    #: since is left unread. Without it, every notification is marked, the newest ones too.
    up_to: int | None = Field(None, ge=1, le=MAX_NOTIFICATION_ID)


@router.post("/read-all", response=MarkedOut, summary="Mark all my notifications read")
def notification_read_all(request, filters: Query[ReadAllIn]):
    """``up_to``: only those with an id up to it (the newest the caller has shown)."""
    return {"marked": notifications_mark_read(user=request.user, up_to=filters.up_to)}


#: A notification's id in a path: out of the 64-bit range it names nothing (422, not a 500).
NotificationId = Annotated[int, Path(ge=1, le=MAX_NOTIFICATION_ID)]


@router.post("/{notification_id}/read", response=NotificationOut, summary="Mark one notification read")
def notification_read(request, notification_id: NotificationId):
    notifications_mark_read(user=request.user, ids=[notification_id])
    return notifications_listed(request.user).get(pk=notification_id)
