"""The ledger (台账) with its Excel export, and the mediation organisations."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import documents, selectors, services
from zhiwang.disputes.models import (
    CaseSource,
    CaseStatus,
    RiskColour,
)
from zhiwang.disputes.views.common import EXPORT_LIMIT, dispute_staff, error_fields
from zhiwang.disputes.workflow import role_of

# --- the ledger ---------------------------------------------------------------------------------

#: Filters without a control on the ledger's form (set by links, or typed in the address bar).
CARRIED_FILTERS = ("near", "backlog", "mine", "q")


def _ledger_filters(request) -> dict:
    """The ledger's filters from the query; dates (YYYY-MM-DD) become local midnights."""
    filters = {
        k: v for k, v in request.GET.items() if k in selectors.CaseFilters.__dataclass_fields__ and v != ""
    }
    for name in ("received_from", "received_to"):
        if name in filters:
            try:
                day = parse_date(filters[name])
            except ValueError:
                day = None
            if day is None:
                raise ServiceError("disputes.date_invalid", _("Give the date as YYYY-MM-DD."), field=name)
            low, high = selectors.PERIOD_YEARS
            if not low <= day.year <= high:  # 0001-01-01 at +08:00 is before year 1 in UTC: a 500
                raise ServiceError(
                    "disputes.date_out_of_range",
                    _("Enter a date between the years %(low)s and %(high)s.") % {"low": low, "high": high},
                    field=name,
                )
            filters[name] = timezone.make_aware(datetime.combine(day, time.min))
    return filters


def _filter_summary(request, filters: dict, context: dict) -> list[tuple[str, str]]:
    """(name, value) of every filter the list is narrowed by, in words (the line above the list)."""
    names = {
        # an ended period's status filter reads the status at its end, as the rows show it
        "status": _("Status at the end of the period") if context.get("as_of") else _("Status"),
        "category": pgettext("dispute", "Category"),
        "organisation": _("Organisation"),
        "division": _("Division code"),
        "risk": _("Risk"),
        "source": _("Source"),
        "received_from": _("Received from"),
        "received_to": _("Received before"),
        "q": _("Search"),
    }
    words = {
        "status": {"open": _("open"), **dict(context["statuses"])},
        "category": {c.code: c.name for c in context["categories"]},
        "organisation": {o.code: o.name for o in context["organisations"]},
        "risk": dict(context["risks"]),
        "source": dict(context["sources"]),
    }
    shown = []
    for key, name in names.items():
        value = request.GET.get(key, "")
        if value != "" and key in filters:
            shown.append((name, str(words.get(key, {}).get(value, value))))
    for key, name in (
        ("near", _("Near the one-month target")),
        ("backlog", _("Backlog petition cases")),
        ("mine", _("My cases")),
    ):
        if filters.get(key):
            shown.append((name, "✓"))
    return shown


