"""REST API of the analytics app, mounted at /api/v1/analytics/ by zhiwang.api.

Every dashboard figure has its endpoint (for a big-screen 大屏 front end): ``division`` is a
division code (default: the top of the caller's jurisdiction), ``start``/``end`` a window of
local days ``[start, end)`` (default: the last ``days`` = 30 days). All figures come from the
rollups; each row carries ``link``, the web ticket list behind it.
"""

from datetime import date

from ninja import Query, Router, Schema, Status
from ninja.conf import settings as ninja_settings

from zhiwang.analytics import selectors, services
from zhiwang.analytics.index import shown_formula
from zhiwang.core.pagination import MAX_LIMIT, MAX_OFFSET, LimitOffsetPagination, paginate

router = Router(tags=["analytics"])


def _frame(request, division: str, start: date | None, end: date | None, days: int):
    place = selectors.place_for(user=request.user, code=division)
    start, end = selectors.window(start=start, end=end, days=days)
    return place, start, end


def _place_out(place) -> dict:
    return {"code": place.code, "name": place.name, "level": place.level}


@router.get("/summary", summary="Totals, open and overdue stock, rates")
def summary(request, division: str = "", start: date | None = None, end: date | None = None, days: int = 30):
    place, start, end = _frame(request, division, start, end, days)
    s = selectors.summary(place=place, start=start, end=end)
    return {
        "place": _place_out(place),
        "start": start,
        "end": end,
        "flows": s.flows,
        "stocks": s.stocks,
        "rates": s.rates,
        "links": s.links,
    }


@router.get("/trend", summary="Received, closed and overdue per day or week")
def trend(
    request,
    division: str = "",
    start: date | None = None,
    end: date | None = None,
    days: int = 30,
    by: str = "day",
):
    place, start, end = _frame(request, division, start, end, days)
    return {"place": _place_out(place), "rows": selectors.trend(place=place, start=start, end=end, by=by)}


@router.get("/breakdown", summary="Top values of a dimension: category, channel, kind or unit")
def breakdown(
    request,
    dim: str,
    division: str = "",
    start: date | None = None,
    end: date | None = None,
    days: int = 30,
    metric: str = "received",
    top: int = 10,
):
    place, start, end = _frame(request, division, start, end, days)
    rows = selectors.breakdown(place=place, start=start, end=end, dim=dim, metric=metric, top=top)
    return {"place": _place_out(place), "dim": dim, "metric": metric, "rows": rows}


@router.get("/children", summary="Per child division (or grid): flows, stocks, rates (the map)")
def children(request, division: str = "", start: date | None = None, end: date | None = None, days: int = 30):
    place, start, end = _frame(request, division, start, end, days)
    return {"place": _place_out(place), "rows": selectors.children(place=place, start=start, end=end)}


@router.get("/geometry", summary="GeoJSON of the children drawn on the map")
def geometry(request, division: str = ""):
    place = selectors.place_for(user=request.user, code=division)
    return selectors.child_geometry(place=place)


@router.get("/units", summary="Per handling unit: dispatched, closed, rates")
def units(request, division: str = "", start: date | None = None, end: date | None = None, days: int = 30):
    place, start, end = _frame(request, division, start, end, days)
    return {"place": _place_out(place), "rows": selectors.unit_table(place=place, start=start, end=end)}


@router.get("/addresses", summary="Recurring addresses")
def addresses(
    request,
    division: str = "",
    start: date | None = None,
    end: date | None = None,
    days: int = 30,
    top: int = 10,
):
    place, start, end = _frame(request, division, start, end, days)
    return {
        "place": _place_out(place),
        "rows": selectors.recurring_addresses(place=place, start=start, end=end, top=top),
    }


@router.get("/disputes", summary="Dispute cases received: success rate, amounts, prevented escalation")
def disputes(request, division: str = "", start: date | None = None, end: date | None = None, days: int = 30):
    place, start, end = _frame(request, division, start, end, days)
    figures = selectors.dispute_figures(user=request.user, place=place, start=start, end=end)
    if figures is None:
        from django.utils.translation import gettext as _

        from zhiwang.core.errors import PermissionDeniedError

        raise PermissionDeniedError(
            "analytics.disputes_not_allowed", _("Your role does not see dispute cases.")
        )
    return {"place": _place_out(place), "start": start, "end": end, **figures}


