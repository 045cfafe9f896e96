"""The figures of the dashboard page: totals and stock, trend, breakdowns, units, children, addresses.

Each takes a ``Place`` and a window ``[start, end)`` of local days and reads the rollups only
(``selectors.metrics``); each row carries the link to the tickets behind it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.analytics.buildings import arrivals_per_building
from zhiwang.analytics.models import Dimension, NodeLevel, RollupFact, RollupUnit
from zhiwang.analytics.selectors.metrics import (
    FLOW_METRICS,
    RATE_METRICS,
    _clean,
    _dim_table,
    _flow_table,
    _labels,
    _place_filter,
    _rates,
    _stocks,
    _stocks_outside,
    _sum_all,
    _unit_table,
)
from zhiwang.analytics.selectors.place import Place, dashboard_link, division_labels, ticket_link
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division, DivisionLevel, Grid
from zhiwang.tickets.catalogue_selectors import CATCH_ALL_NAMES
from zhiwang.tickets.indicators import basic_satisfaction_weight
from zhiwang.tickets.models import Category
from zhiwang.tickets.selectors import EVENT_NAMES

CHILD_LEVEL = {
    DivisionLevel.CITY: NodeLevel.DISTRICT,
    DivisionLevel.DISTRICT: NodeLevel.SUBDISTRICT,
    DivisionLevel.SUBDISTRICT: NodeLevel.COMMUNITY,
    DivisionLevel.COMMUNITY: NodeLevel.GRID,
}


# --- links: each figure's tickets, by the list filter that counts what the figure counts ----------


def flow_link(place: Place, start: date, end: date, metric: str, unit: str = "", **filters) -> str | None:
    """The tickets behind a flow (events in ``[start, end)``, of ``unit`` if given), or None.

    Arrivals are the list's ``received_from``/``received_to``; every other flow is its ``event``
    filter: tickets with such a timeline row in the window (naming the unit). That includes the
    parts of the rates (``RATE_LINKS``): closures on time and late (``closed_late``, no rollup
    counter of its own: closed − closed_on_time), the ratings (rated, resolved, not resolved, each
    satisfaction value), with the row conditions the rollups count by. A ticket is listed once
    however many of its rows a figure counts (two urges of one ticket: 2 urged, 1 ticket).
    """
    if metric == "received" and not unit:
        return ticket_link(place, start, end, **filters)
    if metric not in EVENT_NAMES:
        return None
    return ticket_link(place, event=metric, event_from=start, event_to=end, event_unit=unit, **filters)


#: The tickets behind each rate: the part a leader chases first, then the rest of it. On time
#: among closures: the late closures, and the ones on time; satisfaction: the unsatisfied ratings,
#: and every rating (its denominator); resolution: the ratings not resolved; rework: the reopenings.
RATE_LINKS = {
    "on_time_rate": ("closed_late", "closed_on_time"),
    "satisfaction_rate": ("unsatisfied", "rated"),
    "resolution_rate": ("unresolved", "rated"),
    "rework_rate": ("reopened", "follow_ups"),
}
#: Every ``event`` the rates link (each once).
RATE_EVENTS = tuple(dict.fromkeys(event for events in RATE_LINKS.values() for event in events))


def rate_links(place: Place, start: date, end: date, unit: str = "", **filters) -> dict[str, str | None]:
    """``{event: link}`` for the parts of the rates (``RATE_LINKS``) of the window, of ``unit`` if given."""
    return {event: flow_link(place, start, end, event, unit=unit, **filters) for event in RATE_EVENTS}


def rate_parts(flows: dict) -> dict[str, int]:
    """The counts of the rates' parts (``RATE_EVENTS``) from the window's counters: the late
    closures are closed − closed_on_time, the ratings not resolved rated − resolved."""
    return {
        "closed_late": flows.get("closed", 0) - flows.get("closed_on_time", 0),
        "closed_on_time": flows.get("closed_on_time", 0),
        "unsatisfied": flows.get("unsatisfied", 0),
        "rated": flows.get("rated", 0),
        "unresolved": flows.get("rated", 0) - flows.get("resolved", 0),
        "reopened": flows.get("reopened", 0),
        "follow_ups": flows.get("follow_ups", 0),
    }


def stock_links(place: Place, end: date, **filters) -> dict[str, str]:
    """The tickets behind the open and overdue stock at the end of the window (local midnight of ``end``).

    A window ending after today: the open tickets now; one ending before: those received
    before its end and not ended (closed, answered, rejected, merged, transferred) by then.
    Overdue: the tickets in an overdue episode at that moment (overdue warning, urge after the
    deadline or supervision, not yet followed by a reply, extension, return, reopening or the end).
    """
    current = end > timezone.localdate()
    return {
        "open": ticket_link(place, status="open", **filters)
        if current
        else ticket_link(place, open_at=end, **filters),
        "overdue_open": ticket_link(place, overdue_at=end, **filters),
    }


@dataclass
class Summary:
    place: Place
    start: date
    end: date
    flows: dict
    stocks: dict
    rates: dict
    links: dict = field(default_factory=dict)

    @property
    def is_current(self) -> bool:
        """The window reaches today: its stocks are today's ("open now"), not a past window's end."""
        return self.end > timezone.localdate()

    @property
    def parts(self) -> dict[str, int]:
        """The counts behind the rates' links (``rate_parts``): the late closures, the unsatisfied …"""
        return rate_parts(self.flows)

    @property
    def satisfaction_weight(self) -> str:
        """How much a "basically satisfied" rating counts in ``rates["satisfaction_rate"]``
        ("0.8"), for the formula the dashboard writes under the cards."""
        return f"{basic_satisfaction_weight():g}"


