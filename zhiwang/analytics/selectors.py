"""Reads of the analytics app: every dashboard figure, from the rollups only, scoped to the viewer.

A dashboard is about one *place*: the city, a district, a subdistrict or a community, which must
lie inside the viewer's jurisdiction (``place_for``). Every figure is a ``GROUP BY`` over
the wide rollup tables (``RollupArea`` down to subdistricts, ``RollupFact`` for communities and
grids, ``RollupUnit``, ``OpenStock``, ``AddressDay``) filtered on the place's denormalised column,
in a window of days ``[start, end)``; no figure reads ``Ticket``. Each figure carries the link to the ticket list behind it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics.models import (
    AddressDay,
    Dimension,
    NodeLevel,
    OpenStock,
    RollupArea,
    RollupFact,
    RollupUnit,
)
from zhiwang.analytics.rollups import CITY_NODE
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division, DivisionLevel, Grid, StandardAddress
from zhiwang.tickets.indicators import basic_satisfaction_weight
from zhiwang.tickets.models import Category, Channel, TicketKind

#: Who may read dashboards, alerts, the index and reports (and the API behind them).
ANALYST_ROLES = frozenset({"leader", "dispatcher", "data_steward", "administrator"})
CHILD_LEVEL = {
    DivisionLevel.CITY: NodeLevel.DISTRICT,
    DivisionLevel.DISTRICT: NodeLevel.SUBDISTRICT,
    DivisionLevel.SUBDISTRICT: NodeLevel.COMMUNITY,
    DivisionLevel.COMMUNITY: NodeLevel.GRID,
}
MAX_WINDOW_DAYS = 800


FLOW_METRICS = (
    "received",
    "dispatched",
    "closed",
    "closed_on_time",
    "rejected",
    "merged",
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


def is_analyst(user) -> bool:
    if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
        return False
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in ANALYST_ROLES


def require_analyst(user) -> None:
    if not is_analyst(user):
        raise PermissionDeniedError(
            "analytics.not_allowed", _("Dashboards are for leaders, dispatchers and analysts.")
        )


# --- the place and the window ------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The subject of a dashboard: ``division`` (any level) and the rollup node that holds it."""

    division: Division

    @property
    def level(self) -> str:
        return self.division.level

    @property
    def node(self) -> int:
        return CITY_NODE if self.division.level == DivisionLevel.CITY else self.division.pk

    @property
    def code(self) -> str:
        return self.division.code

    @property
    def name(self) -> str:
        return self.division.display_name


def place_for(*, user, code: str = "") -> Place:
    """The division ``code`` if the user may see it (default: the top of their jurisdiction).

    The city dashboard is for city-wide users only. An unknown code or one outside the
    jurisdiction answers the same ``analytics.place_unknown`` (404), revealing nothing.
    """
    require_analyst(user)
    scope = scope_of(user)
    code = (code or "").strip()
    if not code:
        if scope.everything:
            division = Division.objects.filter(level=DivisionLevel.CITY).order_by("code").first()
        else:
            visible = Division.objects.filter(pk__in=scope.division_ids)
            division = min(visible, key=lambda d: (d.depth, d.code), default=None)
        if division is None:
            raise NotFound(
                "analytics.place_unknown", _("You have no jurisdiction to show."), field="division"
            )
        return Place(division)
    division = Division.objects.filter(code=code).first()
    if division is None or not (scope.everything or division.pk in scope.division_ids):
        raise NotFound(
            "analytics.place_unknown",
            _("There is no division %(code)s in your jurisdiction.") % {"code": code},
            field="division",
        )
    return Place(division)


def window(*, start: date | None = None, end: date | None = None, days: int = 30) -> tuple[date, date]:
    """``[start, end)`` in local days; default: the ``days`` days up to and including today."""
    today = timezone.localdate()
    end = end or (today + timedelta(days=1))
    start = start or (end - timedelta(days=days))
    if start >= end:
        raise ServiceError("analytics.window_empty", _("The start must be before the end."), field="start")
    if (end - start).days > MAX_WINDOW_DAYS:
        raise ServiceError(
            "analytics.window_too_long",
            _("Choose at most %(days)s days.") % {"days": MAX_WINDOW_DAYS},
            field="start",
        )
    return start, end


# --- links to the tickets behind a figure ---------------------------------------------------------


def ticket_link(
    place: Place | None = None, start: date | None = None, end: date | None = None, **filters
) -> str:
    """The web ticket list narrowed to a figure (the list itself applies the viewer's scope)."""
    query: dict[str, str] = {}
    if place is not None and place.level != DivisionLevel.CITY:
        query["division"] = place.code
    if start is not None:
        query["received_from"] = start.isoformat()
    if end is not None:
        query["received_to"] = end.isoformat()
    query.update({k: str(v) for k, v in filters.items() if v not in (None, "")})
    return f"{_ticket_list_url()}?{urlencode(query)}"