@dispute_staff
def ledger(request):
    """台账: the cases in the user's scope by division, category, organisation, status; near and backlog views.

    The figures above the list (``dispute_indicators``) count the list's own cases: the same
    filters, dates included; their status figures are as of the end of the dates' period.
    """
    user = request.user
    by = request.GET.get("by", "division")
    errors = {}
    filters = {}
    indicators = None
    now = timezone.now()
    try:
        filters = _ledger_filters(request)
        # the rows' status, risk and amount as of the same moment as the figures (the period's end)
        cases = selectors.ledger_rows(user=user, filters=filters, now=now)
        summary = selectors.ledger_summary(user=user, by=by, filters=filters, now=now)
        indicators = selectors.dispute_indicators(user=user, filters=filters, now=now)
    except ServiceError as error:
        # Like the ticket list: nothing is listed until the filters are corrected (a list of every
        # case under a wrong filter reads as that filter's result). The form keeps what was sent.
        errors = error_fields(error)
        cases, summary = selectors.case_list(user=user).none(), []
        filters = {k: v for k, v in request.GET.items() if k in selectors.CaseFilters.__dataclass_fields__}
    page = Paginator(cases.prefetch_related("parties"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    as_of = indicators["as_of"] if indicators else None
    if as_of is not None:
        # the target each row had at the period's end, and overdue judged then (not today)
        page.object_list = list(page.object_list)
        for case in page.object_list:
            case.period_target_at = selectors.period_target(case)
            case.period_overdue = selectors.period_overdue(case, as_of=as_of)
        # the organisation and mediator it had then (a reassignment since follows, marked)
        selectors.period_assignments_attach(page.object_list)
    context = {
        "page": page,
        "summary": summary,
        "by": by,
        "filters": filters,
        "dates": {k: request.GET.get(k, "") for k in ("received_from", "received_to")},
        "errors": errors,
        "query": query.urlencode(),
        "statuses": CaseStatus.choices,
        "categories": selectors.category_choices(),
        "organisations": selectors.organisation_list(user=user),
        "risks": RiskColour.choices,
        "sources": CaseSource.choices,
        # Filters a link may set that have no control on the form: kept when it is sent again.
        "carried": [(k, request.GET[k]) for k in CARRIED_FILTERS if request.GET.get(k, "") != ""],
        "groups": [
            ("division", _("Division")),
            ("category", pgettext("dispute", "Category")),
            ("organisation", _("Organisation")),
            ("status", _("Status")),
        ],
        "may_export_full": role_of(user) in ("dispatcher", "administrator"),
        "now": now,
        "indicators": indicators,
        # the end of an ended period the figures and the rows' status, risk and amount are read at,
        # and its last day (the end is exclusive): a closing from ``as_of`` on is after the period
        "as_of": as_of,
        "as_of_day": timezone.localdate(as_of - timedelta(microseconds=1)) if as_of else None,
    }
    context["filter_summary"] = _filter_summary(request, filters, context) if not errors else []
    return render(request, "disputes/ledger.html", context, status=400 if errors else 200)


@dispute_staff
def ledger_export(request):
    """The ledger as Excel; a POST (with CSRF) with a reason unmasks it for dispatchers (logged on each case).

    The filters are in the query string either way; the reason only in the POST body.
    """
    user = request.user
    now = timezone.now()
    try:
        filters = _ledger_filters(request)
        cases = list(
            selectors.ledger_export_rows(user=user, filters=filters, now=now).prefetch_related("parties")[
                :EXPORT_LIMIT
            ]
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("disputes:ledger")
    if request.method == "GET" and "full" in request.GET:
        return HttpResponseNotAllowed(["POST"])  # the reason belongs in the body, not the URL
    reveal = request.method == "POST"
    if reveal:
        reason = (request.POST.get("reason") or "").strip()
        if role_of(user) not in ("dispatcher", "administrator") or not reason:
            messages.error(request, _("A full export needs the dispatcher role and a reason."))
            return redirect("disputes:ledger")
        for case in cases:
            services.case_reveal_parties(
                case=case, actor=user, reason=_("Full ledger export: %(r)s") % {"r": reason}
            )
    as_of = selectors.status_as_of(filters.get("received_to"), now)
    if as_of is not None:
        selectors.period_assignments_attach(cases)  # the organisation and mediator at the end
    content = documents.ledger_workbook(
        cases,
        reveal=reveal,
        title=_("Ledger of dispute screening and resolution"),
        as_of=as_of,
        now=now,
    )
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="disputes-ledger-{timezone.localdate():%Y%m%d}.xlsx"'
    )
    return response


@dispute_staff
def organisations(request):
    """The registry of mediation organisations and their mediators, with workload (open cases)."""
    rows = []
    for organisation in selectors.organisation_list(user=request.user)[:200]:
        rows.append(
            {
                "organisation": organisation,
                "mediators": selectors.mediators_of(user=request.user, organisation=organisation),
            }
        )
    return render(request, "disputes/organisations.html", {"rows": rows})
