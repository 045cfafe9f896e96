"""The alert list of the viewer's jurisdiction, and the tickets behind an alert."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.analytics.selectors.place import Place, require_analyst, ticket_link
from zhiwang.core.errors import ServiceError


def alert_list(*, user, status: str = "open", kind: str = ""):
    """Alerts about places in the user's jurisdiction, newest first; ``status`` and ``kind`` (empty:
    any) must be known values (``analytics.status_unknown`` / ``analytics.kind_unknown``, 400)."""
    from zhiwang.analytics.models import Alert, AlertKind, AlertStatus

    require_analyst(user)
    if status and status not in AlertStatus.values:
        raise ServiceError(
            "analytics.status_unknown",
            _("Unknown alert status %(status)s.") % {"status": status},
            field="status",
        )
    if kind and kind not in AlertKind.values:
        raise ServiceError(
            "analytics.kind_unknown", _("Unknown alert kind %(kind)s.") % {"kind": kind}, field="kind"
        )
    qs = Alert.objects.visible_to(user).select_related("division", "grid", "category", "decided_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


def alert_tickets_link(alert) -> str:
    """The tickets behind an alert (its window and place; the list applies the viewer's scope)."""
    filters = {}
    if alert.category_id:
        filters["category"] = alert.category.code
    if alert.grid_id:
        filters["grid"] = alert.grid.code
    place = Place(alert.division) if alert.division_id else None
    start = timezone.localtime(alert.window_start).date()
    end = timezone.localtime(alert.window_end).date()
    return ticket_link(place, start, end if end > start else start + timedelta(days=1), **filters)
