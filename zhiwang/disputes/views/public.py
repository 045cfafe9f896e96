"""The one public page of the disputes app: a party confirms the agreement through their link.

No sign-in: the one-time, expiring, signed link is the credential. The page shows the
agreement with the parties' personal data masked; the confirmation is a POST with CSRF.
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from zhiwang.accounts.services import client_ip
from zhiwang.core.errors import ServiceError
from zhiwang.disputes import selectors, services


def _refused(request, error: ServiceError):
    return render(
        request,
        "disputes/confirm_agreement.html",
        {"error": error, "link": getattr(error, "link", None)},
        status=error.status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_agreement(request, token: str):
    """GET: the agreement (masked) and a confirm button; POST: record the confirmation (once)."""
    try:
        link = services.confirmation_link_check(token)
    except ServiceError as error:
        return _refused(request, error)
    if request.method == "POST":
        try:
            link = services.agreement_confirm_online(token=token, ip=client_ip(request))
        except ServiceError as error:
            return _refused(request, error)
        return render(request, "disputes/confirm_agreement.html", {"link": link, "done": True})
    return render(
        request,
        "disputes/confirm_agreement.html",
        {"link": link, "agreement": selectors.agreement_for_party(link=link)},
    )
