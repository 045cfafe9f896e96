"""Every write on a dispute case: one function per use case, one transaction, one timeline row each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, ErrorList, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.disputes.models import (
    WORKLOAD_STATUSES,
    Agreement,
    AgreementForm,
    AlertKind,
    CaseEvent,
    CaseOutcome,
    CaseScale,
    CaseSource,
    CaseStatus,
    ConfirmationStatus,
    DisputeAlert,
    DisputeCase,
    DisputeCategory,
    MediationOrganisation,
    MediationSession,
    MediationType,
    Mediator,
    Party,
    PerformanceFollowUp,
    PerformanceStatus,
    ReferralKind,
    RiskColour,
    ServiceCentre,
    Visit,
    VisitEvent,
    VisitStatus,
)
from zhiwang.disputes.services.common import (
    add_months,
    clean,
    next_number,
    parse_amount,
    parse_date,
    require,
    users_over,
    validate_parties,
)
from zhiwang.disputes.workflow import (
    CASE_WORKFLOW,
    VISIT_WORKFLOW,
    CaseAction,
    VisitAction,
    is_case_mediator,
    may_see_parties,
    role_of,
)
from zhiwang.geo.models import Division

A = CaseAction
#: Judicial confirmation must be applied for within this many days of the agreement.
CONFIRMATION_DAYS = 30
#: Roles that may register a case (grid workers report through tickets, which a dispatcher
#: turns into a case: they see no dispute case, see ``selectors.case_visible``).
REGISTERING_ROLES = {"intake_operator", "dispatcher", "mediator", "administrator"}


@dataclass
class CaseResult:
    case: DisputeCase
    created: bool


def _apply(case: DisputeCase, action: str, *, actor, note: str = "", payload=None, fields=()) -> CaseEvent:
    """Apply a transition to ``case`` as the caller saw it: its ``version`` must still be the stored one.

    The row is locked first (PostgreSQL; SQLite's IMMEDIATE transaction holds the write lock),
    so of two people acting on the same version of a case, the second gets ``workflow.conflict``
    (409) even when the action keeps the state (an update, a reassignment, a follow-up).
    """
    stored = (
        DisputeCase.objects.select_for_update().filter(pk=case.pk).values_list("version", flat=True).first()
    )
    if stored is not None and stored != case.version:
        raise Conflict(
            "workflow.conflict",
            _("Somebody changed this case first (you saw version %(seen)s, it is now %(now)s). Reload it.")
            % {"seen": case.version, "now": stored},
        )
    case.version += 1
    try:
        return CASE_WORKFLOW.apply(
            case,
            action,
            actor=actor,
            timeline_model=CaseEvent,
            note=note,
            payload=payload,
            update_fields=["version", *fields],
        )
    except Exception:
        case.version -= 1  # refused and rolled back: the caller's object is as it was
        raise


# --- registration ------------------------------------------------------------------


def _category(code, field: str = "category") -> DisputeCategory:
    found = DisputeCategory.objects.filter(code=clean(code), is_active=True).first()
    if found is None:
        raise ServiceError(
            "disputes.category_unknown", _("Choose one of the dispute categories."), field=field
        )
    return found


def _choice(value, choices, field: str, default=None) -> str:
    value = clean(value) or default
    if value not in choices.values:
        raise ServiceError("disputes.choice_invalid", _("Choose one of the offered values."), field=field)
    return value


def _people(value) -> int:
    try:
        people = int(value if value not in (None, "") else 2)
    except (TypeError, ValueError):
        people = 0
    if people < 1 or people > 1_000_000:
        raise ServiceError(
            "disputes.people_invalid",
            _("Enter how many people are involved (1 or more)."),
            field="people_involved",
        )
    return people


def case_register(
    *,
    actor,
    title: str,
    facts: str,
    category: str,
    division: Division | None,
    parties: list[dict],
    source: str = CaseSource.WINDOW,
    mediation_type: str = MediationType.PEOPLES,
    scale: str = CaseScale.INDIVIDUAL,
    people_involved=2,
    amount=0,
    risk: str = RiskColour.BLUE,
    visit: Visit | None = None,
    ticket=None,
    idempotency_key: str = "",
    received_at: datetime | None = None,
) -> CaseResult:
    """Register a dispute case (受理登记) with its parties; the one-month target starts now.

    From a window visit, the visit moves to "case opened" and the case belongs to its
    centre. ``idempotency_key`` makes a retry return the first case (``created=False``).
    Red and orange cases are reported upward at once. Raises ``disputes.parties_missing``
    (no applicant or respondent), ``disputes.invalid`` with field errors, or a permission
    error when the division lies outside the actor's jurisdiction.
    """
    role = role_of(actor)
    if role not in REGISTERING_ROLES:
        raise PermissionDeniedError("disputes.forbidden", _("You may not register dispute cases."))
    key = _case_key(actor, idempotency_key)
    if key and (existing := _existing_case(key)):
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
    if division is None:
        errors.add("division", "disputes.division_required", _("Say where the dispute is (a division)."))
    checks = [
        ("category", lambda: _category(category)),
        (
            "mediation_type",
            lambda: _choice(mediation_type, MediationType, "mediation_type", MediationType.PEOPLES),
        ),
        ("source", lambda: _choice(source, CaseSource, "source", CaseSource.WINDOW)),
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
                title=(title or facts[:40])[:200],
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
                created_by=actor,
                received_at=received,
                target_at=add_months(received, 1),
            )
            Party.objects.bulk_create([Party(case=case, **party) for party in cleaned_parties])
            payload = {"source": case.source, "parties": len(cleaned_parties)}
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
                note=_("Registered: %(source)s.") % {"source": case.get_source_display()},
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


def _existing_case(key: str) -> DisputeCase | None:
    """The case an earlier call with the same stored key made (the cheap first look; the unique
    constraint is what really dedupes a retry racing the first call)."""
    return DisputeCase.objects.filter(idempotency_key=key).first()


def _case_key(actor, idempotency_key) -> str | None:
    """The stored idempotency key: namespaced by the caller, so one user's key never finds another's case."""
    key = clean(idempotency_key)[:120]
    return f"case:{getattr(actor, 'pk', '-')}:{key}" if key else None


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
    if visit is not None and role_of(actor) == "intake_operator":
        return getattr(actor, "org_unit_id", None) == visit.centre.org_unit_id
    if visit is not None and role_of(actor) == "mediator":
        return VISIT_WORKFLOW.permissions[VisitAction.OPEN_CASE](actor, visit)
    return scope_of(actor).allows_division(division.pk)


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
    from zhiwang.tickets.selectors import ticket_get, ticket_timeline
    from zhiwang.tickets.services import ticket_note, ticket_transfer

    key = clean(idempotency_key)
    if key and (existing := _existing_case(_case_key(actor, key))):
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
    division = ticket.division or ticket.subdistrict or ticket.district
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
        )
        if not result.created:
            return result
        case = result.case
        # The matter leaves the ticket loop: close the ticket with a pointer to the case (移交)
        # when the actor may; otherwise (e.g. a mediator, or a ticket already replied) a note.
        transferred = annotated = False
        if ticket.is_open:
            note = _("Transferred to mediation as dispute case %(number)s.") % {"number": case.number}
            try:
                ticket_transfer(
                    ticket=ticket, actor=actor, target=_("mediation"), reference=case.number, note=note
                )
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
        CaseEvent.objects.create(
            case=case,
            actor=actor,
            action=A.NOTE,
            from_state=case.status,
            to_state=case.status,
            note=_("Linked to ticket %(number)s (%(status)s).")
            % {"number": ticket.number, "status": ticket.get_status_display()},
            payload={
                "ticket": ticket.number,
                "ticket_annotated": annotated,
                "ticket_transferred": transferred,
                "ticket_history": history,
            },
        )
    return result


# --- assignment ----------------------------------------------------------------------


def _serves(organisation: MediationOrganisation, division: Division) -> bool:
    return division.code.startswith(organisation.division.code_prefix)


def organisation_candidates(case: DisputeCase) -> list[MediationOrganisation]:
    """Active organisations serving the case's place and category, most local first, then least loaded."""
    orgs = [
        org
        for org in MediationOrganisation.objects.filter(is_active=True)
        .select_related("division")
        .prefetch_related("categories")
        .annotate(load=Count("cases", filter=Q(cases__status__in=WORKLOAD_STATUSES)))
        if _serves(org, case.division)
    ]
    orgs = [o for o in orgs if not o.categories.all() or case.category in o.categories.all()]
    orgs.sort(key=lambda o: (o.mediation_type != case.mediation_type, -o.division.depth, o.load, o.code))
    return orgs


def mediator_workloads(organisation: MediationOrganisation) -> list[Mediator]:
    """Active mediators of an organisation with ``load`` (open cases), least loaded first."""
    return list(
        Mediator.objects.filter(organisation=organisation, is_active=True, user__is_active=True)
        .select_related("user")
        .annotate(
            load=Count("user__dispute_cases", filter=Q(user__dispute_cases__status__in=WORKLOAD_STATUSES))
        )
        .order_by("load", "user__username")
    )


@transaction.atomic
def case_assign(
    *,
    case: DisputeCase,
    actor,
    organisation: MediationOrganisation | None = None,
    mediator=None,
    note: str = "",
) -> DisputeCase:
    """Assign to an organisation and a mediator; either left out is chosen fairly by workload.

    Without ``organisation``: the most local active organisation serving the case's
    division (of the case's mediation type and category), least loaded first. Without
    ``mediator``: that organisation's active mediator with the fewest open cases, below
    capacity. Raises ``disputes.no_organisation``, ``disputes.organisation_out_of_area``,
    ``disputes.mediator_not_member``, ``disputes.mediator_full``.
    """
    if organisation is None:
        if mediator is not None and hasattr(mediator, "mediator"):
            organisation = mediator.mediator.organisation
        else:
            candidates = organisation_candidates(case)
            if not candidates:
                raise ServiceError(
                    "disputes.no_organisation",
                    _("No active mediation organisation serves this place."),
                    field="organisation",
                )
            organisation = candidates[0]
    if not organisation.is_active or not _serves(organisation, case.division):
        raise ServiceError(
            "disputes.organisation_out_of_area",
            _("%(org)s does not serve the place of this dispute.") % {"org": organisation.name},
            field="organisation",
        )
    loads = {m.user_id: m for m in mediator_workloads(organisation)}
    if mediator is None:
        free = [m for m in loads.values() if m.load < m.capacity]
        if not free:
            raise ServiceError(
                "disputes.mediator_full",
                _("Every mediator of %(org)s is at capacity.") % {"org": organisation.name},
                field="mediator",
            )
        chosen = free[0]
    else:
        chosen = loads.get(mediator.pk)
        if chosen is None:
            raise ServiceError(
                "disputes.mediator_not_member",
                _("%(name)s is not an active mediator of %(org)s.")
                % {"name": mediator.display_name, "org": organisation.name},
                field="mediator",
            )
        if chosen.load >= chosen.capacity and case.mediator_id != mediator.pk:
            raise ServiceError(
                "disputes.mediator_full",
                _("%(name)s already has %(n)d open cases.")
                % {"name": mediator.display_name, "n": chosen.load},
                field="mediator",
            )
    previous = (case.organisation_id, case.mediator_id)
    case.organisation = organisation
    case.mediator = chosen.user
    case.assigned_at = timezone.now()
    _apply(
        case,
        A.ASSIGN,
        actor=actor,
        note=clean(note)
        or _("Assigned to %(org)s, mediator %(name)s.")
        % {"org": organisation.name, "name": chosen.user.display_name},
        payload={
            "organisation": organisation.code,
            "mediator": chosen.user.username,
            "mediator_load": chosen.load,
            "previous": list(previous),
        },
        fields=["organisation", "mediator", "assigned_at"],
    )
    _alert(
        case,
        [chosen.user],
        AlertKind.ASSIGNED,
        due_key=f"v{case.version}",
        message=_("Case %(number)s was assigned to you.") % {"number": case.number},
    )
    return case


# --- mediation -----------------------------------------------------------------------


@transaction.atomic
def session_record(
    *,
    case: DisputeCase,
    actor,
    record: str,
    held_at: datetime | None = None,
    place: str = "",
    attendees: str = "",
    online: bool = False,
) -> MediationSession:
    """Record one mediation session (调解记录); the first one starts the mediation."""
    record = require(record, "record", _("Write what happened at the session."))
    now = timezone.now()
    held_at = held_at or now
    if timezone.is_naive(held_at):  # a local time without zone (API clients, forms)
        held_at = timezone.make_aware(held_at)
    if held_at > now + timedelta(hours=1):
        raise ServiceError(
            "disputes.session_in_future",
            _("A session cannot be recorded before it is held."),
            field="held_at",
        )
    if held_at < case.received_at - timedelta(days=1):
        raise ServiceError(
            "disputes.session_before_case",
            _("The session is dated before the case was registered."),
            field="held_at",
        )
    _apply(case, A.RECORD_SESSION, actor=actor, note=record[:500], payload={"held_at": held_at})
    return MediationSession.objects.create(
        case=case,
        held_at=held_at,
        place=clean(place)[:128],
        mediator=actor,
        attendees=clean(attendees)[:255],
        record=record,
        online=bool(online),
    )


@transaction.atomic
def agreement_reach(
    *,
    case: DisputeCase,
    actor,
    form: str,
    terms: str,
    performance_manner: str,
    performance_deadline,
    facts: str = "",
    signed_on=None,
) -> Agreement:
    """Record the agreement (调解协议): terms and the manner and deadline of performance are required.

    Raises ``disputes.performance_terms_missing`` (with the fields), ``disputes.invalid``.
    """
    errors = ErrorList()
    if form not in AgreementForm.values:
        errors.add("form", "disputes.choice_invalid", _("Choose an oral or a written agreement."))
    terms = clean(terms)
    manner = clean(performance_manner)
    missing = ErrorList()
    if not terms:
        missing.add("terms", "disputes.performance_terms_missing", _("Write the terms the parties agreed."))
    if not manner:
        missing.add(
            "performance_manner",
            "disputes.performance_terms_missing",
            _("Say how the agreement is to be performed."),
        )
    if performance_deadline in (None, ""):
        missing.add(
            "performance_deadline",
            "disputes.performance_terms_missing",
            _("Give the deadline by which the agreement is to be performed."),
        )
    missing.raise_if_any(
        "disputes.performance_terms_missing",
        _("An agreement needs its terms and the manner and deadline of performance."),
    )
    today = timezone.localdate()
    try:
        deadline = parse_date(performance_deadline, "performance_deadline")
        signed = parse_date(signed_on, "signed_on") if signed_on not in (None, "") else today
    except ServiceError as error:
        raise error
    if signed > today:
        errors.add("signed_on", "disputes.date_in_future", _("The agreement cannot be signed in the future."))
    if deadline < signed:
        errors.add(
            "performance_deadline",
            "disputes.deadline_before_signing",
            _("The performance deadline is before the agreement was signed."),
        )
    errors.raise_if_any("disputes.invalid")
    _apply(
        case, A.REACH_AGREEMENT, actor=actor, note=terms[:500], payload={"form": form, "deadline": deadline}
    )
    return Agreement.objects.create(
        case=case,
        form=form,
        number=next_number("XY"),
        facts=clean(facts) or case.facts,
        terms=terms,
        performance_manner=manner[:255],
        performance_deadline=deadline,
        signed_on=signed,
        created_by=actor,
    )


def _agreement(case: DisputeCase) -> Agreement:
    agreement = Agreement.objects.filter(case=case).first()
    if agreement is None:
        raise ServiceError("disputes.no_agreement", _("This case has no agreement."))
    return agreement


def confirmation_deadline(agreement: Agreement) -> date:
    """The last day on which judicial confirmation may be applied for."""
    return agreement.signed_on + timedelta(days=CONFIRMATION_DAYS)


@transaction.atomic
def confirmation_apply(*, case: DisputeCase, actor, applied_on=None, court: str = "") -> Agreement:
    """The parties apply to the court for judicial confirmation (司法确认), within 30 days of the agreement.

    Raises ``disputes.confirmation_window_closed`` after the 30 days,
    ``disputes.confirmation_oral`` for an oral agreement, ``disputes.confirmation_already``.
    """
    agreement = _agreement(case)
    applied = parse_date(applied_on, "applied_on") if applied_on not in (None, "") else timezone.localdate()
    if agreement.form != AgreementForm.WRITTEN:
        raise ServiceError(
            "disputes.confirmation_oral",
            _("Only a written agreement can be confirmed by a court."),
            field="form",
        )
    if agreement.confirmation_status:
        raise ServiceError(
            "disputes.confirmation_already", _("Judicial confirmation has already been applied for.")
        )
    if applied < agreement.signed_on or applied > timezone.localdate():
        raise ServiceError(
            "disputes.date_invalid",
            _("The application date must lie between the signing and today."),
            field="applied_on",
        )
    last = confirmation_deadline(agreement)
    if applied > last:
        raise ServiceError(
            "disputes.confirmation_window_closed",
            _("Judicial confirmation must be applied for within 30 days of the agreement (by %(date)s).")
            % {"date": last.isoformat()},
            field="applied_on",
        )
    agreement.confirmation_status = ConfirmationStatus.APPLIED
    agreement.confirmation_applied_on = applied
    agreement.confirmation_court = require(court, "court", _("Name the court applied to."))[:128]
    _apply(
        case,
        A.APPLY_CONFIRMATION,
        actor=actor,
        note=agreement.confirmation_court,
        payload={"applied_on": applied},
    )
    agreement.save(update_fields=["confirmation_status", "confirmation_applied_on", "confirmation_court"])
    return agreement


@transaction.atomic
def confirmation_result(*, case: DisputeCase, actor, confirmed: bool, note: str = "") -> Agreement:
    """The court's ruling on an application for judicial confirmation (confirmed or refused)."""
    agreement = _agreement(case)
    if agreement.confirmation_status != ConfirmationStatus.APPLIED:
        raise ServiceError(
            "disputes.confirmation_not_applied", _("Judicial confirmation has not been applied for.")
        )
    agreement.confirmation_status = ConfirmationStatus.CONFIRMED if confirmed else ConfirmationStatus.REFUSED
    _apply(
        case,
        A.CONFIRMATION_RESULT,
        actor=actor,
        note=clean(note),
        payload={"confirmed": bool(confirmed)},
    )
    agreement.save(update_fields=["confirmation_status"])
    return agreement


@transaction.atomic
def performance_follow_up(*, case: DisputeCase, actor, status: str, note: str = "") -> PerformanceFollowUp:
    """A follow-up visit on performance (履行回访); the agreement keeps the latest finding."""
    agreement = _agreement(case)
    if status not in PerformanceStatus.values or status == PerformanceStatus.PENDING:
        raise ServiceError(
            "disputes.choice_invalid", _("Say whether the agreement was performed."), field="status"
        )
    agreement.performance_status = status
    _apply(case, A.FOLLOW_UP, actor=actor, note=clean(note), payload={"performance": status})
    agreement.save(update_fields=["performance_status"])
    return PerformanceFollowUp.objects.create(
        case=case, at=timezone.now(), status=status, note=clean(note), by=actor
    )


@transaction.atomic
def case_extend(*, case: DisputeCase, actor, until, reason: str) -> DisputeCase:
    """Extend the one-month target with the parties' consent (延长调解期限)."""
    reason = require(reason, "reason", _("Say why, and that the parties consent."))
    new_day = parse_date(until, "until")
    if new_day <= timezone.localdate(case.target_at):
        raise ServiceError(
            "disputes.extension_not_later",
            _("The new target must be later than the current one."),
            field="until",
        )
    previous = case.target_at
    # On the local calendar: replacing the day of the UTC value could land a day off.
    case.target_at = timezone.localtime(case.target_at).replace(
        year=new_day.year, month=new_day.month, day=new_day.day
    )
    case.extended = True
    _apply(
        case,
        A.EXTEND,
        actor=actor,
        note=reason,
        payload={"from": previous, "to": case.target_at},
        fields=["target_at", "extended"],
    )
    return case


# --- ends ------------------------------------------------------------------------------


@transaction.atomic
def case_refer(*, case: DisputeCase, actor, kind: str, reason: str) -> DisputeCase:
    """No agreement → arbitration, litigation, petition or administrative reconsideration, with the reason."""
    if kind not in ReferralKind.values:
        raise ServiceError(
            "disputes.referral_kind", _("Choose where the dispute is referred to."), field="kind"
        )
    case.referral_reason = require(reason, "reason", _("Give the reason for the referral."))
    case.referral_kind = kind
    case.referred_at = timezone.now()
    _apply(
        case,
        A.REFER,
        actor=actor,
        note=case.referral_reason,
        payload={"kind": kind},
        fields=["referral_kind", "referral_reason", "referred_at"],
    )
    return case


@transaction.atomic
def case_close(*, case: DisputeCase, actor, outcome: str, note: str = "") -> DisputeCase:
    """结案, never without an outcome; "mediated successfully" needs an agreement.

    Raises ``disputes.outcome_required``, ``disputes.outcome_needs_agreement``,
    ``disputes.outcome_referred``.
    """
    outcome = clean(outcome)
    if not outcome:
        raise ServiceError(
            "disputes.outcome_required", _("A case cannot be closed without its outcome."), field="outcome"
        )
    if outcome not in CaseOutcome.values:
        raise ServiceError("disputes.choice_invalid", _("Choose one of the outcomes."), field="outcome")
    has_agreement = Agreement.objects.filter(case=case).exists()
    if outcome == CaseOutcome.SUCCESS and not has_agreement:
        raise ServiceError(
            "disputes.outcome_needs_agreement",
            _("Record the agreement before closing the case as mediated successfully."),
            field="outcome",
        )
    if case.status == CaseStatus.REFERRED and outcome not in (CaseOutcome.REFERRED, CaseOutcome.WITHDRAWN):
        raise ServiceError(
            "disputes.outcome_referred",
            _("A referred case closes as referred or withdrawn."),
            field="outcome",
        )
    case.outcome = outcome
    case.outcome_note = clean(note)
    case.closed_at = timezone.now()
    _apply(
        case,
        A.CLOSE,
        actor=actor,
        note=case.outcome_note,
        payload={"outcome": outcome},
        fields=["outcome", "outcome_note", "closed_at"],
    )
    return case


# --- changes, escalation, backlog --------------------------------------------------------


@transaction.atomic
def case_update(
    *,
    case: DisputeCase,
    actor,
    risk: str | None = None,
    scale: str | None = None,
    people_involved=None,
    amount=None,
    category: str | None = None,
    note: str = "",
) -> DisputeCase:
    """Correct the case's assessment; raising the risk to red or orange reports it upward at once."""
    changes = {}
    if risk is not None and risk != case.risk:
        changes["risk"] = _choice(risk, RiskColour, "risk")
    if scale is not None and scale != case.scale:
        changes["scale"] = _choice(scale, CaseScale, "scale")
    if people_involved not in (None, ""):
        changes["people_involved"] = _people(people_involved)
    if amount not in (None, ""):
        changes["amount"] = parse_amount(amount)
    if category:
        changes["category"] = _category(category)
    changes = {k: v for k, v in changes.items() if getattr(case, k) != v}
    if not changes:
        raise ServiceError("disputes.nothing_changed", _("Nothing was changed."))
    before = {k: str(getattr(case, k)) for k in changes}
    for name, value in changes.items():
        setattr(case, name, value)
    _apply(
        case,
        A.UPDATE,
        actor=actor,
        note=clean(note),
        payload={"before": before, "after": {k: str(v) for k, v in changes.items()}},
        fields=list(changes),
    )
    if "risk" in changes and case.risk in (RiskColour.RED, RiskColour.ORANGE):
        _report_up(case, actor=actor)
    return case


def _alert(case: DisputeCase, users, kind: str, *, due_key: str, message: str) -> int:
    """Alerts once per (case, user, kind, due_key); returns how many were new."""
    made = 0
    for user in users:
        if user is None:
            continue
        _row, created = DisputeAlert.objects.get_or_create(
            case=case, recipient=user, kind=kind, due_key=due_key[:32], defaults={"message": message[:500]}
        )
        made += created
    return made


def _report_up(case: DisputeCase, *, actor) -> int:
    """Red: leaders and dispatchers above the place at once; orange: the dispatchers (same day)."""
    if case.risk == RiskColour.RED:
        roles, kind = ("leader", "dispatcher"), AlertKind.RED_RISK
        message = _("Red-risk dispute %(number)s at %(place)s: %(title)s") % {
            "number": case.number,
            "place": case.division.name,
            "title": case.title,
        }
    else:
        roles, kind = ("dispatcher",), AlertKind.ORANGE_RISK
        message = _("Orange-risk dispute %(number)s at %(place)s: %(title)s") % {
            "number": case.number,
            "place": case.division.name,
            "title": case.title,
        }
    recipients = list(users_over(case.division, roles))
    made = _alert(case, recipients, kind, due_key=case.risk, message=message)
    case.reported_up_at = timezone.now()
    # Written by the system: whoever raised the risk, the report itself is automatic.
    _apply(
        case,
        A.REPORT_UP,
        actor=None,
        note=message,
        payload={
            "risk": case.risk,
            "recipients": [u.username for u in recipients],
            "new_alerts": made,
            "raised_by": getattr(actor, "username", None),
        },
        fields=["reported_up_at"],
    )
    return made


@transaction.atomic
def case_mark_backlog(*, case: DisputeCase, actor, deadline, leader, note: str = "") -> DisputeCase:
    """列为积案: a long-standing petition case with its own time limit and a named responsible leader (包案)."""
    day = parse_date(deadline, "backlog_deadline")
    if day < timezone.localdate():
        raise ServiceError(
            "disputes.date_in_past", _("The time limit cannot lie in the past."), field="backlog_deadline"
        )
    if (
        leader is None
        or role_of(leader) != "leader"
        or not scope_of(leader).allows_division(case.division_id)
    ):
        raise ServiceError(
            "disputes.leader_invalid",
            _("Name a leader whose jurisdiction includes this dispute."),
            field="responsible_leader",
        )
    case.is_backlog = True
    case.backlog_deadline = day
    case.responsible_leader = leader
    _apply(
        case,
        A.MARK_BACKLOG,
        actor=actor,
        note=clean(note),
        payload={"deadline": day, "leader": leader.username},
        fields=["is_backlog", "backlog_deadline", "responsible_leader"],
    )
    _alert(
        case,
        [leader],
        AlertKind.BACKLOG_DUE,
        due_key=f"named:{day.isoformat()}",
        message=_("You are the responsible leader of backlog case %(number)s (time limit %(date)s).")
        % {"number": case.number, "date": day.isoformat()},
    )
    return case


@transaction.atomic
def case_note(*, case: DisputeCase, actor, note: str) -> CaseEvent:
    return CASE_WORKFLOW.apply(
        case, A.NOTE, actor=actor, timeline_model=CaseEvent, note=require(note, "note", _("Write the note."))
    )


@transaction.atomic
def case_reveal_parties(*, case: DisputeCase, actor, reason: str) -> list[dict]:
    """Unmask the parties' names, ID numbers and phones for who must contact them, and log it.

    The log is a ``reveal_parties`` row on the case's own append-only timeline; it does not
    move the case's version.
    """
    reason = require(reason, "reason", _("Say why you need the parties' personal data."))
    if not may_see_parties(actor, case):
        raise PermissionDeniedError(
            "workflow.permission_denied",
            _("You may not do “%(action)s” here.") % {"action": A.REVEAL_PARTIES.label},
        )
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        action=A.REVEAL_PARTIES,
        from_state=case.status,
        to_state=case.status,
        note=reason,
        payload={"fields": ["name", "identifier", "phone"]},
        at=timezone.now(),
    )
    return [
        {
            "id": p.pk,
            "role": p.role,
            "kind": p.kind,
            "name": p.name,
            "identifier": p.identifier,
            "phone": p.phone,
            "address": p.address,
        }
        for p in case.parties.order_by("role", "pk")
    ]


def may_act(actor, case: DisputeCase, action: str) -> bool:
    """Whether ``actor`` may do ``action`` now (for showing buttons)."""
    return action in CASE_WORKFLOW.allowed_actions(case.status, actor=actor, obj=case)


__all__ = [
    "CONFIRMATION_DAYS",
    "CaseResult",
    "agreement_reach",
    "case_assign",
    "case_close",
    "case_extend",
    "case_from_ticket",
    "case_mark_backlog",
    "case_note",
    "case_refer",
    "case_register",
    "case_reveal_parties",
    "case_update",
    "confirmation_apply",
    "confirmation_deadline",
    "confirmation_result",
    "is_case_mediator",
    "may_act",
    "mediator_workloads",
    "organisation_candidates",
    "performance_follow_up",
    "session_record",
]
