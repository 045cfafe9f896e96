"""Reads of the analytics app: every dashboard figure, from the rollups only, scoped to the viewer.

A dashboard is about one *place*: the city, a district, a subdistrict or a community, which must
lie inside the viewer's jurisdiction (``place_for``). Every figure is a ``GROUP BY`` over
the wide rollup tables (``RollupUnit`` for totals and ``RollupArea`` for breakdowns down to
subdistricts, ``RollupFact`` for communities and grids, ``OpenStock``, ``AddressDay``) filtered on the place's denormalised column,
in a window of days ``[start, end)``; no figure reads ``Ticket``. Each figure carries the link to the ticket list behind it.

The reads live in modules by subject (place, metrics, dashboard, disputes, alerts, index);
import them from here.
"""

from zhiwang.analytics.selectors.alerts import alert_list, alert_tickets_link
from zhiwang.analytics.selectors.dashboard import (
    BREAKDOWN_DIMS,
    CHILD_LEVEL,
    DIM_COLUMNS,
    Summary,
    breakdown,
    child_geometry,
    children,
    dashboard,
    recurring_addresses,
    summary,
    trend,
    unit_table,
    window_is_empty,
)
from zhiwang.analytics.selectors.disputes import (
    DISPUTE_VIEWER_ROLES,
    dispute_figures,
    dispute_labels,
    dispute_ledger_link,
    may_see_disputes,
)
from zhiwang.analytics.selectors.index import (
    index_empty_state,
    index_list,
    index_lists,
    index_months,
    shared_ranks,
)
from zhiwang.analytics.selectors.metrics import FLOW_METRICS, RATE_METRICS, STOCK_METRICS
from zhiwang.analytics.selectors.place import (
    ANALYST_ROLES,
    MAX_WINDOW_DAYS,
    Place,
    dashboard_link,
    division_labels,
    is_analyst,
    place_for,
    require_analyst,
    ticket_link,
    window,
)
from zhiwang.core.scoping import scope_of  # read as ``selectors.scope_of`` by the analytics views

__all__ = [
    "ANALYST_ROLES",
    "BREAKDOWN_DIMS",
    "CHILD_LEVEL",
    "DIM_COLUMNS",
    "DISPUTE_VIEWER_ROLES",
    "FLOW_METRICS",
    "MAX_WINDOW_DAYS",
    "RATE_METRICS",
    "STOCK_METRICS",
    "Place",
    "Summary",
    "alert_list",
    "alert_tickets_link",
    "breakdown",
    "child_geometry",
    "children",
    "dashboard",
    "dashboard_link",
    "dispute_figures",
    "dispute_labels",
    "dispute_ledger_link",
    "division_labels",
    "index_empty_state",
    "index_list",
    "index_lists",
    "index_months",
    "shared_ranks",
    "is_analyst",
    "may_see_disputes",
    "place_for",
    "recurring_addresses",
    "require_analyst",
    "scope_of",
    "summary",
    "ticket_link",
    "trend",
    "unit_table",
    "window",
    "window_is_empty",
]
