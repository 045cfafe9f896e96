"""Web pages of the analytics app (thin: parse, call a selector or service, render)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_POST

from zhiwang.analytics import selectors
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.signed_out import signed_out


def _analyst(view):
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return signed_out(request)  # an htmx poller or panel: 401, never the sign-in page inside it
        if not selectors.is_analyst(request.user):
            return render(request, "web/tickets/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError("analytics.date_invalid", _("Give the date as YYYY-MM-DD."), field=field) from None


def _days(value: str | None) -> int:
    """The ``days`` of the address; anything but ASCII digits (also "²", a digit to ``isdigit``
    but not to ``int``) is the default 30. Out-of-range counts are ``window``'s to refuse."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):
        return 30
    try:
        return int(value)
    except ValueError:  # more digits than int() reads
        return 30


def _chart_data(figures: dict) -> dict:
    """What the page's charts need (plain JSON: labels, values and the link of every point)."""
    s = figures["summary"]
    return {
        "trend": [
            {
                "period": r["period"].isoformat(),
                "received": r["received"],
                "closed": r["closed"],
                "overdue": r["overdue"],
                "partial": r.get("partial", False),
                "link": r["link"],
            }
            for r in figures["trend"]
        ],
        "kinds": figures["kinds"],
        "channels": figures["channels"],
        "categories": figures["categories"],
        "children": figures["children"],
        "open": {"open": s.stocks["open"], "overdue_open": s.stocks["overdue_open"], "links": s.links},
    }


@_analyst
def dashboard(request):
    """City, district, subdistrict or community dashboard (the viewer's jurisdiction by default).

    A period the page cannot show (start after end, too long, a date that is no date) shows no
    figures: the form keeps what was typed, with the message on its field, and a link to the
    default period. Figures of another period under the typed dates would read as the answer."""
    try:
        place = selectors.place_for(user=request.user, code=request.GET.get("division", ""))
    except NotFound as error:
        raise Http404(error.message) from None
    by = request.GET.get("by", "day")
    figures = None
    try:
        start, end = selectors.window(
            start=_date(request.GET.get("start"), "start"),
            end=_date(request.GET.get("end"), "end"),
            days=_days(request.GET.get("days")),
        )
        figures = selectors.dashboard(place=place, start=start, end=end, by=by)
    except ServiceError as error:
        errors = [error]
    else:
        errors = []
    ancestors = []
    node = place.division.parent
    while node is not None:
        if (
            selectors.scope_of(request.user).everything
            or node.pk in selectors.scope_of(request.user).division_ids
        ):
            ancestors.append({"name": node.display_name, "link": selectors.dashboard_link(node.code)})
        node = node.parent
    context = {
        "place": place,
        "by": by,
        "errors": errors,
        # the messages by the form field they are about; any other (a hand-made ``days`` or
        # ``by``) above the form
        "field_errors": {e.field: e.message for e in errors if e.field in ("start", "end")},
        "other_errors": [e.message for e in errors if e.field not in ("start", "end")],
        "figures": figures,
        "ancestors": list(reversed(ancestors)),
    }
    if figures is None:
        # the form shows what was typed (a date the browser cannot show, e.g. "2026-13-01", stays
        # out of the date box: the message under it says what was wrong)
        context.update(
            start_value=request.GET.get("start", "").strip(),
            end_value=request.GET.get("end", "").strip(),
            default_link=selectors.dashboard_link(place.code),
        )
        return render(request, "analytics/dashboard.html", context)
    context.update(
        start=start,
        end=end,
        start_value=start.isoformat(),
        end_value=end.isoformat(),
        chart_data=_chart_data(figures),
        geometry=selectors.child_geometry(place=place),
        disputes=selectors.dispute_figures(user=request.user, place=place, start=start, end=end),
    )
    if context["disputes"] is not None:
        # a past window's figures are as of its end, and named so (期末…), as in the reports
        context["dispute_labels"] = selectors.dispute_labels(ended=context["disputes"]["as_of"] is not None)
    return render(request, "analytics/dashboard.html", context)


