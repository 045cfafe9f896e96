"""The staff inbox page (站内通知): what the services told me and my unit, with mark-as-read."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zhiwang.accounts.roles import STAFF_ROLES
from zhiwang.core.errors import NotFound
from zhiwang.tickets.notification_selectors import notifications_latest_unread_id, notifications_listed
from zhiwang.tickets.services.notifications import MAX_NOTIFICATION_ID, notifications_mark_read
from zhiwang.web.tickets.access import role_required

PER_PAGE = 50
#: What each kind of notification is about (kinds the services write; others show as written).
KIND_LABELS = {
    "dispatched": gettext_lazy("Dispatched to you"),
    "reassigned": gettext_lazy("Reassigned"),
    "sent_back": gettext_lazy("Sent back"),
    "replied": gettext_lazy("Replied"),
    "reopened": gettext_lazy("Reopened"),
    "merged": gettext_lazy("Merged"),
    "transferred": gettext_lazy("Transferred"),
    "verify_failed": gettext_lazy("Verification failed"),
    "request_decided": gettext_lazy("Request decided"),
    "request_return": gettext_lazy("Return requested"),
    "request_extension": gettext_lazy("Extension requested"),
    "request_suspension": gettext_lazy("Suspension requested"),
    "accept_overdue": gettext_lazy("Not accepted in time"),
    "deadline_near": gettext_lazy("Deadline near"),
    "overdue": gettext_lazy("Overdue"),
    "urged": gettext_lazy("Urged"),
    "supervised": gettext_lazy("Supervised"),
    "analytics_alert": gettext_lazy("Early warning"),
}


def _back(request):
    """Back to the list as it was shown (only our own page's two views: no open redirect)."""
    return redirect("web:notifications" + ("_unread" if request.POST.get("show") == "unread" else ""))


@role_required(STAFF_ROLES)
def notification_list(request, unread: bool = False):
    notifications = notifications_listed(request.user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"n": n, "label": KIND_LABELS.get(n.kind, n.kind)} for n in page.object_list]
    return render(
        request,
        "web/notifications/list.html",
        {
            "page": page,
            "rows": rows,
            "unread_only": unread,
            # "mark all read" marks what existed when the page was shown, not what arrived since
            "up_to": notifications_latest_unread_id(request.user),
        },
    )


@require_POST
@role_required(STAFF_ROLES)
def notification_read(request, pk: int):
    if not 1 <= pk <= MAX_NOTIFICATION_ID:  # names nothing (and SQLite cannot bind it)
        raise Http404
    try:
        notifications_mark_read(user=request.user, ids=[pk])
    except NotFound:
        raise Http404 from None
    return _back(request)


@require_POST
@role_required(STAFF_ROLES)
def notification_read_all(request):
    # the highest id the page showed: what arrived since stays unread (none sent: all of them)
    raw = request.POST.get("up_to", "").strip()
    if raw and not (raw.isascii() and raw.isdigit()):
        raise BadRequest("up_to is not an id")
    up_to = (MAX_NOTIFICATION_ID if len(raw) > 19 else min(int(raw), MAX_NOTIFICATION_ID)) if raw else None
    marked = notifications_mark_read(user=request.user, up_to=up_to)
    messages.success(request, _("%(count)d notifications marked read.") % {"count": marked})
    return _back(request)
