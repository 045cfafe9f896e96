"""Dispute figures (矛盾纠纷) on the dashboard, for the analysts who also see dispute cases."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from zhiwang.analytics.selectors.place import Place, require_analyst
from zhiwang.geo.models import DivisionLevel

#: Analyst roles that also see dispute cases (a data steward works on data, not on cases).
DISPUTE_VIEWER_ROLES = frozenset({"leader", "dispatcher", "administrator"})


def _local_midnight(day: date):
    from datetime import datetime, time

    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def dispute_ledger_link(place: Place | None, start: date | None, end: date | None, **filters) -> str:
    """The disputes ledger (台账) narrowed to a figure; the ledger itself applies the viewer's scope."""
    query: dict[str, str] = {}
    if place is not None and place.level != DivisionLevel.CITY:
        query["division"] = place.code
    if start is not None:
        query["received_from"] = start.isoformat()
    if end is not None:
        query["received_to"] = end.isoformat()
    query.update({k: str(v) for k, v in filters.items() if v not in (None, "")})
    return f"{reverse('disputes:ledger')}?{urlencode(query)}"


def dispute_labels(*, ended: bool = False) -> dict[str, str]:
    """The names of the dispute figures, the dashboard panel's and the reports' alike (in the
    active language). For a window or period that has ended, ``dispute_indicators`` reads them
    all as of its end (``as_of``): the status counts, and with them every figure made of the
    cases closed by then (success, prevented escalation, the rates, the amount resolved) and the
    amount involved as it stood then; their names say so (期末…), as the disputes ledger's tiles do.
    The cases received are the window's in either case."""
    from django.utils.translation import gettext as _
    from django.utils.translation import pgettext

    from zhiwang.analytics.index import INDICATOR_LABELS

    if ended:
        return {
            "received": _("Cases received"),
            "open": _("Open at the end of the period"),
            "closed": _("Closed by the end of the period"),
            "success": _("Mediated successfully by the end of the period"),
            "referred": _("Referred by the end of the period"),
            "prevented_escalation": _("Prevented escalation by the end of the period"),
            "red_open": _("Red risk, open at the end of the period"),
            "backlog_open": _("Backlog petition cases, open at the end of the period"),
            "success_rate": _("Mediation success rate by the end of the period"),
            "on_time_rate": _("Closed on time by the end of the period"),
            "amount_involved": _("Amount involved at the end of the period (yuan)"),
            "amount_resolved": _("Amount resolved by the end of the period (yuan)"),
        }
    return {
        "received": _("Cases received"),
        "open": _("Open now"),
        "closed": pgettext("dispute", "Closed"),
        "success": _("Mediated successfully"),
        "referred": _("Referred"),
        "prevented_escalation": _("Prevented escalation"),
        "red_open": _("Red risk, open"),
        "backlog_open": _("Backlog petition cases, open"),
        "success_rate": str(INDICATOR_LABELS["dispute_success_rate"]),
        "on_time_rate": _("Closed on time"),
        "amount_involved": _("Amount involved (yuan)"),
        "amount_resolved": _("Amount resolved (yuan)"),
    }


def may_see_disputes(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in DISPUTE_VIEWER_ROLES


def dispute_figures(*, user, place: Place, start: date, end: date) -> dict | None:
    """Dispute indicators of the cases received at ``place`` in ``[start, end)`` that ``user`` may see.

    The figures are ``disputes.selectors.dispute_indicators`` (the disputes app's own scoping
    applies on top of the place), each with a link to the ledger behind it. ``None`` for an
    analyst who does not see dispute cases (data steward).
    """
    from zhiwang.disputes.selectors import dispute_indicators

    require_analyst(user)
    if not may_see_disputes(user):
        return None
    figures = dispute_indicators(
        user=user,
        since=_local_midnight(start),
        until=_local_midnight(end),
        division="" if place.level == DivisionLevel.CITY else place.code,
    )
    # the last day a past period's status figures count (``as_of`` is the midnight after it)
    as_of = figures.get("as_of")
    figures["as_of_day"] = timezone.localtime(as_of - timedelta(microseconds=1)).date() if as_of else None
    link = dispute_ledger_link(place, start, end)
    closed = dispute_ledger_link(place, start, end, status="closed")
    figures["links"] = {
        "received": link,
        "open": dispute_ledger_link(place, start, end, status="open"),
        "closed": closed,
        "success": closed,
        "prevented_escalation": closed,
        "referred": link,
        "red_open": dispute_ledger_link(place, start, end, status="open", risk="red"),
        "backlog_open": dispute_ledger_link(place, start, end, status="open", backlog=1),
    }
    return figures
