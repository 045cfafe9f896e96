"""Public pages: report a problem, follow it with number + phone, rate the answer; "my requests".

No sign-in is needed. A citizen proves to own a ticket with its number and the phone
used to report it (``selectors.public_ticket_lookup``); the session then keeps that
pair, so the status and rating pages do not ask again. A signed-in citizen's own
reports are visible to them (``selectors.ticket_get``), so their pages need no phone.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from zhiwang.core import throttle
from zhiwang.core.client_address import client_address, rate_limit_key
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.core.phones import comparable_phone
from zhiwang.tickets import lookup_limits, selectors, services
from zhiwang.tickets.models import Channel, TicketStatus
from zhiwang.web.tickets.access import role_of, role_required
from zhiwang.web.tickets.forms import (
    REQUEST_KINDS,
    TOKEN_MAX_AGE,
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


def remember(request, number: str, phone: str) -> None:
    owned = {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if k != number}
    # read as the lookup compares it: a ticket stored before the mobile rule ("1381234567") stays
    # followable with the number its citizen gave
    request.session[SESSION_KEY] = {number: comparable_phone(phone), **dict(list(owned.items())[:19])}


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


# --- limits on the report form, per client address -------------------------------------------
#
# The form is public and each visit gives a fresh form token, so without a limit one client could
# file tickets without end, each with 9 photos of 5 MB. Counted per client address (as ninja
# finds it, ``core.client_address``; an IPv6 client by its /64, ``rate_limit_key``) in fixed
# windows (``core.throttle``): tickets made per hour and per day, and bytes of photos stored per
# day. A report is counted before the ticket is written (parallel posts count one another) and
# taken back when nothing was made (a refusal, a retry of the same form). Settings, read at each
# report (so tests may change them):
#
# - ``ZHIWANG_CITIZEN_REPORTS_PER_HOUR`` (10) and ``ZHIWANG_CITIZEN_REPORTS_PER_DAY`` (30);
# - ``ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY`` (200 MB): over it a report may still be sent without
#   photos.
#
# Many citizens may share an address (a mobile carrier's NAT, an office): the defaults leave
# room for that, and the refusal points to the 12345 hotline. 0 turns a limit off.

HOUR = 60 * 60
DAY = 24 * HOUR
MB = 1024 * 1024

#: The public suggestion panel runs the classifier on every pause in typing (500 ms): about a
#: hundred loads for a long report. Past ``ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR`` (1200; 0: no
#: limit) loads per client address and hour the panel answers empty (the form works without it),
#: so a script cannot keep the web workers classifying. Read at each load, as the report limits.
SUGGESTIONS = "citizen-suggestions"


class ReportLimited(Exception):
    def __init__(self, message: str, *, photos: bool = False):
        super().__init__(message)
        self.message = message
        self.photos = photos  # refused for the photos' size: the report may go without them


def _report_limits() -> list[tuple[str, int, int]]:
    """(counter kind, limit, window) of the limits in force."""
    return [
        ("report-hour", getattr(settings, "ZHIWANG_CITIZEN_REPORTS_PER_HOUR", 10), HOUR),
        ("report-day", getattr(settings, "ZHIWANG_CITIZEN_REPORTS_PER_DAY", 30), DAY),
    ]


def _report_limited(kind: str, wait: int) -> ReportLimited:
    if kind == "report-hour":
        minutes = max(1, math.ceil(wait / 60))
        message = ngettext(
            "Too many reports were sent from your network address. Try again in %(minutes)s minute, "
            "or call the 12345 hotline.",
            "Too many reports were sent from your network address. Try again in %(minutes)s minutes, "
            "or call the 12345 hotline.",
            minutes,
        ) % {"minutes": minutes}
        return ReportLimited(message)
    hours = max(1, math.ceil(wait / HOUR))
    if kind == "report-bytes":
        message = ngettext(
            "Too many photos were sent from your network address today. Send your report without "
            "photos, or try again in %(hours)s hour.",
            "Too many photos were sent from your network address today. Send your report without "
            "photos, or try again in %(hours)s hours.",
            hours,
        ) % {"hours": hours}
        return ReportLimited(message, photos=True)
    message = ngettext(
        "Too many reports were sent from your network address today. Try again in %(hours)s hour, "
        "or call the 12345 hotline.",
        "Too many reports were sent from your network address today. Try again in %(hours)s hours, "
        "or call the 12345 hotline.",
        hours,
    ) % {"hours": hours}
    return ReportLimited(message)


class ReportQuota:
    """One report's share of its address's limits: counted before the ticket is written, taken
    back when no ticket was made.

    A form whose ticket was made is noted (by its token): sent again (a retry after a lost
    answer, a reload) it is not refused, since it makes no new ticket and its answer is the
    first one's. Only a made ticket notes it, so sending one form many times at once gets no
    report past the limits.
    """

    MADE = "report-form-made"

    def __init__(self, *, address: str, token: str, photo_bytes: int):
        # counted by the client's network: an IPv6 client may pick any address of its /64
        self.address, self.token, self.photo_bytes = rate_limit_key(address), token, photo_bytes
        self.counted: list[tuple[str, int]] = []
        self.replay = False

    def _limits(self) -> list[tuple[str, int, int, int]]:
        """(counter kind, amount, limit, window) of the limits in force (0: off)."""
        limits = [(kind, 1, limit, window) for kind, limit, window in _report_limits()]
        if self.photo_bytes:
            bytes_limit = getattr(settings, "ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY", 200 * MB)
            limits.append(("report-bytes", self.photo_bytes, bytes_limit, DAY))
        return [limit for limit in limits if limit[2]]

    def admit(self) -> None:
        """Count the report; ``ReportLimited`` (nothing counted) when a limit would be passed."""
        self.replay = throttle.count(self.MADE, self.token) > 0
        if self.replay:
            return
        for kind, amount, limit, window in self._limits():
            total = throttle.count_add(kind, self.address, window, amount)
            self.counted.append((kind, amount))
            if total > limit:
                self.take_back()
                raise _report_limited(kind, throttle.window_left(kind, self.address, window))

    def take_back(self) -> None:
        """Nothing was made: the report counts nowhere."""
        for kind, amount in self.counted:
            throttle.count_take_back(kind, self.address, amount)
        self.counted = []

    def finish(self, *, created: bool) -> None:
        if not created:  # the form's ticket was made before: nothing new
            self.take_back()
            return
        if self.replay:  # noted as made, yet made now (its ticket is gone): count it all the same
            for kind, amount, _limit, window in self._limits():
                throttle.count_add(kind, self.address, window, amount)
        # as long as the token is accepted: after that, the form is refused as expired anyway
        throttle.count_add(self.MADE, self.token, TOKEN_MAX_AGE)


def report(request):
    leaves = category_choices(kinds={k for k, _label in REQUEST_KINDS})
    photos_refused = False
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, leaves=leaves)
        if form.is_valid():
            data = form.cleaned_data
            token = read_form_token(data["token"])
            if token is None:
                form.add_error(None, _("This form has expired. Check the fields and send it again."))
            else:
                photo_bytes = sum(upload.size for upload, _type in data["photos"])
                quota = ReportQuota(address=client_address(request), token=token, photo_bytes=photo_bytes)
                try:
                    quota.admit()
                except ReportLimited as limited:
                    form.add_error(None, limited.message)
                    photos_refused = limited.photos
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
                        quota.take_back()
                        apply_service_error(form, error)
                    except BaseException:
                        quota.take_back()
                        raise
                    else:
                        quota.finish(created=result.created)
                        remember(request, result.ticket.number, result.ticket.reporter_phone)
                        return redirect("web:ticket_report_done", number=result.ticket.number)
    else:
        form = ReportForm(leaves=leaves, initial={"kind": "complaint"})
    return render(
        request,
        "web/tickets/report.html",
        {
            "form": form,
            "token": _form_token(form),
            "files_lost": form.is_bound and bool(request.FILES) and not photos_refused,
        },
    )


@require_POST
def suggest_panel(request):
    """The citizen form's as-you-type category suggestions (public; the text is cut to 500 characters).

    POST only (``hx-post`` with the form's CSRF token): a citizen's description may name people
    and phones, and a URL sits in proxy access logs, browser history and Referer headers.
    """
    limit = getattr(settings, "ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR", 1200)
    address = rate_limit_key(client_address(request))
    if limit and throttle.count_add(SUGGESTIONS, address, HOUR) > limit:
        # a convenience, not the form: over the limit the panel is empty and the report still goes
        return HttpResponse("")
    suggestions = selectors.category_suggestions(
        text=request.POST.get("description", "")[:500], kind=request.POST.get("kind", "")[:16]
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

    Failed look-ups are limited by the API's rule, counted together with it
    (``tickets.lookup_limits``): per client address (as ninja finds it, behind
    ``ZHIWANG_NUM_PROXIES`` proxies), per ticket number from this address and from all
    addresses, so sequential numbers cannot be probed by rotating addresses, and per phone from
    all addresses, so a known phone cannot be tried against every number of a day.
    """
    if request.method == "POST":
        form = TrackForm(request.POST)
        if form.is_valid():
            number, phone = form.cleaned_data["number"].strip().upper(), form.cleaned_data["phone"]
            try:
                attempt = lookup_limits.lookup_admit(
                    number=number, phone=phone, address=client_address(request)
                )
            except lookup_limits.LookupRefused as refused:
                form.add_error(None, refused.message)
            else:
                try:
                    found = selectors.public_ticket_lookup(number=number, phone=phone)
                except BaseException:
                    attempt.take_back()  # our failure, not a wrong guess
                    raise
                if found is not None:
                    attempt.take_back()
                    remember(request, number, phone)
                    return redirect("web:ticket_track_detail", number=number)
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
