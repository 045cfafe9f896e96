"""The DOMAIN.md indicators stored monthly (考核指标): ``IndicatorFigure`` rows per place and unit.

``indicator_figures_compute(month=…)`` runs the eight indicators of ``tickets.indicators`` over
one month that has ended, as the system (everything visible, like the governance index), grouped
five ways: the city (one total), districts, subdistricts, communities (the ticket's place
columns) and handling units (the unit the indicator names: the unit handed to, the replying
unit, ``Ticket.handling_unit``, or for the accurate dispatch rate the dispatch center). Each
indicator scans the month once for the five groupings (``by=`` a tuple of them: one query
each, whatever the number of divisions), its rows grouped by the unit and the three place
columns together and each grouping summed from them (every figure is a sum of
counts or seconds; a row lacking a place column counts for the city only, the units are summed
apart from the places): the same rows, to the last bit, as each grouping computed alone
(``_results`` with one ``by``), from a fifth of the scans. On PostgreSQL the reads run without
JIT compilation (``_without_jit``). Then one bulk insert; the month's previous rows are replaced
in the same transaction, so computing a month again is idempotent.

Each row keeps the numerator and the denominator (for the average handling time: the total
working hours and the number of replies), so a quarter is the sum of its months and any
weighting can be recomputed; the satisfaction rate also keeps its three counts and the weight of
"basically satisfied" it was computed with (``parts``).

A month's figures are **preliminary** until its settle time (``settle_at``: the month's end plus
``settle_days()`` calendar days), when every hand-over of the month has had its whole response
and acceptance window. The indicators count a hand-over only once its outcome is settled (its
response window closed, its accept deadline passed or its round ended, a deadline passed), so a
month counted before it is not biased (answered and unanswered hand-overs of the last hours wait
alike) but incomplete: those hand-overs are not counted yet, and the final figures may differ.
``computed_at`` is the moment the figures were counted at; the figures are final when the
month's rows were counted on or after the settle time (``month_finality``). The daily
``figures_settle`` recomputes, once, every month whose settle time has passed since it was
computed (and its governance index, when the formula it was scored with is unchanged).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.analytics.index import _SYSTEM, INDICATOR_LABELS, month_bounds
from zhiwang.analytics.models import FigureGroup, IndicatorFigure
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import indicators
from zhiwang.tickets.models import Category, Satisfaction

logger = logging.getLogger(__name__)

#: The eight indicators of DOMAIN.md, in the order the page and the API show them.
FIGURE_INDICATORS = tuple(indicators.INDICATORS)
#: Indicators whose value is an average (working hours), not a rate.
AVERAGES = frozenset({"average_handling_time"})
#: Lower is better (the page says so; sorting stays by value).
LOWER_IS_BETTER = frozenset({"rework_rate", "average_handling_time"})
#: The groupings stored, each a ``by=`` of ``tickets.indicators`` (the city: one total).
GROUPINGS = {
    FigureGroup.CITY: None,
    FigureGroup.DISTRICT: "district",
    FigureGroup.SUBDISTRICT: "subdistrict",
    FigureGroup.COMMUNITY: "community",
    FigureGroup.UNIT: "unit",
}

FIGURE_LABELS = {
    **{code: INDICATOR_LABELS[code] for code in FIGURE_INDICATORS if code in INDICATOR_LABELS},
    "average_handling_time": gettext_lazy("Average handling time"),
}
#: Indicators counted as of a moment (a window or a deadline must have passed): given the
#: computation's moment, which is also stored as the rows' ``computed_at``.
AS_OF = indicators.AS_OF_INDICATORS

# --- when a month's figures are final --------------------------------------------------------

#: The fewest calendar days after a month's end before its figures are final.
SETTLE_DAYS_AT_LEAST = 10
#: The longest run of days without work a deadline may have to cross (the Spring Festival or
#: National Day week with its weekends: 8 or 9 days).
LONGEST_DAYS_OFF = 9
#: Working hours in a working day (the default windows, 9:00-12:00 and 14:00-18:00).
WORKING_HOURS_PER_DAY = 7
#: The clock sweep's "not accepted in time" row and a hand-over at 23:59 on the last day: one more day.
SETTLE_MARGIN_DAYS = 1

#: One line per indicator (docs/indicators.md, shortened), shown beside its name.
DEFINITIONS = {
    "response_rate": gettext_lazy(
        "Hand-overs the unit responded to (signed for, asked to return or replied) within "
        "%(hours)s hours ÷ hand-overs whose response window has closed."
    ),
    "on_time_acceptance_rate": gettext_lazy(
        "Hand-overs signed for by the acceptance deadline ÷ hand-overs signed for or missed, "
        "counted once the deadline has passed or the ticket was handed over again."
    ),
    "on_time_closure_rate": gettext_lazy(
        "Tickets whose reply stands and came by the deadline ÷ tickets due to close (deadline in the period)."
    ),
    "resolution_rate": gettext_lazy("Follow-ups rated resolved ÷ rated follow-ups (unreachable left out)."),
    "satisfaction_rate": gettext_lazy("(Satisfied + basically satisfied × %(weight)s) ÷ rated follow-ups."),
    "rework_rate": gettext_lazy(
        "Follow-ups that reopened the ticket ÷ follow-ups (closing or reopening). Lower is better."
    ),
    "accurate_dispatch_rate": gettext_lazy(
        "(Dispatches − returned as wrongly dispatched − reassigned) ÷ dispatches; "
        "per unit: the dispatch center that decided."
    ),
    "average_handling_time": gettext_lazy(
        "Working hours from each hand-over to the unit's first reply, less suspended time, "
        "averaged over those replies. Lower is better."
    ),
}


def indicator_label(code: str) -> str:
    label = FIGURE_LABELS.get(code)
    return str(label) if label is not None else code


def indicator_definition(code: str) -> str:
    text = DEFINITIONS.get(code)
    if text is None:
        return ""
    return str(text) % {
        "hours": f"{indicators.response_hours():g}",
        "weight": f"{indicators.basic_satisfaction_weight():g}",
    }


def month_ended_or_refuse(month: date, *, now: datetime | None = None) -> date:
    """``month`` (its first day) when it has ended, else ``analytics.month_not_ended``.

    A month still running is refused as the governance index refuses it: its partial figures
    would be stored as if final.
    """
    month = month.replace(day=1)
    if month.year < 1970:
        raise ServiceError("analytics.month_invalid", _("Give the month as YYYY-MM."), field="month")
    if month_bounds(month)[1] > (now or timezone.now()):
        raise ServiceError(
            "analytics.month_not_ended",
            _("The indicators of %(month)s can be computed once the month has ended.")
            % {"month": f"{month:%Y-%m}"},
            field="month",
        )
    return month


def settle_days() -> int:
    """Calendar days after a month's end by which every hand-over of the month has had its whole
    response window and acceptance deadline (and the sweep has marked a miss).

    The response window is ``ZHIWANG_RESPONSE_HOURS`` natural hours; the acceptance deadline the
    longest ``Category.accept_hours`` in working hours (default 2), counted as whole working days
    after the longest run of days off. The larger of the two, plus a day's margin, and never less
    than ``SETTLE_DAYS_AT_LEAST`` (10): with the defaults 11 days (2 working hours across a 9-day
    holiday, plus a day).
    """
    response = math.ceil(indicators.response_hours() / 24)
    longest = Category.objects.aggregate(m=Max("accept_hours"))["m"] or Decimal(2)
    acceptance = LONGEST_DAYS_OFF + math.ceil(float(longest) / WORKING_HOURS_PER_DAY)
    return max(SETTLE_DAYS_AT_LEAST, max(response, acceptance) + SETTLE_MARGIN_DAYS)


def settle_at(month: date, *, days: int | None = None) -> datetime:
    """The moment ``month``'s figures become final: its end plus ``settle_days()`` (local midnight)."""
    return month_bounds(month.replace(day=1))[1] + timedelta(days=settle_days() if days is None else days)