def summary(*, place: Place, start: date, end: date) -> Summary:
    """Window totals, the open and overdue stock at the end of the window, and the rates."""
    flows = _clean(
        _flow_table(place).filter(day__gte=start, day__lt=end).aggregate(**_sum_all(FLOW_METRICS)),
        FLOW_METRICS,
    )
    stocks = _stocks(place, end)
    links = {
        "received": flow_link(place, start, end, "received"),
        "closed": flow_link(place, start, end, "closed"),
        **stock_links(place, end),
        **rate_links(place, start, end),
    }
    return Summary(place, start, end, flows, stocks, _rates(flows), links)


def window_is_empty(*, place: Place, start: date, end: date) -> bool:
    """Whether nothing happened to any ticket of ``place`` in ``[start, end)`` and none was open at
    its end: every figure of a report of that period is 0 (the report page warns, a report of a
    month before the history began is no evidence of a quiet month). Two aggregates of the rollups."""
    flows = _clean(
        _flow_table(place).filter(day__gte=start, day__lt=end).aggregate(**_sum_all(FLOW_METRICS)),
        FLOW_METRICS,
    )
    return not any(flows.values()) and not any(_stocks(place, end).values())


def trend(*, place: Place, start: date, end: date, by: str = "day") -> list[dict]:
    """Per day (or week, Monday first): received, closed, overdue; every period, zeros included.

    ``period`` is the first day a point counts: a week's Monday, or the window's first day for a
    week the window starts in the middle of (its links cover the same days); ``partial`` is true
    for a week the window cuts at either end (fewer than 7 days counted).
    """
    if by not in ("day", "week"):
        raise ServiceError("analytics.by_unknown", _("Group by day or week."), field="by")
    metrics = ("received", "closed", "overdue")
    rows = {
        r["day"]: r
        for r in _flow_table(place)
        .filter(day__gte=start, day__lt=end)
        .order_by()
        .values("day")
        .annotate(**_sum_all(metrics))
    }
    periods: dict[date, dict] = {}
    day = start
    while day < end:
        key = day - timedelta(days=day.weekday()) if by == "week" else day
        bucket = periods.setdefault(key, {"period": key, **dict.fromkeys(metrics, 0)})
        for metric in metrics:
            bucket[metric] += rows.get(day, {}).get(metric) or 0
        day += timedelta(days=1)
    out = []
    for key, bucket in periods.items():
        first, last = max(key, start), min(key + timedelta(days=7 if by == "week" else 1), end)
        # a week cut by the window is named by the first day it counts (a window starting on a
        # Thursday: its first week is that Thursday, not the Monday before, which it does not count)
        bucket["period"] = first
        # a week the window cuts counts fewer than 7 days: the chart marks it, lest it read as a drop
        bucket["partial"] = by == "week" and (first != key or last != key + timedelta(days=7))
        bucket["links"] = {metric: flow_link(place, first, last, metric) for metric in metrics}
        bucket["link"] = bucket["links"]["received"]  # the arrivals (before there was one per series)
        out.append(bucket)
    return out


