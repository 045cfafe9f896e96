"""Dispute cases: register, assign, sessions, online mediation, agreement, follow-up, referral, closing, ledger."""

from datetime import datetime

from django.http import HttpResponse
from ninja import Query, Status

from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.disputes import selectors, services
from zhiwang.disputes.api.common import (
    case_in_scope,
    created_answer,
    division_by_code,
    fields_of,
    party_dicts,
    registry_fields,
    router,
)
from zhiwang.disputes.api.schemas import (
    AgreementIn,
    AgreementOut,
    AssignIn,
    CaseDetailOut,
    CaseFilterIn,
    CaseIn,
    CaseOut,
    CloseIn,
    ConfirmationIn,
    FollowUpIn,
    FromTicketIn,
    IssuedLinkOut,
    LedgerRowOut,
    OnlineSessionIn,
    OnlineSessionOut,
    PartyOut,
    ReasonIn,
    ReferIn,
    RevealedPartyOut,
    SeenIn,
    SessionIn,
    SessionOut,
    local_datetime,
)


@router.get("/cases", response=list[CaseOut])
@paginate(LimitOffsetPagination)
def list_cases(request, filters: Query[CaseFilterIn]):
    """The ledger: cases in the caller's scope, newest first (``near``: one-month target near; ``backlog``).

    ``received_from`` / ``received_to``: the period of reception, as on the ledger page; when
    ``received_to`` has passed, ``status`` and ``risk`` are read as of it."""
    return selectors.case_list(user=request.auth, filters=filters.dict())


@router.post("/cases", response={201: CaseDetailOut, 200: CaseDetailOut})
def create_case(request, payload: CaseIn):
    """Register a case; a retry with the same ``idempotency_key`` answers 200 with the first case."""
    result = registry_fields(
        lambda: services.case_register(
            actor=request.auth,
            division=division_by_code(payload.division),
            parties=party_dicts(payload.parties),
            **payload.dict(exclude={"division", "parties"}),
        ),
        payload.parties,
    )
    return created_answer(request, result)


@router.post("/cases/from-ticket", response={201: CaseDetailOut, 200: CaseDetailOut})
def create_from_ticket(request, payload: FromTicketIn):
    """转调解: a ticket in the caller's scope becomes a case, its history linked."""
    result = registry_fields(
        lambda: services.case_from_ticket(
            actor=request.auth,
            ticket_number=payload.ticket,
            category=payload.category,
            parties=party_dicts(payload.parties),
            risk=payload.risk,
            amount=payload.amount,
            idempotency_key=payload.idempotency_key,
        ),
        payload.parties,
    )
    return created_answer(request, result)


@router.get("/cases/{number}", response=CaseDetailOut)
def get_case(request, number: str):
    return case_in_scope(request, number)


@router.get("/cases/{number}/parties", response=list[PartyOut])
def list_parties(request, number: str):
    return list(selectors.case_parties(case=case_in_scope(request, number)))


@router.post("/cases/{number}/parties/reveal", response=list[RevealedPartyOut])
def reveal_parties(request, number: str, payload: ReasonIn):
    """Unmask the parties (mediator, supervising dispatcher, the window); logged on the timeline."""
    return services.case_reveal_parties(
        case=case_in_scope(request, number), actor=request.auth, reason=payload.reason
    )


@router.post("/cases/{number}/assign", response=CaseDetailOut)
def assign(request, number: str, payload: AssignIn):
    """Assign (or reassign); an organisation code or mediator username that names none is a field
    error (``disputes.organisation_unknown`` / ``disputes.mediator_unknown``), never a fair choice."""
    services.case_assign_named(
        case=case_in_scope(request, number, payload),
        actor=request.auth,
        organisation=payload.organisation,
        mediator=payload.mediator,
        note=payload.note,
    )
    return case_in_scope(request, number)


@router.get("/cases/{number}/sessions", response=list[SessionOut])
def list_sessions(request, number: str):
    return list(selectors.case_sessions(case=case_in_scope(request, number)))


