"""The DOMAIN.md indicators stored monthly (考核指标): ``IndicatorFigure`` rows per place and unit.

``indicator_figures_compute(month=…)`` runs the eight indicators of ``tickets.indicators`` over
one month that has ended, as the system (everything visible, like the governance index), grouped
five ways: the city (one total), districts, subdistricts, communities (the ticket's place
columns) and handling units (the unit the indicator names: the unit handed to, the replying
unit, ``Ticket.handling_unit``, or for the accurate dispatch rate the dispatch center). That is
one to three ``GROUP BY`` queries per indicator and grouping (5 × 10 in all, whatever the number
of divisions), then one bulk insert. The month's previous rows are replaced in the same
transaction, so computing a month again is idempotent.

Each row keeps the numerator and the denominator (for the average handling time: the total
working hours and the number of replies), so a quarter is the sum of its months and any
weighting can be recomputed; the satisfaction rate also keeps its three counts and the weight of
"basically satisfied" it was computed with (``parts``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.analytics.index import _SYSTEM, INDICATOR_LABELS, month_bounds
from zhiwang.analytics.models import FigureGroup, IndicatorFigure
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import indicators
from zhiwang.tickets.models import Satisfaction

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

#: One line per indicator (docs/indicators.md, shortened), shown beside its name.
DEFINITIONS = {
    "response_rate": gettext_lazy(
        "Hand-overs the unit responded to (signed for, asked to return or replied) within "
        "%(hours)s hours ÷ hand-overs whose response window has closed."
    ),
    "on_time_acceptance_rate": gettext_lazy(
        "Hand-overs signed for by the acceptance deadline ÷ hand-overs signed for or missed."
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


def _results(code: str, *, start, end, by) -> dict:
    """``{key: (numerator, denominator, parts)}`` of one indicator, grouped ``by``."""
    if code == "satisfaction_rate":
        # the counts behind the rate (one query, as satisfaction_rate itself runs), kept in parts
        weight = indicators.basic_satisfaction_weight()
        counts = indicators.satisfaction_counts(user=_SYSTEM, start=start, end=end, by=by)
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
            for key, c in counts.items()
        }
    out = {}
    for key, result in indicators.INDICATORS[code](user=_SYSTEM, start=start, end=end, by=by).items():
        if code in AVERAGES:
            out[key] = (float(result.total), int(result.count), {})
        else:
            out[key] = (float(result.numerator), int(result.denominator), {})
    return out


def _lock_month(month: date) -> None:
    """Two computations of one month take turns (PostgreSQL: a transaction advisory lock; SQLite
    writes one at a time anyway), so the second replaces the first's rows instead of colliding."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5A57, month.year * 100 + month.month])


def indicator_figures_compute(
    *,
    month: date,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Compute (or recompute) every stored indicator figure of ``month``; returns the rows written.

    Only a month that has ended (``analytics.month_not_ended``). The queries run before the
    write; the month's old rows are deleted and the new ones inserted in one transaction.
    ``progress(done, total)`` is called after each indicator × grouping.
    """
    month = month_ended_or_refuse(month, now=now)
    start, end = month_bounds(month)
    rows: list[IndicatorFigure] = []
    total = len(GROUPINGS) * len(FIGURE_INDICATORS)
    done = 0
    for group, by in GROUPINGS.items():
        for code in FIGURE_INDICATORS:
            for key, (numerator, denominator, parts) in _results(code, start=start, end=end, by=by).items():
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
                    )
                )
            done += 1
            if progress is not None:
                progress(done, total)
    with transaction.atomic():
        _lock_month(month)
        IndicatorFigure.objects.filter(month=month).delete()
        IndicatorFigure.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def months_with_timeline(*, before: date) -> list[date]:
    """The first days of the months from the first timeline row's month up to, not including,
    ``before``'s month (the months a new installation or the demo has history for)."""
    from zhiwang.tickets.models import TicketEvent

    first = TicketEvent.objects.order_by("at").values_list("at", flat=True).first()
    if first is None:
        return []
    month = timezone.localtime(first).date().replace(day=1)
    stop = before.replace(day=1)
    out = []
    while month < stop:
        out.append(month)
        month = date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)
    return out
