"""Pages of the shell: home, the division browser down to a grid. Thin: selectors do the reading."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.accounts import selectors as account_selectors
from zhiwang.core.pagination import BoundedCount, count_up_to
from zhiwang.core.scoping import scope_of
from zhiwang.disputes import selectors as dispute_selectors
from zhiwang.geo import selectors as geo_selectors
from zhiwang.registry import selectors as registry_selectors
from zhiwang.tickets import selectors as ticket_selectors
from zhiwang.web.breadcrumbs import division_breadcrumbs
from zhiwang.web.home_work import work_tiles
from zhiwang.web.middleware import API_PREFIX
from zhiwang.web.navigation import STAFF_ROLES, works_a_window
from zhiwang.web.tickets.access import REFUSAL_HEADER, role_of
from zhiwang.web.tickets.presenters import citizen_status

log = logging.getLogger(__name__)


def _is_staff_role(user) -> bool:
    return user.is_superuser or user.role in STAFF_ROLES


#: A citizen's home lists this many of their latest requests (the rest: "My requests").
CITIZEN_HOME_ROWS = 5


def _citizen_home(request):
    """A citizen has no jurisdiction by design: their home is reporting, tracking and their requests."""
    tickets = ticket_selectors.ticket_list(user=request.user)[:CITIZEN_HOME_ROWS]  # what they reported
    rows = [(t, *citizen_status(t.status)) for t in tickets]
    return render(request, "web/home_citizen.html", {"rows": rows})


@dataclass(frozen=True)
class Entry:
    """One of the role's main pages on the home page ("My work"): where to go, what it is for."""

    key: str  # names the entry in the page (``data-testid``) and in tests
    label: str
    hint: str
    url: str
    count: BoundedCount | None = None  # only where it is cheap: what the target page counts too


def _entry(key: str, label: str, hint: str, url_name: str, query: str = "", count=None) -> Entry:
    return Entry(key, label, hint, reverse(url_name) + query, count)