@router.post("/cases/{number}/sessions", response={201: SessionOut})
def add_session(request, number: str, payload: SessionIn):
    session = services.session_record(
        case=case_in_scope(request, number, payload), actor=request.auth, **fields_of(payload)
    )
    return Status(201, session)


@router.post("/cases/{number}/online-sessions", response={201: OnlineSessionOut})
def schedule_online(request, number: str, payload: OnlineSessionIn):
    """Schedule an online session: a meeting room (and its video link); the parties are texted."""
    meeting = services.online_session_schedule(
        case=case_in_scope(request, number, payload), actor=request.auth, **fields_of(payload)
    )
    return Status(201, meeting)


@router.post("/cases/{number}/agreement/confirmation-links", response={201: list[IssuedLinkOut]})
def send_confirmation_links(request, number: str, payload: SeenIn, response: HttpResponse):
    """One-time links for the parties to confirm the agreement online (texted to those with a phone).

    The links are secrets shown once: the answer is ``Cache-Control: no-store``.
    """
    from django.urls import reverse

    issued = services.confirmation_links_send(
        case=case_in_scope(request, number, payload),
        actor=request.auth,
        build_url=lambda token: request.build_absolute_uri(
            reverse("disputes:confirm_agreement", args=[token])
        ),
    )
    response["Cache-Control"] = "no-store"
    return Status(201, issued)


@router.post("/cases/{number}/agreement", response={201: AgreementOut})
def add_agreement(request, number: str, payload: AgreementIn):
    agreement = services.agreement_reach(
        case=case_in_scope(request, number, payload), actor=request.auth, **fields_of(payload)
    )
    return Status(201, agreement)


@router.post("/cases/{number}/agreement/confirmation", response=AgreementOut)
def apply_confirmation(request, number: str, payload: ConfirmationIn):
    return services.confirmation_apply(
        case=case_in_scope(request, number, payload), actor=request.auth, **fields_of(payload)
    )


@router.post("/cases/{number}/follow-ups", response=AgreementOut)
def follow_up(request, number: str, payload: FollowUpIn):
    case = case_in_scope(request, number, payload)
    services.performance_follow_up(case=case, actor=request.auth, status=payload.status, note=payload.note)
    case.agreement.refresh_from_db()
    return case.agreement


@router.post("/cases/{number}/refer", response=CaseDetailOut)
def refer(request, number: str, payload: ReferIn):
    services.case_refer(
        case=case_in_scope(request, number, payload),
        actor=request.auth,
        kind=payload.kind,
        reason=payload.reason,
    )
    return case_in_scope(request, number)


@router.post("/cases/{number}/close", response=CaseDetailOut)
def close(request, number: str, payload: CloseIn):
    services.case_close(
        case=case_in_scope(request, number, payload),
        actor=request.auth,
        outcome=payload.outcome,
        note=payload.note,
    )
    return case_in_scope(request, number)


@router.get("/ledger/summary", response=list[LedgerRowOut])
def ledger_summary(request, filters: Query[CaseFilterIn], by: str = "division"):
    """Counts per division, category, organisation or status (``by``), over the same filters as the list.

    Over a period of reception that has ended (``received_to`` passed) every figure is as of its
    end, as the ledger page's summary: ``open`` open then, ``success`` closed as mediated
    successfully before it, ``red`` and ``amount`` the risk colour and amount involved then, and
    ``by=status`` groups by the status at the end (``open`` for a case whose timeline says none).
    A period still running, or none, reads today's values."""
    return selectors.ledger_summary(user=request.auth, by=by, filters=filters.dict())


@router.get("/indicators")
def indicators(request, since: datetime | None = None, until: datetime | None = None, division: str = ""):
    """Success rate, amounts, prevented escalation over the caller's cases received in [since, until)
    (without an offset: local time)."""
    return selectors.dispute_indicators(
        user=request.auth, since=local_datetime(since), until=local_datetime(until), division=division
    )
