"""Public pages: report a problem, follow it with number + phone, rate the answer; "my requests".

No sign-in is needed. A citizen proves to own a ticket with its number and the phone
used to report it (``selectors.public_ticket_lookup``); the session then keeps that
pair, so the status and rating pages do not ask again. A signed-in citizen's own
reports are visible to them (``selectors.ticket_get``), so their pages need no phone.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from zhiwang.core.client_address import client_address
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets import lookup_limits, selectors, services
from zhiwang.tickets.models import Channel, TicketStatus, normalize_phone
from zhiwang.web.tickets.access import role_of, role_required
from zhiwang.web.tickets.forms import (
    REQUEST_KINDS,
    RateForm,
    ReportForm,
    TrackForm,
    apply_service_error,
    category_choices,
    new_form_token,
    read_form_token,
)
from zhiwang.web.tickets.presenters import citizen_event_text, citizen_status
from zhiwang.web.tickets.uploads import attach

SESSION_KEY = "zhiwang_tickets_owned"  # {ticket number: normalized phone}, the last 20
TRACK_LIMIT = 10  # failed look-ups per client address per window
TRACK_WINDOW = 15 * 60


def remember(request, number: str, phone: str) -> None:
    owned = {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if k != number}
    request.session[SESSION_KEY] = {number: normalize_phone(phone), **dict(list(owned.items())[:19])}


def _phone_for(request, number: str) -> str:
    """The phone that proves ownership of ``number``: from this session, or the signed-in reporter's ticket."""
    number = (number or "").strip().upper()
    phone = request.session.get(SESSION_KEY, {}).get(number)
    if phone:
        return phone
    if request.user.is_authenticated:
        try:
            ticket = selectors.ticket_get(user=request.user, number=number)
        except Http404:
            return ""
        if ticket.reporter_id == request.user.pk:
            return ticket.reporter_phone
    return ""


def _lookup(request, number: str):
    phone = _phone_for(request, number)
    return (selectors.public_ticket_lookup(number=number, phone=phone) if phone else None), phone


def _track_again(number: str):
    return redirect(f"{reverse('web:ticket_track')}?number={number}")


def _form_token(form) -> str:
    """Keep the posted token while it is valid (a retry must reuse it), else issue a new one."""
    posted = form.data.get("token") if form.is_bound else None
    return posted if posted and read_form_token(posted) else new_form_token()


def report(request):
    leaves = category_choices(kinds={k for k, _label in REQUEST_KINDS})
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, leaves=leaves)
        if form.is_valid():
            data = form.cleaned_data
            token = read_form_token(data["token"])
            if token is None:
                form.add_error(None, _("This form has expired. Check the fields and send it again."))
            else:
                try:
                    with transaction.atomic():
                        result = services.ticket_submit(
                            channel=Channel.WEB,
                            external_id=token,
                            kind=data["kind"],
                            category=data["category"],
                            description=data["description"],
                            reporter_name=data["reporter_name"],
                            reporter_phone=data["reporter_phone"],
                            reporter=request.user if role_of(request.user) == "citizen" else None,
                            address_text=data["address_text"],
                            lon=data["lon"],
                            lat=data["lat"],
                            actor=None,
                        )
                        if result.created:
                            attach(ticket=result.ticket, uploads=data["photos"])
                except ServiceError as error:
                    apply_service_error(form, error)
                else:
                    remember(request, result.ticket.number, result.ticket.reporter_phone)
                    return redirect("web:ticket_report_done", number=result.ticket.number)
    else:
        form = ReportForm(leaves=leaves, initial={"kind": "complaint"})
    return render(
        request,
        "web/tickets/report.html",
        {"form": form, "token": _form_token(form), "files_lost": form.is_bound and bool(request.FILES)},
    )


@require_GET
def suggest_panel(request):
    """The citizen form's as-you-type category suggestions (public; the text is cut to 500 characters)."""
    suggestions = selectors.category_suggestions(
        text=request.GET.get("description", "")[:500], kind=request.GET.get("kind", "")[:16]
    )
    # the citizen sees the category only: the unit and the time limit are the city's routing
    return render(
        request,
        "web/tickets/_suggestions.html",
        {"suggestions": selectors.shown_suggestions(suggestions), "public": True},
    )


def report_done(request, number):
    ticket, _phone = _lookup(request, number)
    if ticket is None:
        return _track_again(number)
    label, explanation = citizen_status(ticket.status)
    return render(
        request,
        "web/tickets/report_done.html",
        {"ticket": ticket, "status_label": label, "status_explanation": explanation},
    )