@lru_cache(maxsize=1)
def _ticket_list_url() -> str:
    return reverse("web:ticket_list")


def dashboard_link(code: str) -> str:
    return f"{reverse('analytics:dashboard')}?{urlencode({'division': code})}"


# --- the figures ------------------------------------------------------------------------------------


def _place_filter(level: str, node: int) -> dict:
    """The denormalised column that holds a place (the city: no filter)."""
    if level == DivisionLevel.CITY:
        return {}
    return {f"{level}_id": node}


def _flow_table(place: Place):
    """The smallest wide table that holds the place: the coarse one down to subdistricts."""
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


def _rates(values: dict) -> dict:
    """Rates from counters (None when the denominator is 0); the formulas are in docs/analytics.md."""

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


@dataclass
class Summary:
    place: Place
    start: date
    end: date
    flows: dict
    stocks: dict
    rates: dict
    links: dict = field(default_factory=dict)


def summary(*, place: Place, start: date, end: date) -> Summary:
    """Window totals, the open and overdue stock at the end of the window, and the rates."""
    flows = _clean(
        _flow_table(place).filter(day__gte=start, day__lt=end).aggregate(**_sum_all(FLOW_METRICS)),
        FLOW_METRICS,
    )
    stocks = _stocks(place, end)
    links = {
        "received": ticket_link(place, start, end),
        "open": ticket_link(place, status="open"),
        "overdue_open": ticket_link(place, status="open", overdue="true"),
        "closed": ticket_link(place, start, end, status="closed"),
    }
    return Summary(place, start, end, flows, stocks, _rates(flows), links)


def trend(*, place: Place, start: date, end: date, by: str = "day") -> list[dict]:
    """Per day (or week, Monday first): received, closed, overdue; every period, zeros included."""
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
        last = min(key + timedelta(days=7 if by == "week" else 1), end)
        bucket["link"] = ticket_link(place, max(key, start), last)
        out.append(bucket)
    return out


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
    table = _unit_table(place) if dim == Dimension.UNIT else _flow_table(place)
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
    out = []
    for r in rows:
        label = labels.get(r["value"], {"name": r["value"], "code": r["value"], "filter": {}})
        link_filters = dict(label["filter"])
        if metric == "received":
            out.append({**label, "value": r["total"], "link": ticket_link(place, start, end, **link_filters)})
        else:
            out.append({**label, "value": r["total"], "link": ticket_link(place, **link_filters)})
    for row in out:
        row.pop("filter", None)
    return out


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
        rows.append(
            {
                "code": label["code"],
                "name": label["name"],
                **{m: metrics.get(m) or 0 for m in ("dispatched", "closed", "overdue", "reopened", "rated")},
                **_rates(_clean(metrics, FLOW_METRICS)),
                "link": ticket_link(place, **label["filter"]),
            }
        )
    rows.sort(key=lambda r: (-r["dispatched"], r["code"]))
    return rows[:top]


def children(*, place: Place, start: date, end: date) -> list[dict]:
    """Per child (district → subdistricts → communities → grids): flows, stocks, rates, links, for the map."""
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
    table = RollupFact if child_level in (NodeLevel.COMMUNITY, NodeLevel.GRID) else RollupArea
    flows = {
        r[group]: _clean(r, FLOW_METRICS)
        for r in table.objects.filter(**_place_filter(place.level, place.node), day__gte=start, day__lt=end)
        .filter(**{f"{group}__in": nodes})
        .order_by()
        .values(group)
        .annotate(**_sum_all({*RATE_METRICS, "received"}))
    }
    stocks = _stocks(place, end, group, nodes)
    out = []
    for item in items:
        f, s = flows.get(item.pk, {}), stocks.get(item.pk, {})
        row = {
            "code": item.code,
            "name": getattr(item, "display_name", item.name),
            "level": child_level,
            "received": f.get("received", 0),
            "closed": f.get("closed", 0),
            "open": s.get("open", 0),
            "overdue_open": s.get("overdue_open", 0),
            **_rates(f),
        }
        if child_level == NodeLevel.GRID:
            row["link"] = ticket_link(place, start, end, grid=item.code)
            row["drill"] = None
        else:
            row["link"] = ticket_link(Place(item), start, end)
            row["drill"] = dashboard_link(item.code)
        out.append(row)
    return out