BREAKDOWN_DIMS = (Dimension.CATEGORY, Dimension.CHANNEL, Dimension.KIND, Dimension.UNIT)
DIM_COLUMNS = {
    Dimension.CATEGORY: "category_id",
    Dimension.CHANNEL: "channel",
    Dimension.KIND: "kind",
    Dimension.UNIT: "unit_id",
}


def breakdown(
    *, place: Place, start: date, end: date, dim: str, metric: str = "received", top: int = 10
) -> list[dict]:
    """The largest values of one dimension (category, channel, kind, unit) for one metric."""
    if dim not in BREAKDOWN_DIMS:
        raise ServiceError(
            "analytics.dim_unknown",
            _("Break down by one of: %(choices)s.") % {"choices": ", ".join(BREAKDOWN_DIMS)},
            field="dim",
        )
    if metric not in FLOW_METRICS:
        raise ServiceError(
            "analytics.metric_unknown", _("Unknown figure %(m)s.") % {"m": metric}, field="metric"
        )
    column = DIM_COLUMNS[dim]
    table = _unit_table(place) if dim == Dimension.UNIT else _dim_table(place)
    rows = [
        {"value": str(r[column]), "total": r["total"]}
        for r in table.filter(day__gte=start, day__lt=end)
        .order_by()
        .values(column)
        .annotate(total=Sum(metric))
        .filter(total__gt=0)
        .order_by("-total", column)[: max(1, min(top, 100))]
    ]
    labels = _labels(dim, [r["value"] for r in rows])
    if dim == Dimension.CATEGORY:
        _name_after_parents(list(labels.values()))
    out = []
    for r in rows:
        label = labels.get(r["value"])
        if label is None:  # a value no longer known (no link: the list cannot name it)
            out.append({"name": r["value"], "code": r["value"], "value": r["total"], "link": None})
            continue
        if dim == Dimension.UNIT:
            # the unit a row names (the rollups' unit), not the ticket's handling unit now
            link = flow_link(place, start, end, metric, unit=label["code"])
        else:
            link = flow_link(place, start, end, metric, **label["filter"])
        out.append({"name": label["name"], "code": label["code"], "value": r["total"], "link": link})
    return out


def _name_after_parents(labels: list[dict]) -> None:
    """Name a category "parent · leaf" when its name alone cannot be told apart among ``labels``
    (the categories of one breakdown, ``_labels``): a catch-all leaf ("其他", ``CATCH_ALL_NAMES``;
    many branches have one) or a name another one shares. Three bars "其他" were three categories
    of three branches. One query, only when a category needs it."""
    shared = Counter(label["name"] for label in labels)
    unclear = [label for label in labels if label["name"] in CATCH_ALL_NAMES or shared[label["name"]] > 1]
    if not unclear:
        return
    parents = dict(
        Category.objects.filter(code__in=[r["code"] for r in unclear], parent__isnull=False).values_list(
            "code", "parent__name"
        )
    )
    for label in unclear:
        if (parent := parents.get(label["code"])) and parent != label["name"]:
            label["name"] = f"{parent} · {label['name']}"  # not "其他 · 其他": the name once


