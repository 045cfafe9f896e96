"""One ticket for staff: every field, the place, the clock, the timeline, and exactly the actions
the user may take. Actions post to one URL each; errors come back on the same page."""

from __future__ import annotations

import mimetypes
import re

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import Conflict, NotFound, PermissionDeniedError, ServiceError
from zhiwang.geo.selectors import feature_collection
from zhiwang.tickets import selectors
from zhiwang.tickets.models import RequestStatus
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TRANSFERABLE, TicketAction
from zhiwang.web.tickets import actions
from zhiwang.web.tickets.access import TICKET_READER_ROLES, role_of, role_required
from zhiwang.web.tickets.forms import apply_service_error
from zhiwang.web.tickets.presenters import (
    classification_panel,
    deadline_of,
    masked_name,
    masked_phone,
    timeline_rows,
)


def _attachments(ticket):
    """The files of a ticket already checked by ``selectors.ticket_get`` (no selector for them yet)."""
    return list(ticket.attachments.order_by("uploaded_at", "pk"))


def _media_url(ticket) -> str:
    """The ``media_url`` (a photo, a video) a citizen's app posted with an Open311 request, shown
    to staff as a link that their browser opens: the server never fetches it, and only an
    http(s) URL is shown (the API checks that too). Read through the ticket's one-to-one
    ``open311`` submission, which ``zhiwang.web`` may not import (sibling floors)."""
    try:
        url = (ticket.open311.media_url or "").strip()
    except ObjectDoesNotExist:
        return ""
    return url if url.lower().startswith(("https://", "http://")) else ""


def _pending(requests):
    return next((r for r in requests if r.status == RequestStatus.PENDING), None)


#: Who may open the place page of a ticket's address (the registry's readers).
PLACE_ROLES = frozenset(
    {"grid_worker", "data_steward", "leader", "administrator", "dispatcher", "intake_operator"}
)
#: Who may turn an open ticket into a dispute case (转调解).
MEDIATION_ROLES = frozenset({"intake_operator", "dispatcher", "mediator", "administrator"})


def _place(user, ticket):
    """The registry's figures for the ticket's building, for those who may open the place page."""
    from zhiwang.core.errors import NotFound
    from zhiwang.registry import selectors as registry

    if ticket.address_id is None or role_of(user) not in PLACE_ROLES:
        return None
    try:
        address = registry.address_get(user=user, code=ticket.address.code)
    except NotFound:
        return None
    building = registry.building_of(address)
    view = registry.building_view(user=user, building=building)
    return {
        "url": reverse("web:place_detail", args=[building.code]),
        "building": building,
        "people": view.people,
        "migrants": view.migrants,
        "rentals": view.rentals,
        "entities": view.entities,
    }


def _render(request, ticket, *, failed=None, failed_form=None, conflict=None, revealed=None, status=200):
    user = request.user
    requests = list(selectors.ticket_requests(ticket=ticket))
    pending = _pending(requests)
    shown = actions.available(ticket, user, pending=pending)
    panels = []
    for ui in shown:
        form = failed_form if failed is not None and ui.slug == failed.slug else None
        panels.append(
            {"ui": ui, "form": form or actions.build_form(ui, ticket, user), "open": form is not None}
        )
    allowed = set(TICKET_WORKFLOW.allowed_actions(ticket.status, actor=user, obj=ticket))
    events = list(selectors.ticket_timeline(user=user, ticket=ticket))
    point = [{"name": ticket.number, "lon": ticket.lon, "lat": ticket.lat}] if ticket.lon is not None else []
    context = {
        "ticket": ticket,
        "phone": masked_phone(ticket),
        "reporter_name": masked_name(ticket),  # the full name only on the logged reveal
        "deadline": deadline_of(ticket),
        "timeline": timeline_rows(events, channel=ticket.channel),
        "requests": requests,
        "duplicates": list(selectors.merged_duplicates(user=user, ticket=ticket)),
        "attachments": _attachments(ticket),
        "media_url": _media_url(ticket),
        "pending": pending,
        "panels": panels,
        "review_verifies": TicketAction.SEND_TO_VERIFY in allowed,
        "merge_candidates": selectors.duplicate_candidates(user=user, ticket=ticket)
        if any(p["ui"].slug == "merge" for p in panels)
        else [],
        "conflict": conflict,
        "revealed": revealed,
        "map_points": point,
        # Why: the classifier's top choices with confidences, beside the routing rule's explanation,
        # and what then happened (dispatched automatically, by a dispatcher, or queued and why).
        "classification": classification_panel(
            selectors.classification_view(ticket), ticket=ticket, events=events
        ),
        "place": _place(user, ticket),
        "mediation_url": f"{reverse('disputes:case_new')}?ticket={ticket.number}"
        if role_of(user) in MEDIATION_ROLES and ticket.status in TRANSFERABLE
        else None,
        "map_outline": feature_collection([ticket.grid], kind="grid") if ticket.grid_id else None,
    }
    return render(request, "web/tickets/detail.html", context, status=status)


@role_required(TICKET_READER_ROLES)
def ticket_detail(request, number):
    ticket = selectors.ticket_get(user=request.user, number=number)
    return _render(request, ticket)


