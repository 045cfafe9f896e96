"""The staff inbox over the API, mounted at ``/api/v1/notifications/``."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.tickets.models import Notification
from zhiwang.tickets.notification_selectors import notifications_unread_count, notifications_visible_to
from zhiwang.tickets.services.notifications import notifications_mark_read

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    ticket: str | None  # the ticket's number; its page checks who may open it
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
    notifications = notifications_visible_to(request.user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    if kind.strip():
        notifications = notifications.filter(kind=kind.strip())
    return notifications  # a query: the page is cut from it, not from a list


@router.get("/unread-count", response=UnreadOut, summary="How many are unread")
def notification_unread_count(request):
    return {"unread": notifications_unread_count(request.user)}


@router.post("/read-all", response=MarkedOut, summary="Mark all my notifications read")
def notification_read_all(request):
    return {"marked": notifications_mark_read(user=request.user)}


@router.post("/{notification_id}/read", response=NotificationOut, summary="Mark one notification read")
def notification_read(request, notification_id: int):
    notifications_mark_read(user=request.user, ids=[notification_id])
    return notifications_visible_to(request.user).get(pk=notification_id)
