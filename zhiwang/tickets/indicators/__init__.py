"""Ticket indicators (考核指标), each an aggregate query over the timeline and the ticket columns.

Every function takes the asking ``user`` and counts only what ``Ticket.objects.visible_to(user)``
allows, a half-open window ``[start, end)`` and an optional grouping ``by``:

- ``"unit"``: the handling unit (``TicketEvent.unit`` or ``Ticket.handling_unit``; for the
  accurate dispatch rate, the ticket's dispatch center, whose dispatchers decided);
- ``"district"`` / ``"subdistrict"`` / ``"community"``: the ticket's denormalized place columns;
- ``"day"`` / ``"week"`` / ``"month"``: local (Asia/Shanghai) calendar periods;
- ``None``: one total, under the key ``None``.

``division`` limits the count to a subtree (a district, subdistrict or community) and ``unit`` to
one unit. Each function returns ``{key: Rate}`` (``{key: Average}`` for the handling time) with the
numerator and denominator kept, so any weighting can be recomputed; the exact formulas, which
events count, and the edge cases are in docs/indicators.md.

``by`` may also be a tuple of groupings, e.g. ``("unit", "district", None)``: the function then
returns ``{grouping: {key: result}}``, every grouping from one scan of the window grouped by all
their columns (the stored monthly figures use this), equal to each grouping computed alone.

Each indicator is one to three queries. The rates are ``GROUP BY`` queries (the response and
on-time acceptance rates grouped by their per-hand-over conditions too, counted here, so each
correlated subquery runs once per row); the handling time reads one row per first reply and sums
the working seconds here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.utils import timezone

from zhiwang.tickets.indicators.frame import (
    BEIJING_WEIGHTS,
    GROUPINGS,
    Average,
    Rate,
    basic_satisfaction_weight,
    response_hours,
)
from zhiwang.tickets.indicators.handling_time import average_handling_time
from zhiwang.tickets.indicators.rates import (
    accurate_dispatch_rate,
    on_time_acceptance_rate,
    on_time_closure_rate,
    resolution_rate,
    response_rate,
    rework_rate,
    satisfaction_counts,
    satisfaction_rate,
)

# --- all of them, and a composite -------------------------------------------------------------

INDICATORS = {
    "response_rate": response_rate,
    "on_time_acceptance_rate": on_time_acceptance_rate,
    "on_time_closure_rate": on_time_closure_rate,
    "resolution_rate": resolution_rate,
    "satisfaction_rate": satisfaction_rate,
    "rework_rate": rework_rate,
    "accurate_dispatch_rate": accurate_dispatch_rate,
    "average_handling_time": average_handling_time,
}
#: The indicators counted as of a moment (``as_of``, default now): each counts an item only
#: once its outcome is settled (a window closed, a deadline passed), so a count made early
#: leaves out what is still open instead of counting its early successes alone.
AS_OF_INDICATORS = frozenset({"response_rate", "on_time_acceptance_rate", "on_time_closure_rate"})


def indicator_table(
    *, user, start, end, by=None, division=None, unit=None, weights=BEIJING_WEIGHTS, as_of=None
) -> dict:
    """``{key: {indicator name: Rate | Average, "composite": float | None}}`` for every indicator,
    those of ``AS_OF_INDICATORS`` counted as of one moment (``as_of``, default now)."""
    as_of = as_of or timezone.now()
    table: dict = defaultdict(dict)
    for name, function in INDICATORS.items():
        moment = {"as_of": as_of} if name in AS_OF_INDICATORS else {}
        for key, result in function(
            user=user, start=start, end=end, by=by, division=division, unit=unit, **moment
        ).items():
            table[key][name] = result
    for row in table.values():
        row["composite"] = composite(row, weights=weights)
    return dict(table)


def composite(
    values: Mapping[str, Rate | Average | float | None], *, weights=BEIJING_WEIGHTS
) -> float | None:
    """Σ weight × rate over ``weights`` (rates as fractions); None when any weighted rate is missing."""
    total = 0.0
    for name, weight in weights.items():
        value = values.get(name)
        value = getattr(value, "value", value)
        if value is None:
            return None
        total += weight * value
    return total


__all__ = [
    "AS_OF_INDICATORS",
    "BEIJING_WEIGHTS",
    "GROUPINGS",
    "INDICATORS",
    "Average",
    "Rate",
    "accurate_dispatch_rate",
    "average_handling_time",
    "basic_satisfaction_weight",
    "composite",
    "indicator_table",
    "on_time_acceptance_rate",
    "on_time_closure_rate",
    "resolution_rate",
    "response_hours",
    "response_rate",
    "rework_rate",
    "satisfaction_counts",
    "satisfaction_rate",
]