def unit_table(*, place: Place, start: date, end: date, top: int = 20) -> list[dict]:
    """Per handling unit: dispatched, closed, rates (the unit's events about this place)."""
    sums = {
        str(r["unit_id"]): r
        for r in _unit_table(place)
        .filter(day__gte=start, day__lt=end)
        .order_by()
        .values("unit_id")
        .annotate(**_sum_all({*RATE_METRICS, "dispatched", "overdue"}))
    }
    labels = _labels(Dimension.UNIT, list(sums))
    rows = []
    for value, metrics in sums.items():
        label = labels.get(value)
        if label is None:
            continue
        counts = ("dispatched", "closed", "overdue", "reopened", "rated")
        links = {
            **{m: flow_link(place, start, end, m, unit=label["code"]) for m in counts},
            **rate_links(place, start, end, unit=label["code"]),
        }
        rows.append(
            {
                "code": label["code"],
                "name": label["name"],
                **{m: metrics.get(m) or 0 for m in counts},
                **_rates(_clean(metrics, FLOW_METRICS)),
                "link": links["dispatched"],  # the tickets dispatched to the unit in the window
                "links": links,
            }
        )
    rows.sort(key=lambda r: (-r["dispatched"], r["code"]))
    return rows[:top]


def children(*, place: Place, start: date, end: date) -> list[dict]:
    """Per child (district → subdistricts → communities → grids): flows, stocks, rates, links, for the map.

    A last row ``unlocated`` (``_unlocated_row``) holds the place's tickets in none of the
    children, when there are any, so the rows add up to the place's totals; the map ignores it.
    """
    child_level = CHILD_LEVEL[place.level]
    if child_level == NodeLevel.GRID:
        items = list(Grid.objects.filter(community_id=place.node).defer("geometry").order_by("code"))
    else:
        items = list(
            Division.objects.filter(parent=place.division, level=child_level)
            .defer("geometry")
            .order_by("code")
        )
    group = f"{child_level}_id"
    nodes = [i.pk for i in items]
    # districts and subdistricts: the unit table (every event, fewer rows than RollupArea)
    table = RollupFact if child_level in (NodeLevel.COMMUNITY, NodeLevel.GRID) else RollupUnit
    flows = {
        r[group]: _clean(r, FLOW_METRICS)
        for r in table.objects.filter(**_place_filter(place.level, place.node), day__gte=start, day__lt=end)
        .filter(**{f"{group}__in": nodes})
        .order_by()
        .values(group)
        .annotate(**_sum_all({*RATE_METRICS, "received"}))
    }
    stocks = _stocks(place, end, group, nodes)
    # communities of one subdistrict that share a short name (杨美社区 ×3) by their full names
    names = division_labels(items, subdistrict=False) if child_level != NodeLevel.GRID else {}
    outside = _clean(
        table.objects.filter(**_place_filter(place.level, place.node), day__gte=start, day__lt=end)
        .exclude(**{f"{group}__in": nodes})
        .aggregate(**_sum_all({*RATE_METRICS, "received"})),
        FLOW_METRICS,
    )
    outside_stocks = _stocks_outside(place, end, group, nodes)
    out = []
    for item in items:
        f, s = flows.get(item.pk, {}), stocks.get(item.pk, {})
        row = {
            "code": item.code,
            "name": names.get(item.pk) or getattr(item, "display_name", item.name),
            "level": child_level,
            "received": f.get("received", 0),
            "closed": f.get("closed", 0),
            "open": s.get("open", 0),
            "overdue_open": s.get("overdue_open", 0),
            **_rates(f),
        }
        if child_level == NodeLevel.GRID:
            target, filters = place, {"grid": item.code}
            row["drill"] = None
        else:
            target, filters = Place(item), {}
            row["drill"] = dashboard_link(item.code)
        row["links"] = {
            "received": flow_link(target, start, end, "received", **filters),
            "closed": flow_link(target, start, end, "closed", **filters),
            **stock_links(target, end, **filters),
            **rate_links(target, start, end, **filters),
        }
        row["link"] = row["links"]["received"]
        out.append(row)
    if any(outside.values()) or any(outside_stocks.values()):
        out.append(_unlocated_row(place, start, end, child_level, outside, outside_stocks))
    return out