# --- alerts -------------------------------------------------------------------------------------


@_analyst
def alerts(request):
    """Alert list (open first, 50 a page), with mark handled / false and the unit subscriptions."""
    from zhiwang.analytics.models import AlertKind, AlertStatus
    from zhiwang.analytics.selectors.alerts import (
        alert_explanation,
        division_choices,
        related_alerts,
        subscribable_units,
        subscription_list,
        subscription_removable,
    )

    status = request.GET.get("status", "open")
    kind = request.GET.get("kind", "")
    division = request.GET.get("division", "").strip()
    one = request.GET.get("alert", "").strip()
    try:
        if one:  # a notification's link: that alert whatever its status (none outside the jurisdiction)
            status = kind = division = ""
            rows = selectors.alert_list(user=request.user, status="").filter(
                # full-width digits (a Chinese input method's) read as the ticket list reads them
                pk=int(one) if one.isdecimal() and len(one) < 19 else 0
            )
        else:
            rows = selectors.alert_list(user=request.user, status=status, kind=kind, division=division)
    except ServiceError as error:
        # an unknown status, kind or place in the address: its message on its filter and no rows,
        # as the dashboard treats a period it cannot show (the open alerts under a filter that
        # says something else would read as the answer)
        errors = [error]
        rows = selectors.alert_list(user=request.user, status="open").none()
    else:
        errors = []
    # the empty list says why: nothing matches what was chosen, or nothing was ever detected
    # (the default list of open alerts and the list of all alerts are not "filtered")
    filtered = bool(one or kind or division or errors or status not in ("", "open"))
    page = Paginator(rows, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    for alert in shown:  # the count and figures the viewer may be told (the page's one query)
        alert.explanation_shown = alert_explanation(alert, with_place=False)
    _alert_place_and_window(shown)
    # the alerts of one event (a building's cluster, its grid's surge, the topic) name each other
    related = related_alerts(user=request.user, alerts=shown)
    for alert in shown:
        alert.related_shown = related.get(alert.pk, [])
    query = request.GET.copy()
    query.pop("page", None)
    subscriptions = list(subscription_list(user=request.user))
    labels = dict(AlertKind.choices)
    for sub in subscriptions:
        sub.kind_labels = [labels.get(k, k) for k in sub.kinds]
        sub.removable = subscription_removable(user=request.user, subscription=sub)
    return render(
        request,
        "analytics/alerts.html",
        {
            "alerts": shown,
            "page": page,
            "query": query.urlencode(),
            "status": status,
            "kind": kind,
            "division": division,
            "one": one,
            "filtered": filtered,
            "field_errors": {e.field: e.message for e in errors if e.field in ("status", "kind", "division")},
            "other_errors": [e.message for e in errors if e.field not in ("status", "kind", "division")],
            "statuses": AlertStatus.choices,
            "kinds": AlertKind.choices,
            "subscriptions": subscriptions,
            # menus of what the filter and the subscription accept (the codes stay the form's values)
            "divisions": division_choices(user=request.user),
            "units": subscribable_units(user=request.user),
            "default_unit": getattr(request.user.org_unit, "code", "") if request.user.org_unit_id else "",
        },
    )


#: Alerts per page of the alerts page.
ALERTS_PER_PAGE = 50


def _alert_place_and_window(alerts) -> None:
    """Set ``place_shown`` and ``window_shown`` on each alert of a page: where and over which days
    it was raised. Two alerts of one kind and place over different windows are two alerts, not a
    repeat, and the page must say so. The place: the building of an address cluster, else the
    grid, else the division (a community with its subdistrict), else the city (a cluster across
    districts). The window: the first and last local day of the tickets it counted (kept when it
    was raised or updated, ``detail["explain"]``), with the detector's window (``detection_shown``)
    when it differs and, for the kinds that compare with a baseline, its length
    (``baseline_shown``); an alert raised before the tickets' days were kept shows its window,
    whose end is exclusive. A query or two for the divisions' labels, none per alert."""
    from zhiwang.analytics.models import AlertKind

    labels = selectors.division_labels([a.division for a in alerts if a.division_id])
    city = _("City-wide")
    for alert in alerts:
        params = (alert.detail or {}).get("explain") or {}
        if alert.kind == AlertKind.ADDRESS_CLUSTER and params.get("address"):
            place = params["address"]
        elif alert.grid_id:
            place = alert.grid.name
        elif alert.division_id:
            place = labels.get(alert.division_id, alert.division.display_name)
        else:
            place = city
        alert.place_shown = place
        start = timezone.localdate(alert.window_start)
        # the end is the midnight after the last day counted
        end = max(start, timezone.localdate(alert.window_end - timedelta(microseconds=1)))
        detection = _day_range(start.isoformat(), end.isoformat())
        first, last = params.get("first"), params.get("last")
        alert.detection_shown = ""
        alert.baseline_shown = ""
        if isinstance(first, str) and isinstance(last, str):
            # the days of the tickets counted; the detector's window (which widens over an event's
            # days and ends with its last scan, after the alert was raised) is named as such
            alert.window_shown = _day_range(first, last)
            if detection != alert.window_shown:
                alert.detection_shown = detection
        else:  # raised before the tickets' days were kept: its window, as it was shown
            alert.window_shown = detection
        baseline = (alert.detail or {}).get("baseline_days") or params.get("baseline")
        if alert.kind in (AlertKind.SURGE, AlertKind.ADDRESS_CLUSTER) and baseline:
            alert.baseline_shown = _("baseline: the %(days)s days before the window") % {"days": baseline}


def _day_range(first: str, last: str) -> str:
    """Two ISO days as the alerts page prints a span ("2026-11-12 – 2026-11-15"; one day alone)."""
    if first == last:
        return first
    return pgettext("a range of days", "%(first)s – %(last)s") % {"first": first, "last": last}


@_analyst
@require_POST
def alert_decide(request, alert_id: int):
    from zhiwang.analytics import services
    from zhiwang.analytics.models import AlertStatus
    from zhiwang.analytics.selectors.alerts import alert_as_read_by, alert_explanation

    if request.POST.get("status") == AlertStatus.FALSE and request.POST.get("confirm") != "1":
        # a false alarm closes the alert for everyone and cannot be taken back here: one step more
        alert = alert_as_read_by(user=request.user, alert_id=alert_id)
        if alert is None:
            raise Http404
    else:
        alert = None
    if alert is not None and alert.status == AlertStatus.OPEN:  # a decided one: the service says so
        alert.explanation_shown = alert_explanation(alert, with_place=False)
        _alert_place_and_window([alert])
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = ""
        return render(
            request,
            "analytics/alert_confirm.html",
            {"alert": alert, "note": request.POST.get("note", ""), "next": target},
        )
    try:
        services.alert_decide(
            alert_id=alert_id,
            user=request.user,
            status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
        )
    except NotFound as error:
        raise Http404(error.message) from None
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if request.POST.get("status") == AlertStatus.OPEN:
            messages.success(request, _("Alert reopened."))
        else:
            messages.success(request, _("Alert updated."))
    # back to the list the form was on; never to another site (open redirect)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("analytics:alerts")


@_analyst
@require_POST
def alert_subscribe(request):
    """Subscribe a unit; with ``remove=<id>``, remove that subscription instead."""
    from zhiwang.analytics import services

    remove = request.POST.get("remove", "").strip()
    if remove:
        if not (remove.isascii() and remove.isdigit()) or len(remove) > 19:
            raise Http404
        try:
            services.alert_unsubscribe(user=request.user, subscription_id=int(remove))
        except NotFound as error:
            raise Http404(error.message) from None
        except ServiceError as error:  # a unit above the user's jurisdiction: not theirs to remove
            messages.error(request, error.message)
            return redirect("analytics:alerts")
        messages.success(request, _("Subscription removed."))
        return redirect("analytics:alerts")
    try:
        services.alert_subscribe(
            user=request.user,
            unit_code=request.POST.get("unit", ""),
            division_code=request.POST.get("division", ""),
            kinds=request.POST.getlist("kinds"),
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Subscription saved."))
    return redirect("analytics:alerts")


# --- governance index ----------------------------------------------------------------------------


@_analyst
def index(request):
    from zhiwang.analytics.index import shown_formula

    level = request.GET.get("level", "subdistrict")
    month_text = request.GET.get("month", "")
    try:
        month = date.fromisoformat(f"{month_text}-01") if month_text else None
    except ValueError:
        month = None
        messages.error(request, _("Give the month as YYYY-MM."))
    try:
        rows, month = selectors.index_list(user=request.user, level=level, month=month)
    except ServiceError as error:  # an unknown level in the address: the default level
        messages.error(request, error.message)
        level = "subdistrict"
        rows, month = selectors.index_list(user=request.user, level=level, month=month)
    formula = shown_formula(rows)
    from zhiwang.analytics.index import DEFAULT_MIN_VOLUME

    # what each row shows under the weighted indicators, in the header's order ("—": no value), and
    # whether its rank is shared (competition ranks: equal scores share one, the page says "tied"),
    # among all the city's places of the level, as the report says: a rank is the city's, and a
    # place may share it with one outside the viewer's jurisdiction
    weighted = [i["code"] for i in formula["indicators"] if i["weight"]]
    shared = selectors.shared_ranks({r.month for r in rows}, level=level)
    names = selectors.division_labels([r.division for r in rows])
    for r in rows:
        r.place_label = names.get(r.division_id, r.division.display_name)
        r.shown_values = [(r.values or {}).get(code) for code in weighted]
        r.tied = r.rank is not None and (r.month, r.level, r.rank) in shared
        r.dashboard_link = selectors.dashboard_link(r.division.code)
    # a month whose figures are not final yet (hand-overs of its last days may still be answered)
    # is scored again on its settle day when its formula is unchanged (docs/analytics.md)
    from zhiwang.analytics.indicator_figures import month_finality

    final, settles = month_finality([month]).get(month, (True, None)) if month else (True, None)
    months = selectors.index_months(user=request.user)
    if month and month not in months:
        # a month computed with no place of this viewer's: still the one the menu shows
        months = sorted([*months, month], reverse=True)
    return render(
        request,
        "analytics/index.html",
        {
            "preliminary_until": None if final else settles,
            "rows": rows,
            # the ranking, and apart from it the places not ranked (too few tickets, no score)
            "ranked": [r for r in rows if r.ranked],
            "unranked": [r for r in rows if not r.ranked],
            # the city's lists (as its ranks), and how many of each the viewer's rows hold
            "lists": selectors.index_lists(rows, month=month, level=level, formula=formula),
            "month": month,
            "level": level,
            "formula": formula,
            # below the default minimum one or two tickets can top (or bottom) the lists on luck
            "low_min_volume": formula["min_volume"] < DEFAULT_MIN_VOLUME,
            "default_min_volume": DEFAULT_MIN_VOLUME,
            "weighted_count": len(weighted),
            # the indicators' codes are a hint for administrators (who edit the formula's weights)
            "admin": request.user.is_superuser or request.user.role == "administrator",
            "months": months,
            # why the ranking is empty, decided over the city's rows of the month, told to this viewer
            "empty_state": selectors.index_empty_state(rows, month=month, level=level),
        },
    )


# --- stored indicators (考核指标) -------------------------------------------------------------------


def _figure_periods(months: list[date]) -> list[dict]:
    """The choices of the period menu: the quarters, then the months, that have figures (newest
    first); a quarter still running is offered with the months it has so far."""
    quarters = []
    for m in months:
        first = date(m.year, 3 * ((m.month - 1) // 3) + 1, 1)
        code = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
        if not any(q["value"] == code for q in quarters):
            quarters.append({"value": code, "label": _quarter_label(code), "month": first, "months": 3})
    singles = [{"value": f"{m:%Y-%m}", "label": f"{m:%Y-%m}", "month": m, "months": 1} for m in months]
    return quarters + singles


def _with_chosen(periods: list[dict], period: str) -> list[dict]:
    """The menu with the period shown on the page in it (a valid period without figures, e.g. one
    typed in the address, would otherwise show the menu's first choice: "Show" would switch)."""
    if period and not any(p["value"] == period for p in periods):
        return [{"value": period, "label": _quarter_label(period)}, *periods]
    return periods


def _quarter_label(period: str) -> str:
    """``2026-Q4`` as a reader says it (2026年第4季度); a month stays ``2026-10``."""
    year, _dash, quarter = period.partition("-Q")
    if not quarter:
        return period
    return _("%(year)s Q%(quarter)s") % {"year": year, "quarter": quarter}


#: Handling units per page of the indicators page (a city has thousands).
UNITS_PER_PAGE = 50


@_analyst
def indicators(request):
    """考核指标: the stored monthly indicators of a place (month or quarter), its child divisions
    and the handling units within it; breadcrumb drill-down within the jurisdiction."""
    from zhiwang.analytics.indicator_figures import (
        AVERAGES,
        FIGURE_INDICATORS,
        LOWER_IS_BETTER,
        indicator_definition,
        indicator_label,
    )
    from zhiwang.analytics.selectors import figures as fig
    from zhiwang.analytics.services import report_period_parse

    try:
        place = selectors.place_for(user=request.user, code=request.GET.get("division", ""))
    except NotFound as error:
        raise Http404(error.message) from None
    errors = []
    period = request.GET.get("period", "").strip()
    month, months = None, 1
    if period:
        try:
            period, start, end = report_period_parse(period)
        except ServiceError as error:
            errors.append(error)
            period = ""
        else:
            month = start
            months = (end.year - start.year) * 12 + end.month - start.month
    sort = request.GET.get("sort", "")
    if sort not in FIGURE_INDICATORS:  # an unknown column in the address: the default order
        sort = ""
    descending = request.GET.get("dir", "desc") != "asc"
    # the units come sorted by the database over all of them, so the pages continue each other
    result = fig.indicator_figures(
        user=request.user, place=place, month=month, months=months, sort=sort, descending=descending
    )
    if not period and result["month"]:
        period = f"{result['month']:%Y-%m}"
    # a page number that is no number, or past the end: the first or the last page, as every list
    units = Paginator(result["units"], UNITS_PER_PAGE).get_page(request.GET.get("page"))
    query = {"division": place.code, "period": period}
    if sort:
        query.update(sort=sort, dir="desc" if descending else "asc")
    columns = [
        {
            "code": code,
            "label": indicator_label(code),
            "definition": indicator_definition(code),
            "hours": code in AVERAGES,
            "lower_is_better": code in LOWER_IS_BETTER,
            # a click on the header sorts by it; a second click turns the order round
            "next_dir": "asc" if sort == code and descending else "desc",
        }
        for code in FIGURE_INDICATORS
    ]
    scope = selectors.scope_of(request.user)
    ancestors = []
    node = place.division.parent
    while node is not None:
        if scope.everything or node.pk in scope.division_ids:
            ancestors.append(node)
        node = node.parent

    period_start = result["month"]
    period_end = fig.add_months(result["month"], result["months"]) if result["month"] else None

    def cells(row, linked=False):
        """A row's cells; with ``linked`` (a place's row) each figure whose tickets the ticket list
        can show links them, as the dashboard's figures do (``figure_links``)."""
        links = figure_links(row, period_start, period_end) if linked and period_start else {}
        return [
            {"column": c, "figure": row.figures.get(c["code"]), "link": links.get(c["code"])} for c in columns
        ]

    expected = (
        [fig.add_months(result["month"], i) for i in range(result["months"])] if result["month"] else []
    )
    return render(
        request,
        "analytics/indicators.html",
        {
            "place": place,
            "ancestors": list(reversed(ancestors)),
            "errors": errors,
            "period": period,
            "period_label": _quarter_label(period),
            "periods": _with_chosen(_figure_periods(fig.figure_months(user=request.user)), period),
            "result": result,
            "missing": [m for m in expected if m not in result["computed"]],
            # computed before their settle time: may still change (docs/analytics.md, "Stored indicators")
            "preliminary_months": pgettext("list separator", ", ").join(
                f"{m:%Y-%m}" for m in result["preliminary"]
            ),
            "columns": columns,
            "sort": sort,
            "dir": "desc" if descending else "asc",
            "place_cells": cells(result["place"], linked=True),
            "children": [{"row": r, "cells": cells(r, linked=True)} for r in result["children"]],
            "units": [{"row": r, "cells": cells(r)} for r in units.object_list],
            "page": units,
            "query": urlencode(query),
            "drillable": place.level != "community",
        },
    )


#: The indicators whose counts the ticket list can show, by the timeline rows they count: the
#: list's ``event`` filter (``dashboard.flow_link``), the tickets with such a row in the period, each
#: ticket once (a ticket dispatched twice is one ticket, two dispatches). The on-time closure rate
#: counts tickets by their deadline, which the list cannot filter on: no link.
FIGURE_EVENTS = {
    "response_rate": "dispatched",
    "on_time_acceptance_rate": "dispatched",
    "accurate_dispatch_rate": "dispatched",
    "average_handling_time": "replied",
    "satisfaction_rate": "follow_ups",
    "resolution_rate": "follow_ups",
    "rework_rate": "follow_ups",
}


def figure_links(row, start: date, end: date) -> dict[str, str]:
    """``{indicator: link}`` to the tickets behind a place's figures on the indicators page: the
    place's tickets with a row of the kind the figure counts in ``[start, end)`` (``FIGURE_EVENTS``).
    The ticket list applies the viewer's jurisdiction, as for every dashboard link. No query: the
    row's code and level make the link."""
    from zhiwang.analytics.selectors.dashboard import flow_link
    from zhiwang.geo.models import Division

    if row.kind not in ("city", "district", "subdistrict", "community"):
        return {}
    place = selectors.Place(Division(code=row.code, level=row.kind))
    return {
        code: flow_link(place, start, end, event)
        for code, event in FIGURE_EVENTS.items()
        if (figure := row.figures.get(code)) is not None and figure.denominator
    }


# --- reports -------------------------------------------------------------------------------------


@_analyst
def reports(request):
    from zhiwang.analytics import services
    from zhiwang.analytics.models import Report

    try:  # the form's default place; none at all (no jurisdiction): not found, as the dashboard
        place = selectors.place_for(user=request.user)
    except NotFound as error:
        raise Http404(error.message) from None
    errors = {}
    if request.method == "POST":
        try:
            report, _created = services.report_request(
                user=request.user,
                division_code=request.POST.get("division", ""),
                period=request.POST.get("period", ""),
                idempotency_key=request.POST.get("token", ""),
            )
        except ServiceError as error:
            errors[error.field or "period"] = error.message
        else:
            messages.success(request, _("The report is being prepared."))
            # made all the same (a leader may need the zeros on file), but not taken for a quiet period
            from zhiwang.analytics.forms import period_label

            if selectors.window_is_empty(
                place=selectors.Place(report.division), start=report.start, end=report.end
            ):
                messages.warning(
                    request,
                    _(
                        "No ticket of %(place)s was received, handled or open in %(period)s: every "
                        "figure of the report will be 0. Check the place and the period."
                    )
                    % {"place": report.division.display_name, "period": period_label(report.period)},
                )
            return redirect("analytics:reports")
    rows = list(Report.objects.visible_to(request.user).select_related("division")[:50])
    today = timezone.localdate()
    for row in rows:
        row.downloadable = services.may_download_report(request.user, row, in_scope=True)
        row.period_cell = _report_period_cell(row, today)
        row.queued_long = _report_queued_long(row)
        row.stuck = services.report_stuck(row)
        row.stalled_text = _report_stalled_text(row) if row.stuck else ""
    import uuid

    from django.conf import settings
    from django.utils.translation import get_language_info

    from zhiwang.analytics.selectors.alerts import division_choices

    return render(
        request,
        "analytics/reports.html",
        {
            "reports": rows,
            "errors": errors,
            "place": place,
            "token": uuid.uuid4().hex,
            "post": request.POST,
            # a menu of the places the report may be about (the code stays the form's value, as the API's)
            "divisions": division_choices(user=request.user),
            "period_menu": _report_period_menu(request.POST, errors),
            "report_admin": _report_admin(request.user),
            # the files are official documents in the city's language, whatever this page's
            "report_language": get_language_info(settings.LANGUAGE_CODE)["name_translated"],
        },
    )


#: A report queued this long has not been picked up by a task worker: the page says the worker may
#: not be running (it polls every 2 s; a worker that runs starts a report within seconds).
REPORT_QUEUED_HINT_AFTER = timedelta(minutes=2)


def _report_queued_long(report) -> bool:
    """Whether ``report`` has been queued (since its request, or since it was requested again
    after failing: ``updated_at``) for ``REPORT_QUEUED_HINT_AFTER`` or longer."""
    from zhiwang.analytics.models import ReportStatus

    if report.status != ReportStatus.QUEUED:
        return False
    since = report.updated_at or report.created_at
    return since is not None and timezone.now() - since >= REPORT_QUEUED_HINT_AFTER


#: From this long on, a stuck report's stall is told in whole hours ("3 hours"), not minutes.
STALL_IN_HOURS_FROM = timedelta(hours=2)


def _report_stalled_text(report) -> str:
    """How long a stuck ``report`` has shown no progress (``services.report_stalled_for``), as its
    hint says it: in minutes ("16 minutes"), in whole hours from ``STALL_IN_HOURS_FROM`` on ("3
    hours"): the real stall, not the threshold after which a report appears stuck; rounded down,
    so the hint never claims longer than it was."""
    from zhiwang.analytics.services import report_stalled_for

    stalled = report_stalled_for(report) or timedelta(0)
    minutes = int(stalled.total_seconds() // 60)
    if stalled >= STALL_IN_HOURS_FROM:
        hours = minutes // 60
        return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}


def _report_admin(user) -> bool:
    """An administrator, who can start the task worker: told the command (others are not)."""
    return user.is_superuser or getattr(user, "role", "") == "administrator"


def _report_period_cell(report, today: date):
    """The report list's period in the period menu's words (``2026年10月``, ``2026年第3季度``), with a
    note when the report does not cover the whole period: made before it ended, or (not yet made)
    of a period still running. How the note follows the period is the translation's: after a space
    in English, right after the period in Chinese, whose note opens with a full-width bracket."""
    from zhiwang.analytics.forms import period_label
    from zhiwang.analytics.models import ReportStatus

    label = period_label(report.period)
    note = css = ""
    if report.status == ReportStatus.DONE:
        if report.finished_at and timezone.localdate(report.finished_at) < report.end:
            until = timezone.localdate(report.finished_at).isoformat()
            note, css = _("(up to %(until)s: the period had not ended)") % {"until": until}, "warn"
    elif report.status != ReportStatus.FAILED and today < report.end:
        note, css = _("(the period has not ended: up to today)"), "muted"
    if not note:
        return label
    note_html = format_html('<span class="{}" data-testid="report-partial">{}</span>', css, note)
    pattern = pgettext("a report's period and the note after it", "%(period)s %(note)s")
    # the pattern is the translator's text (escaped); the period is escaped, the note built above
    return mark_safe(conditional_escape(pattern) % {"period": conditional_escape(label), "note": note_html})


def _report_period_menu(post, errors: dict):
    """The period menu (``analytics.forms``), keeping what was posted: a period the service read,
    unless it is the one refused (a period not begun), is chosen again; otherwise the newest
    complete period of the kind the form was set to."""
    from zhiwang.analytics.forms import report_period_menu
    from zhiwang.analytics.services import report_period_parse

    chosen = ""
    if post.get("period") and "period" not in errors:
        try:
            chosen = report_period_parse(post["period"])[0]
        except ServiceError:
            chosen = ""
    return report_period_menu(today=timezone.localdate(), chosen=chosen, kind=post.get("period_kind", ""))


@_analyst
@require_POST
def report_rerun(request, report_id: int):
    """Run a report that appears stuck again (``services.report_rerun``: the same report, queued
    once however often the button is clicked), then back to the reports page."""
    from zhiwang.analytics import services

    try:
        _report, queued = services.report_rerun(user=request.user, report_id=report_id)
    except NotFound as error:
        raise Http404(error.message) from None
    if queued:
        messages.success(request, _("The report was queued again."))
    else:
        messages.info(request, _("The report is no longer stuck: it was not queued again."))
    return redirect("analytics:reports")


@_analyst
def report_status(request, report_id: int):
    """The progress cell of one report (polled by htmx while it runs)."""
    from zhiwang.analytics import services
    from zhiwang.analytics.models import Report

    report = Report.objects.visible_to(request.user).filter(pk=report_id).first()
    if report is None:
        raise Http404
    report.downloadable = services.may_download_report(request.user, report, in_scope=True)
    report.queued_long = _report_queued_long(report)
    report.stuck = services.report_stuck(report)
    report.stalled_text = _report_stalled_text(report) if report.stuck else ""
    return render(
        request,
        "analytics/_report_status.html",
        {
            "r": report,
            "report_admin": _report_admin(request.user),
        },
    )


@_analyst
def report_download(request, report_id: int, fmt: str):
    """A report's Excel or PDF file; 403 ``analytics.report_disputes_not_allowed`` when it holds
    dispute figures the viewer's role does not see (JSON for API clients, a page otherwise)."""
    from zhiwang.analytics import services

    try:
        report, file = services.report_file(user=request.user, report_id=report_id, fmt=fmt)
    except NotFound:
        raise Http404 from None
    except PermissionDeniedError as error:
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"error": error.as_dict()}, status=error.status)
        return render(request, "analytics/forbidden.html", {"error": error}, status=error.status)
    fallback = f"{report.division.code}-{report.period}.{fmt}"  # also what the content type is read from
    response = FileResponse(file.open("rb"), as_attachment=True, filename=fallback)
    response["Content-Disposition"] = report_disposition(report, fmt)
    return response


#: Characters no file name may hold on the systems the files are saved on (Windows' list, and
#: control characters): replaced in a division's name.
_UNSAFE_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def report_disposition(report, fmt: str) -> str:
    """The Content-Disposition of a report's file: named by the place, "南山区-2026-10.xlsx".

    RFC 6266: ``filename*`` (UTF-8, percent-encoded) carries the name; ``filename`` a plain ASCII
    one (the division's code, "440305000000-2026-10.xlsx") for a client that reads no
    ``filename*``. Django's ``content_disposition_header`` gives a non-ASCII name as ``filename*``
    alone, with no fallback, so the header is written here.
    """
    name = _UNSAFE_IN_FILE_NAMES.sub("_", report.division.name).strip(" .") or report.division.code
    fallback = f"{report.division.code}-{report.period}.{fmt}"
    shown = f"{name}-{report.period}.{fmt}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(shown, safe='')}"