class AlertOut(Schema):
    id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    explanation: str
    division: str | None
    category: str | None
    grid: str | None
    observed: int | None
    expected: float
    spread: float
    window_start: str
    window_end: str
    window_days: int | None
    words: list[str] | None
    ticket_count: int
    tickets_outside: bool
    link: str
    created_at: str
    updated_at: str
    decided_by: str | None
    decided_at: str | None
    decision_note: str
    resolution: str


def _alert_out(alert) -> dict:
    """An alert from ``selectors.alert_list`` as the page shows it; ``explanation``, the labels and
    ``resolution`` (why it was resolved by itself) in the caller's language.

    ``ticket_count`` is the number of its tickets the caller may see (what ``link`` lists). An
    alert that also counts tickets outside the caller's jurisdiction (``tickets_outside``) tells
    them nothing of how many: ``observed`` is ``null`` and ``explanation`` counts theirs only
    (``alert_explanation``)."""
    from zhiwang.analytics.selectors.alerts import alert_explanation

    detail = alert.detail or {}
    outside = bool(getattr(alert, "tickets_outside", False))
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": str(alert.get_kind_display()),
        "status": alert.status,
        "status_label": str(alert.get_status_display()),
        "explanation": alert_explanation(alert),
        "division": alert.division.code if alert.division_id else None,
        "category": alert.category.code if alert.category_id else None,
        "grid": alert.grid.code if alert.grid_id else None,
        "observed": None if outside else alert.observed,
        "expected": alert.expected,
        "spread": alert.spread,
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "window_days": (detail.get("explain") or {}).get("days", detail.get("window_days")),
        "words": detail.get("words"),
        "ticket_count": alert.ticket_count,
        "tickets_outside": outside,
        "link": selectors.alert_tickets_link(alert),
        "created_at": alert.created_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "decided_by": alert.decided_by.display_name if alert.decided_by_id else None,
        "decided_at": alert.decided_at.isoformat() if alert.decided_at else None,
        "decision_note": alert.decision_note,
        "resolution": alert.resolution_text,
    }


class AlertFilter(Schema):
    status: str = "open"
    kind: str = ""
    division: str = ""
    start: date | None = None
    end: date | None = None


@router.get("/alerts", response=list[AlertOut], summary="Alerts in my jurisdiction")
@paginate(LimitOffsetPagination)
def alert_list(request, filters: Query[AlertFilter]):
    """Newest first. ``status`` (``open``, ``handled``, ``false``, ``resolved``; empty: any),
    ``kind``; ``division``: a division code, its subtree's alerts; ``start``/``end``: raised on
    those local days ``[start, end)``; ``limit``/``offset`` page it (``count``: how many)."""
    return _AlertRows(selectors.alert_list(user=request.user, **filters.dict()))


class _AlertRows:
    """A page of alerts rendered as ``AlertOut`` (the pager slices and counts the query)."""

    def __init__(self, qs):
        self.qs = qs

    def count(self) -> int:
        return self.qs.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item):
        return [_alert_out(a) for a in self.qs[item]]


class DecideIn(Schema):
    status: str
    note: str = ""


@router.post(
    "/alerts/{alert_id}/decide", response=AlertOut, summary="Mark an alert handled or false, or reopen it"
)
def alert_decide(request, alert_id: int, payload: DecideIn):
    alert = services.alert_decide(
        alert_id=alert_id, user=request.user, status=payload.status, note=payload.note
    )
    # read again as the list reads it: the count and figures the caller may be told
    return _alert_out(selectors.alert_list(user=request.user, status="").get(pk=alert.pk))


class SubscribeIn(Schema):
    unit: str
    division: str
    kinds: list[str] = []


class SubscriptionOut(Schema):
    id: int
    unit: str
    unit_name: str
    division: str
    division_name: str
    kinds: list[str]
    kind_labels: list[str]