def work_entries(user) -> list[Entry]:
    """The signed-in role's main entry points, first the one a working day starts on.

    A page is listed only for the roles its view admits (the pages' own checks; tests/web/
    test_home_entries.py opens every entry as every demo role). Counts only where one query is
    cheap and its page shows the same figure; the ticket work lists are counted by the tiles
    (``home_work``). Analytics pages carry no count: ``web`` does not read ``analytics``.
    """
    role = role_of(user)
    dashboards = _entry(
        "dashboard",
        _("Dashboards"),
        pgettext("home", "Tickets received, closed and overdue, by place and period"),
        "analytics:dashboard",
    )
    alerts = _entry(
        "alerts",
        pgettext("home", "Early warnings"),
        pgettext("home", "Surges, clusters and repeated callers, to mark handled or false"),
        "analytics:alerts",
    )
    tickets = _entry(
        "tickets",
        _("Tickets"),
        pgettext("home", "Every ticket of your jurisdiction, searched and filtered"),
        "web:ticket_list",
    )
    import_calls = _entry(
        "import_calls",
        _("Import calls"),
        pgettext("home", "A CSV or Excel file of calls, checked before anything is created"),
        "web:ticket_import",
    )
    new_case = _entry(
        "case_new",
        pgettext("home", "Register a dispute case"),
        pgettext("home", "A dispute brought to you, for mediation"),
        "disputes:case_new",
    )
    if role == "leader":
        return [
            dashboards,
            alerts,
            _entry(
                "index",
                pgettext("home", "Governance index"),
                pgettext("home", "Places ranked month by month"),
                "analytics:index",
            ),
            _entry(
                "indicators",
                pgettext("home", "Indicators"),
                pgettext("home", "The assessment figures of each place"),
                "analytics:indicators",
            ),
            _entry(
                "reports",
                pgettext("home", "Reports"),
                pgettext("home", "Monthly and quarterly reports to download"),
                "analytics:reports",
            ),
            _entry(
                "ledger",
                pgettext("home", "Dispute ledger"),
                pgettext("home", "Disputes by place, category, organisation and status"),
                "disputes:ledger",
            ),
        ]
    if role == "dispatcher":
        queue = _entry(
            "dispatch_queue",
            _("Dispatch queue"),
            pgettext("home", "New tickets to send to a handling unit, replies to review"),
            "web:dispatch_queue",
        )
        return [queue, tickets, import_calls, dashboards, alerts]
    if role == "handler":
        inbox = _entry(
            "inbox",
            _("Inbox"),
            pgettext("home", "Tickets your unit must sign for, handle and reply to"),
            "web:handler_inbox",
        )
        return [inbox, tickets]
    if role == "grid_worker":
        return [
            _entry(
                "patrol_report",
                _("Report an incident"),
                pgettext("home", "Something seen on patrol, pinned on the map"),
                "web:patrol_report",
            ),
            _entry(
                "verify",
                _("Verification"),
                pgettext("home", "Finished tickets in your grids to check on site"),
                "web:verify_list",
            ),
            _entry(
                "my_grids",
                _("My grids"),
                pgettext("home", "Your grids' buildings and households"),
                "web:my_grids",
            ),
            _entry(
                "registry",
                _("City registry"),
                pgettext("home", "People, legal entities and housing of your grids"),
                "registry:home",
            ),
        ]
    if role == "intake_operator":
        if works_a_window(user, role):
            return [
                _entry(
                    "window",
                    pgettext("menu", "Service window"),
                    pgettext("home", "Register a visitor and send the matter to a function area"),
                    "disputes:window",
                ),
                new_case,
                _entry(
                    "intake",
                    pgettext("menu", "Record a request"),
                    pgettext("home", "A problem a visitor reports, as a ticket for dispatch"),
                    "web:ticket_intake",
                ),
                tickets,
            ]
        intake = _entry(
            "intake",
            _("Record a call"),
            pgettext("home", "A hotline call, as a ticket for dispatch or answered at once"),
            "web:ticket_intake",
        )
        return [intake, import_calls, tickets, new_case]
    if role == "mediator":
        mine = dispute_selectors.case_list(user=user, filters={"mine": True, "status": "open"})
        return [
            _entry(
                "workbench",
                pgettext("home", "Mediator workbench"),
                pgettext("home", "Your open cases, by their one-month target"),
                "disputes:workbench",
                count=count_up_to(mine),
            ),
            _entry(
                "near_target",
                pgettext("home", "Cases near the target"),
                pgettext("home", "Open cases close to or past their one-month target"),
                "disputes:ledger",
                "?near=1",
            ),
            new_case,
            _entry(
                "ledger",
                pgettext("home", "Dispute ledger"),
                pgettext("home", "Disputes by place, category, organisation and status"),
                "disputes:ledger",
            ),
        ]
    if role == "data_steward":
        return [
            _entry(
                "imports",
                pgettext("home", "Data imports"),
                pgettext("home", "Files from the departments: check, then publish to the registry"),
                "registry:import_list",
            ),
            _entry(
                "conflicts",
                pgettext("home", "Merge conflicts"),
                pgettext("home", "Records two departments describe differently, to settle"),
                "registry:conflicts",
                count=count_up_to(registry_selectors.merge_conflicts(user=user)),
            ),
            _entry(
                "registration_reviews",
                pgettext("home", "Registrations to check"),
                pgettext("home", "People registered where a record elsewhere holds their ID number"),
                "registry:conflicts",
                query="#registrations",
                count=count_up_to(registry_selectors.registration_reviews(user=user)),
            ),
            _entry(
                "registry",
                _("City registry"),
                pgettext("home", "Search people, legal entities and places"),
                "registry:home",
            ),
            dashboards,
        ]
    if role == "administrator":
        return [
            _entry(
                "admin",
                _("Administration"),
                pgettext("home", "Accounts, org units, routing rules, the work calendar"),
                "admin:index",
            ),
            _entry(
                "smart_dispatch",
                _("Smart dispatch"),
                pgettext("home", "The classifier's models and how well they suggest"),
                "web:smart_dispatch",
            ),
            _entry(
                "imports",
                pgettext("home", "Data imports"),
                pgettext("home", "Files from the departments: check, then publish to the registry"),
                "registry:import_list",
            ),
            dashboards,
            alerts,
        ]
    return []


