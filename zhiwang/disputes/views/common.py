"""Shared pieces of the disputes pages: the staff guard, error shaping, the hub and alerts."""

from __future__ import annotations

import uuid
from functools import wraps

from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.core.signed_out import signed_out
from zhiwang.disputes import selectors, services
from zhiwang.disputes.workflow import may_register_cases, may_use_workbench, role_of

DISPUTE_ROLES = frozenset({"intake_operator", "mediator", "dispatcher", "leader", "administrator"})
#: The most rows one Excel export holds (a ledger is filtered by division or period before that).
EXPORT_LIMIT = 5000


def dispute_staff(view):
    """Signed-in staff of the roles that work disputes; anybody else gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return signed_out(request)  # an htmx panel (the registry pick): 401, never the sign-in page
        if role_of(request.user) not in DISPUTE_ROLES:
            return render(request, "disputes/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def refuse(request, message: str):
    """The page that refuses a dispute page to a member of the staff whose role does not use it
    (403, the same page as for anybody outside the dispute staff, saying why)."""
    return render(request, "disputes/forbidden.html", {"message": message}, status=403)


def error_fields(error: ServiceError) -> dict:
    found = {f.field: f.message for f in error.fields}
    found["message"] = error.message
    return found


def form_token() -> str:
    return uuid.uuid4().hex


def form_errors(error: ServiceError) -> tuple[dict, bool]:
    """A registration form's errors, and whether it needs a new one-time token.

    The token is the registration's idempotency key, kept while the form comes back with errors
    (nothing was registered). A token already spent on a registration with other values (a
    form sent, then changed after going back) says so in the page's words, and the form gets
    a new token: sent again, it registers a new one.
    """
    errors = error_fields(error)
    if error.code != "disputes.idempotency_key_reused":
        return errors, False
    errors["message"] = _(
        "This form was already sent with other values. Check them and send the form again to "
        "register a new one."
    )
    return errors, True


@dispute_staff
def home(request):
    user = request.user
    role = role_of(user)
    context = {
        "role": role,
        "alerts": selectors.alerts_for(user=user)[:20],
        "centres": selectors.centres_for(user=user),
        "may_register": may_register_cases(user),
        "may_use_workbench": may_use_workbench(user),
    }
    if role in ("dispatcher", "leader", "administrator"):
        context["indicators"] = selectors.dispute_indicators(user=user)
    return render(request, "disputes/home.html", context)


@require_POST
@dispute_staff
def alerts_read(request):
    """Mark the user's alerts read; back to ``next`` when it is a path of this site (never another
    host: no open redirect), else the hub, which lists the alerts."""
    services.alerts_mark_read(user=request.user)
    target = request.POST.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return HttpResponseRedirect(target)
    return redirect("disputes:home")


def page_url(name, *args):
    from django.urls import reverse

    return reverse(name, args=args)
