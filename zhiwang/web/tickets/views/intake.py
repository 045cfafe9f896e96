"""The intake operator's one fast form, and the panels htmx loads into it as the operator types.

Without JavaScript the form still works: the duplicate check then happens on the
first submit (the candidates are shown, and a second submit records the call).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.core.phones import normalize_phone
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import TicketStatus
from zhiwang.tickets.scope_checks import located_place_known
from zhiwang.tickets.workflow import TicketAction
from zhiwang.web.tickets.access import DISPATCH_ROLES, INTAKE_ROLES, role_required
from zhiwang.web.tickets.forms import (
    REQUEST_KINDS,
    IntakeForm,
    apply_service_error,
    category_choices,
    new_form_token,
    read_form_token,
)

INTAKE_PAGE_ROLES = INTAKE_ROLES | DISPATCH_ROLES
#: A ticket number (``tickets.services.numbering``: ZW + local date + sequence), the banner's link.
TICKET_NUMBER_RE = re.compile(r"ZW[0-9]{14,20}")


def _leaves():
    return category_choices(kinds={k for k, _label in REQUEST_KINDS})


#: Why the duplicate check found nothing (``duplicate_check``): it ran, or it could not run yet.
DUPLICATES_CHECKED = "checked"
DUPLICATES_NEED_FIELDS = "need_fields"  # no category or no place typed yet
DUPLICATES_NO_PLACE = "no_place"  # the place typed is not one the city knows (in the operator's sight)


def duplicate_check(*, user, leaves, category_code: str, address_text: str = "", lon=None, lat=None):
    """(how, tickets): the open tickets of the category at the place the operator typed, those the
    operator may see, and whether the check ran at all (``DUPLICATES_*``), so that the panel does
    not say "none found" when nothing was looked for."""
    category = next((leaf.category for leaf in leaves if leaf.code == category_code), None)
    if category is None or not (address_text.strip() or (lon is not None and lat is not None)):
        return DUPLICATES_NEED_FIELDS, []
    try:
        place = services.locate_place(lon=lon, lat=lat, address_text=address_text)
    except ServiceError:
        return DUPLICATES_NO_PLACE, []  # the submit itself reports a bad place next to the field
    if place.finest is None or not located_place_known(user=user, place=place):
        # a place outside the operator's jurisdiction is answered like one the city does not
        # know: "none found" would tell them the text names a place (and that nothing is open there)
        return DUPLICATES_NO_PLACE, []
    found = services.find_duplicates(category=category, place=place, at=timezone.now())
    return DUPLICATES_CHECKED, selectors.duplicate_candidates(user=user, tickets=found)


def _seen(value: str) -> set[str]:
    return {n.strip().upper() for n in (value or "").split(",") if n.strip()}


@role_required(INTAKE_PAGE_ROLES)
def intake(request):
    leaves = _leaves()
    duplicates, intent = [], request.POST.get("intent", "dispatch")
    duplicates_how = DUPLICATES_NEED_FIELDS
    if request.method == "POST":
        form = IntakeForm(request.POST, leaves=leaves)
        if form.is_valid():
            data = form.cleaned_data
            duplicates_how, duplicates = duplicate_check(
                user=request.user,
                leaves=leaves,
                category_code=data["category"],
                address_text=data["address_text"],
                lon=data["lon"],
                lat=data["lat"],
            )
            unseen = [t for t in duplicates if t.number not in _seen(data["duplicates_seen"])]
            token = data["call_id"].strip() or read_form_token(data["token"])
            if intent == "answer" and not data["reply"].strip():
                form.add_error("reply", _("Write the answer given to the caller."))
            elif token is None:
                form.add_error(None, _("This form has expired. Check the fields and send it again."))
            elif unseen:
                form.add_error(
                    None,
                    _(
                        "Possible duplicates found (listed beside the form). Check them, then submit again to record the call anyway."
                    ),
                )
            else:
                try:
                    with transaction.atomic():
                        result = services.ticket_submit(
                            channel=data["channel"],
                            external_id=token,
                            kind=data["kind"],
                            category=data["category"],
                            urgency=data["urgency"],
                            description=data["description"],
                            reporter_name=data["reporter_name"],
                            reporter_phone=data["reporter_phone"],
                            address_text=data["address_text"],
                            lon=data["lon"],
                            lat=data["lat"],
                            actor=request.user,
                        )
                        if intent == "answer" and result.created:
                            services.ticket_answer_directly(
                                ticket=result.ticket, actor=request.user, reply=data["reply"]
                            )
                except ServiceError as error:
                    apply_service_error(form, error)
                else:
                    # A retry of this form's own token is this user's call; a typed call id may be
                    # another jurisdiction's: then neither its number nor a silent "again".
                    typed = bool(data["call_id"].strip())
                    if result.created or not typed or _may_see(request.user, result.ticket):
                        outcome = (
                            "answered" if intent == "answer" else ("recorded" if result.created else "again")
                        )
                        return redirect(f"{reverse('web:ticket_intake')}?{outcome}={result.ticket.number}")
                    form.add_error("call_id", _("This call id was already used for another ticket."))
    else:
        form = IntakeForm(leaves=leaves, initial={"channel": _default_channel(request.user)})
    done = None
    for outcome in ("recorded", "answered", "again"):
        if TICKET_NUMBER_RE.fullmatch(request.GET.get(outcome, "")):  # else no banner
            done = _banner(request.user, outcome, request.GET[outcome])
    posted_token = form.data.get("token") if form.is_bound else None
    matched, history = (
        selectors.address_history(user=request.user, address_text=form.data.get("address_text", ""))
        if form.is_bound
        else (None, [])
    )
    return render(
        request,
        "web/tickets/intake.html",
        {
            "form": form,
            "token": posted_token if posted_token and read_form_token(posted_token) else new_form_token(),
            "duplicates": duplicates,
            "duplicates_how": duplicates_how,
            "duplicates_seen": ",".join(t.number for t in duplicates),
            "matched_address": matched,
            "address_history": history,
            "caller_history": selectors.caller_history(
                user=request.user, phone=form.data.get("reporter_phone", "")
            )
            if form.is_bound
            else [],
            "done": done,
        },
    )


def _banner(user, outcome: str, number: str) -> dict:
    """What the banner says after a submit: what actually happened to the recorded call.

    ``outcome`` is the redirect's ("recorded", "answered", "again"). A recorded call is told
    apart by the ticket's state now: "dispatched" (a certain routing rule sent it at once to
    ``unit``), "queued" (it waits in the dispatcher queue ``queue``) or, if somebody moved it
    since, "recorded" with its ``status``. A number the user may not see: the bare banner.
    """
    banner = {"outcome": outcome, "number": number}
    if outcome != "recorded":
        return banner
    try:
        ticket = selectors.ticket_get(user=user, number=number)
    except Http404:
        return banner
    if ticket.status == TicketStatus.PENDING_DISPATCH:
        banner.update(outcome="queued", queue=ticket.dispatch_center)
    elif ticket.handling_unit_id and any(
        event.action == TicketAction.DISPATCH and event.actor_id is None
        for event in selectors.ticket_timeline(user=user, ticket=ticket)
    ):
        banner.update(outcome="dispatched", unit=ticket.handling_unit)
    else:
        banner["status"] = ticket.get_status_display()
    return banner


def _may_see(user, ticket) -> bool:
    try:
        selectors.ticket_get(user=user, number=ticket.number)
    except Http404:
        return False
    return True


def _default_channel(user) -> str:
    unit = getattr(user, "org_unit", None)
    return "window" if unit is not None and unit.kind == "service_center" else "hotline"


@require_POST
@role_required(INTAKE_PAGE_ROLES)
def suggest_panel(request):
    """The category suggestions for the description as typed (and the kind).

    POST only (``hx-post``): a caller's words may name people, places and phones, and a URL sits
    in proxy access logs, browser history and Referer headers. A GET is 405.
    """
    suggestions = selectors.category_suggestions(
        text=request.POST.get("description", ""), kind=request.POST.get("kind", "")
    )
    return render(
        request, "web/tickets/_suggestions.html", {"suggestions": selectors.shown_suggestions(suggestions)}
    )


@require_POST
@role_required(INTAKE_PAGE_ROLES)
def caller_panel(request):
    """The caller's earlier tickets, loaded as the operator types the phone.

    POST only (``hx-post``), like the suggestion and place panels: in a URL the number would sit
    in proxy access logs and browser history, out of reach of the masked audit log. A GET is 405.
    """
    phone = request.POST.get("reporter_phone", "")
    history = selectors.caller_history(user=request.user, phone=phone)
    return render(
        request,
        "web/tickets/_caller_history.html",
        {
            "caller_history": history,
            "phone": phone,
            # "1385" as the operator types: not "none", which would say this caller never called
            "phone_incomplete": bool(phone.strip()) and not normalize_phone(phone),
        },
    )


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@require_POST
@role_required(INTAKE_PAGE_ROLES)
def place_panel(request):
    """The duplicate check and the address's earlier tickets for the place as typed.

    POST only (``hx-post``), as the suggestion panel: the caller's address stays out of URLs.
    """
    posted = request.POST
    lon, lat = _float(posted.get("lon")), _float(posted.get("lat"))
    address, history = selectors.address_history(
        user=request.user, address_text=posted.get("address_text", "")
    )
    duplicates_how, duplicates = duplicate_check(
        user=request.user,
        leaves=_leaves(),
        category_code=posted.get("category", ""),
        address_text=posted.get("address_text", ""),
        lon=lon,
        lat=lat,
    )
    return render(
        request,
        "web/tickets/_place_panel.html",
        {
            "matched_address": address,
            "address_history": history,
            "duplicates": duplicates,
            "duplicates_how": duplicates_how,
            "duplicates_seen": ",".join(t.number for t in duplicates),
            "address_text": posted.get("address_text", ""),
        },
    )