def child_geometry(*, place: Place) -> dict:
    """GeoJSON of the children drawn on the map (divisions or, for a community, its grids)."""
    import json

    child_level = CHILD_LEVEL[place.level]
    if child_level == NodeLevel.GRID:
        items = Grid.objects.filter(community_id=place.node).only("code", "name", "geometry")
    else:
        items = Division.objects.filter(parent=place.division, level=child_level).only(
            "code", "name", "short_name", "geometry"
        )
    features = []
    for item in items:
        if not item.geometry:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(item.geometry),
                "properties": {"code": item.code, "name": getattr(item, "display_name", item.name)},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def recurring_addresses(
    *, place: Place, start: date, end: date, top: int = 10, minimum: int = 2
) -> list[dict]:
    """Standard addresses with the most tickets in the window (at least ``minimum``)."""
    qs = AddressDay.objects.filter(**_place_filter(place.level, place.node), day__gte=start, day__lt=end)
    rows = [
        {"value": str(r["address_id"]), "total": r["total"]}
        for r in qs.order_by()
        .values("address_id")
        .annotate(total=Sum("received"))
        .filter(total__gte=minimum)
        .order_by("-total", "address_id")[: max(1, min(top, 100))]
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


# --- disputes (矛盾纠纷) -------------------------------------------------------------------------------

#: Analyst roles that also see dispute cases (a data steward works on data, not on cases).
DISPUTE_VIEWER_ROLES = frozenset({"leader", "dispatcher", "administrator"})


def _local_midnight(day: date):
    from datetime import datetime, time

    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def dispute_ledger_link(place: Place | None, start: date | None, end: date | None, **filters) -> str:
    """The disputes ledger (台账) narrowed to a figure; the ledger itself applies the viewer's scope."""
    query: dict[str, str] = {}
    if place is not None and place.level != DivisionLevel.CITY:
        query["division"] = place.code
    if start is not None:
        query["received_from"] = start.isoformat()
    if end is not None:
        query["received_to"] = end.isoformat()
    query.update({k: str(v) for k, v in filters.items() if v not in (None, "")})
    return f"{reverse('disputes:ledger')}?{urlencode(query)}"


def may_see_disputes(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in DISPUTE_VIEWER_ROLES


def dispute_figures(*, user, place: Place, start: date, end: date) -> dict | None:
    """Dispute indicators of the cases received at ``place`` in ``[start, end)`` that ``user`` may see.

    The figures are ``disputes.selectors.dispute_indicators`` (the disputes app's own scoping
    applies on top of the place), each with a link to the ledger behind it. ``None`` for an
    analyst who does not see dispute cases (data steward).
    """
    from zhiwang.disputes.selectors import dispute_indicators

    require_analyst(user)
    if not may_see_disputes(user):
        return None
    figures = dispute_indicators(
        user=user,
        since=_local_midnight(start),
        until=_local_midnight(end),
        division="" if place.level == DivisionLevel.CITY else place.code,
    )
    link = dispute_ledger_link(place, start, end)
    closed = dispute_ledger_link(place, start, end, status="closed")
    figures["links"] = {
        "received": link,
        "open": dispute_ledger_link(place, start, end, status="open"),
        "closed": closed,
        "success": closed,
        "prevented_escalation": closed,
        "referred": link,
        "red_open": dispute_ledger_link(place, start, end, status="open", risk="red"),
        "backlog_open": dispute_ledger_link(place, start, end, status="open", backlog=1),
    }
    return figures


# --- alerts, index ---------------------------------------------------------------------------------


def alert_list(*, user, status: str = "open", kind: str = ""):
    """Alerts about places in the user's jurisdiction, newest first."""
    from zhiwang.analytics.models import Alert

    require_analyst(user)
    qs = Alert.objects.visible_to(user).select_related("division", "grid", "category", "decided_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


def alert_tickets_link(alert) -> str:
    """The tickets behind an alert (its window and place; the list applies the viewer's scope)."""
    filters = {}
    if alert.category_id:
        filters["category"] = alert.category.code
    if alert.grid_id:
        filters["grid"] = alert.grid.code
    place = Place(alert.division) if alert.division_id else None
    start = timezone.localtime(alert.window_start).date()
    end = timezone.localtime(alert.window_end).date()
    return ticket_link(place, start, end if end > start else start + timedelta(days=1), **filters)


def index_months(*, user) -> list[date]:
    from zhiwang.analytics.models import GovernanceIndex

    require_analyst(user)
    return list(
        GovernanceIndex.objects.visible_to(user)
        .order_by("-month")
        .values_list("month", flat=True)
        .distinct()[:24]
    )


def index_list(*, user, level: str = "subdistrict", month: date | None = None):
    """The index of one month (default: the latest) and level, ranked, within the jurisdiction."""
    from zhiwang.analytics.models import GovernanceIndex

    require_analyst(user)
    qs = GovernanceIndex.objects.visible_to(user).filter(level=level)
    if month is None:
        month = qs.order_by("-month").values_list("month", flat=True).first()
    if month is None:
        return [], None
    return list(
        qs.filter(month=month.replace(day=1)).select_related("division").order_by("rank", "division__code")
    ), month
