"""The working lists: the dispatcher's queue, the handler's inbox, the grid worker's patrol
report and verification list, and the plain ticket search every staff role has."""

from __future__ import annotations

import re

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.core.pagination import BoundedCount, CappedPaginator, count_up_to
from zhiwang.core.phones import normalize_phone
from zhiwang.geo import selectors as geo_selectors
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import Channel, Ticket, TicketKind, TicketStatus
from zhiwang.web.tickets import actions
from zhiwang.web.tickets.access import (
    DISPATCH_ROLES,
    GRID_ROLES,
    HANDLER_ROLES,
    TICKET_READER_ROLES,
    role_required,
)
from zhiwang.web.tickets.forms import (
    BULK_SUGGESTED,
    BulkDispatchForm,
    PatrolForm,
    TicketFilterForm,
    apply_service_error,
    category_choices,
    new_form_token,
    read_form_token,
)
from zhiwang.web.tickets.presenters import deadline_of, shown_choices, tickets_and_events
from zhiwang.web.tickets.uploads import attach

QUEUE_TABS = ("pending", "requests", "review", "follow_up", "breaching")
#: Rows of the ticket list page; the inbox shows its first INBOX_ROWS (nearest deadline first).
LIST_PAGE = 50
INBOX_ROWS = 300
#: The version a queue row posts with its number ("ZW…:7"): ASCII digits only.
VERSION_RE = re.compile(r"[0-9]{1,9}")


def _rows(tickets, now):
    return [(t, deadline_of(t, now)) for t in tickets]


def _inline_forms(slug, tickets, user):
    """One small form per row (its field ids carry the ticket number, so labels stay unique)."""
    ui = actions.BY_SLUG[slug]
    return [(t, actions.build_form(ui, t, user, auto_id=f"id_{t.number}_%s")) for t in tickets]


@role_required(DISPATCH_ROLES)
def dispatch_queue(request):
    user, now = request.user, timezone.now()
    queue = selectors.dispatcher_queue(user=user, now=now)
    tab = request.GET.get("tab") if request.GET.get("tab") in QUEUE_TABS else "pending"
    # each tab counted up to COUNT_CAP ("10,000+"): a city's queue must not count its millions
    counts = {name: count_up_to(getattr(queue, name)) for name in QUEUE_TABS}
    context = {"tab": tab, "counts": counts, "next": f"{reverse('web:dispatch_queue')}?tab={tab}"}
    limit = 200
    if tab == "pending":
        tickets = list(queue.pending[:limit])
        for ticket in tickets:  # the classifier's top choices, from the routing snapshot (no query)
            ticket.smart = shown_choices(selectors.classification_view(ticket))
        context["rows"] = tickets
        context["bulk_form"] = BulkDispatchForm(units=actions.unit_choices(user=user))
    elif tab == "requests":
        requests = list(queue.requests[:limit])
        ui = actions.BY_SLUG["decide"]
        context["ui"] = ui
        context["request_rows"] = [
            (r, actions.build_form(ui, r.ticket, user, auto_id=f"id_{r.ticket.number}_%s")) for r in requests
        ]
    elif tab == "review":
        context["ui"] = actions.BY_SLUG["review"]
        context["form_rows"] = _inline_forms("review", list(queue.review[:limit]), user)
    elif tab == "follow_up":
        context["ui"] = actions.BY_SLUG["follow_up"]
        context["form_rows"] = _inline_forms("follow_up", list(queue.follow_up[:limit]), user)
    else:
        context["ui"] = actions.BY_SLUG["urge"]
        context["deadline_rows"] = _rows(queue.breaching[:limit], now)
    return render(request, "web/tickets/dispatch_queue.html", context)