def _subscription_out(sub) -> dict:
    from zhiwang.analytics.models import AlertKind

    return {
        "id": sub.pk,
        "unit": sub.unit.code,
        "unit_name": sub.unit.name,
        "division": sub.division.code,
        "division_name": sub.division.name,
        "kinds": sub.kinds,
        "kind_labels": [str(AlertKind(k).label) if k in AlertKind.values else k for k in sub.kinds],
    }


@router.get(
    "/subscriptions", response=list[SubscriptionOut], summary="Alert subscriptions in my jurisdiction"
)
def subscription_list(request):
    from zhiwang.analytics.selectors.alerts import subscription_list

    return [_subscription_out(s) for s in subscription_list(user=request.user)]


@router.post(
    "/subscriptions",
    response={200: SubscriptionOut, 201: SubscriptionOut},
    summary="Subscribe a unit to a division's alerts (idempotent; 201 when created)",
)
def subscribe(request, payload: SubscribeIn):
    """The unit needs a member who may open alerts (else 400 ``analytics.unit_cannot_see_alerts``)."""
    sub = services.alert_subscribe(
        user=request.user, unit_code=payload.unit, division_code=payload.division, kinds=payload.kinds
    )
    return Status(201 if getattr(sub, "created", False) else 200, _subscription_out(sub))


@router.delete("/subscriptions/{subscription_id}", response={204: None}, summary="Remove a subscription")
def unsubscribe(request, subscription_id: int):
    services.alert_unsubscribe(user=request.user, subscription_id=subscription_id)
    return Status(204, None)


def _unranked_note(row) -> str | None:
    """Why a row has no rank, in the caller's language (``None`` when ranked)."""
    from django.utils.translation import gettext as _

    reason = row.unranked_reason
    if reason is None:
        return None
    if reason == "too_few_tickets":
        return _("Too few tickets to rank: %(n)s (at least %(min)s)") % {
            "n": "—" if row.volume is None else row.volume,
            "min": row.min_volume,
        }
    return _("No indicator value this month")


@router.get("/index", summary="Governance index of a month and level, ranked, with the formula")
def governance_index(request, level: str = "subdistrict", month: str = ""):
    """Ranked rows first (by rank), then the rows not ranked: ``ranked`` false with
    ``unranked_reason`` ``too_few_tickets`` (scored on fewer tickets due to close than the
    formula's ``min_volume``; on neither list) or ``no_score``. ``lists`` says how many places
    each list holds city-wide against its size (``longer_by_ties``: equal scores at the cut) and
    how many of them are the caller's (``in_scope``; ``whole_city`` when the caller sees them all)."""
    from django.utils.translation import gettext as _

    from zhiwang.core.errors import ServiceError

    try:
        chosen = date.fromisoformat(f"{month}-01") if month else None
    except ValueError:
        raise ServiceError(
            "analytics.month_invalid", _("Give the month as YYYY-MM."), field="month"
        ) from None
    rows, chosen = selectors.index_list(user=request.user, level=level, month=chosen)
    formula = shown_formula(rows)
    return {
        "month": chosen.strftime("%Y-%m") if chosen else None,
        "formula": {
            "name": formula["name"],
            "weights": formula["weights"],
            "red_count": formula["red_count"],
            "black_count": formula["black_count"],
            "black_below": formula["black_below"],
            "min_volume": formula["min_volume"],
            "computed": formula["computed"],
        },
        "lists": selectors.index_lists(rows, month=chosen, level=level, formula=formula),
        # each indicator's name in the caller's language (``values`` and ``weights`` key on codes)
        "labels": {code: str(label) for code, label in formula["labels"].items()},
        "rows": [
            {
                "division": r.division.code,
                "name": r.division.name,
                "score": r.score,
                "rank": r.rank,
                "standing": r.standing,
                "values": r.values,
                # tickets due to close that month (null on rows computed before it was kept)
                "volume": r.volume,
                "ranked": r.ranked,
                "unranked_reason": r.unranked_reason,
                "unranked_note": _unranked_note(r),
            }
            for r in rows
        ],
    }


