"""Counts over the cases a user may see: the ledger's summary table and the dispute indicators
(read by the analytics app)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, NullIf
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import (
    CaseEvent,
    CaseOutcome,
    CaseScale,
    ConfirmationStatus,
    MediationOrganisation,
    PerformanceFollowUp,
    PerformanceStatus,
    RiskColour,
)
from zhiwang.disputes.selectors.cases import (
    PERIOD_OPEN,
    CaseFilters,
    amount_as_of,
    case_list,
    check_period,
    is_period_open,
    period_status,
    period_status_label,
    risk_as_of,
    status_as_of,
    status_conditions,
)
from zhiwang.disputes.workflow import CaseAction

# --- ledger ----------------------------------------------------------------------------

#: The years a ledger period's date may fall in (as ``tickets.selectors.FILTER_YEARS``): a day
#: beyond them is refused on its field, never a database overflow (0001-01-01 at +08:00 in UTC).
PERIOD_YEARS = (1900, 9998)

LEDGER_GROUPS = {
    "division": ("division__code", "division__name"),
    "category": ("category__code", "category__name"),
    "organisation": ("organisation__code", "organisation__name"),
    "status": ("status", None),
}


def ledger_rows(*, user, filters: CaseFilters | dict | None = None, now: datetime | None = None):
    """The ledger's cases (``case_list``, same filters) with ``period_status``, ``period_risk`` and
    ``period_amount``: the status (期末状态: ``closed``, ``referred`` or the open status the
    timeline had it in, see ``period_status``), risk colour and
    amount involved as of the end of the filters' period when it has ended (``status_as_of``), as
    the figures above the list and the ``status`` / ``risk`` filters read them; else as they are.
    ``period_target_from``: when the target was extended after that end, the target it had then
    (text, as the first later ``extend`` row keeps it; ``period_target`` reads it).
    ``period_organisation_id`` / ``period_mediator_id``: the mediation organisation and mediator
    it had at that end (``_assigned_before``; ``period_assignments_attach`` gives the objects).
    Annotated in the one query (``period_status`` / ``risk_as_of`` / ``amount_as_of``), none per
    row; the case's own fields (and its page) keep the current values, ``closed_at`` included (a
    closing after the period's end is shown as such by the ledger, not as inside it).
    """
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    as_of = status_as_of(filters.received_to, now)
    return case_list(user=user, filters=filters, now=now).annotate(
        period_status=period_status(as_of),
        period_risk=risk_as_of(as_of),
        period_amount=amount_as_of(as_of),
        period_target_from=_target_before(as_of),
        period_organisation_id=_assigned_before(as_of, "organisation_id"),
        period_mediator_id=_assigned_before(as_of, "mediator_id"),
    )


#: Where an ``assign`` row keeps the organisation and the mediator the case had before it:
#: ``payload.previous`` = ``[organisation id, mediator id]`` (``case_assign``; written since the
#: first version, so every assignment and reassignment says what it replaced).
_PREVIOUS_INDEX = {"organisation_id": 0, "mediator_id": 1}


def _assigned_before(as_of: datetime | None, field: str):
    """The case's organisation or mediator id (``field``) as it stood at ``as_of``: the one the
    first ``assign`` row from ``as_of`` on replaced (its ``payload.previous``; null when the case
    was unassigned then), else the case's own (no assignment since). ``None`` as_of: the case's
    own. Only ``assign`` rows change either (registration sets the receiving organisation once,
    before any row can follow it), so the chain of ``previous`` values is the whole history.
    One correlated subquery (and an ``EXISTS``) on the case's own rows: no query per case."""
    if as_of is None:
        return F(field)
    later = CaseEvent.objects.filter(case=OuterRef("pk"), action=CaseAction.ASSIGN, at__gte=as_of)
    # the id as text; NullIf: SQLite's text of a JSON null is "null" (PostgreSQL's is NULL)
    replaced = (
        later.order_by("at", "pk")
        .annotate(
            v=NullIf(
                KeyTextTransform(str(_PREVIOUS_INDEX[field]), KeyTransform("previous", "payload")),
                Value("null"),
                output_field=CharField(),
            )
        )
        .values("v")
    )
    return Case(
        When(Exists(later), then=Cast(Subquery(replaced[:1], output_field=CharField()), IntegerField())),
        default=F(field),
        output_field=IntegerField(),
    )


def period_assignments_attach(cases) -> None:
    """Give each ``ledger_rows`` case of ``cases`` (a list) ``period_organisation`` and
    ``period_mediator``: the mediation organisation and mediator it had at the period's end
    (``period_organisation_id`` / ``period_mediator_id``), ``None`` when it had none then. Those
    that changed since are read in one query per model (none when nothing changed): the ledger's
    page and workbook show them, today's following as "after the period"."""
    wanted = {"organisation": set(), "mediator": set()}
    for case in cases:
        for name in wanted:
            then = getattr(case, f"period_{name}_id", getattr(case, f"{name}_id"))
            if then is not None and then != getattr(case, f"{name}_id"):
                wanted[name].add(then)
    found = {
        "organisation": MediationOrganisation.objects.in_bulk(wanted["organisation"])
        if wanted["organisation"]
        else {},
        "mediator": get_user_model().objects.in_bulk(wanted["mediator"]) if wanted["mediator"] else {},
    }
    for case in cases:
        for name in wanted:
            then = getattr(case, f"period_{name}_id", getattr(case, f"{name}_id"))
            now = getattr(case, name)
            value = now if then == getattr(case, f"{name}_id") else found[name].get(then)
            setattr(case, f"period_{name}", value)


