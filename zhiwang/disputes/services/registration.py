"""Registering a dispute case: directly, from a window visit, or from a ticket (转调解)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.fingerprint import fingerprint
from zhiwang.core.scoping import scope_of
from zhiwang.core.sentences import headline
from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    CaseEvent,
    CaseScale,
    CaseSource,
    CaseStatus,
    DisputeCase,
    MediationOrganisation,
    MediationType,
    Party,
    RiskColour,
    ServiceCentre,
    Visit,
    VisitEvent,
    VisitStatus,
)
from zhiwang.disputes.selectors.cases import ticket_place
from zhiwang.disputes.services.casekit import (
    A,
    CaseResult,
    _category,
    _choice,
    _people,
    _report_up,
    _serves,
)
from zhiwang.disputes.services.common import (
    add_months,
    clean,
    next_number,
    parse_amount,
    too_long,
    validate_parties,
)
from zhiwang.disputes.services.idempotency import (
    amount_text,
    check_same_request,
    idempotency_key_clean,
    parties_input,
)
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import (
    REGISTERING_ROLES,
    VISIT_WORKFLOW,
    VisitAction,
    role_of,
)
from zhiwang.geo.models import Division

#: The longest case title (``DisputeCase.title``); a longer one is refused, not cut.
TITLE_LIMIT = DisputeCase._meta.get_field("title").max_length


def case_register(
    *,
    actor,
    title: str,
    facts: str,
    category: str,
    division: Division | None,
    parties: list[dict],
    source: str = "",
    mediation_type: str = MediationType.PEOPLES,
    scale: str = CaseScale.INDIVIDUAL,
    people_involved=2,
    amount=0,
    risk: str = RiskColour.BLUE,
    visit: Visit | None = None,
    ticket=None,
    idempotency_key: str = "",
    received_at: datetime | None = None,
    request_fingerprint: str = "",
) -> CaseResult:
    """Register a dispute case (受理登记) with its parties; the one-month target starts now.

    From a window visit, the visit moves to "case opened" and the case belongs to its
    centre. ``idempotency_key`` (at most ``MAX_IDEMPOTENCY_KEY`` characters,
    ``disputes.idempotency_key_long`` otherwise) makes a retry return the first case
    (``created=False``); the same key with other content is ``disputes.idempotency_key_reused``
    (422). ``request_fingerprint`` is what the caller asked for when that is not these arguments
    (``case_from_ticket`` passes its own); by default it is computed from them.
    ``source`` (``CaseSource``) says where the case came from; left empty it is "service window"
    for a case opened from a visit and "from a ticket" for one from a ticket, and refused for a case
    registered directly (``disputes.source_required`` on ``source``): nothing is assumed there.
    Red and orange cases are reported upward at once. Raises ``disputes.parties_missing``
    (no applicant or respondent), ``disputes.invalid`` with field errors, or a permission
    error when the division lies outside the actor's jurisdiction.
    """
    role = role_of(actor)
    if role not in REGISTERING_ROLES:
        raise PermissionDeniedError("disputes.forbidden", _("You may not register dispute cases."))
    client_key = idempotency_key_clean(idempotency_key)
    key = _case_key(actor, client_key)
    request_fingerprint = request_fingerprint or _case_fingerprint(
        title=title,
        facts=facts,
        category=category,
        division=division.code if division is not None else "",
        parties=parties,
        source=source,
        mediation_type=mediation_type,
        scale=scale,
        people_involved=people_involved,
        amount=amount,
        risk=risk,
        visit=visit.number if visit is not None else "",
        ticket=ticket.number if ticket is not None else "",
    )
    if key and (existing := _existing_case(key)):
        check_same_request(existing.idempotency_fingerprint, request_fingerprint, client_key)
        return CaseResult(existing, False)
    if visit is not None:
        if visit.status not in (VisitStatus.WAITING, VisitStatus.SERVING):
            raise ServiceError(
                "disputes.visit_not_open",
                _("Visit %(number)s is no longer waiting: it is %(status)s.")
                % {"number": visit.number, "status": visit.get_status_display()},
                field="visit",
            )
        division = division or visit.centre.division
    errors = ErrorList()
    title = clean(title)
    facts = clean(facts)
    if not facts:
        errors.add("facts", "disputes.required", _("Describe the facts of the dispute."))
    too_long(title, TITLE_LIMIT, "title", errors)  # refused, never silently cut
    if division is None:
        errors.add("division", "disputes.division_required", _("Say where the dispute is (a division)."))
    checks = [
        ("category", lambda: _category(category)),
        (
            "mediation_type",
            lambda: _choice(mediation_type, MediationType, "mediation_type", MediationType.PEOPLES),
        ),
        ("source", lambda: _source(source, visit=visit, ticket=ticket)),
        ("scale", lambda: _choice(scale, CaseScale, "scale", CaseScale.INDIVIDUAL)),
        ("risk", lambda: _choice(risk, RiskColour, "risk", RiskColour.BLUE)),
        ("people_involved", lambda: _people(people_involved)),
        ("amount", lambda: parse_amount(amount)),
    ]
    values = {}
    for name, check in checks:
        try:
            values[name] = check()
        except ServiceError as error:
            errors.add(name, error.code, error.message)
    try:
        cleaned_parties = validate_parties(parties, actor=actor)
    except ServiceError as error:
        if not error.fields:
            errors.add("parties", error.code, error.message)
        else:
            errors.errors.extend(error.fields)
    errors.raise_if_any("disputes.invalid")
    if role != "administrator" and not _may_register_at(actor, division, visit):
        raise PermissionDeniedError(
            "disputes.outside_jurisdiction",
            _("This division lies outside your jurisdiction."),
            field="division",
        )
    now = timezone.now()
    received = received_at or now
    try:
        with transaction.atomic():
            case = DisputeCase.objects.create(
                number=next_number("TJ", received),
                title=title or headline(facts),
                facts=facts,
                category=values["category"],
                mediation_type=values["mediation_type"],
                source=values["source"],
                scale=values["scale"],
                people_involved=values["people_involved"],
                amount=values["amount"],
                risk=values["risk"],
                division=division,
                status=CaseStatus.RECEIVED,
                centre=visit.centre if visit is not None else _centre_of(actor),
                organisation=_receiving_organisation(actor, division),
                visit=visit,
                ticket=ticket,
                idempotency_key=key,
                idempotency_fingerprint=request_fingerprint if key else "",
                created_by=actor,
                received_at=received,
                target_at=add_months(received, 1),
            )
            Party.objects.bulk_create([Party(case=case, **party) for party in cleaned_parties])
            registered = SystemText(texts.REGISTERED, {"source": case.source})
            payload = {"source": case.source, "parties": len(cleaned_parties), **registered.note_keys()}
            if ticket is not None:
                payload["ticket"] = ticket.number
            if visit is not None:
                payload["visit"] = visit.number
            CaseEvent.objects.create(
                case=case,
                actor=actor,
                action=A.RECEIVE,
                from_state="",
                to_state=CaseStatus.RECEIVED,
                note=registered.stored,
                payload=payload,
                at=received,
            )
            if visit is not None:
                VISIT_WORKFLOW.apply(
                    visit,
                    VisitAction.OPEN_CASE,
                    actor=actor,
                    timeline_model=VisitEvent,
                    note=case.number,
                    payload={"case": case.number},
                )
            if case.risk in (RiskColour.RED, RiskColour.ORANGE):
                _report_up(case, actor=actor)
    except IntegrityError:
        # A concurrent retry (same key), or somebody opened a case from the same visit or
        # ticket a moment earlier: the unique constraints decide, the loser gets a clear answer.
        if key and (existing := DisputeCase.objects.filter(idempotency_key=key).first()):
            check_same_request(existing.idempotency_fingerprint, request_fingerprint, client_key)
            return CaseResult(existing, False)
        if visit is not None and DisputeCase.objects.filter(visit_id=visit.pk).exists():
            raise ServiceError(
                "disputes.visit_not_open",
                _("A dispute case has already been opened from visit %(number)s.") % {"number": visit.number},
                field="visit",
            ) from None
        if ticket is not None and DisputeCase.objects.filter(ticket_id=ticket.pk).exists():
            raise ServiceError(
                "disputes.ticket_already_converted",
                _("Ticket %(number)s is already a dispute case.") % {"number": ticket.number},
                field="ticket",
            ) from None
        raise
    return CaseResult(case, True)


def _source(value, *, visit: Visit | None, ticket) -> str:
    """The case's source: as given (one of ``CaseSource``), else what the way it was opened says (a
    visit: the window; a ticket: the ticket); a case registered directly must say it."""
    value = clean(value)
    if not value and visit is not None:
        return CaseSource.WINDOW
    if not value and ticket is not None:
        return CaseSource.TICKET
    if not value:
        raise ServiceError(
            "disputes.source_required",
            _("Say where the dispute came from (proactive screening, an application, a referral…)."),
            field="source",
        )
    return _choice(value, CaseSource, "source")


def _existing_case(key: str) -> DisputeCase | None:
    """The case an earlier call with the same stored key made (the cheap first look; the unique
    constraint is what really dedupes a retry racing the first call)."""
    return DisputeCase.objects.filter(idempotency_key=key).first()


def _case_key(actor, client_key: str) -> str | None:
    """The stored idempotency key: namespaced by the caller, so one user's key never finds another's case.

    ``client_key`` comes from ``idempotency_key_clean``: short enough to be kept whole.
    """
    return f"case:{getattr(actor, 'pk', '-')}:{client_key}" if client_key else None


def _case_fingerprint(
    *,
    title="",
    facts="",
    category="",
    division="",
    parties=(),
    source="",
    mediation_type="",
    scale="",
    people_involved=2,
    amount=0,
    risk="",
    visit="",
    ticket="",
) -> str:
    """What a registration asked for, cleaned the way the service reads it (a default given or
    left out is the same request), as a fingerprint for comparing a retry.

    A source left out counts as "window", as the service defaulted it when cases began keeping
    fingerprints: a retry of such a request still finds its case (a new one must name its source,
    or comes from a visit, which is the window)."""
    people = "2" if people_involved in (None, "") else clean(str(people_involved))
    return fingerprint(
        {
            "title": clean(title),
            "facts": clean(facts),
            "category": clean(category),
            "division": clean(division),
            "parties": parties_input(parties),
            "source": clean(source) or CaseSource.WINDOW,
            "mediation_type": clean(mediation_type) or MediationType.PEOPLES,
            "scale": clean(scale) or CaseScale.INDIVIDUAL,
            "people_involved": people,
            "amount": amount_text(amount),
            "risk": clean(risk) or RiskColour.BLUE,
            "visit": clean(visit),
            "ticket": clean(ticket).upper(),
        }
    )


def _receiving_organisation(actor, division: Division) -> MediationOrganisation | None:
    """A mediator registers a case for their own organisation (when it serves the place): it stays
    "awaiting assignment" but is that organisation's case, so the mediator sees and assigns it."""
    from zhiwang.disputes.workflow import mediator_organisation_id

    org_id = mediator_organisation_id(actor)
    if org_id is None:
        return None
    organisation = MediationOrganisation.objects.select_related("division").filter(pk=org_id).first()
    if organisation is None or not organisation.is_active or not _serves(organisation, division):
        return None
    return organisation