def _unlocated_row(place: Place, start: date, end: date, child_level: str, flows: dict, stocks: dict) -> dict:
    """The place's tickets located in none of its children (e.g. an inquiry with no district).

    Without it the table does not add up to the place's total. It is marked ``unlocated``
    (``code`` empty, no drill-down); its links are the ticket list's ``unlocated`` filter (the
    place's tickets whose child column is empty).
    """
    links = {
        "received": flow_link(place, start, end, "received", unlocated="true"),
        "closed": flow_link(place, start, end, "closed", unlocated="true"),
        **stock_links(place, end, unlocated="true"),
        **rate_links(place, start, end, unlocated="true"),
    }
    return {
        "code": "",
        "name": _("Unlocated"),
        "level": child_level,
        "received": flows.get("received", 0),
        "closed": flows.get("closed", 0),
        "open": stocks.get("open", 0),
        "overdue_open": stocks.get("overdue_open", 0),
        **_rates(flows),
        "drill": None,
        "links": links,
        "link": links["received"],
        "unlocated": True,
    }


def child_geometry(*, place: Place) -> dict:
    """GeoJSON of the children drawn on the map (divisions or, for a community, its grids)."""
    import json

    child_level = CHILD_LEVEL[place.level]
    if child_level == NodeLevel.GRID:
        items = Grid.objects.filter(community_id=place.node).only("code", "name", "geometry")
    else:
        items = Division.objects.filter(parent=place.division, level=child_level).only(
            "code", "name", "short_name", "level", "parent_id", "geometry"
        )
    items = list(items)
    names = division_labels(items, subdistrict=False) if child_level != NodeLevel.GRID else {}
    features = []
    for item in items:
        if not item.geometry:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(item.geometry),
                "properties": {
                    "code": item.code,
                    "name": names.get(item.pk) or getattr(item, "display_name", item.name),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def recurring_addresses(
    *, place: Place, start: date, end: date, top: int = 10, minimum: int = 2
) -> list[dict]:
    """Buildings with the most tickets in the window (at least ``minimum``), hot spots.

    A room's and a unit's tickets count for their building (``arrivals_per_building``, the rule
    the address-cluster alerts use too), and a row always names the building,
    never a household's room (a room identifies a household; the page and the big screen are seen
    by many). The link lists the building's tickets: the ticket list's ``address`` filter takes a
    building with its units and rooms.
    """
    rows = [
        {"value": str(building), "total": total}
        for building, total in arrivals_per_building(
            start=start,
            end=end,
            place=_place_filter(place.level, place.node),
            min_total=minimum,
            top=max(1, min(top, 100)),
        )
    ]
    labels = _labels(Dimension.ADDRESS, [r["value"] for r in rows])
    out = []
    for r in rows:
        label = labels.get(r["value"])
        if label is None:
            continue
        out.append(
            {
                "code": label["code"],
                "name": label["name"],
                "value": r["total"],
                "link": ticket_link(place, start, end, **label["filter"]),
            }
        )
    return out


def dashboard(*, place: Place, start: date, end: date, by: str = "day") -> dict:
    """Every figure of the dashboard page in one dict (the API serves each one separately too)."""
    return {
        "summary": summary(place=place, start=start, end=end),
        "trend": trend(place=place, start=start, end=end, by=by),
        "kinds": breakdown(place=place, start=start, end=end, dim=Dimension.KIND),
        "channels": breakdown(place=place, start=start, end=end, dim=Dimension.CHANNEL),
        "categories": breakdown(place=place, start=start, end=end, dim=Dimension.CATEGORY),
        "units": unit_table(place=place, start=start, end=end),
        "children": children(place=place, start=start, end=end),
        "addresses": recurring_addresses(place=place, start=start, end=end),
    }