def track(request):
    """Number + phone → the ticket's status page.

    Failed look-ups are limited per client address (as ninja finds it, behind
    ``ZHIWANG_NUM_PROXIES`` proxies) and per ticket number whatever the address
    and address, and per number from all addresses (``tickets.lookup_limits``), so sequential
    numbers cannot be probed by rotating addresses.
    """
    if request.method == "POST":
        form = TrackForm(request.POST)
        address = client_address(request)
        if form.is_valid():
            number, phone = form.cleaned_data["number"].strip().upper(), form.cleaned_data["phone"]
            if lookup_limits.failures("track-address", address) >= TRACK_LIMIT:
                form.add_error(None, _("Too many attempts. Try again in 15 minutes."))
            elif lookup_limits.number_locked(number, address):
                form.add_error(None, _("Too many attempts for this request number. Try again in an hour."))
            elif selectors.public_ticket_lookup(number=number, phone=phone) is not None:
                remember(request, number, phone)
                return redirect("web:ticket_track_detail", number=number)
            else:
                lookup_limits.record_failure("track-address", address, TRACK_WINDOW)
                lookup_limits.record_number_failure(number, address)
                form.add_error(
                    None, _("No request matches this number and phone number. Check both and try again.")
                )
    else:
        form = TrackForm(initial={"number": request.GET.get("number", "")})
    return render(request, "web/tickets/track.html", {"form": form})


def public_steps(events) -> list[dict]:
    """The citizen's progress list: the public events in plain words, a step repeated back to back
    shown once (at its latest time). A reply the reviewer sent back is internal, and so is the
    send-back: the unit's second reply would otherwise read "replied, being checked" twice."""
    steps: list[dict] = []
    for event in events:
        text = citizen_event_text(event)
        if steps and steps[-1]["text"] == text:
            steps[-1]["at"] = event.at
        else:
            steps.append({"at": event.at, "text": text})
    return steps


#: The answer is out (released, or the request ended): no answer is expected any more.
_ANSWER_OUT = (*selectors.ANSWERED_STATUSES, TicketStatus.MERGED)


def track_detail(request, number):
    ticket, _phone = _lookup(request, number)
    if ticket is None:
        return _track_again(number)
    label, explanation = citizen_status(ticket.status)
    expected_by = None if ticket.closed_at or ticket.status in _ANSWER_OUT else ticket.due_at
    return render(
        request,
        "web/tickets/track_detail.html",
        {
            "ticket": ticket,
            "status_label": label,
            "status_explanation": explanation,
            "timeline": public_steps(ticket.events),
            "expected_by": expected_by,
            # before the answer is out, a reply shown is the one released before a reopen
            # (``selectors.public_reply``): the rework is about it, but it is no longer the answer
            "answer_is_previous": bool(ticket.reply) and ticket.status not in _ANSWER_OUT,
        },
    )


def rate(request, number):
    ticket, phone = _lookup(request, number)
    if ticket is None:
        return _track_again(number)
    if not ticket.can_rate:
        messages.info(request, _("This request is not waiting for your rating."))
        return redirect("web:ticket_track_detail", number=ticket.number)
    if request.method == "POST":
        form = RateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rated = services.ticket_rate_by_citizen(
                    number=ticket.number,
                    phone=phone,
                    resolved=data["resolved"] == "yes",
                    satisfaction=data["satisfaction"],
                    note=data["note"],
                )
            except NotFound:
                return _track_again(number)
            except ServiceError as error:
                if error.fields:
                    apply_service_error(form, error)
                else:  # no longer waiting (somebody recorded the follow-up first)
                    messages.info(request, error.message)
                    return redirect("web:ticket_track_detail", number=ticket.number)
            else:
                if rated.status == TicketStatus.CLOSED:
                    messages.success(
                        request, _("Thank you. Your rating was recorded and the request is closed.")
                    )
                else:
                    messages.success(request, _("Thank you. The request will be handled again."))
                return redirect("web:ticket_track_detail", number=ticket.number)
    else:
        form = RateForm()
    return render(request, "web/tickets/rate.html", {"ticket": ticket, "form": form})


@role_required(frozenset({"citizen"}))
def my_tickets(request):
    tickets = selectors.ticket_list(user=request.user)[:200]  # a citizen sees what they reported
    rows = [(t, *citizen_status(t.status)) for t in tickets]
    return render(request, "web/tickets/my_tickets.html", {"rows": rows})
