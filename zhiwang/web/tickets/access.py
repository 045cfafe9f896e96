"""Who may open which ticket page: signed in and in one of the page's roles (administrators: all)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

INTAKE_ROLES = frozenset({"intake_operator"})
DISPATCH_ROLES = frozenset({"dispatcher"})
HANDLER_ROLES = frozenset({"handler"})
GRID_ROLES = frozenset({"grid_worker"})
#: Roles that read tickets at all (the list and the detail page); scoping does the rest.
TICKET_READER_ROLES = frozenset(
    {"intake_operator", "dispatcher", "handler", "grid_worker", "leader", "data_steward"}
)


def role_of(user) -> str:
    if user is None or not user.is_authenticated:
        return "anonymous"
    return "administrator" if user.is_superuser else getattr(user, "role", "")


#: Set on an answer to an htmx request that htmx must not swap in (``tickets.js`` reads it):
#: ``signed-out`` (401: the session ended) or ``csrf`` (403: the page's form token is stale).
REFUSAL_HEADER = "Zhiwang-Refusal"


def _current_page(request) -> str:
    """The path of the page an htmx request was sent from (``HX-Current-URL``), if it is this site's."""
    current = request.headers.get("HX-Current-URL", "")
    if not current or not url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(current)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def signed_out(request):
    """The answer to a request of a signed-out user for a page that needs sign-in.

    A plain request goes to the sign-in page (and back here after it). An htmx request is never
    redirected: htmx would follow the redirect and draw the sign-in page inside a panel, whose
    form then posts to the page around it (and its ``next`` is a POST-only panel URL). So:

    - a boosted link or form (``HX-Boosted``) is a navigation: ``HX-Redirect`` to the sign-in page,
      back to the page the user was on (``HX-Current-URL``), never to the URL posted to;
    - any other htmx request (a panel loaded as the user types, a poller) is 401 with one line,
      not swapped: ``tickets.js`` shows a notice in the panel and leaves the form as typed.
    """
    if request.headers.get("HX-Request") != "true":
        return redirect_to_login(request.get_full_path())
    if request.headers.get("HX-Boosted") == "true":
        response = HttpResponse(status=401)
        response["HX-Redirect"] = redirect_to_login(_current_page(request) or "/")["Location"]
    else:
        message = _(
            "Your sign-in has expired: sign in again in a new tab, then come back to this page "
            "(what you typed is still here)."
        )
        response = HttpResponse(message, status=401, content_type="text/plain; charset=utf-8")
    response[REFUSAL_HEADER] = "signed-out"
    response["Cache-Control"] = "no-store"
    return response


def role_required(roles: frozenset[str]):
    """Anonymous → the sign-in page (an htmx request: 401, ``signed_out``); a signed-in user of
    another role → 403 with a page that says so."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return signed_out(request)
            role = role_of(request.user)
            if role != "administrator" and role not in roles:
                return render(request, "web/tickets/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