def _next_url(request, ticket):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("web:ticket_detail", args=[ticket.number])


#: Actions that write nothing on the ticket: the version the page showed does not matter.
UNVERSIONED = frozenset({"reveal_contact"})


def _stale(ui, ticket, posted: str) -> str:
    """The conflict message when the page posted a version the ticket has left, else ``""``."""
    if ui.slug in UNVERSIONED or not re.fullmatch(r"[0-9]{1,9}", posted) or int(posted) == ticket.version:
        return ""
    return _(
        "Ticket %(number)s was changed by somebody else a moment ago (it is now “%(status)s”, "
        "version %(version)s). Reload it and try again."
    ) % {"number": ticket.number, "status": ticket.get_status_display(), "version": ticket.version}


def inline_form_id(ui, ticket) -> str:
    """The id of a list row's small form (``_action_form.html`` with ``compact``)."""
    return f"inline-{ui.slug}-{ticket.number}"


def _posted_inline(request, ui, ticket) -> bool:
    """An htmx post of a list row's small form (the queue, the inbox, the verification list):
    htmx names the form that sent it in ``HX-Trigger``. A plain post never is."""
    return request.headers.get("HX-Request") == "true" and request.headers.get(
        "HX-Trigger"
    ) == inline_form_id(ui, ticket)


def _render_inline(request, ui, ticket, form):
    """The row's form alone, with its errors next to the fields, swapped in place of the form that
    was sent (``HX-Retarget``/``HX-Reswap``): the list stays, and so does its URL."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = ""
    context = {"ticket": ticket, "ui": ui, "form": form, "compact": True, "next": target}
    response = render(request, "web/tickets/_action_form.html", context)
    response["HX-Retarget"] = f"#{inline_form_id(ui, ticket)}"
    response["HX-Reswap"] = "outerHTML"
    return response


@require_POST
@role_required(TICKET_READER_ROLES)
def ticket_act(request, number, slug):
    """Run one action: success → back (303) with a message; refusal → the page with the error.

    A list row's small form posted by htmx gets only itself back when its fields are refused
    (``_render_inline``); conflicts and refusals of the action itself still show the ticket page.
    """
    user = request.user
    ticket = selectors.ticket_get(user=user, number=number)
    ui = actions.BY_SLUG.get(slug)
    if ui is None:
        raise Http404(slug)
    pending = _pending(selectors.ticket_requests(ticket=ticket))
    inline = _posted_inline(request, ui, ticket)
    # a row's form names its fields after the ticket (``views.work._inline_forms``): the same here
    auto_id = f"id_{ticket.number}_%s" if inline else "id_%s"
    form = actions.build_form(ui, ticket, user, data=request.POST, files=request.FILES, auto_id=auto_id)
    conflict = _stale(ui, ticket, request.POST.get(f"{ui.slug}-expected_version", ""))
    if conflict:  # before "you may not": the action may be gone only because the ticket moved on
        return _render(request, ticket, conflict=conflict, status=409)
    if ui not in actions.available(ticket, user, pending=pending):
        label = str(ui.label)
        refusal = _("You may not do “%(action)s” on this ticket now (its state: %(state)s).") % {
            "action": label,
            "state": ticket.get_status_display(),
        }
        messages.error(request, refusal)
        return _render(request, ticket, status=403)
    if not form.is_valid():
        if inline:
            return _render_inline(request, ui, ticket, form)
        return _render(request, ticket, failed=ui, failed_form=form)
    try:
        message = actions.run(ui, ticket, user, form, pending=pending)
        if ui.slug == "reveal_contact":  # shown once on this answer, never stored in a page or message
            return _render(request, ticket, revealed=message)
    except Conflict as error:
        ticket = selectors.ticket_get(user=user, number=number)
        return _render(request, ticket, conflict=error.message, status=409)
    except (PermissionDeniedError, NotFound) as error:
        messages.error(request, error.message)
        ticket = selectors.ticket_get(user=user, number=number)
        return _render(request, ticket, status=error.status)
    except ServiceError as error:
        apply_service_error(form, error)
        ticket = selectors.ticket_get(user=user, number=number)
        if inline:
            return _render_inline(request, ui, ticket, form)
        return _render(request, ticket, failed=ui, failed_form=form)
    messages.success(request, f"{ticket.number}: {message}")
    target = _next_url(request, ticket)
    if target == reverse("web:ticket_detail", args=[ticket.number]):
        try:
            selectors.ticket_get(user=user, number=ticket.number)
        except Http404:  # the action moved it out of sight (e.g. merged away from a grid worker)
            target = reverse("web:home")
    response = redirect(target)
    response.status_code = 303  # see other: the browser GETs the page it came from
    return response


@role_required(TICKET_READER_ROLES)
def attachment(request, number, pk):
    """A ticket's file, for those who may see the ticket (never a public media URL)."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    item = next((a for a in _attachments(ticket) if a.pk == pk), None)
    if item is None:
        raise Http404(pk)
    content_type = item.content_type or mimetypes.guess_type(item.name)[0] or "application/octet-stream"
    inline = content_type.startswith("image/")  # documents download: a PDF never runs in our origin
    response = FileResponse(
        item.file.open("rb"), content_type=content_type, as_attachment=not inline, filename=item.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
