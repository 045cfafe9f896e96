"""The staff inbox page (站内通知): what the services told me and my unit, with mark-as-read."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zhiwang.core.errors import NotFound
from zhiwang.tickets.notification_selectors import notifications_visible_to
from zhiwang.tickets.services.notifications import notifications_mark_read
from zhiwang.web.navigation import STAFF_ROLES
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
    notifications = notifications_visible_to(request.user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"n": n, "label": KIND_LABELS.get(n.kind, n.kind)} for n in page.object_list]
    return render(
        request,
        "web/notifications/list.html",
        {"page": page, "rows": rows, "unread_only": unread},
    )


@require_POST
@role_required(STAFF_ROLES)
def notification_read(request, pk: int):
    try:
        notifications_mark_read(user=request.user, ids=[pk])
    except NotFound:
        raise Http404 from None
    return _back(request)


@require_POST
@role_required(STAFF_ROLES)
def notification_read_all(request):
    marked = notifications_mark_read(user=request.user)
    messages.success(request, _("%(count)d notifications marked read.") % {"count": marked})
    return _back(request)