@require_POST
@role_required(DISPATCH_ROLES)
def dispatch_bulk(request):
    """Dispatch the ticked tickets (or the one whose row button was pressed): one service call each."""
    only = request.POST.get("only")
    picked = [only] if only else request.POST.getlist("tickets")
    # A row's button dispatches to the unit suggested beside it: it submits the bulk form, whose
    # unit select may hold another unit picked for the ticked rows.
    unit_choice = BULK_SUGGESTED if only else request.POST.get("unit", BULK_SUGGESTED)
    if not picked:
        messages.error(request, _("Tick at least one ticket."))
        return redirect("web:dispatch_queue")
    chosen = None
    if unit_choice != BULK_SUGGESTED:
        chosen = {str(u.pk): u for u in actions.unit_choices(user=request.user)}.get(unit_choice)
        if chosen is None:
            messages.error(request, _("Choose a handling unit from the list."))
            return redirect("web:dispatch_queue")
    done: dict[int, tuple] = {}  # unit pk → (unit, ticket numbers), in the order first met
    failed = []
    for item in picked[:200]:
        number, _sep, version = item.partition(":")
        try:
            ticket = selectors.ticket_get(user=request.user, number=number)
        except Http404:
            failed.append(_("%(number)s: not found in your jurisdiction.") % {"number": number})
            continue
        if not VERSION_RE.fullmatch(version):  # never dispatched without the stale-page check
            failed.append(
                _("%(number)s: the queue page is out of date; reload the queue and try again.")
                % {"number": ticket.number}
            )
            continue
        unit = chosen or ticket.suggested_unit
        if unit is None:
            failed.append(_("%(number)s: no suggested unit; choose one.") % {"number": ticket.number})
            continue
        ctx = actions.Context(ticket=ticket, user=request.user, version=int(version))
        try:
            actions.versioned(services.ticket_dispatch, ctx, ticket=ticket, unit=unit, actor=request.user)
        except ServiceError as error:
            failed.append(f"{ticket.number}: {error.message}")
        else:
            done.setdefault(unit.pk, (unit, []))[1].append(ticket.number)
    # one line per unit, naming it: "suggested" sends the ticked tickets to several units
    for unit, numbers in done.values():
        messages.success(
            request,
            ngettext(
                "Dispatched %(count)s ticket to %(unit)s: %(numbers)s",
                "Dispatched %(count)s tickets to %(unit)s: %(numbers)s",
                len(numbers),
            )
            % {"count": len(numbers), "unit": unit.name, "numbers": ", ".join(numbers)},
        )
    for message in failed:
        messages.error(request, message)
    return redirect("web:dispatch_queue")


@role_required(HANDLER_ROLES)
def handler_inbox(request):
    now = timezone.now()
    inbox = selectors.handler_inbox(user=request.user)
    tickets = list(inbox[:INBOX_ROWS])
    accept = actions.BY_SLUG["accept"]
    rows = []
    for ticket in tickets:
        form = (
            actions.build_form(accept, ticket, request.user, auto_id=f"id_{ticket.number}_%s")
            if ticket.status == TicketStatus.DISPATCHED
            else None
        )
        rows.append(
            {
                "ticket": ticket,
                "deadline": deadline_of(ticket, now),
                "accept_form": form,
                "sent_back": ticket.sent_back,
                "reopened": ticket.rework_count > 0,
                # a return or extension the unit asked for, not yet decided by the dispatcher
                "awaiting_decision": ticket.awaiting_decision or "",
            }
        )
    return render(
        request,
        "web/tickets/inbox.html",
        {
            "rows": rows,
            "accept_ui": accept,
            "waiting": _awaiting_review(request.user),
            # counted in the database, not among the rows shown: a busy unit has more than INBOX_ROWS
            "total": count_up_to(inbox) if len(tickets) >= INBOX_ROWS else BoundedCount(len(tickets)),
            "shown": len(tickets),
            "overdue_count": count_up_to(inbox.filter(selectors.inbox_overdue(now))),
            "next": reverse("web:handler_inbox"),
        },
    )


def _awaiting_review(user) -> list:
    """The unit's replies not yet reviewed (or being verified on site)."""
    unit = getattr(user, "org_unit", None)
    if unit is None:
        return []
    found = []
    for status in (TicketStatus.REPLIED, TicketStatus.VERIFYING):
        filters = {"status": status, "handling_unit": unit.code, "ordering": "-received_at"}
        found += list(selectors.ticket_list(user=user, filters=filters)[:50])
    return found


@role_required(GRID_ROLES)
def verify_list(request):
    """Tickets in the worker's grids awaiting an on-site check (their scope is their grids)."""
    filters = {"status": TicketStatus.VERIFYING, "ordering": "received_at"}
    tickets = list(selectors.ticket_list(user=request.user, filters=filters)[:200])
    return render(
        request,
        "web/tickets/verify_list.html",
        {
            "ui": actions.BY_SLUG["verify"],
            "form_rows": _inline_forms("verify", tickets, request.user),
            "next": reverse("web:verify_list"),
        },
    )


