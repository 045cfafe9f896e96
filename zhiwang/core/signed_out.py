"""The answer to a signed-out user's request for a page that needs sign-in, for every app.

A plain request goes to the sign-in page. An htmx request is never redirected: htmx follows a
redirect and would draw the sign-in page inside a panel (``signed_out``). ``REFUSAL_HEADER``
marks such answers for the front end (``web/static/web/tickets.js``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

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
