"""Counts over the cases a user may see: the ledger's summary table and the dispute indicators
(read by the analytics app)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.lookups import Exact, In
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import (
    CaseEvent,
    CaseOutcome,
    CaseScale,
    CaseStatus,
    RiskColour,
)
from zhiwang.disputes.selectors.cases import (
    CaseFilters,
    amount_as_of,
    case_list,
    check_period,
    period_status,
    risk_as_of,
    status_as_of,
    status_conditions,
)
from zhiwang.disputes.workflow import CaseAction

# --- ledger ----------------------------------------------------------------------------

LEDGER_GROUPS = {
    "division": ("division__code", "division__name"),
    "category": ("category__code", "category__name"),
    "organisation": ("organisation__code", "organisation__name"),
    "status": ("status", None),
}


def ledger_rows(*, user, filters: CaseFilters | dict | None = None, now: datetime | None = None):
    """The ledger's cases (``case_list``, same filters) with ``period_status``, ``period_risk`` and
    ``period_amount``: the status (期末状态: ``closed``, ``referred`` or ``open``), risk colour and
    amount involved as of the end of the filters' period when it has ended (``status_as_of``), as
    the figures above the list and the ``status`` / ``risk`` filters read them; else as they are.
    Annotated in the one query (``period_status`` / ``risk_as_of`` / ``amount_as_of``), none per
    row; the case's own fields (and its page) keep the current values, ``closed_at`` included (a
    closing after the period's end is shown as such by the ledger, not as inside it).
    """
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    as_of = status_as_of(filters.received_to, now)
    return case_list(user=user, filters=filters, now=now).annotate(
        period_status=period_status(as_of), period_risk=risk_as_of(as_of), period_amount=amount_as_of(as_of)
    )


def ledger_summary(*, user, by: str, filters: CaseFilters | dict | None = None) -> list[dict]:
    """Counts of cases per division, category, organisation or status (the ledger's summary table).

    "Open" and "mediated successfully", "red" and the amount involved are as of the end of the
    filters' period, like the indicators (``status_as_of``, ``risk_as_of``, ``amount_as_of``); the
    grouping by status is the cases' status today.
    """
    if by not in LEDGER_GROUPS:
        raise ServiceError("disputes.filter_invalid", _("Unknown grouping."), field="by")
    key, name = LEDGER_GROUPS[by]
    fields = [key] + ([name] if name else [])
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    as_of = status_as_of(filters.received_to)
    status = status_conditions(as_of)
    rows = (
        case_list(user=user, filters=filters)
        .order_by()
        .values(*fields)
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=status["open"]),
            success=Count("pk", filter=status["closed"] & Q(outcome=CaseOutcome.SUCCESS)),
            red=Count("pk", filter=Q(Exact(risk_as_of(as_of), RiskColour.RED))),
            amount=Sum(amount_as_of(as_of)),
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


# --- indicators (read by the analytics app) ---------------------------------------------------


def dispute_indicators(
    *,
    user,
    since: datetime | None = None,
    until: datetime | None = None,
    division: str = "",
    filters: CaseFilters | dict | None = None,
    now: datetime | None = None,
) -> dict:
    """The dispute figures over the cases ``user`` may see that were received in ``[since, until)``.

    ``filters`` (the ledger's, ``CaseFilters``) narrow the cases further; their own
    ``received_from`` / ``received_to`` / ``division`` stand in for ``since`` / ``until`` /
    ``division``. The tiles above the ledger are computed over the same cases as its list.

    Status figures are *as of the period's end* (``status_as_of``): for a period that has ended,
    ``closed`` = closed before ``until``, ``open`` = not closed (nor referred) by then, and the
    figures of that period never change afterwards; an open-ended or still running period is
    read as it stands today. ``as_of`` in the result says which (``None``: today).

    - ``success_rate`` = closed as mediated successfully ÷ closed (None when nothing closed);
    - ``on_time_rate`` = closed by the (possibly extended) target ÷ closed;
    - ``amount_involved``: the amounts involved of the cases received (as of ``as_of``);
    - ``amount_resolved`` (化解金额): the amounts settled by the agreements of the cases closed as
      mediated successfully (``Agreement.amount``). An agreement raises its case's amount involved
      to what it settles (``agreement_reach``), so of any set of cases the amount resolved is never
      more than the amount involved (a success closed before ``as_of`` had its agreement by then);
    - ``prevented_escalation``: successful cases that were red or orange, or group/major
      disputes, or came from a petition (a dispute settled before it became a petition,
      a group incident or a case for the police);
    - ``red_open`` / ``backlog_open``: open (as above) and red / marked as backlog.

    The backlog mark, the risk colour (``prevented_escalation``, ``red_open``) and the amount involved
    are as of ``as_of`` too, read from the timeline (``risk_as_of``, ``amount_as_of``): a risk raised
    or an amount corrected after the period's end does not change that period's figures.
    """
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    check_period(since, until, field="since")  # the API's names; the filters' own are checked by case_list
    filters = replace(
        filters,
        received_from=filters.received_from or since,
        received_to=filters.received_to or until,
        division=filters.division or division,
    )
    as_of = status_as_of(filters.received_to, now)
    qs = case_list(user=user, filters=filters, now=now).order_by()
    status = status_conditions(as_of)
    risk = risk_as_of(as_of)
    closed = status["closed"]
    success = closed & Q(outcome=CaseOutcome.SUCCESS)
    escalation = success & (
        Q(In(risk, [RiskColour.RED, RiskColour.ORANGE]))
        | Q(scale__in=(CaseScale.GROUP, CaseScale.MAJOR))
        | Q(source="petition")
    )
    if as_of is None:
        backlog = Q(is_backlog=True)
    else:
        backlog = Q(
            Exists(
                CaseEvent.objects.filter(case=OuterRef("pk"), action=CaseAction.MARK_BACKLOG, at__lt=as_of)
            )
        )
    row = qs.aggregate(
        received=Count("pk"),
        closed=Count("pk", filter=closed),
        success=Count("pk", filter=success),
        referred=Count("pk", filter=status["referred"]),
        on_time=Count("pk", filter=closed & Q(closed_at__lte=F("target_at"))),
        prevented=Count("pk", filter=escalation),
        amount_involved=Sum(amount_as_of(as_of)),
        amount_resolved=Sum("agreement__amount", filter=success),
        open=Count("pk", filter=status["open"]),
        red_open=Count("pk", filter=status["open"] & Q(Exact(risk, RiskColour.RED))),
        backlog_open=Count("pk", filter=status["open"] & backlog),
    )
    closed_count = row["closed"]
    return {
        "received": row["received"],
        "open": row["open"],
        "closed": closed_count,
        "success": row["success"],
        "referred": row["referred"],
        "success_rate": round(row["success"] / closed_count, 4) if closed_count else None,
        "on_time_rate": round(row["on_time"] / closed_count, 4) if closed_count else None,
        "prevented_escalation": row["prevented"],
        "amount_involved": row["amount_involved"] or Decimal("0"),
        "amount_resolved": row["amount_resolved"] or Decimal("0"),
        "red_open": row["red_open"],
        "backlog_open": row["backlog_open"],
        "as_of": as_of,
    }
