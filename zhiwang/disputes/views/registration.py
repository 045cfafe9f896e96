"""Registering a dispute case: from a visit, from a ticket (转调解) or directly."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import selectors, services
from zhiwang.disputes.models import (
    CaseScale,
    CaseSource,
    CaseStatus,
    MediationType,
    PartyKind,
    PartyRole,
    RiskColour,
)
from zhiwang.disputes.views.common import dispute_staff, form_errors, form_token, refuse
from zhiwang.disputes.workflow import (
    may_assign_own_registration,
    may_open_case,
    may_register_cases,
    mediation_organisation_of,
    role_of,
)
from zhiwang.geo.models import Division

# --- registering a case --------------------------------------------------------------------

#: Where a case registered directly (not from a visit, not from a ticket) may come from, the
#: default first. Registered by its own staff — a mediator, a dispatcher — a case nobody referred is
#: one they found themselves: proactive screening (DOMAIN.md: proactive, on application, on
#: referral). "Found by a grid worker" is for what a grid worker found, not a default: chosen by
#: default it counted the mediators' own cases as grid findings. A party who applied to the
#: mediator directly (not at the window) is "application by a party"; a referral is chosen
#: explicitly; an application at the window comes through a visit, a 12345 call through its ticket.
DIRECT_SOURCES = (
    CaseSource.PROACTIVE,
    CaseSource.APPLICATION,
    CaseSource.GRID,
    CaseSource.PETITION,
    CaseSource.COURT,
    CaseSource.POLICE,
)


def _direct_sources(user) -> list[str]:
    """The sources the form offers ``user`` for a case registered directly, the default first.

    An intake operator registers what came to them where they work: at a service centre's window
    an application at the window, on the 12345 hotline a call (``HOTLINE``; "from a ticket" is a
    ticket transferred, which this form does not make). Defaulting them
    to proactive screening counted the hotline's calls as cases the staff found themselves.
    Everybody else starts from ``DIRECT_SOURCES``.
    """
    if role_of(user) != "intake_operator":
        return list(DIRECT_SOURCES)
    own = CaseSource.WINDOW if selectors.centres_for(user=user).exists() else CaseSource.HOTLINE
    return [own, *DIRECT_SOURCES]


#: The party blocks of the form: the applicant and the respondent at first, up to four with
#: "Add a party" (third parties).
PARTY_ROLES = (PartyRole.APPLICANT, PartyRole.RESPONDENT, PartyRole.THIRD_PARTY, PartyRole.THIRD_PARTY)
PARTIES_SHOWN = 2


def _parties_from(post, visit=None) -> list[dict]:
    parties = []
    for index in range(len(PARTY_ROLES)):
        prefix = f"party{index}_"
        parties.append(
            {
                "role": post.get(prefix + "role", ""),
                "kind": post.get(prefix + "kind", PartyKind.PERSON),
                "name": post.get(prefix + "name", ""),
                "identifier": post.get(prefix + "identifier", ""),
                "phone": post.get(prefix + "phone", ""),
                "address": post.get(prefix + "address", ""),
                "person_id": post.get(prefix + "person", ""),
                "entity_id": post.get(prefix + "entity", ""),
            }
        )
    if visit is not None and post.get("party0_visitor") != "1":
        # "The visitor" unticked in a browser without script: the first block still holds the
        # visitor's masked values it was filled with. They are nobody's; the block counts as empty.
        shown = _visitor_shown(visit)
        for field, masked in shown.items():
            if masked and parties[0][field] == masked:
                parties[0][field] = ""
    return parties


def _visitor_shown(visit) -> dict:
    """The visitor's name, ID number and phone as the form shows them: masked (the plain values
    stay on the server and go into the case when "the visitor" is ticked)."""
    return {
        "name": visit.masked_visitor_name,
        "identifier": visit.visitor.masked_id_number or "",
        "phone": visit.masked_visitor_phone,
    }


def _visitor_party(visit, typed: dict) -> dict:
    """The first party is the visitor registered at the window: their name and phone as given at
    this visit (not as another visit changed them since) and ID number (typed values only fill
    what the window did not record). A registry pick sent with it is ignored: it would put another
    person's name and ID number beside the visitor's phone (the record is matched on save by the
    visitor's own ID number instead)."""
    visitor = visit.visitor
    return {
        **typed,
        "person_id": "",
        "entity_id": "",
        "kind": PartyKind.PERSON,
        "name": visit.visitor_name or visitor.name,
        "identifier": visitor.id_number or typed.get("identifier", ""),
        "phone": visit.visitor_phone or typed.get("phone", ""),
    }


def _parties_shown(values) -> int:
    """How many party blocks the form shows: two at first, more after "Add a party", and always
    every block that holds something (a form back with errors keeps them all)."""
    try:
        shown = int(values.get("party_count", PARTIES_SHOWN)) if values else PARTIES_SHOWN
    except (TypeError, ValueError):
        shown = PARTIES_SHOWN
    for index in range(len(PARTY_ROLES)):
        prefix = f"party{index}_"
        if values and any(
            values.get(prefix + k) for k in ("name", "identifier", "phone", "person", "entity")
        ):
            shown = max(shown, index + 1)
    return min(max(shown, PARTIES_SHOWN), len(PARTY_ROLES))


def _party_rows(values, errors, visitor_first: bool = False, user=None, visit=None, shown=None) -> list[dict]:
    rows = []
    kept = 0  # validate_parties numbers only the non-empty rows
    shown = shown or _parties_shown(values)
    for index, role in enumerate(PARTY_ROLES[:shown]):
        prefix = f"party{index}_"
        row = {
            "index": index,
            "role": values.get(prefix + "role", role) if values else role,
            "kind": values.get(prefix + "kind", PartyKind.PERSON) if values else PartyKind.PERSON,
            "name": values.get(prefix + "name", "") if values else "",
            "identifier": values.get(prefix + "identifier", "") if values else "",
            "phone": values.get(prefix + "phone", "") if values else "",
            "address": values.get(prefix + "address", "") if values else "",
            "picked": bool(values.get(prefix + "person") or values.get(prefix + "entity"))
            if values
            else False,
            # each message under its own input (keyed by field); role and kind come from menus, a
            # message about a pick is keyed to the name, where the pick's result shows
            "errors": {},
            # the fields filled from the visit (shown masked, read-only while "the visitor" is ticked)
            "from_visitor": {},
        }
        if index == 0 and visit is not None:
            shown_values = _visitor_shown(visit)
            # what the window recorded fills the block (masked); what it did not stays typed
            row["from_visitor"] = {k: v for k, v in shown_values.items() if v}
            if visitor_first:
                row.update(row["from_visitor"], kind=PartyKind.PERSON)
        if row["picked"] and user is not None:
            # Kept across a form that comes back with errors: the record, shown masked, stays chosen.
            kind = "entity" if row["kind"] == PartyKind.ENTITY else "person"
            record = selectors.registry_picked(user=user, kind=kind, pk=values.get(f"{prefix}{kind}"))
            row.update(picked_list=[record] if record else [], picked_kind=kind, pick_field=f"{prefix}{kind}")
        if any(row[k] for k in ("name", "identifier", "phone", "picked")) or (index == 0 and visitor_first):
            for field in ("role", "kind", "name", "identifier", "phone", "address"):
                if f"parties.{kept}.{field}" in errors:
                    row["errors"][field] = errors[f"parties.{kept}.{field}"]
            kept += 1
        rows.append(row)
    return rows


@dispute_staff
def case_new(request):
    """Register a case: from a visit (``?visit=``), from a ticket (``?ticket=``, 转调解) or directly.

    Never from both at once: the visitor's personal data goes only into a case opened from
    their visit, by somebody who may open one from it (the centre's window, a mediator serving
    the place).
    """
    user = request.user
    if not may_register_cases(user):
        # Refused before the form is shown, not after it was filled in (the service refuses too).
        return refuse(request, _("You may not register dispute cases."))
    visit_number = request.GET.get("visit", "").strip()
    ticket_number = request.GET.get("ticket", "").strip()
    if visit_number and ticket_number:
        return _refused(
            request, _("A case is opened either from a visit or from a ticket, not from both at once."), 400
        )
    visit = selectors.visit_get(user=user, number=visit_number) if visit_number else None
    if visit is not None and not may_open_case(user, visit):
        return _refused(request, _("You may not open a dispute case from this visit."), 403)
    errors, values, new_token = {}, {}, False
    sources = _direct_sources(user)
    # Only for somebody the case will be theirs to assign: for the others (the 12345 hotline; a
    # mediator whose organisation does not serve the visit's or the ticket's place) the box is not
    # shown, and an "assign" sent anyway is ignored (the case waits for a dispatcher).
    if visit is not None:
        place = visit.centre.division
    elif ticket_number:
        place = selectors.ticket_place_for(user=user, number=ticket_number)
    else:
        place = None  # chosen on the form: see _not_assigned
    may_assign = may_assign_own_registration(user, visit=visit, division=place)
    organisation = mediation_organisation_of(user) if may_assign and role_of(user) == "mediator" else None
    if visit is not None and request.method == "GET":
        # The visitor's name, ID number and phone stay on the server (never in the page in
        # plain): the first party is "the visitor" unless the user types another person.
        values = {"facts": visit.matter, "party0_visitor": "1"}
    shown = None
    if request.method == "POST" and "add_party" in request.POST:
        # "Add a party" (a submit button: no script needed): the same form back with one more
        # block, nothing registered, the one-time token kept.
        values = request.POST
        shown = min(_parties_shown(values) + 1, len(PARTY_ROLES))
    elif request.method == "POST":
        values = request.POST
        parties = _parties_from(request.POST, visit)
        if visit is not None and request.POST.get("party0_visitor") == "1":
            parties[0] = _visitor_party(visit, parties[0])
        common = {
            "category": request.POST.get("category", ""),
            "parties": parties,
            "risk": request.POST.get("risk", RiskColour.BLUE),
            "amount": request.POST.get("amount", ""),
            "people_involved": request.POST.get("people_involved", ""),
            "scale": request.POST.get("scale", CaseScale.INDIVIDUAL),
            "mediation_type": request.POST.get("mediation_type", MediationType.PEOPLES),
            "idempotency_key": request.POST.get("token", ""),
        }
        try:
            if ticket_number:
                result = services.case_from_ticket(actor=user, ticket_number=ticket_number, **common)
            else:
                division = Division.objects.filter(code=request.POST.get("division", "")).first()
                result = services.case_register(
                    actor=user,
                    title=request.POST.get("title", ""),
                    facts=request.POST.get("facts", ""),
                    division=division,
                    source=CaseSource.WINDOW if visit else request.POST.get("source") or sources[0],
                    visit=visit,
                    **common,
                )
            case = result.case
        except ServiceError as error:
            errors, new_token = form_errors(error)
        else:
            if not result.created and not selectors.case_visible(user).filter(pk=case.pk).exists():
                # The form sent again (same token) after the case left the user's scope: it is
                # not theirs to see any more, like a case that does not exist.
                raise Http404(case.number)
            messages.success(request, _("Dispute case %(number)s registered.") % {"number": case.number})
            if may_assign and request.POST.get("assign") == "auto" and case.status == CaseStatus.RECEIVED:
                # The case is registered whatever happens here: a failed assignment is a warning on
                # the case page, not a form error (resubmitting would only find the same case again).
                if organisation is not None and case.organisation_id != organisation.pk:
                    messages.warning(request, _not_assigned(organisation, case))
                else:
                    try:
                        services.case_assign(case=case, actor=user, organisation=organisation)
                    except ServiceError as error:
                        messages.warning(request, error.message)
            if not selectors.case_visible(user).filter(pk=case.pk).exists():
                return redirect("disputes:home")  # handed over: no longer in the user's scope
            return redirect("disputes:case_detail", number=case.number)
    visitor_first = visit is not None and values.get("party0_visitor") == "1"
    parties = _party_rows(values, errors, visitor_first, user=user, visit=visit, shown=shown)
    return render(
        request,
        "disputes/case_form.html",
        {
            "visit": visit,
            "ticket_number": ticket_number,
            "errors": errors,
            "values": values,
            "parties": parties,
            "more_parties": len(parties) < len(PARTY_ROLES),
            "visitor_first": visitor_first,
            "token": request.POST.get("token") if (errors and not new_token) or shown else form_token(),
            "categories": selectors.category_choices(),
            "risks": RiskColour.choices,
            "scales": CaseScale.choices,
            "types": MediationType.choices,
            "sources": [(source, source.label) for source in sources],
            # the role's default marked as chosen at first; a form back keeps the one sent
            "source_selected": (values.get("source") if values else "") or sources[0],
            # likewise the mediation type and the scale: the service's defaults at first
            "type_selected": _chosen(values, "mediation_type", MediationType.values, MediationType.PEOPLES),
            "scale_selected": _chosen(values, "scale", CaseScale.values, CaseScale.INDIVIDUAL),
            "may_assign": may_assign,
            # a mediator's box says where it assigns (the place is chosen on the same form)
            "assign_organisation": organisation if place is None else None,
            # ticked at first; a form back with errors (or one more party block) keeps the choice
            "assign_checked": request.method != "POST" or request.POST.get("assign") == "auto",
            "limits": {"title": services.TITLE_LIMIT, **services.PARTY_LIMITS},
            "roles": PartyRole.choices,
            "kinds": PartyKind.choices,
            "divisions": _division_choices(user),
            "may_pick": selectors.may_use_registry(user),
        },
        status=400 if errors else 200,
    )


def _chosen(values, name: str, allowed, default: str) -> str:
    """The option of menu ``name`` to mark chosen: the one sent (a form back with errors keeps
    it), else ``default`` (what the service takes when none is sent)."""
    sent = values.get(name, "") if values else ""
    return sent if sent in allowed else default


def _not_assigned(organisation, case) -> str:
    """Why a mediator's case was registered but not assigned at once: their organisation does not
    serve the place chosen on the form, so the case is left for a dispatcher of the place."""
    return _(
        "Not assigned: %(org)s does not serve %(place)s. The case waits for a dispatcher of %(place)s "
        "to assign it."
    ) % {"org": organisation.name, "place": case.division.name}


def _refused(request, message: str, status: int):
    return render(request, "disputes/case_form_refused.html", {"message": message}, status=status)


def _division_choices(user):
    return (
        Division.objects.visible_to(user)
        .filter(level__in=("district", "subdistrict", "community"))
        .order_by("code")[:400]
    )