def _target_before(as_of: datetime | None):
    """The ``from`` of the case's first ``extend`` row from ``as_of`` on (the target it had at
    ``as_of``), as text; NULL when not extended since (or ``as_of`` is None)."""
    if as_of is None:
        return Value(None, output_field=CharField())
    later = (
        CaseEvent.objects.filter(case=OuterRef("pk"), action=CaseAction.EXTEND, at__gte=as_of)
        .order_by("at", "pk")
        .annotate(v=KeyTextTransform("from", "payload"))
        .values("v")
    )
    return Subquery(later[:1], output_field=CharField())


def period_target(case) -> datetime:
    """The target date of a ``ledger_rows`` case as it stood at the period's end: the one an
    extension after the end moved (``period_target_from``), else its ``target_at``."""
    moved_from = getattr(case, "period_target_from", None)
    return (parse_datetime(moved_from) if moved_from else None) or case.target_at


def period_overdue(case, *, as_of: datetime | None, now: datetime | None = None) -> bool:
    """Whether the ledger marks the case overdue: open and past its target, judged at the end of an
    ended period (``as_of``: open then, ``period_status``, and past the target it had then,
    ``period_target``), else now (open today and past today's target), as the list marks it.

    A case closed after the end was open and overdue at the end of its period if its target had
    passed by then; one extended after the end is judged by the target it had then."""
    if as_of is None:
        return case.is_open and case.target_at < (now or timezone.now())
    status = getattr(case, "period_status", None)
    if status is None:  # not a ``ledger_rows`` case: its timestamps say as much
        status = PERIOD_OPEN if _open_at(case, as_of) else case.status
    return is_period_open(status) and period_target(case) < as_of


def _open_at(case, as_of: datetime) -> bool:
    closed = case.closed_at is not None and case.closed_at < as_of
    referred = bool(case.referral_kind) and case.referred_at is not None and case.referred_at < as_of
    return not closed and not referred


def ledger_export_rows(*, user, filters: CaseFilters | dict | None = None, now: datetime | None = None):
    """``ledger_rows`` for the Excel export, with the agreement and, for a period that has ended,
    the agreement's columns as of its end, annotated in the same query (none per row):

    - ``period_agreement_later``: the agreement was recorded from the end on (``created_at``; a
      closing is after the period by its ``closed_at`` alike), so it did not exist at the end;
    - ``period_confirmation``: the judicial confirmation at the end (``ConfirmationStatus``), from
      the timeline: "" when not applied for by then (``apply_confirmation`` row), ``applied`` when
      not ruled on by then (``confirmation_result``), else the ruling;
    - ``period_performance``: the performance found by the latest follow-up before the end
      (``PerformanceFollowUp.at``), ``pending`` without one.

    A period still running (or none) annotates none of them: the workbook writes today's values.
    """
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    rows = ledger_rows(user=user, filters=filters, now=now).select_related("agreement")
    as_of = status_as_of(filters.received_to, now)
    if as_of is None:
        return rows

    def recorded_before(action):
        return Exists(CaseEvent.objects.filter(case=OuterRef("pk"), action=action, at__lt=as_of))

    found = (
        PerformanceFollowUp.objects.filter(case=OuterRef("pk"), at__lt=as_of)
        .order_by("-at", "-pk")
        .values("status")
    )
    return rows.annotate(
        period_agreement_later=ExpressionWrapper(
            Q(agreement__created_at__gte=as_of), output_field=BooleanField()
        ),
        period_confirmation=Case(
            When(~recorded_before(CaseAction.APPLY_CONFIRMATION), then=Value("")),
            When(
                ~recorded_before(CaseAction.CONFIRMATION_RESULT), then=Value(ConfirmationStatus.APPLIED.value)
            ),
            default=F("agreement__confirmation_status"),
            output_field=CharField(),
        ),
        period_performance=Coalesce(
            Subquery(found[:1], output_field=CharField()), Value(PerformanceStatus.PENDING.value)
        ),
    )


def ledger_summary(
    *, user, by: str, filters: CaseFilters | dict | None = None, now: datetime | None = None
) -> list[dict]:
    """Counts of cases per division, category, organisation or status (the ledger's summary table).

    "Open", "mediated successfully", "red" and the amount involved are as of the end of the
    filters' period when it has ended, like the indicators (``status_as_of``, ``risk_as_of``,
    ``amount_as_of``); so is the grouping by status: the status at the end (``period_status``, as
    the list's rows show it and its ``status`` filter reads it), so a case closed after the end is
    counted under the open status it was in then, with its row. Else today's.
    """
    if by not in LEDGER_GROUPS:
        raise ServiceError("disputes.filter_invalid", _("Unknown grouping."), field="by")
    key, name = LEDGER_GROUPS[by]
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    as_of = status_as_of(filters.received_to, now)
    status = status_conditions(as_of)
    rows = case_list(user=user, filters=filters, now=now).order_by()
    if by == "status":
        key = "period_status_key"
        rows = rows.annotate(period_status_key=period_status(as_of))
    fields = [key] + ([name] if name else [])
    rows = (
        rows.values(*fields)
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=status["open"]),
            success=Count("pk", filter=status["closed"] & Q(outcome=CaseOutcome.SUCCESS)),
            red=Count("pk", filter=Q(Exact(risk_as_of(as_of), RiskColour.RED))),
            amount=Sum(amount_as_of(as_of)),
        )
        .order_by(key)
    )
    return [
        {
            "key": row[key] or "",
            "name": (row[name] if name else period_status_label(row[key])) or _("(not assigned)"),
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
