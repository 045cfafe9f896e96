"""Counts over the cases a user may see: the ledger's summary table and the dispute indicators
(read by the analytics app)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import OPEN_CASE_STATUSES, CaseOutcome, CaseScale, CaseStatus, RiskColour
from zhiwang.disputes.selectors.cases import CaseFilters, case_list

# --- ledger ----------------------------------------------------------------------------

LEDGER_GROUPS = {
    "division": ("division__code", "division__name"),
    "category": ("category__code", "category__name"),
    "organisation": ("organisation__code", "organisation__name"),
    "status": ("status", None),
}


def ledger_summary(*, user, by: str, filters: CaseFilters | dict | None = None) -> list[dict]:
    """Counts of cases per division, category, organisation or status (the ledger's summary table)."""
    if by not in LEDGER_GROUPS:
        raise ServiceError("disputes.filter_invalid", _("Unknown grouping."), field="by")
    key, name = LEDGER_GROUPS[by]
    fields = [key] + ([name] if name else [])
    rows = (
        case_list(user=user, filters=filters)
        .order_by()
        .values(*fields)
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES)),
            success=Count("pk", filter=Q(outcome=CaseOutcome.SUCCESS)),
            red=Count("pk", filter=Q(risk=RiskColour.RED)),
            amount=Sum("amount"),
        )
        .order_by(key)
    )
    labels = dict(CaseStatus.choices)
    return [
        {
            "key": row[key] or "",
            "name": (row[name] if name else str(labels.get(row[key], row[key]))) or _("(not assigned)"),
            "total": row["total"],
            "open": row["open"],
            "success": row["success"],
            "red": row["red"],
            "amount": row["amount"] or Decimal("0"),
        }
        for row in rows
    ]


# --- indicators (read by the analytics app later) ----------------------------------------


def dispute_indicators(
    *, user, since: datetime | None = None, until: datetime | None = None, division: str = ""
) -> dict:
    """Success rate, amounts, prevented escalation for the cases ``user`` may see, received in [since, until).

    - ``success_rate`` = closed as mediated successfully ÷ closed (None when nothing closed);
    - ``amount_involved`` / ``amount_resolved``: sums over all cases / successful ones;
    - ``prevented_escalation``: successful cases that were red or orange, or group/major
      disputes, or came from a petition (a dispute settled before it became a petition,
      a group incident or a case for the police);
    - ``on_time_rate`` = closed by the (possibly extended) target ÷ closed.
    """
    filters = CaseFilters(received_from=since, received_to=until, division=division)
    qs = case_list(user=user, filters=filters).order_by()
    success = Q(outcome=CaseOutcome.SUCCESS)
    escalation = success & (
        Q(risk__in=(RiskColour.RED, RiskColour.ORANGE))
        | Q(scale__in=(CaseScale.GROUP, CaseScale.MAJOR))
        | Q(source="petition")
    )
    row = qs.aggregate(
        received=Count("pk"),
        closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
        success=Count("pk", filter=success),
        referred=Count("pk", filter=Q(referral_kind__gt="")),
        on_time=Count("pk", filter=Q(status=CaseStatus.CLOSED, closed_at__lte=F("target_at"))),
        prevented=Count("pk", filter=escalation),
        amount_involved=Sum("amount"),
        amount_resolved=Sum("amount", filter=success),
        open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES)),
        red_open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES, risk=RiskColour.RED)),
        backlog_open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES, is_backlog=True)),
    )
    closed = row["closed"]
    return {
        "received": row["received"],
        "open": row["open"],
        "closed": closed,
        "success": row["success"],
        "referred": row["referred"],
        "success_rate": round(row["success"] / closed, 4) if closed else None,
        "on_time_rate": round(row["on_time"] / closed, 4) if closed else None,
        "prevented_escalation": row["prevented"],
        "amount_involved": row["amount_involved"] or Decimal("0"),
        "amount_resolved": row["amount_resolved"] or Decimal("0"),
        "red_open": row["red_open"],
        "backlog_open": row["backlog_open"],
    }
