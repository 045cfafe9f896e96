"""The governance index (治理指数): a monthly score per subdistrict and community, a ranking, a red/black list.

The formula is an ``IndexFormula`` row (edited in the Django admin)::

    score = 100 × Σ_i w_i × v_i ÷ Σ_i w_i     over the indicators i that have a value

v_i are the DOMAIN.md indicators of ``tickets.indicators`` for the month (rates in 0–1), with the
rework rate turned around (v = 1 − rework rate) so that higher is always better. Optional terms
from other modules (``dispute_success_rate``: mediated successfully ÷ closed, over the dispute
cases received that month and closed by the month's end, as ``disputes.selectors.dispute_indicators``) are computed only when
their weight is above 0; their default weight is 0, so they change nothing until set. A division with
no indicator value that month gets no score and no rank. A division with fewer than the formula's
``min_volume`` tickets due to close that month (``VOLUME_INDICATOR``'s denominator, kept on the row
as ``volume``) is scored but not ranked, and is on neither list: one or two tickets are no
evidence of a well- or badly-run place. Among the rest, ranks are competition ranks (equal
scores share a rank: 1, 1, 3). Within each level anybody below ``black_below`` is on the black
list (never on the red list); of the rest the best ``red_count`` ranks are on the red list and
the worst ``black_count`` ranks on the black list (red first where the two overlap). Each row keeps a copy
of the formula that produced it (``GovernanceIndex.formula_used``), so editing or deleting a
formula later does not rewrite what past months were scored by.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.analytics.models import GovernanceIndex, IndexFormula, Standing
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import EVERYTHING
from zhiwang.geo.models import LEVEL_PREFIX_LENGTH, Division, DivisionLevel
from zhiwang.tickets import indicators
from zhiwang.tickets.notify import city_language

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
    query instead of one call per division): closed as mediated successfully ÷ closed, both as of
    the month's end (a closure after it does not change an ended month's value); a division with
    no closed case has no value (``None``).
    """
    from zhiwang.disputes.models import CaseOutcome
    from zhiwang.disputes.selectors import CaseFilters, case_list, status_as_of, status_conditions

    closed_by_end = status_conditions(status_as_of(end))["closed"]
    rows = (
        case_list(user=user, filters=CaseFilters(received_from=start, received_to=end))
        .order_by()
        .exclude(division=None)
        .values("division__code")
        .annotate(
            closed=Count("pk", filter=closed_by_end),
            success=Count("pk", filter=closed_by_end & Q(outcome=CaseOutcome.SUCCESS)),
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

#: The indicators' names for people (pages, API ``labels``, the reports' rate columns); the code
#: stays the key (weights, stored values) and is shown beside the name only as a hint.
INDICATOR_LABELS = {
    "on_time_closure_rate": gettext_lazy("On-time closure rate"),
    "satisfaction_rate": gettext_lazy("Satisfaction rate"),
    "resolution_rate": gettext_lazy("Resolution rate"),
    "rework_rate": gettext_lazy("Rework rate"),
    "response_rate": gettext_lazy("Response rate"),
    "on_time_acceptance_rate": gettext_lazy("On-time acceptance rate"),
    "accurate_dispatch_rate": gettext_lazy("Accurate dispatch rate"),
    "dispute_success_rate": gettext_lazy("Mediation success rate"),
}


def indicator_label(code: str) -> str:
    """An indicator's name in the active language; an unknown code (a formula saved before an
    indicator was dropped) is shown as it is."""
    label = INDICATOR_LABELS.get(code)
    return str(label) if label is not None else code


def indicator_labels() -> dict[str, str]:
    """``{code: name}`` of every indicator a formula may weigh, in the active language."""
    return {code: indicator_label(code) for code in INDEX_INDICATORS}


#: The name of the formula made from the default weights (``active_formula``). It is stored in the
#: city's language; ``formula_display_name`` shows it in the reader's (without a migration: a
#: stored name equal to this text in any of the site's languages is the default one).
DEFAULT_FORMULA_NAME = gettext_lazy("Default governance index")


def _default_formula_names() -> set[str]:
    names = {"Default governance index"}
    for code, _language_name in settings.LANGUAGES:
        with translation.override(code):
            names.add(str(DEFAULT_FORMULA_NAME))
    return names


def formula_display_name(name: str) -> str:
    """A formula's name for the reader: the default formula's in their language, any other as saved."""
    return str(DEFAULT_FORMULA_NAME) if (name or "").strip() in _default_formula_names() else name


#: Terms of other modules: computed only when weighted (default weight 0, see models.default_weights).
OPTIONAL = frozenset({"dispute_success_rate"})
#: The indicator whose denominator is a division's volume for ``IndexFormula.min_volume``: the
#: tickets due to close in the month (deadline in it; merged, rejected, suspended and transferred
#: ones left out), one count per ticket, the month's assessed workload and the heaviest default
#: weight; computed even when the formula does not weigh it.
VOLUME_INDICATOR = "on_time_closure_rate"
INVERTED = frozenset({"rework_rate"})
LEVELS = (DivisionLevel.SUBDISTRICT, DivisionLevel.COMMUNITY)
_SYSTEM = SimpleNamespace(
    is_authenticated=True, is_active=True, scope=EVERYTHING, role="administrator", pk=None
)


def active_formula(*, create: bool = False) -> IndexFormula:
    """The formula the next computation uses: the newest active one, else the default weights.

    Only a computation (``create=True``) saves the default; the pages show it unsaved, so
    viewing the index never writes (nor reactivates a formula an administrator switched off).
    """
    formula = IndexFormula.objects.filter(is_active=True).order_by("-updated_at", "-pk").first()
    if formula is None:
        # stored (and frozen in every row's snapshot) in the city's language, whoever runs it
        with city_language():
            formula = IndexFormula(name=str(DEFAULT_FORMULA_NAME))
        if create:
            formula.save()
    return formula


#: The largest weight a formula takes: weights are relative, so bigger ones add nothing but the
#: risk of an overflow (1e308 + 1e308 is infinity, and every score with it).
MAX_WEIGHT = 1000


def validate_weights(weights) -> dict[str, float]:
    """The weights as ``{indicator: float}``, or ``ServiceError`` ``analytics.weights_invalid``.

    Known indicator names only; finite numbers from 0 to ``MAX_WEIGHT`` (not booleans, NaN or
    infinity, which no score can carry and JSON cannot store); not all 0.
    """
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
            value = -1.0 if isinstance(weight, bool) else float(weight)
        except (TypeError, ValueError):
            value = -1.0
        if not (math.isfinite(value) and 0 <= value <= MAX_WEIGHT):
            raise ServiceError(
                "analytics.weights_invalid",
                _("Weights must be numbers from 0 to %(max)s (%(name)s).")
                % {"max": MAX_WEIGHT, "name": name},
                field="weights",
            )
        out[name] = value
    if not sum(out.values()):
        raise ServiceError("analytics.weights_invalid", _("The weights must not all be 0."), field="weights")
    return out


#: The minimum volume a new formula gets (``IndexFormula.min_volume``'s default; docs/analytics.md §4):
#: below it one ticket moves the on-time closure rate by more than 20 points, and the index page
#: says that the lists then rest on very few tickets.
DEFAULT_MIN_VOLUME = IndexFormula._meta.get_field("min_volume").default

#: The fewest tickets a formula may ask for: a bound against typing errors, not a recommendation
#: (a minimum above every place's tickets ranks nobody).
MAX_MIN_VOLUME = 10_000


def validate_min_volume(value) -> int:
    """The minimum volume as an ``int``, or ``ServiceError`` ``analytics.min_volume_invalid``.

    A whole number of tickets from 0 (rank every place that has a score) to ``MAX_MIN_VOLUME``;
    not a boolean, a fraction or text that is not a whole number.
    """
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not 0 <= number <= MAX_MIN_VOLUME:
        raise ServiceError(
            "analytics.min_volume_invalid",
            _("The minimum number of tickets to rank must be a whole number from 0 to %(max)s.")
            % {"max": MAX_MIN_VOLUME},
            field="min_volume",
        )
    return number


def score(values: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """100 × the weighted mean of the values present (rework inverted); ``None`` without any."""
    total = weight_sum = 0.0
    for name, weight in weights.items():
        value = values.get(name)
        if value is None or not weight:
            continue
        total += weight * ((1 - value) if name in INVERTED else value)
        weight_sum += weight
    if not weight_sum:
        return None
    result = round(100 * total / weight_sum, 2)
    return result if math.isfinite(result) else None


def formula_snapshot(formula: IndexFormula, weights: dict[str, float] | None = None) -> dict:
    """What a computed row keeps of its formula (shown with the month's scores)."""
    return {
        "name": formula.name,
        "weights": weights if weights is not None else formula.weights,
        "red_count": formula.red_count,
        "black_count": formula.black_count,
        "black_below": formula.black_below,
        "min_volume": formula.min_volume,
    }


def shown_formula(rows) -> dict:
    """The formula to show beside index rows: the one that scored them (``computed`` true), or,
    with no rows, the one the next computation will use (``computed`` false).

    For the reader: ``name`` (the default formula's in their language, ``formula_display_name``),
    ``indicators`` (``code``, ``label``, ``weight`` per weight, in the formula's order) and
    ``labels`` (``{code: name}`` of every indicator, as the index API gives them).
    """
    shown = None
    for row in rows:
        if row.formula_used:
            shown = {**row.formula_used, "computed": True}
            break
    if shown is None:
        shown = {**formula_snapshot(active_formula()), "computed": False}
    shown["name"] = formula_display_name(shown.get("name", ""))
    shown["indicators"] = [
        {"code": code, "label": indicator_label(code), "weight": weight}
        for code, weight in (shown.get("weights") or {}).items()
    ]
    shown["labels"] = indicator_labels()
    # rows scored before the minimum existed were ranked without one
    shown["min_volume"] = int(shown.get("min_volume") or 0)
    return shown


def list_lengths(rows, formula: dict) -> dict[str, dict]:
    """How many places each list holds against its size, for the page and the API.

    ``{"red": {"size", "listed", "longer_by_ties"}, "black": {..., "below_bar"}}``: ``listed``
    counts the rows with that standing; ``longer_by_ties`` is true when equal scores at the cut
    put more places on the list than its size (competition ranks, no hidden tie-breaker).

    The black list is worked out as ``standings`` does: the places ranked at or below the rank of
    the ``black_count``-th worst score are there by rank (a score under ``black_below`` among them
    too), and only those are held against the size; ``below_bar`` counts the places there for a
    score under ``black_below`` alone (ranked above that cut). Rows one standings call placed: one
    level of one month.
    """
    red = sum(1 for r in rows if r.standing == Standing.RED)
    black = [r for r in rows if r.standing == Standing.BLACK]
    bar = formula.get("black_below")
    red_count = int(formula.get("red_count") or 0)
    black_count = int(formula.get("black_count") or 0)
    ranks = sorted(r.rank for r in rows if r.rank is not None)
    worst_rank = ranks[max(len(ranks) - black_count, 0)] if ranks and black_count else None
    by_rank = sum(1 for r in black if worst_rank is not None and r.rank is not None and r.rank >= worst_rank)
    below_bar = sum(
        1
        for r in black
        if bar is not None
        and r.score is not None
        and r.score < bar
        and (worst_rank is None or r.rank is None or r.rank < worst_rank)
    )
    return {
        "red": {"size": red_count, "listed": red, "longer_by_ties": red > red_count},
        "black": {
            "size": black_count,
            "listed": len(black),
            "below_bar": below_bar,
            "longer_by_ties": by_rank > black_count,
        },
    }


def standings(
    scored: list[tuple[float | None, int]], formula: IndexFormula
) -> dict[int, tuple[int | None, str]]:
    """``{division pk: (rank, standing)}`` for ``(score, pk)`` pairs sorted best first.

    Competition ranks (equal scores share a rank, the next rank skips: 1, 1, 3). A score under
    ``black_below`` is black, never red; then red: a rank within the best ``red_count``; then
    black: a rank among the worst ``black_count`` (with few divisions the two counts overlap and
    red wins: a lone division is not black for being last). Ties share their standing, so a list
    may hold more than its size.
    """
    ranked = [(s, pk) for s, pk in scored if s is not None]
    out: dict[int, tuple[int | None, str]] = {pk: (None, Standing.NONE) for s, pk in scored if s is None}
    worst_rank = None
    ranks: list[int] = []
    for position, (s, _pk) in enumerate(ranked):
        ranks.append(ranks[-1] if position and s == ranked[position - 1][0] else position + 1)
    if ranked and formula.black_count:
        # the rank of the black_count-th worst score: every score equal to or below it is black
        worst_rank = ranks[max(len(ranked) - formula.black_count, 0)]
    for (s, pk), rank in zip(ranked, ranks, strict=True):
        if formula.black_below is not None and s < formula.black_below:
            standing = Standing.BLACK
        elif rank <= formula.red_count:
            standing = Standing.RED
        elif worst_rank is not None and rank >= worst_rank:
            standing = Standing.BLACK
        else:
            standing = Standing.NONE
        out[pk] = (rank, standing)
    return out


def month_bounds(month: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(settings.TIME_ZONE)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end = datetime(
        month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1, tzinfo=tz
    )
    return start, end


@transaction.atomic
def governance_index_compute(
    *, month: date, formula: IndexFormula | None = None, now: datetime | None = None
) -> int:
    """Compute (or recompute) the index of every subdistrict and community for ``month``; returns rows.

    Only a month that has ended (``analytics.month_not_ended``): a partial month would show as
    the latest on the page. ``zhiwang analytics_index --month YYYY-MM`` runs it by hand.

    Two computations at once (the monthly task and an administrator's command) take turns: the
    formula rows are locked first, so the second replaces the first's rows instead of colliding
    with them.
    """
    month = month.replace(day=1)
    if month_bounds(month)[1] > (now or timezone.now()):
        # a month still running would become the page's "latest" with a partial score
        raise ServiceError(
            "analytics.month_not_ended",
            _("The index of %(month)s can be computed once the month has ended.")
            % {"month": f"{month:%Y-%m}"},
            field="month",
        )
    if month.year < 1970:
        raise ServiceError("analytics.month_invalid", _("Give the month as YYYY-MM."), field="month")
    list(IndexFormula.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    formula = formula or active_formula(create=True)
    weights = validate_weights(formula.weights)
    formula.min_volume = validate_min_volume(formula.min_volume)
    snapshot = formula_snapshot(formula, weights)
    start, end = month_bounds(month)
    # the response, acceptance and closure rates counted as of the computation, like the stored
    # figures (what is still open at ``now`` waits, so a preliminary score reads no higher)
    as_of = now or timezone.now()
    moment = {name: {"as_of": as_of} for name in indicators.AS_OF_INDICATORS}
    written = 0
    for level in LEVELS:
        values: dict[int, dict[str, float | None]] = {}
        volume: dict[int, int] = {}
        for name in weights:
            if name in OPTIONAL and not weights[name]:
                continue
            for key, result in INDEX_INDICATORS[name](
                user=_SYSTEM, start=start, end=end, by=level, **moment.get(name, {})
            ).items():
                if key is not None:
                    values.setdefault(key, {})[name] = result.value
                    if name == VOLUME_INDICATOR:
                        volume[key] = result.denominator
        if VOLUME_INDICATOR not in weights:
            volume = {
                key: result.denominator
                for key, result in INDEX_INDICATORS[VOLUME_INDICATOR](
                    user=_SYSTEM, start=start, end=end, by=level, **moment.get(VOLUME_INDICATOR, {})
                ).items()
                if key is not None
            }
        divisions = list(Division.objects.filter(level=level, pk__in=values).values_list("pk", flat=True))
        scored = sorted(
            ((score(values[pk], weights), pk) for pk in divisions),
            key=lambda pair: (pair[0] is None, -(pair[0] or 0), pair[1]),
        )
        # too few tickets: scored and shown, but neither ranked nor listed (the others close the gap)
        few = {pk for s, pk in scored if s is not None and volume.get(pk, 0) < formula.min_volume}
        placed = standings([pair for pair in scored if pair[1] not in few], formula)
        placed.update({pk: (None, Standing.NONE) for pk in few})
        GovernanceIndex.objects.filter(month=month, level=level).delete()
        rows = [
            GovernanceIndex(
                month=month,
                division_id=pk,
                level=level,
                formula=formula,
                formula_used=snapshot,
                score=s,
                rank=placed[pk][0],
                standing=placed[pk][1],
                values={k: (round(v, 4) if v is not None else None) for k, v in values[pk].items()},
                volume=volume.get(pk, 0),
            )
            for s, pk in scored
        ]
        GovernanceIndex.objects.bulk_create(rows)
        written += len(rows)
    return written