@role_required(GRID_ROLES)
def patrol_report(request):
    user = request.user
    leaves = category_choices(kinds={TicketKind.INCIDENT}, explicit=True)
    grids = list(geo_selectors.grid_list(user=user).filter(assignments__user=user).distinct())
    if request.method == "POST":
        form = PatrolForm(request.POST, request.FILES, leaves=leaves, grids=grids, user=user)
        if form.is_valid():
            data = form.cleaned_data
            token = read_form_token(data["token"])
            grid = next((g for g in grids if g.code == data["grid"]), None)
            lon, lat = data["lon"], data["lat"]
            if lon is None and grid is not None and not form.text_locates:
                # the grid's own point: the ticket lands in that grid. An address that names a
                # place (``PatrolForm._text_locates``) is sent alone, for the service to locate
                # and check against the worker's grids.
                lon, lat = grid.lon, grid.lat
            if token is None:
                form.add_error(None, _("This form has expired. Check the fields and send it again."))
            elif lon is None and not data["address_text"].strip():
                form.add_error("grid", _("Choose your grid or put a pin on the map."))
            else:
                try:
                    with transaction.atomic():
                        result = services.ticket_submit(
                            channel=Channel.PATROL,
                            external_id=token,
                            kind=TicketKind.INCIDENT,
                            category=data["category"],
                            urgency=data["urgency"],
                            description=data["description"],
                            reporter=user,
                            reporter_name=user.display_name,
                            # a phone stored before the phone rule may not pass it: the report goes without it
                            reporter_phone=normalize_phone(user.phone),
                            address_text=data["address_text"],
                            lon=lon,
                            lat=lat,
                            actor=user,
                        )
                        if result.created:
                            attach(ticket=result.ticket, uploads=data["photos"], user=user)
                except ServiceError as error:
                    apply_service_error(form, error)
                else:
                    messages.success(
                        request, _reported(result.ticket, chosen=grid, grids=grids, pinned=form.pin_grid)
                    )
                    return redirect("web:ticket_detail", number=result.ticket.number)
    else:
        form = PatrolForm(
            leaves=leaves, grids=grids, initial={"grid": grids[0].code if len(grids) == 1 else ""}
        )
    posted = form.data.get("token") if form.is_bound else None
    return render(
        request,
        "web/tickets/patrol_report.html",
        {
            "form": form,
            "token": posted if posted and read_form_token(posted) else new_form_token(),
            "grids_geojson": geo_selectors.feature_collection(grids, kind="grid"),
            "files_lost": form.is_bound and bool(request.FILES),
        },
    )


def _reported(ticket, *, chosen, grids, pinned) -> str:
    """The success message; it names the grid when the pin (``PatrolForm._check_pin``) or the
    address (``PatrolForm._text_locates``) put the ticket in another of the worker's grids than
    the one chosen."""
    filed = next((g for g in grids if g.pk == ticket.grid_id), None)
    if chosen is not None and filed is not None and filed.pk != chosen.pk:
        names = {"number": ticket.number, "grid": filed.name, "chosen": chosen.name}
        if pinned is not None:
            return (
                _("Incident %(number)s reported in %(grid)s, where the pin is (you had chosen %(chosen)s).")
                % names
            )
        return (
            _("Incident %(number)s reported in %(grid)s, where the address is (you had chosen %(chosen)s).")
            % names
        )
    return _("Incident %(number)s reported.") % {"number": ticket.number}