def _centre_of(actor) -> ServiceCentre | None:
    """The service centre a window operator works at (the case is then registered at it)."""
    if role_of(actor) != "intake_operator" or getattr(actor, "org_unit_id", None) is None:
        return None
    return ServiceCentre.objects.filter(org_unit_id=actor.org_unit_id, is_active=True).first()


def _may_register_at(actor, division: Division, visit: Visit | None) -> bool:
    """Whether ``actor`` may register a case at ``division`` (from ``visit``, if given).

    The division must lie inside the actor's jurisdiction, or, for a case opened from a
    visit, inside the area of the visit's centre; from a visit, only the centre's window or a
    mediator who may open a case from it (the visit's workflow decides the others).
    """
    role = role_of(actor)
    if visit is not None and role == "intake_operator":
        if getattr(actor, "org_unit_id", None) != visit.centre.org_unit_id:
            return False
    if visit is not None and role == "mediator":
        if not VISIT_WORKFLOW.permissions[VisitAction.OPEN_CASE](actor, visit):
            return False
    if scope_of(actor).allows_division(division.pk):
        return True
    return visit is not None and division.code.startswith(visit.centre.division.code_prefix)


def case_from_ticket(
    *,
    actor,
    ticket_number: str,
    category: str,
    parties: list[dict],
    idempotency_key: str = "",
    mediation_type: str = MediationType.PEOPLES,
    risk: str = RiskColour.BLUE,
    amount=0,
    people_involved=2,
    scale: str = CaseScale.INDIVIDUAL,
) -> CaseResult:
    """转调解: turn a ticket the actor can see into a dispute case, its history linked.

    The ticket is read through ``tickets.selectors.ticket_get`` (scoped: a ticket outside
    the actor's jurisdiction is "not found"). The case keeps a link to the ticket, whose
    timeline the case page shows. An open ticket the actor may transfer is closed with a
    pointer to the case (``tickets.services.ticket_transfer``, 移交); otherwise a note is
    added where the actor works on the ticket.
    A ticket already turned into a case answers ``disputes.ticket_already_converted``.
    """
    from zhiwang.tickets.notify import city_language
    from zhiwang.tickets.selectors import ticket_get, ticket_timeline
    from zhiwang.tickets.services import ticket_note, ticket_transfer

    # Before the ticket is read: a role that may not register cases learns nothing of the ticket
    # (not even "already a dispute case") through this door.
    if role_of(actor) not in REGISTERING_ROLES:
        raise PermissionDeniedError("disputes.forbidden", _("You may not register dispute cases."))
    key = idempotency_key_clean(idempotency_key)
    # What the caller sent (the title and facts come from the ticket, read only further on).
    request_fingerprint = _case_fingerprint(
        category=category,
        parties=parties,
        source=CaseSource.TICKET,
        mediation_type=mediation_type,
        scale=scale,
        people_involved=people_involved,
        amount=amount,
        risk=risk,
        ticket=ticket_number,
    )
    if key and (existing := _existing_case(_case_key(actor, key))):
        check_same_request(existing.idempotency_fingerprint, request_fingerprint, key)
        return CaseResult(existing, False)
    try:
        ticket = ticket_get(user=actor, number=ticket_number)
    except Http404:
        raise NotFound(
            "disputes.ticket_not_found", _("No such ticket in your jurisdiction."), field="ticket"
        ) from None
    if DisputeCase.objects.filter(ticket=ticket).exists():
        raise ServiceError(
            "disputes.ticket_already_converted",
            _("Ticket %(number)s is already a dispute case.") % {"number": ticket.number},
            field="ticket",
        )
    division = ticket_place(ticket)
    with transaction.atomic():
        result = case_register(
            actor=actor,
            title=ticket.title,
            facts=ticket.description,
            category=category,
            division=division,
            parties=parties,
            source=CaseSource.TICKET,
            mediation_type=mediation_type,
            scale=scale,
            people_involved=people_involved,
            amount=amount,
            risk=risk,
            ticket=ticket,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
        )
        if not result.created:
            return result
        case = result.case
        # The matter leaves the ticket loop: close the ticket with a pointer to the case (移交)
        # when the actor may; otherwise (e.g. a mediator, or a ticket already replied) a note.
        transferred = annotated = False
        if ticket.is_open:
            # The ticket's timeline and reply (which the citizen reads) keep plain text: in the city's
            # language, whoever converts the ticket.
            with city_language():
                note = _("Transferred to mediation as dispute case %(number)s.") % {"number": case.number}
                target = _("mediation")
            try:
                ticket_transfer(ticket=ticket, actor=actor, target=target, reference=case.number, note=note)
                transferred = annotated = True
            except ServiceError:
                try:
                    ticket_note(ticket=ticket, actor=actor, note=note)
                    annotated = True
                except ServiceError:
                    pass  # the actor does not work on the ticket: the link on the case is enough
        history = [
            {"at": e.at, "action": e.action, "to": e.to_state, "note": e.note[:200]}
            for e in ticket_timeline(user=actor, ticket=ticket)[:50]
        ]
        linked = SystemText(texts.TICKET_LINKED, {"number": ticket.number, "status": ticket.status})
        CaseEvent.objects.create(
            case=case,
            actor=actor,
            action=A.NOTE,
            from_state=case.status,
            to_state=case.status,
            note=linked.stored,
            payload={
                "ticket": ticket.number,
                "ticket_annotated": annotated,
                "ticket_transferred": transferred,
                "ticket_history": history,
                **linked.note_keys(),
            },
        )
    return result