def month_finality(months) -> dict[date, tuple[bool, date]]:
    """``{month: (final, final from)}`` of the ``months`` that have figures: final when the month
    was counted on or after its settle time; ``final from`` the local day of the settle time (the
    page's "preliminary until"). One query on the city rows."""
    months = list(months)
    if not months:
        return {}
    days = settle_days()
    counted = dict(
        IndicatorFigure.objects.filter(group=FigureGroup.CITY, month__in=months)
        .order_by()
        .values("month")
        .annotate(first=Min("computed_at"))
        .values_list("month", "first")
    )
    out = {}
    for month, first in counted.items():
        settle = settle_at(month, days=days)
        out[month] = (first >= settle, timezone.localtime(settle).date())
    return out


def _results(code: str, *, start, end, by, as_of: datetime | None = None) -> dict:
    """``{key: (numerator, denominator, parts)}`` of one indicator, grouped ``by``; for a tuple of
    groupings ``by``, ``{grouping: {key: (numerator, denominator, parts)}}`` from one pass."""
    several = isinstance(by, tuple)
    if code == "satisfaction_rate":
        # the counts behind the rate (one query, as satisfaction_rate itself runs), kept in parts
        weight = indicators.basic_satisfaction_weight()
        counts = indicators.satisfaction_counts(user=_SYSTEM, start=start, end=end, by=by)

        def finish(per_key):
            return {
                key: (
                    c[Satisfaction.SATISFIED] + c[Satisfaction.BASICALLY] * weight,
                    c["rated"],
                    {
                        "satisfied": c[Satisfaction.SATISFIED],
                        "basically_satisfied": c[Satisfaction.BASICALLY],
                        "unsatisfied": c[Satisfaction.UNSATISFIED],
                        "basic_weight": weight,
                    },
                )
                for key, c in per_key.items()
            }

    else:
        moment = {"as_of": as_of} if code in AS_OF and as_of is not None else {}
        counts = indicators.INDICATORS[code](user=_SYSTEM, start=start, end=end, by=by, **moment)

        def finish(per_key):
            if code in AVERAGES:
                return {key: (float(r.total), int(r.count), {}) for key, r in per_key.items()}
            return {key: (float(r.numerator), int(r.denominator), {}) for key, r in per_key.items()}

    if several:
        return {one: finish(per_key) for one, per_key in counts.items()}
    return finish(counts)


