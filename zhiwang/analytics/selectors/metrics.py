"""The counters a dashboard sums, the private helpers that sum them for a place, and the labels.

Every figure is a ``GROUP BY`` over the wide rollup tables (``RollupUnit`` for totals down to
subdistricts, ``RollupArea`` for their breakdowns, ``RollupFact`` for communities and grids,
``OpenStock``, ``AddressDay``) filtered on the place's denormalised column; no figure reads
``Ticket``. The rates computed from the
counters are defined in docs/analytics.md; ``_labels`` names the values of a breakdown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Sum

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics.models import Dimension, OpenStock, RollupArea, RollupFact, RollupUnit
from zhiwang.analytics.selectors.place import Place
from zhiwang.geo.models import DivisionLevel, StandardAddress
from zhiwang.tickets.indicators import basic_satisfaction_weight
from zhiwang.tickets.models import Category, Channel, TicketKind

FLOW_METRICS = (
    "received",
    "dispatched",
    "closed",
    "closed_on_time",
    "rejected",
    "merged",
    "transferred",
    "overdue",
    "urged",
    "supervised",
    "reopened",
    "follow_ups",
    "rated",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "returned",
    "reassigned",
)
STOCK_METRICS = ("open", "overdue_open")
#: What ``_rates`` needs (tables that show rates sum only these).
RATE_METRICS = (
    "closed",
    "closed_on_time",
    "rated",
    "satisfied",
    "basically_satisfied",
    "resolved",
    "reopened",
    "follow_ups",
)


def _place_filter(level: str, node: int) -> dict:
    """The denormalised column that holds a place (the city: no filter)."""
    if level == DivisionLevel.CITY:
        return {}
    return {f"{level}_id": node}


def _flow_table(place: Place):
    """The smallest wide table that holds the place's totals (whole, per day, per child division).

    Down to subdistricts that is ``RollupUnit``: its rows carry every event too (unit 0: the
    event names no unit), like ``RollupArea``, but per unit instead of per category × channel ×
    kind: at 10 M tickets a 30-day city window is 4,394 rows instead of 31,940.
    """
    model = RollupFact if place.level == DivisionLevel.COMMUNITY else RollupUnit
    return model.objects.filter(**_place_filter(place.level, place.node))


def _dim_table(place: Place):
    """The smallest wide table that holds the place by category, channel and kind."""
    model = RollupFact if place.level == DivisionLevel.COMMUNITY else RollupArea
    return model.objects.filter(**_place_filter(place.level, place.node))


def _unit_table(place: Place):
    model = RollupFact if place.level == DivisionLevel.COMMUNITY else RollupUnit
    return model.objects.filter(**_place_filter(place.level, place.node)).exclude(unit_id=0)


def _sum_all(metrics) -> dict:
    return {m: Sum(m) for m in metrics}


def _clean(row: dict, metrics) -> dict:
    return {m: row.get(m) or 0 for m in metrics}


def _stocks(place: Place, end: date, group: str | None = None, nodes=None) -> dict:
    """Open / overdue stock at the end of the window: current stock minus the flows of later days."""
    stock = OpenStock.objects.filter(**_place_filter(place.level, place.node))
    later = _flow_table(place).filter(day__gte=end)
    if group:
        stock = stock.filter(**{f"{group}__in": nodes}).exclude(**{group: 0})
        if group in ("community_id", "grid_id"):
            later = RollupFact.objects.filter(**_place_filter(place.level, place.node), day__gte=end)
        later = later.filter(**{f"{group}__in": nodes})
        out: dict = defaultdict(lambda: dict.fromkeys(STOCK_METRICS, 0))
        for row in stock.order_by().values(group).annotate(**_sum_all(STOCK_METRICS)):
            for m in STOCK_METRICS:
                out[row[group]][m] += row[m] or 0
        for row in later.order_by().values(group).annotate(**_sum_all(STOCK_METRICS)):
            for m in STOCK_METRICS:
                out[row[group]][m] -= row[m] or 0
        return out
    now = _clean(stock.aggregate(**_sum_all(STOCK_METRICS)), STOCK_METRICS)
    after = _clean(later.aggregate(**_sum_all(STOCK_METRICS)), STOCK_METRICS)
    return {m: now[m] - after[m] for m in STOCK_METRICS}


def _stocks_outside(place: Place, end: date, group: str, nodes) -> dict:
    """Open / overdue stock at the end of the window of the place's tickets in none of ``nodes``.

    The complement of ``_stocks(place, end, group, nodes)``: the tickets located in no child
    (``group`` 0, not located that finely), so that the children and this add up to the place.
    """
    stock = OpenStock.objects.filter(**_place_filter(place.level, place.node)).exclude(
        **{f"{group}__in": nodes}
    )
    if group in ("community_id", "grid_id"):
        later = RollupFact.objects.filter(**_place_filter(place.level, place.node))
    else:
        later = _flow_table(place)
    later = later.filter(day__gte=end).exclude(**{f"{group}__in": nodes})
    now = _clean(stock.aggregate(**_sum_all(STOCK_METRICS)), STOCK_METRICS)
    after = _clean(later.aggregate(**_sum_all(STOCK_METRICS)), STOCK_METRICS)
    return {m: now[m] - after[m] for m in STOCK_METRICS}


def _rates(values: dict) -> dict:
    """Rates from counters (None when the denominator is 0); the formulas are in docs/analytics.md.

    ``on_time_rate`` is *not* DOMAIN.md's assessed on-time closure rate (按期办结率: replied by
    the deadline ÷ due to close, by deadline month, in the governance index): it is the share of
    the window's closures that were on time (closed_on_time ÷ closed; a direct answer or a ticket
    without a deadline counts as on time), shown as "On time among closures". The field keeps its
    name for the API's clients.
    """

    def ratio(a, b):
        return round(a / b, 4) if b else None

    weight = basic_satisfaction_weight()
    return {
        "on_time_rate": ratio(values.get("closed_on_time", 0), values.get("closed", 0)),
        "satisfaction_rate": ratio(
            values.get("satisfied", 0) + weight * values.get("basically_satisfied", 0), values.get("rated", 0)
        ),
        "resolution_rate": ratio(values.get("resolved", 0), values.get("rated", 0)),
        "rework_rate": ratio(values.get("reopened", 0), values.get("follow_ups", 0)),
    }


def _labels(dim: str, values: list[str]) -> dict[str, dict]:
    """Display name and link filter for breakdown values."""
    if dim == Dimension.CATEGORY:
        cats = Category.objects.filter(pk__in=[int(v) for v in values if v.isdigit()]).values_list(
            "pk", "name", "code"
        )
        return {
            str(pk): {"name": name, "code": code, "filter": {"category": code}} for pk, name, code in cats
        }
    if dim == Dimension.CHANNEL:
        return {
            v: {
                "name": str(Channel(v).label) if v in Channel.values else v,
                "code": v,
                "filter": {"channel": v},
            }
            for v in values
        }
    if dim == Dimension.KIND:
        return {
            v: {
                "name": str(TicketKind(v).label) if v in TicketKind.values else v,
                "code": v,
                "filter": {"kind": v},
            }
            for v in values
        }
    if dim == Dimension.UNIT:
        units = OrgUnit.objects.filter(pk__in=[int(v) for v in values if v.isdigit()]).values_list(
            "pk", "name", "code"
        )
        return {
            str(pk): {"name": name, "code": code, "filter": {"handling_unit": code}}
            for pk, name, code in units
        }
    if dim == Dimension.ADDRESS:
        rows = StandardAddress.objects.filter(pk__in=[int(v) for v in values if v.isdigit()]).values_list(
            "pk", "full_name", "code"
        )
        return {str(pk): {"name": name, "code": code, "filter": {"address": code}} for pk, name, code in rows}
    return {}
