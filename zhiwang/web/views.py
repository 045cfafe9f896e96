"""Pages of the shell: home, the division browser down to a grid. Thin: selectors do the reading."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from zhiwang.accounts import selectors as account_selectors
from zhiwang.core.scoping import scope_of
from zhiwang.geo import selectors as geo_selectors
from zhiwang.tickets import selectors as ticket_selectors
from zhiwang.web.breadcrumbs import division_breadcrumbs
from zhiwang.web.home_work import work_tiles
from zhiwang.web.middleware import API_PREFIX
from zhiwang.web.navigation import STAFF_ROLES
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


@login_required
def home(request):
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