@role_required(TICKET_READER_ROLES)
def ticket_list(request):
    """The tickets in the viewer's scope, filtered. A filter the list cannot read (a typo, an
    unknown code, ``overdue=maybe``) shows its error and lists nothing: never the whole list
    under a figure's link that asked for part of it. The line above the list then still names
    every other filter set (``held_filters``) beside the refused ones (``refused_filters``), and
    says that nothing is listed until those are corrected."""
    form = TicketFilterForm(request.GET or None, status_choices=TicketStatus.choices)
    now = timezone.now()
    tickets = Ticket.objects.none()
    events = None
    if not form.is_bound or form.is_valid():
        filters = form.filters() if form.is_bound else {}
        try:
            tickets = selectors.ticket_list(user=request.user, filters=filters)
            events = selectors.ticket_list_event_rows(user=request.user, filters=filters, tickets=tickets)
        except ServiceError as error:
            apply_service_error(form, error)
    # whether the filters named on the page all passed the list's checks (a unit is named only then)
    checked = not form.errors
    if form.is_bound and form.errors:
        tickets, events = Ticket.objects.none(), None  # a refused filter lists nothing, as said
        checked = _refuse_other_filters(request.user, form)
    # counted up to COUNT_CAP, and paged through that many: the pages past it would cost an
    # OFFSET over every row before them; the page says so and asks for a narrower filter
    paginator = CappedPaginator(tickets, LIST_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    # a figure counts events, the list tickets: under an event filter it says both (one more
    # count, bounded as the list's)
    summary = ""
    if events is not None and not form.errors:
        summary = tickets_and_events(paginator.bounded_count, filters["event"], count_up_to(events))
    asked = request.GET.get("page", "")
    query = request.GET.copy()
    query.pop("page", None)
    names = _place_names(request.user, form, name_units=checked) if form.is_bound else {}
    return render(
        request,
        "web/tickets/ticket_list.html",
        {
            "form": form,
            "page": page,
            "rows": _rows(page.object_list, now),
            "tickets_and_events": summary,
            "query": query.urlencode(),
            "active_filters": form.active_filters(names) if form.is_bound else [],
            # a filter refused: the list shows nothing; the line names the other filters set
            # (what the list applies once it is corrected) and the refused ones with their errors
            "held_filters": form.held_filters(names) if form.is_bound else [],
            "refused_filters": form.refused_filters(),
            # a page past the last one the list shows (a bookmark, an edited link): said, not silent
            "past_cap": not paginator.count_exact and asked.isdigit() and int(asked) > paginator.num_pages,
        },
    )


#: The list's place filters whose code names a place: the selector that finds it, the name to show.
PLACE_LOOKUPS = {
    "division": (geo_selectors.division_get, "name"),
    "grid": (geo_selectors.grid_get, "name"),
    "address": (geo_selectors.address_get, "full_name"),
}


def _refuse_other_filters(user, form: TicketFilterForm) -> bool:
    """With a filter refused the list shows nothing, but the other filters are still checked
    the way the list checks them (``selectors.ticket_list``, which raises on the first one it
    cannot read and reads no row), each refused one marked and left out in turn: the page marks
    every wrong filter at once and names as set only those the list takes. Returns whether the
    filters left all passed (not when the list refused something no filter of the form holds)."""
    filters = form.filters()  # the clean values only: a refused field is not in cleaned_data
    while True:
        try:
            selectors.ticket_list(user=user, filters=filters)
        except ServiceError as error:
            refused = {item.field for item in error.fields} & filters.keys()
            apply_service_error(form, error)
            if not refused:  # nothing left out, so nothing to try again without
                return False
            for name in refused:
                filters.pop(name)
        else:
            return True


def _place_names(user, form: TicketFilterForm, *, name_units: bool = True) -> dict[str, str]:
    """The names of the places, the category and the units the clean filters name by code (one
    query each; both units in one), so that the line saying what the list shows (or, beside a
    refused filter, what it will show) reads "南山区 (440305000000)"; a place outside the
    viewer's scope keeps its bare code. ``name_units``: whether the list checked the units (else
    they keep their codes)."""
    if not form.is_bound:
        return {}
    names = {}
    # A unit the viewer may not know of never gets here: the list refused it
    # (tickets.unit_unknown, as for a code no unit has), so its field has an error and is not in
    # ``cleaned_data``; ``name_units`` is false when the list could not check every filter. Every
    # unit named below is one the viewer's own pages already name.
    units = {name: form.cleaned_data.get(name) for name in form.UNIT_FIELDS} if name_units else {}
    unit_names = selectors.unit_names(units.values())
    for name, code in units.items():
        if code in unit_names:
            names[name] = unit_names[code]
    category = form.cleaned_data.get("category")
    if category:
        # an unknown code gets no name: the list refuses it (tickets.category_unknown)
        name = selectors.category_name(category)
        if name:
            names["category"] = name
    for name, (lookup, attribute) in PLACE_LOOKUPS.items():
        code = form.cleaned_data.get(name)
        if code:
            try:
                names[name] = getattr(lookup(user=user, code=code), attribute)
            except Http404:
                continue
    return names
