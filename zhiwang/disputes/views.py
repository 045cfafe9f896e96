"""Web pages of the disputes app (thin: parse, call a selector or service, render).

Pages: the hub (``home``), the window (registration form and the function areas'
queues), the case form (from a visit, a ticket, or directly), the mediator's workbench,
a case with its timeline and every action, the ledger (台账) with its Excel export, and
the agreement as PDF or Word.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import documents, selectors, services
from zhiwang.disputes.models import (
    AgreementForm,
    CaseOutcome,
    CaseScale,
    CaseSource,
    CaseStatus,
    MediationOrganisation,
    MediationType,
    PartyKind,
    PartyRole,
    PerformanceStatus,
    ReferralKind,
    RiskColour,
)
from zhiwang.disputes.workflow import CASE_WORKFLOW, CaseAction, may_see_parties, role_of
from zhiwang.geo.models import Division

DISPUTE_ROLES = frozenset({"intake_operator", "mediator", "dispatcher", "leader", "administrator"})
#: The most rows one Excel export holds (a ledger is filtered by division or period before that).
EXPORT_LIMIT = 5000


def dispute_staff(view):
    """Signed-in staff of the roles that work disputes; anybody else gets 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if role_of(request.user) not in DISPUTE_ROLES:
            return render(request, "disputes/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _errors(error: ServiceError) -> dict:
    found = {f.field: f.message for f in error.fields}
    found["message"] = error.message
    return found


def _token() -> str:
    return uuid.uuid4().hex


@dispute_staff
def home(request):
    user = request.user
    role = role_of(user)
    context = {
        "role": role,
        "alerts": selectors.alerts_for(user=user)[:20],
        "centres": selectors.centres_for(user=user),
    }
    if role in ("dispatcher", "leader", "administrator"):
        context["indicators"] = selectors.dispute_indicators(user=user)
    return render(request, "disputes/home.html", context)


@require_POST
@dispute_staff
def alerts_read(request):
    services.alerts_mark_read(user=request.user)
    return redirect(request.POST.get("next") or "disputes:home")


# --- the window ----------------------------------------------------------------------


def _centre(request):
    centres = selectors.centres_for(user=request.user)
    wanted = request.GET.get("centre") or request.POST.get("centre")
    centre = centres.filter(pk=wanted).first() if wanted and str(wanted).isdigit() else centres.first()
    return centres, centre


@dispute_staff
def window(request):
    """Register a visitor and route the matter to a function area; the areas' queues below."""
    centres, centre = _centre(request)
    errors, values = {}, {}
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
            errors = _errors(error)
        else:
            visit = result.visit
            messages.success(
                request,
                _("Visit %(number)s registered and queued at %(area)s.")
                % {"number": visit.number, "area": visit.area.name},
            )
            return redirect(f"{request.path}?centre={centre.pk}")
    queues = selectors.area_queues(user=request.user, centre=centre) if centre is not None else []
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
            "token": request.POST.get("token") if errors else _token(),
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
    ``prefix`` (``party0_``…) and its kind select, which decides person or entity.
    """
    prefix = request.GET.get("prefix", "")
    if prefix:
        kind = "entity" if request.GET.get(prefix + "kind") == PartyKind.ENTITY else "person"
        field = f"{prefix}{kind}"
    else:
        kind, field = "person", "visitor_person"
    if not PICK_FIELD.match(field):
        raise Http404(field)
    q = request.GET.get("q") or request.GET.get(prefix + "q") or request.GET.get("pick_q") or ""
    return render(
        request,
        "disputes/_registry_pick.html",
        {
            "results": selectors.registry_candidates(user=request.user, kind=kind, q=q),
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
        elif action == "route":
            services.visit_route(visit=visit, actor=request.user, area_code=request.POST.get("area", ""))
        elif action == "complete":
            services.visit_complete(visit=visit, actor=request.user, note=request.POST.get("note", ""))
        else:
            raise Http404(action)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect(f"{_url('disputes:window')}?centre={visit.centre_id}")


def _url(name, *args):
    from django.urls import reverse

    return reverse(name, args=args)


# --- registering a case --------------------------------------------------------------------


def _parties_from(post) -> list[dict]:
    parties = []
    for index in range(4):
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
    return parties


def _visitor_party(visit, typed: dict) -> dict:
    """The first party is the visitor registered at the window: their name, ID number and phone
    (typed values only fill what the window did not record)."""
    visitor = visit.visitor
    return {
        **typed,
        "kind": PartyKind.PERSON,
        "name": visitor.name,
        "identifier": visitor.id_number or typed.get("identifier", ""),
        "phone": visitor.phone or typed.get("phone", ""),
    }


def _party_rows(values, errors, visitor_first: bool = False, user=None) -> list[dict]:
    defaults = [PartyRole.APPLICANT, PartyRole.RESPONDENT, PartyRole.THIRD_PARTY, PartyRole.THIRD_PARTY]
    rows = []
    kept = 0  # validate_parties numbers only the non-empty rows
    for index, role in enumerate(defaults):
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
            "errors": [],
        }
        if row["picked"] and user is not None:
            # Kept across a form that comes back with errors: the record, shown masked, stays chosen.
            kind = "entity" if row["kind"] == PartyKind.ENTITY else "person"
            record = selectors.registry_picked(user=user, kind=kind, pk=values.get(f"{prefix}{kind}"))
            row.update(picked_list=[record] if record else [], picked_kind=kind, pick_field=f"{prefix}{kind}")
        if any(row[k] for k in ("name", "identifier", "phone", "picked")) or (index == 0 and visitor_first):
            for field in ("role", "kind", "name", "identifier", "phone"):
                if f"parties.{kept}.{field}" in errors:
                    row["errors"].append(errors[f"parties.{kept}.{field}"])
            kept += 1
        rows.append(row)
    return rows


@dispute_staff
def case_new(request):
    """Register a case: from a visit (``?visit=``), from a ticket (``?ticket=``, 转调解) or directly."""
    user = request.user
    visit = selectors.visit_get(user=user, number=request.GET["visit"]) if request.GET.get("visit") else None
    ticket_number = request.GET.get("ticket", "").strip()
    errors, values = {}, {}
    if visit is not None and request.method == "GET":
        # The visitor's name, ID number and phone stay on the server (never in the page in
        # plain): the first party is "the visitor" unless the user types another person.
        values = {"facts": visit.matter, "party0_visitor": "1"}
    if request.method == "POST":
        values = request.POST
        parties = _parties_from(request.POST)
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
                    source=request.POST.get("source")
                    or (CaseSource.WINDOW if visit else CaseSource.PROACTIVE),
                    visit=visit,
                    **common,
                )
            case = result.case
        except ServiceError as error:
            errors = _errors(error)
        else:
            messages.success(request, _("Dispute case %(number)s registered.") % {"number": case.number})
            if request.POST.get("assign") == "auto" and case.status == CaseStatus.RECEIVED:
                # The case is registered whatever happens here: a failed assignment is a warning on
                # the case page, not a form error (resubmitting would only find the same case again).
                try:
                    services.case_assign(
                        case=case,
                        actor=user,
                        organisation=case.organisation if role_of(user) == "mediator" else None,
                    )
                except ServiceError as error:
                    messages.warning(request, error.message)
            if not selectors.case_visible(user).filter(pk=case.pk).exists():
                return redirect("disputes:home")  # handed over: no longer in the user's scope
            return redirect("disputes:case_detail", number=case.number)
    visitor_first = visit is not None and values.get("party0_visitor") == "1"
    return render(
        request,
        "disputes/case_form.html",
        {
            "visit": visit,
            "ticket_number": ticket_number,
            "errors": errors,
            "values": values,
            "parties": _party_rows(values, errors, visitor_first, user=user),
            "visitor_first": visitor_first,
            "token": request.POST.get("token") if errors else _token(),
            "categories": selectors.category_choices(),
            "risks": RiskColour.choices,
            "scales": CaseScale.choices,
            "types": MediationType.choices,
            "sources": CaseSource.choices,
            "roles": PartyRole.choices,
            "kinds": PartyKind.choices,
            "divisions": _division_choices(user),
            "may_pick": selectors.may_use_registry(user),
        },
        status=400 if errors else 200,
    )


def _division_choices(user):
    return (
        Division.objects.visible_to(user)
        .filter(level__in=("district", "subdistrict", "community"))
        .order_by("code")[:400]
    )


# --- the workbench and one case ---------------------------------------------------------------


@dispute_staff
def workbench(request):
    """A mediator's cases: assigned to them, then the rest of their organisation's open cases."""
    user = request.user
    mine = selectors.case_list(user=user, filters={"mine": True, "status": "open"}).order_by("target_at")
    organisation = (
        selectors.case_list(user=user, filters={"status": "open"})
        .exclude(mediator=user)
        .order_by("target_at")
    )
    return render(
        request,
        "disputes/workbench.html",
        {
            "mine": mine[:100],
            "organisation_cases": organisation[:100],
            "alerts": selectors.alerts_for(user=user, unread_only=True)[:20],
            "now": timezone.now(),
        },
    )


def _detail_context(request, case, errors=None, form=""):
    user = request.user
    allowed = set(CASE_WORKFLOW.allowed_actions(case.status, actor=user, obj=case))
    agreement = getattr(case, "agreement", None) if documents._has_agreement(case) else None
    ticket, ticket_events = selectors.linked_ticket_timeline(user=user, case=case)
    organisations = selectors.organisation_list(user=user) if CaseAction.ASSIGN in allowed else []
    parties = list(selectors.case_parties(case=case))
    links = selectors.registry_links(user=user, records=parties)
    for party in parties:
        party.registry_url = links.get(("person", party.person_id)) or links.get(("entity", party.entity_id))
    return {
        "case": case,
        "parties": parties,
        "sessions": selectors.case_sessions(case=case),
        "events": _labelled(selectors.case_timeline(case=case)),
        "agreement": agreement,
        "confirmation_deadline": services.confirmation_deadline(agreement) if agreement else None,
        "follow_ups": case.follow_ups.select_related("by"),
        "allowed": allowed,
        "may_reveal": may_see_parties(user, case),
        "ticket": ticket,
        "ticket_events": ticket_events,
        "organisations": organisations,
        "errors": errors or {},
        "form": form,
        "values": request.POST if errors else {},
        "agreement_forms": AgreementForm.choices,
        "outcomes": CaseOutcome.choices,
        "referral_kinds": ReferralKind.choices,
        "performance_choices": [c for c in PerformanceStatus.choices if c[0] != PerformanceStatus.PENDING],
        "risks": RiskColour.choices,
        "today": timezone.localdate(),
        "leaders": _leaders(case) if CaseAction.MARK_BACKLOG in allowed else [],
        "meetings": selectors.case_meetings(case=case),
        "confirmations": selectors.agreement_confirmations(agreement=agreement) if agreement else [],
    }


def _labelled(events):
    """Timeline rows with the action and states in words (the stored codes stay codes)."""
    actions, states = dict(CaseAction.choices), dict(CaseStatus.choices)
    rows = list(events)
    for event in rows:
        event.action_label = actions.get(event.action, event.action)
        event.from_label = states.get(event.from_state, event.from_state)
        event.to_label = states.get(event.to_state, event.to_state)
    return rows


def _leaders(case):
    from zhiwang.disputes.services.common import users_over

    return users_over(case.division, ("leader",))


@dispute_staff
def case_detail(request, number: str):
    case = selectors.case_get(user=request.user, number=number)
    return render(request, "disputes/case_detail.html", _detail_context(request, case))


ACTIONS = {
    "assign": lambda case, user, post: services.case_assign(
        case=case,
        actor=user,
        organisation=MediationOrganisation.objects.filter(code=post.get("organisation", "")).first(),
        note=post.get("note", ""),
    ),
    "session": lambda case, user, post: services.session_record(
        case=case,
        actor=user,
        record=post.get("record", ""),
        place=post.get("place", ""),
        attendees=post.get("attendees", ""),
        online=post.get("online") == "on",
    ),
    "agreement": lambda case, user, post: services.agreement_reach(
        case=case,
        actor=user,
        form=post.get("form", ""),
        facts=post.get("facts", ""),
        terms=post.get("terms", ""),
        performance_manner=post.get("performance_manner", ""),
        performance_deadline=post.get("performance_deadline", ""),
        signed_on=post.get("signed_on", ""),
    ),
    "confirmation": lambda case, user, post: services.confirmation_apply(
        case=case, actor=user, court=post.get("court", ""), applied_on=post.get("applied_on", "")
    ),
    "ruling": lambda case, user, post: services.confirmation_result(
        case=case, actor=user, confirmed=post.get("confirmed") == "1", note=post.get("note", "")
    ),
    "follow_up": lambda case, user, post: services.performance_follow_up(
        case=case, actor=user, status=post.get("status", ""), note=post.get("note", "")
    ),
    "extend": lambda case, user, post: services.case_extend(
        case=case, actor=user, until=post.get("until", ""), reason=post.get("reason", "")
    ),
    "refer": lambda case, user, post: services.case_refer(
        case=case, actor=user, kind=post.get("kind", ""), reason=post.get("reason", "")
    ),
    "close": lambda case, user, post: services.case_close(
        case=case, actor=user, outcome=post.get("outcome", ""), note=post.get("note", "")
    ),
    "risk": lambda case, user, post: services.case_update(
        case=case, actor=user, risk=post.get("risk", ""), note=post.get("note", "")
    ),
    "backlog": lambda case, user, post: services.case_mark_backlog(
        case=case,
        actor=user,
        deadline=post.get("backlog_deadline", ""),
        leader=_leaders(case).filter(username=post.get("leader", "")).first(),
        note=post.get("note", ""),
    ),
    "note": lambda case, user, post: services.case_note(case=case, actor=user, note=post.get("note", "")),
    "online": lambda case, user, post: services.online_session_schedule(
        case=case, actor=user, scheduled_at=post.get("scheduled_at", ""), note=post.get("note", "")
    ),
}


@require_POST
@dispute_staff
def case_action(request, number: str, action: str):
    """One workflow action from the case page; on a rule broken the page comes back with the errors."""
    case = selectors.case_get(user=request.user, number=number)
    if action == "reveal":
        try:
            revealed = services.case_reveal_parties(
                case=case, actor=request.user, reason=request.POST.get("reason")
            )
        except ServiceError as error:
            context = _detail_context(request, case, _errors(error), "reveal")
            return render(request, "disputes/case_detail.html", context, status=error.status)
        roles = dict(PartyRole.choices)
        for party in revealed:
            party["role_label"] = roles.get(party["role"], party["role"])
        context = _detail_context(request, case)
        context["revealed"] = revealed
        return render(request, "disputes/case_detail.html", context)
    if action == "confirm_links":
        return _send_confirmation_links(request, case)
    if action not in ACTIONS:
        raise Http404(action)
    seen_version = request.POST.get("version")
    if seen_version and seen_version.isdigit():
        if int(seen_version) != case.version:
            messages.error(request, _("Somebody changed this case first; here it is as it is now."))
            return redirect("disputes:case_detail", number=case.number)
        case.version = int(seen_version)  # the service compares it with the locked row
    try:
        ACTIONS[action](case, request.user, request.POST)
    except ServiceError as error:
        case = selectors.case_get(user=request.user, number=number)
        return render(
            request,
            "disputes/case_detail.html",
            _detail_context(request, case, _errors(error), action),
            status=error.status,
        )
    messages.success(request, _("Saved."))
    return redirect("disputes:case_detail", number=case.number)


def _send_confirmation_links(request, case):
    """Issue the parties' one-time confirmation links; their URLs are shown once, on this answer."""
    try:
        issued = services.confirmation_links_send(
            case=case,
            actor=request.user,
            build_url=lambda token: request.build_absolute_uri(_url("disputes:confirm_agreement", token)),
        )
    except ServiceError as error:
        context = _detail_context(request, _fresh(request, case), _errors(error), "confirm_links")
        return render(request, "disputes/case_detail.html", context, status=error.status)
    context = _detail_context(request, _fresh(request, case))
    context["issued_links"] = issued
    response = render(request, "disputes/case_detail.html", context)
    response["Cache-Control"] = "no-store"  # the links are secrets: not kept by the browser
    return response


def _fresh(request, case):
    return selectors.case_get(user=request.user, number=case.number)


@dispute_staff
def agreement_document(request, number: str, fmt: str):
    """The 调解协议书 as PDF or Word: masked on GET; in full on POST (with CSRF) with a ``reason``.

    The full version is for those who may see the parties (the case's mediator, the
    supervising dispatcher, the centre's window) and is logged on the case's timeline. The
    reason travels in the body, never in the URL (proxies, browser history and logs keep URLs).
    """
    case = selectors.case_get(user=request.user, number=number)
    if fmt not in ("pdf", "docx") or not documents._has_agreement(case):
        raise Http404(number)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if request.method == "GET" and "full" in request.GET:
        # The old link form (?full=1&reason=…): refused, so a reason never lands in a URL log.
        return HttpResponseNotAllowed(["POST"])
    reveal = request.method == "POST"
    if reveal:
        reason = (request.POST.get("reason") or "").strip()
        try:
            if not reason:
                raise ServiceError(
                    "disputes.required",
                    _("Say why you print the parties' personal data in full."),
                    field="reason",
                )
            services.case_reveal_parties(
                case=case,
                actor=request.user,
                reason=_("Printed the agreement (%(fmt)s): %(reason)s")
                % {"fmt": fmt.upper(), "reason": reason},
            )
        except ServiceError as error:
            context = _detail_context(request, case, _errors(error), "print")
            return render(request, "disputes/case_detail.html", context, status=error.status)
    if fmt == "pdf":
        content, mime = documents.agreement_pdf(case, reveal=reveal), "application/pdf"
    elif fmt == "docx":
        content = documents.agreement_docx(case, reveal=reveal)
        mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    else:
        raise Http404(fmt)
    response = HttpResponse(content, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="{case.agreement.number}.{fmt}"'
    return response


# --- the ledger ---------------------------------------------------------------------------------


def _ledger_filters(request) -> dict:
    """The ledger's filters from the query; dates (YYYY-MM-DD) become local midnights."""
    filters = {
        k: v for k, v in request.GET.items() if k in selectors.CaseFilters.__dataclass_fields__ and v != ""
    }
    for name in ("received_from", "received_to"):
        if name in filters:
            try:
                day = parse_date(filters[name])
            except ValueError:
                day = None
            if day is None:
                raise ServiceError("disputes.date_invalid", _("Give the date as YYYY-MM-DD."), field=name)
            filters[name] = timezone.make_aware(datetime.combine(day, time.min))
    return filters


@dispute_staff
def ledger(request):
    """台账: the cases in the user's scope by division, category, organisation, status; near and backlog views."""
    user = request.user
    by = request.GET.get("by", "division")
    errors = {}
    filters = {}
    try:
        filters = _ledger_filters(request)
        cases = selectors.case_list(user=user, filters=filters)
        summary = selectors.ledger_summary(user=user, by=by, filters=filters)
    except ServiceError as error:
        errors = _errors(error)
        cases, summary = selectors.case_list(user=user), []
    page = Paginator(cases.prefetch_related("parties"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "disputes/ledger.html",
        {
            "page": page,
            "summary": summary,
            "by": by,
            "filters": filters,
            "errors": errors,
            "query": query.urlencode(),
            "statuses": CaseStatus.choices,
            "categories": selectors.category_choices(),
            "organisations": selectors.organisation_list(user=user),
            "risks": RiskColour.choices,
            "groups": [
                ("division", _("Division")),
                ("category", _("Category")),
                ("organisation", _("Organisation")),
                ("status", _("Status")),
            ],
            "may_export_full": role_of(user) in ("dispatcher", "administrator"),
            "now": timezone.now(),
            "indicators": selectors.dispute_indicators(user=user),
        },
        status=400 if errors else 200,
    )


@dispute_staff
def ledger_export(request):
    """The ledger as Excel; a POST (with CSRF) with a reason unmasks it for dispatchers (logged on each case).

    The filters are in the query string either way; the reason only in the POST body.
    """
    user = request.user
    try:
        cases = list(
            selectors.case_list(user=user, filters=_ledger_filters(request))
            .select_related("agreement")
            .prefetch_related("parties")[:EXPORT_LIMIT]
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("disputes:ledger")
    if request.method == "GET" and "full" in request.GET:
        return HttpResponseNotAllowed(["POST"])  # the reason belongs in the body, not the URL
    reveal = request.method == "POST"
    if reveal:
        reason = (request.POST.get("reason") or "").strip()
        if role_of(user) not in ("dispatcher", "administrator") or not reason:
            messages.error(request, _("A full export needs the dispatcher role and a reason."))
            return redirect("disputes:ledger")
        for case in cases:
            services.case_reveal_parties(
                case=case, actor=user, reason=_("Full ledger export: %(r)s") % {"r": reason}
            )
    content = documents.ledger_workbook(
        cases, reveal=reveal, title=_("Ledger of dispute screening and resolution")
    )
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="disputes-ledger-{timezone.localdate():%Y%m%d}.xlsx"'
    )
    return response


@dispute_staff
def organisations(request):
    """The registry of mediation organisations and their mediators, with workload (open cases)."""
    rows = []
    for organisation in selectors.organisation_list(user=request.user)[:200]:
        rows.append(
            {
                "organisation": organisation,
                "mediators": selectors.mediators_of(user=request.user, organisation=organisation),
            }
        )
    return render(request, "disputes/organisations.html", {"rows": rows})