@login_required
def home(request):
    """The signed-in user's start: their main pages and work counted ("My work"), then their
    jurisdiction. Never a redirect: bookmarks and tests rely on ``/`` being this page."""
    user = request.user
    if role_of(user) == "citizen":
        return _citizen_home(request)
    roots = geo_selectors.division_root_list(user=user) if _is_staff_role(user) else []
    my_grids = list(geo_selectors.grid_list(user=user).filter(assignments__user=user).distinct()[:50])
    notices = []
    if user.is_staff:
        # Administrators see the platform's own warnings (e.g. work-calendar coverage).
        from zhiwang.core.selectors import admin_notice_open_list

        notices = list(admin_notice_open_list(user=user)[:10])
    context = {
        "roots": roots,
        "my_grids": my_grids,
        "scope": scope_of(user),
        "notices": notices,
        "tiles": work_tiles(user, now=timezone.now(), grids=my_grids),
        "entries": work_entries(user),
    }
    return render(request, "web/home.html", context)


@login_required
def division_root(request):
    if not _is_staff_role(request.user):  # a citizen has no jurisdiction to browse: their home
        return redirect("web:home")
    roots = geo_selectors.division_root_list(user=request.user)
    if len(roots) == 1:
        return redirect("web:division_detail", code=roots[0].code)
    return render(request, "web/division_roots.html", {"roots": roots})


@login_required
def division_detail(request, code: str):
    user = request.user
    division = geo_selectors.division_get(user=user, code=code)
    ancestors = division_breadcrumbs(user, division)
    if division.level == "community":
        children = list(geo_selectors.grid_list(user=user, community=division))
        features = geo_selectors.feature_collection(children, kind="grid")
    else:
        children = list(geo_selectors.division_children(user=user, division=division))
        features = geo_selectors.feature_collection(children, kind="division")
    return render(
        request,
        "web/division_detail.html",
        {
            "division": division,
            "ancestors": ancestors,
            "children": children,
            "children_are_grids": division.level == "community",
            "features": features,
            "outline": geo_selectors.feature_collection([division], kind="outline"),
        },
    )


@login_required
def my_grids(request):
    grids = geo_selectors.grid_list(user=request.user).filter(assignments__user=request.user).distinct()
    return render(request, "web/my_grids.html", {"grids": grids})


@login_required
def grid_detail(request, code: str):
    user = request.user
    grid = geo_selectors.grid_get(user=user, code=code)
    community = grid.community
    buildings = Paginator(geo_selectors.building_list(user=user, grid=grid), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/grid_detail.html",
        {
            "grid": grid,
            "community": community,
            "ancestors": division_breadcrumbs(user, community, including_self=True),
            "members": account_selectors.grid_members(user=user, grid=grid),
            "buildings": buildings,
            "features": geo_selectors.feature_collection([grid], kind="grid"),
            "points": [
                {"name": b.full_name, "lon": b.lon, "lat": b.lat}
                for b in buildings.object_list
                if b.lon is not None
            ],
        },
    )


def healthz(request):
    """Liveness + database reachability, for the reverse proxy and the ops team."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok", "database": connection.vendor})
    except Exception:  # the proxy takes the node out; the reason goes to the log, not to callers
        log.exception("healthz: the database does not answer")
        return JsonResponse({"status": "error", "error": "database unavailable"}, status=503)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form or panel sent with a stale or missing CSRF token.

    Mostly an honest user whose page went stale: they signed out and in again in another tab
    (sign-in rotates the token), or the page stayed open past the token's cookie. So no
    "DEBUG=True" hint and no English technical reason (``reason`` goes to the log only): what
    happened and what to do. An htmx request (a panel loaded as the user types) gets one line
    with ``Zhiwang-Refusal: csrf``, which ``tickets.js`` never swaps in: it shows a notice in the
    panel and leaves the form as typed. The API (``/api/``) answers in its JSON error format.
    """
    log.info("CSRF check failed on %s: %s", request.path, reason)
    if request.path.startswith(API_PREFIX):
        message = _("The CSRF check failed: reload the page, or use an API token.")
        body = {"error": {"code": "auth.csrf", "message": str(message), "field": None, "fields": []}}
        response = JsonResponse(body, status=403)
    elif request.headers.get("HX-Request") == "true":
        message = _("This page has expired: copy what you typed, then reload the page to continue.")
        response = HttpResponse(
            format_html('<p class="panel-notice" role="alert">{}</p>', message), status=403
        )
        response[REFUSAL_HEADER] = "csrf"
    else:
        response = render(request, "web/csrf_failure.html", status=403)
    response["Cache-Control"] = "no-store"
    return response
