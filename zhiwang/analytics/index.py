"""The governance index (治理指数): a monthly score per subdistrict and community, a ranking, a red/black list.

The formula is an ``IndexFormula`` row (edited in the Django admin)::

    score = 100 × Σ_i w_i × v_i ÷ Σ_i w_i     over the indicators i that have a value

v_i are the DOMAIN.md indicators of ``tickets.indicators`` for the month (rates in 0–1), with the
rework rate turned around (v = 1 − rework rate) so that higher is always better. Optional terms
from other modules (``dispute_success_rate``: mediated successfully ÷ closed, over the dispute
cases received that month, as ``disputes.selectors.dispute_indicators``) are computed only when
their weight is above 0; their default weight is 0, so they change nothing until set. A division with
no indicator value that month gets no score and no rank. Within each level the best
``red_count`` are on the red list, the worst ``black_count`` (and anybody below ``black_below``)
on the black list.
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from zhiwang.analytics.models import GovernanceIndex, IndexFormula, Standing
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import EVERYTHING
from zhiwang.geo.models import LEVEL_PREFIX_LENGTH, Division, DivisionLevel
from zhiwang.tickets import indicators

#: Indicators a formula may weigh (name → function of tickets.indicators); "rework_rate" counts inverted.
INDEX_INDICATORS = {
    "on_time_closure_rate": indicators.on_time_closure_rate,
    "satisfaction_rate": indicators.satisfaction_rate,
    "resolution_rate": indicators.resolution_rate,
    "rework_rate": indicators.rework_rate,
    "response_rate": indicators.response_rate,
    "on_time_acceptance_rate": indicators.on_time_acceptance_rate,
    "accurate_dispatch_rate": indicators.accurate_dispatch_rate,
}


def dispute_success_rate(*, user, start, end, by) -> dict[int, SimpleNamespace]:
    """Dispute success rate per division of level ``by`` over the cases received in ``[start, end)``.

    The same definition and scoping as ``disputes.selectors.dispute_indicators`` (one grouped
    query instead of one call per division): closed as mediated successfully ÷ closed; a
    division with no closed case has no value (``None``).
    """
    from zhiwang.disputes.models import CaseOutcome, CaseStatus
    from zhiwang.disputes.selectors import CaseFilters, case_list

    rows = (
        case_list(user=user, filters=CaseFilters(received_from=start, received_to=end))
        .order_by()
        .exclude(division=None)
        .values("division__code")
        .annotate(
            closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
            success=Count("pk", filter=Q(outcome=CaseOutcome.SUCCESS)),
        )
    )
    length = LEVEL_PREFIX_LENGTH[by]
    prefixes = {d.code_prefix: d.pk for d in Division.objects.filter(level=by).only("pk", "code", "level")}
    closed: dict[int, int] = {}
    success: dict[int, int] = {}
    for row in rows:
        pk = prefixes.get(row["division__code"][:length])
        if pk is None:
            continue
        closed[pk] = closed.get(pk, 0) + row["closed"]
        success[pk] = success.get(pk, 0) + row["success"]
    return {pk: SimpleNamespace(value=(round(success[pk] / n, 4) if n else None)) for pk, n in closed.items()}


INDEX_INDICATORS["dispute_success_rate"] = dispute_success_rate
#: Terms of other modules: computed only when weighted (default weight 0, see models.default_weights).
OPTIONAL = frozenset({"dispute_success_rate"})
INVERTED = frozenset({"rework_rate"})
LEVELS = (DivisionLevel.SUBDISTRICT, DivisionLevel.COMMUNITY)
_SYSTEM = SimpleNamespace(
    is_authenticated=True, is_active=True, scope=EVERYTHING, role="administrator", pk=None
)


def active_formula() -> IndexFormula:
    formula = IndexFormula.objects.filter(is_active=True).order_by("-updated_at", "-pk").first()
    if formula is None:
        formula = IndexFormula.objects.create(name=_("Default governance index"))
    return formula


def validate_weights(weights) -> dict[str, float]:
    if not isinstance(weights, dict) or not weights:
        raise ServiceError("analytics.weights_invalid", _("Give at least one weight."), field="weights")
    out = {}
    for name, weight in weights.items():
        if name not in INDEX_INDICATORS:
            raise ServiceError(
                "analytics.weights_invalid",
                _("Unknown indicator %(name)s; use one of: %(names)s.")
                % {"name": name, "names": ", ".join(INDEX_INDICATORS)},
                field="weights",
            )
        try:
            value = float(weight)
        except (TypeError, ValueError):
            value = -1
        if value < 0:
            raise ServiceError(
                "analytics.weights_invalid", _("Weights must be numbers ≥ 0."), field="weights"
            )
        out[name] = value
    if not sum(out.values()):
        raise ServiceError("analytics.weights_invalid", _("The weights must not all be 0."), field="weights")
    return out


def score(values: dict[str, float | None], weights: dict[str, float]) -> float | None:
    total = weight_sum = 0.0
    for name, weight in weights.items():
        value = values.get(name)
        if value is None or not weight:
            continue
        total += weight * ((1 - value) if name in INVERTED else value)
        weight_sum += weight
    return round(100 * total / weight_sum, 2) if weight_sum else None


def month_bounds(month: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(settings.TIME_ZONE)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end = datetime(
        month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1, tzinfo=tz
    )
    return start, end


@transaction.atomic
def governance_index_compute(*, month: date, formula: IndexFormula | None = None) -> int:
    """Compute (or recompute) the index of every subdistrict and community for ``month``; returns rows."""
    formula = formula or active_formula()
    weights = validate_weights(formula.weights)
    month = month.replace(day=1)
    start, end = month_bounds(month)
    written = 0
    for level in LEVELS:
        values: dict[int, dict[str, float | None]] = {}
        for name in weights:
            if name in OPTIONAL and not weights[name]:
                continue
            for key, result in INDEX_INDICATORS[name](user=_SYSTEM, start=start, end=end, by=level).items():
                if key is not None:
                    values.setdefault(key, {})[name] = result.value
        divisions = list(Division.objects.filter(level=level, pk__in=values).values_list("pk", flat=True))
        scored = sorted(
            ((score(values[pk], weights), pk) for pk in divisions),
            key=lambda pair: (pair[0] is None, -(pair[0] or 0), pair[1]),
        )
        ranked = [pk for s, pk in scored if s is not None]
        GovernanceIndex.objects.filter(month=month, level=level).delete()
        rows = []
        for s, pk in scored:
            rank = ranked.index(pk) + 1 if s is not None else None
            standing = Standing.NONE
            if rank is not None:
                if rank <= formula.red_count:
                    standing = Standing.RED
                elif rank > len(ranked) - formula.black_count or (
                    formula.black_below is not None and s < formula.black_below
                ):
                    standing = Standing.BLACK
            rows.append(
                GovernanceIndex(
                    month=month,
                    division_id=pk,
                    level=level,
                    formula=formula,
                    score=s,
                    rank=rank,
                    standing=standing,
                    values={k: (round(v, 4) if v is not None else None) for k, v in values[pk].items()},
                )
            )
        GovernanceIndex.objects.bulk_create(rows)
        written += len(rows)
    return written