def _lock_month(month: date) -> None:
    """Two computations of one month take turns (PostgreSQL: a transaction advisory lock; SQLite
    writes one at a time anyway), so the second replaces the first's rows instead of colliding."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5A57, month.year * 100 + month.month])


def _without_jit() -> None:
    """PostgreSQL: no JIT compilation until the transaction ends. The month's queries (correlated
    subqueries per hand-over or reply) are estimated far above ``jit_above_cost`` though each runs
    in under a second; compiling them took longer than running them (1.2 s of JIT for a 0.8 s
    response-rate query, 16,646 hand-overs in the month)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def indicator_figures_compute(
    *,
    month: date,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Compute (or recompute) every stored indicator figure of ``month``; returns the rows written.

    Only a month that has ended (``analytics.month_not_ended``). The queries run before the
    write; the month's old rows are deleted and the new ones inserted in one transaction.
    ``progress(done, total)`` is called for each indicator × grouping (an indicator's five
    groupings come from one pass, so they are reported together). The figures are counted as of
    ``now`` (default: the present), stored as the rows' ``computed_at``: before the month's
    ``settle_at`` they are preliminary.
    """
    as_of = now or timezone.now()
    month = month_ended_or_refuse(month, now=as_of)
    start, end = month_bounds(month)
    total = len(GROUPINGS) * len(FIGURE_INDICATORS)
    done = 0
    every_grouping = tuple(GROUPINGS.values())
    found: dict = {}  # {code: {by: {key: (numerator, denominator, parts)}}}
    with transaction.atomic():  # for SET LOCAL: the reads only, the write has its own
        _without_jit()
        for code in FIGURE_INDICATORS:
            found[code] = _results(code, start=start, end=end, by=every_grouping, as_of=as_of)
            for _by in every_grouping:
                done += 1
                if progress is not None:
                    progress(done, total)
    rows: list[IndicatorFigure] = []
    for group, by in GROUPINGS.items():
        for code in FIGURE_INDICATORS:
            for key, (numerator, denominator, parts) in found[code][by].items():
                if by is not None and key is None:  # tickets without that place column, rows without a unit
                    continue
                rows.append(
                    IndicatorFigure(
                        month=month,
                        group=group,
                        key=key,
                        indicator=code,
                        numerator=numerator,
                        denominator=denominator,
                        parts=parts,
                        computed_at=as_of,
                    )
                )
    with transaction.atomic():
        _lock_month(month)
        IndicatorFigure.objects.filter(month=month).delete()
        IndicatorFigure.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def months_with_timeline(*, before: date) -> list[date]:
    """The first days of the months from the first ticket's month up to, not including,
    ``before``'s month (the months a new installation or the demo has history for).

    A ticket's first timeline row is its receipt, so the earliest ``received_at`` (indexed: one
    index probe) starts the history; the timeline has no index on ``at`` alone, and ordering it
    by ``at`` read every row."""
    from zhiwang.tickets.models import Ticket

    first = Ticket.objects.order_by("received_at").values_list("received_at", flat=True).first()
    if first is None:
        return []
    month = timezone.localtime(first).date().replace(day=1)
    stop = before.replace(day=1)
    out = []
    while month < stop:
        out.append(month)
        month = date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)
    return out


def figures_settle(*, now: datetime | None = None) -> list[date]:
    """Recompute, once and as final, the figures of every month computed before its settle time
    when that time has passed; returns the months recomputed (the daily task).

    Then the month's governance index, when every row of it was scored before the settle time
    with one formula that has not changed since (``formula_snapshot`` equal to the month's
    copy): the index weighs the same response, acceptance and closure rates, so its preliminary
    scores leave out the same hand-overs still open. A formula changed since keeps the month's
    scores as published (logged). A failure of the index is logged and leaves the final figures.
    """
    now = now or timezone.now()
    days = settle_days()
    counted = (
        IndicatorFigure.objects.filter(group=FigureGroup.CITY)
        .order_by("month")
        .values("month")
        .annotate(first=Min("computed_at"))
        .values_list("month", "first")
    )
    settled = []
    for month, first in counted:
        settle = settle_at(month, days=days)
        if not first < settle <= now:
            continue
        indicator_figures_compute(month=month, now=now)
        settled.append(month)
        try:
            _index_settle(month, settle=settle, now=now)
        except Exception:
            logger.exception("governance index %s: final recompute failed", f"{month:%Y-%m}")
    return settled


def _index_settle(month: date, *, settle: datetime, now: datetime) -> bool:
    """Recompute ``month``'s governance index as final if it was scored before ``settle`` with a
    formula that has not changed since; returns whether it did."""
    from zhiwang.analytics.index import formula_snapshot, governance_index_compute, validate_weights
    from zhiwang.analytics.models import GovernanceIndex, IndexFormula

    rows = GovernanceIndex.objects.filter(month=month)
    summary = rows.aggregate(first=Min("computed_at"))
    if summary["first"] is None or summary["first"] >= settle:
        return False
    used = list(rows.order_by().values_list("formula_id", "formula_used").distinct()[:2])
    formula = IndexFormula.objects.filter(pk=used[0][0]).first() if len(used) == 1 and used[0][0] else None
    if formula is None:
        logger.warning("governance index %s: scored with several or deleted formulas, kept", f"{month:%Y-%m}")
        return False
    try:
        unchanged = formula_snapshot(formula, validate_weights(formula.weights)) == used[0][1]
    except ServiceError:
        unchanged = False
    if not unchanged:
        logger.warning("governance index %s: its formula changed since, scores kept", f"{month:%Y-%m}")
        return False
    governance_index_compute(month=month, formula=formula, now=now)
    return True