def _figure_row_out(row) -> dict:
    """A place or unit with each stored indicator: ``numerator``, ``denominator``, ``value``
    (rates 0–1 to four places; the average handling time in working hours to two; ``null`` with
    no denominator). Indicators with nothing counted are absent from ``figures``."""
    from zhiwang.analytics.indicator_figures import AVERAGES, FIGURE_INDICATORS

    figures = {}
    for code in FIGURE_INDICATORS:
        figure = row.figures.get(code)
        if figure is None:
            continue
        value = figure.value
        figures[code] = {
            "numerator": round(figure.numerator, 4),
            "denominator": figure.denominator,
            "value": None if value is None else round(value, 2 if code in AVERAGES else 4),
        }
    out = {"kind": row.kind, "code": row.code, "name": row.name, "figures": figures}
    if row.kind == "unit":
        out["division_name"] = row.division_name
    return out


@router.get("/indicators", summary="Stored monthly indicators of a place, its child divisions and its units")
def indicator_figures(
    request,
    month: str = "",
    months: str = "1",
    period: str = "",
    division: str = "",
    sort: str = "",
    dir: str = "desc",  # as the web page names it
    limit: int = Query(ninja_settings.PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    """The eight DOMAIN.md indicators (docs/indicators.md) summed over ``months`` whole months
    from ``month`` (``YYYY-MM``; default: the run ending with the latest month computed), or the
    ``period`` the web page names (``YYYY-MM`` or ``YYYY-Qn``, instead of ``month``/``months``): the
    place (``division``, default the top of the jurisdiction), its child divisions and the
    handling units whose own division lies within it (docs/analytics.md, "Stored indicators").
    ``preliminary`` (with ``preliminary_months`` and ``preliminary_until``, ``YYYY-MM-DD``) says
    the figures of some months may still change: computed before the month's settle time.

    ``units`` is one page of the units (``limit``/``offset`` as every list; ``units_count``:
    how many there are), in the order of ``sort`` (an indicator code: by its value, ``dir``
    ``desc`` or ``asc``, units without a value last, ties by code; empty: by code), which the
    database applies to all of them before the page is cut: the next ``offset`` continues it.
    ``sort`` orders ``children`` the same way."""
    from django.utils.translation import gettext as _

    from zhiwang.analytics.indicator_figures import (
        AVERAGES,
        FIGURE_INDICATORS,
        LOWER_IS_BETTER,
        indicator_definition,
        indicator_label,
    )
    from zhiwang.analytics.selectors.figures import check_months, check_sort
    from zhiwang.analytics.selectors.figures import indicator_figures as read_figures
    from zhiwang.analytics.services import report_period_parse
    from zhiwang.core.errors import ServiceError

    place = selectors.place_for(user=request.user, code=division)
    if period.strip():
        # the page's address copied into the API must not quietly answer another period
        if month.strip() or months.strip() not in ("", "1"):
            raise ServiceError(
                "analytics.period_with_month",
                _("Give either the period or the month and months, not both."),
                field="period",
            )
        _canonical, start, end = report_period_parse(period)
        chosen, span = start, (end.year - start.year) * 12 + end.month - start.month
    else:
        try:
            chosen = date.fromisoformat(f"{month.strip()}-01") if month.strip() else None
        except ValueError:
            chosen = None
        if month.strip() and (chosen is None or chosen.year < 1970 or chosen.year > 9998):
            raise ServiceError(
                "analytics.month_invalid",
                _("%(value)s is not a month: give it as YYYY-MM, e.g. 2026-10.") % {"value": month.strip()},
                field="month",
            )
        span = check_months(months)
    sort, descending = check_sort(sort.strip(), dir.strip())
    result = read_figures(
        user=request.user,
        place=place,
        month=chosen,
        months=span,
        sort=sort,
        descending=descending,
    )
    units = result["units"]
    return {
        "place": _place_out(place),
        "month": result["month"].strftime("%Y-%m") if result["month"] else None,
        "months": result["months"],
        "computed": [m.strftime("%Y-%m") for m in result["computed"]],
        # months computed before their settle time: their figures may still change until then
        "preliminary": bool(result["preliminary"]),
        "preliminary_months": [m.strftime("%Y-%m") for m in result["preliminary"]],
        "preliminary_until": result["preliminary_until"].isoformat() if result["preliminary_until"] else None,
        "indicators": [
            {
                "code": code,
                "label": indicator_label(code),
                "definition": indicator_definition(code),
                "unit": "working_hours" if code in AVERAGES else "rate",
                "lower_is_better": code in LOWER_IS_BETTER,
            }
            for code in FIGURE_INDICATORS
        ],
        "place_row": _figure_row_out(result["place"]),
        "children": [_figure_row_out(r) for r in result["children"]],
        "sort": sort or None,
        "dir": "desc" if descending else "asc",
        # one page of the units, and how many there are (as ``count`` of a list)
        "units": [_figure_row_out(r) for r in units[offset : offset + limit]],
        "units_count": units.count(),
    }


class ReportIn(Schema):
    division: str = ""
    period: str
    idempotency_key: str = ""


def _report_out(report, user, *, in_scope: bool = False) -> dict:
    """A report's progress; the file links only for people who may download them (a report with
    dispute figures: people who see dispute cases, ``services.may_download_report``). ``stuck``
    is the reports page's "appears stuck" (``services.report_stuck``, the same function), with
    ``stalled_minutes`` since the last progress step of a running report."""
    from django.urls import reverse
    from django.utils import timezone

    downloadable = services.may_download_report(user, report, in_scope=in_scope)
    # as the reports page says it: running with no progress for ``services.REPORT_STUCK_AFTER``
    # appears stuck (its worker stopped); sending its idempotency key again queues it again
    now = timezone.now()
    stalled = services.report_stalled_for(report, now=now)
    return {
        "id": report.pk,
        "division": report.division.code,
        "period": report.period,
        "status": report.status,
        "progress": report.progress,
        "stuck": services.report_stuck(report, now=now),
        # whole minutes since a running report's last progress step (null unless running)
        "stalled_minutes": None if stalled is None else int(stalled.total_seconds() // 60),
        "xlsx": reverse("analytics:report_download", args=[report.pk, "xlsx"])
        if report.xlsx and downloadable
        else None,
        "pdf": reverse("analytics:report_download", args=[report.pk, "pdf"])
        if report.pdf and downloadable
        else None,
        "includes_disputes": report.includes_disputes if report.status == "done" else None,
        "error": report.failure_message,
    }


@router.post(
    "/reports", response={200: dict, 201: dict}, summary="Request a monthly or quarterly report (idempotent)"
)
def report_request(request, payload: ReportIn):
    report, created = services.report_request(
        user=request.user,
        division_code=payload.division,
        period=payload.period,
        idempotency_key=payload.idempotency_key,
    )
    report.refresh_from_db()
    return Status(201 if created else 200, _report_out(report, request.user))


@router.get("/reports/{report_id}", summary="A report's progress and files")
def report_get(request, report_id: int):
    from zhiwang.analytics.models import Report
    from zhiwang.core.errors import NotFound

    selectors.require_analyst(request.user)
    report = Report.objects.visible_to(request.user).filter(pk=report_id).first()
    if report is None:
        from django.utils.translation import gettext as _

        raise NotFound("analytics.report_not_found", _("There is no such report in your jurisdiction."))
    return _report_out(report, request.user, in_scope=True)


@router.post(
    "/reports/{report_id}/rerun",
    response=dict,
    summary="Run again a report that appears stuck (the reports page's button)",
)
def report_rerun(request, report_id: int):
    """The reports page's "Run the report again" (``services.report_rerun``, the same rule): a
    report running with no progress for 15 minutes (``stuck``) is queued again, the same report,
    for anybody who may request a report of its division. Any other report (queued, moving, done,
    failed; or queued by a rerun a moment ago) is 409 ``analytics.report_not_stuck`` and nothing is
    queued; a report outside the caller's jurisdiction is 404 ``analytics.report_not_found``."""
    report, _queued = services.report_rerun(user=request.user, report_id=report_id, refuse_not_stuck=True)
    # the task may already have run (immediate mode) or started: answer the report as it is now
    report.refresh_from_db()
    return _report_out(report, request.user, in_scope=True)
