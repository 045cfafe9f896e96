"""The mediator's workbench and one case: timeline, every action, the agreement documents."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import documents, selectors, services
from zhiwang.disputes.models import (
    AgreementForm,
    CaseOutcome,
    CaseStatus,
    PartyRole,
    PerformanceStatus,
    ReferralKind,
    RiskColour,
)
from zhiwang.disputes.views.common import dispute_staff, error_fields, page_url, refuse
from zhiwang.disputes.workflow import CASE_WORKFLOW, CaseAction, may_see_parties, may_use_workbench

# --- the workbench and one case ---------------------------------------------------------------


@dispute_staff
def workbench(request):
    """A mediator's cases: assigned to them, then the rest of their organisation's open cases."""
    user = request.user
    if not may_use_workbench(user):
        return refuse(request, _("The workbench is for mediators: find cases in the ledger."))
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
        "ticket_events": _ticket_rows(ticket, ticket_events),
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
        "extension_last_day": services.extension_last_day(case),
        "leaders": _leaders(case) if CaseAction.MARK_BACKLOG in allowed else [],
        "meetings": selectors.case_meetings(case=case),
        "confirmations": selectors.agreement_confirmations(agreement=agreement) if agreement else [],
    }


def _labelled(events):
    """Timeline rows with the action and states in words (the stored codes stay codes).

    ``state_changed``: the page says "from → to" only for a row that moved the case; a row that left
    the state as it was (a note, a look at the parties' data, a reminder, a correction) shows its
    action, change and note alone ("mediating → mediating" said nothing). The API keeps both states."""
    actions, states = dict(CaseAction.choices), dict(CaseStatus.choices)
    rows = list(events)
    for event in rows:
        event.action_label = actions.get(event.action, event.action)
        event.state_changed = event.from_state != event.to_state
        event.from_label = states.get(event.from_state, event.from_state)
        event.to_label = states.get(event.to_state, event.to_state)
    return rows


def _ticket_rows(ticket, events):
    """The linked ticket's rows in the reader's words, as the ticket's own page words them: the
    action and state as labels, the system's notes in the reader's language (``tickets.explanations``);
    the state only where the row changed it, as on the case's own timeline."""
    if ticket is None:
        return events
    from zhiwang.tickets.explanations import event_label, event_note
    from zhiwang.tickets.models import TicketStatus

    states = dict(TicketStatus.choices)
    for event in events:
        event.action_label = event_label(event)
        event.state_changed = event.from_state != event.to_state
        event.to_label = states.get(event.to_state, event.to_state)
        event.note_text = event_note(event, channel=ticket.channel)
    return events


def _leaders(case):
    from zhiwang.disputes.services.common import users_over

    return users_over(case.division, ("leader",))


@dispute_staff
def case_detail(request, number: str):
    case = selectors.case_get(user=request.user, number=number)
    return render(request, "disputes/case_detail.html", _detail_context(request, case))


ACTIONS = {
    "assign": lambda case, user, post: services.case_assign_named(
        case=case,
        actor=user,
        organisation=post.get("organisation", ""),
        mediator=post.get("mediator", ""),
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
        amount=post.get("amount", ""),
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
            context = _detail_context(request, case, error_fields(error), "reveal")
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
    seen_version = request.POST.get("version") or ""
    if seen_version.isascii() and seen_version.isdigit():  # not str.isdigit() alone: "²" is a digit to it
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
            _detail_context(request, case, error_fields(error), action),
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
            build_url=lambda token: request.build_absolute_uri(page_url("disputes:confirm_agreement", token)),
        )
    except ServiceError as error:
        context = _detail_context(request, _fresh(request, case), error_fields(error), "confirm_links")
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
            context = _detail_context(request, case, error_fields(error), "print")
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
