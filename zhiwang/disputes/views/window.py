"""The window (窗口): register a visitor, route the matter to a function area, pick from the registry."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import selectors, services
from zhiwang.disputes.models import (
    PartyKind,
)
from zhiwang.disputes.views.common import dispute_staff, form_errors, form_token, page_url, refuse
from zhiwang.disputes.workflow import VISIT_WORKFLOW, role_of

# --- the window ----------------------------------------------------------------------


def _centre(request):
    centres = selectors.centres_for(user=request.user)
    wanted = str(request.GET.get("centre") or request.POST.get("centre") or "")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    centre = (
        centres.filter(pk=int(wanted)).first() if wanted.isascii() and wanted.isdigit() else centres.first()
    )
    return centres, centre


@dispute_staff
def window(request):
    """Register a visitor and route the matter to a function area; the areas' queues below.

    Refused (403) to somebody who works at no centre and supervises none (the 12345 hotline).
    """
    centres, centre = _centre(request)
    if not centres.exists():
        return refuse(request, _("You work at no service centre."))
    errors, values, new_token = {}, {}, False
    if request.method == "POST" and centre is not None:
        values = request.POST
        try:
            result = services.visit_register(
                actor=request.user,
                centre=centre,
                area_code=request.POST.get("area", ""),
                matter=request.POST.get("matter", ""),
                visitor_name=request.POST.get("visitor_name", ""),
                visitor_id_number=request.POST.get("visitor_id_number", ""),
                visitor_phone=request.POST.get("visitor_phone", ""),
                visitor_person=request.POST.get("visitor_person", ""),
                idempotency_key=request.POST.get("token", ""),
            )
        except ServiceError as error:
            errors, new_token = form_errors(error)
        else:
            visit = result.visit
            messages.success(
                request,
                _("Visit %(number)s registered and queued at %(area)s.")
                % {"number": visit.number, "area": visit.area.name},
            )
            return redirect(f"{request.path}?centre={centre.pk}")
    queues = selectors.area_queues(user=request.user, centre=centre) if centre is not None else []
    for queue in queues:
        for visit in queue["visits"]:
            # only the buttons this user may press (dispatchers and leaders look, operators act)
            visit.allowed = set(VISIT_WORKFLOW.allowed_actions(visit.status, actor=request.user, obj=visit))
    return render(
        request,
        "disputes/window.html",
        {
            "centres": centres,
            "centre": centre,
            "queues": queues,
            "areas": selectors.area_choices(),
            "errors": errors,
            "values": values,
            "token": request.POST.get("token") if errors and not new_token else form_token(),
            "may_register": role_of(request.user) in ("intake_operator", "administrator"),
            "may_pick": selectors.may_use_registry(request.user),
            # A pick survives a form that comes back with errors (shown masked, still chosen).
            "picked_list": [
                r
                for r in [
                    selectors.registry_picked(
                        user=request.user, kind="person", pk=values.get("visitor_person") if errors else None
                    )
                ]
                if r
            ],
        },
        status=400 if errors else 200,
    )


#: The form fields a registry pick may fill: the visitor, or party 0–3 as a person or an entity.
PICK_FIELD = re.compile(r"^(visitor_person|party[0-3]_(person|entity))$")


@dispute_staff
def registry_pick(request):
    """The registry records matching ``q`` as radio buttons named ``field`` (an htmx fragment).

    Searched through the registry's own scoped selectors and shown masked; a party row sends
    ``prefix`` (``party0_``…, in the URL: it names a form row, nobody) and its kind select, which
    decides person or entity. The pages POST the search text (``hx-post``): a name, ID number or
    phone in a URL would sit in proxy access logs and browser history. A GET from a page loaded
    before this change is still answered.
    """
    params = request.POST if request.method == "POST" else request.GET
    prefix = request.GET.get("prefix", "") or params.get("prefix", "")
    if prefix:
        kind = "entity" if params.get(prefix + "kind") == PartyKind.ENTITY else "person"
        field = f"{prefix}{kind}"
    else:
        kind, field = "person", "visitor_person"
    if not PICK_FIELD.match(field):
        raise Http404(field)
    q = params.get("q") or params.get(prefix + "q") or params.get("pick_q") or ""
    try:
        results, refused = selectors.registry_candidates(user=request.user, kind=kind, q=q), ""
    except ServiceError as error:  # e.g. the hourly limit of searches by ID or phone number
        results, refused = [], error.message
    return render(
        request,
        "disputes/_registry_pick.html",
        {
            "results": results,
            "refused": refused,
            "kind": kind,
            "field": field,
            "q": q.strip(),
            "may_pick": selectors.may_use_registry(request.user),
        },
    )


@require_POST
@dispute_staff
def visit_action(request, number: str):
    visit = selectors.visit_get(user=request.user, number=number)
    action = request.POST.get("action")
    try:
        if action == "call":
            services.visit_call(visit=visit, actor=request.user)
            # Said on the page the operator comes back to: who is called, to which desk's area
            # (the visitor's name masked, as in the queue).
            messages.success(
                request,
                _("Called %(number)s (%(visitor)s) to the desk of %(area)s.")
                % {"number": visit.number, "visitor": visit.masked_visitor_name, "area": visit.area.name},
            )
        elif action == "route":
            services.visit_route(visit=visit, actor=request.user, area_code=request.POST.get("area", ""))
        elif action == "complete":
            services.visit_complete(visit=visit, actor=request.user, note=request.POST.get("note", ""))
        else:
            raise Http404(action)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect(f"{page_url('disputes:window')}?centre={visit.centre_id}")
