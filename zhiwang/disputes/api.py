"""REST API of the disputes app, mounted at /api/v1/disputes/ by zhiwang.api.

Thin handlers: a ``…In`` schema checks the shape, a selector finds the case in the
caller's scope (404 outside it, like a case that does not exist), one service does the
work, a ``…Out`` schema shapes the answer. Parties' names, ID numbers and phones are
masked in every answer; ``POST /cases/{number}/parties/reveal`` unmasks them for those
who work the case and give a reason (logged on the case's timeline).
"""

from datetime import date, datetime
from decimal import Decimal

from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from zhiwang.disputes import selectors, services
from zhiwang.disputes.models import MediationOrganisation
from zhiwang.geo.models import Division

router = Router(tags=["disputes"])


class Ref(Schema):
    code: str
    name: str


def _ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


class PartyOut(Schema):
    id: int
    role: str
    kind: str
    name: str  # masked for a person
    identifier: str  # masked for a person
    phone: str  # masked

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.masked_name

    @staticmethod
    def resolve_identifier(obj) -> str:
        return obj.masked_identifier

    @staticmethod
    def resolve_phone(obj) -> str:
        return obj.masked_phone


class CaseOut(Schema):
    number: str
    version: int
    title: str
    status: str
    status_label: str
    category: Ref
    mediation_type: str
    source: str
    scale: str
    people_involved: int
    amount: Decimal
    risk: str
    division: Ref
    organisation: Ref | None
    mediator: str | None
    received_at: datetime
    target_at: datetime
    closed_at: datetime | None
    outcome: str
    referral_kind: str
    is_backlog: bool
    backlog_deadline: date | None
    ticket: str | None

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_category(obj) -> dict:
        return _ref(obj.category)

    @staticmethod
    def resolve_division(obj) -> dict:
        return _ref(obj.division)

    @staticmethod
    def resolve_organisation(obj) -> dict | None:
        return _ref(obj.organisation)

    @staticmethod
    def resolve_mediator(obj) -> str | None:
        return obj.mediator.username if obj.mediator_id else None

    @staticmethod
    def resolve_ticket(obj) -> str | None:
        return obj.ticket.number if obj.ticket_id else None


class EventOut(Schema):
    at: datetime
    action: str
    from_state: str
    to_state: str
    actor: str | None
    note: str

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.username if obj.actor_id else None


class SessionOut(Schema):
    id: int
    held_at: datetime
    place: str
    attendees: str
    record: str
    online: bool


class AgreementOut(Schema):
    number: str
    form: str
    terms: str
    performance_manner: str
    performance_deadline: date
    signed_on: date
    confirmation_status: str
    confirmation_deadline: date
    performance_status: str

    @staticmethod
    def resolve_confirmation_deadline(obj) -> date:
        return services.confirmation_deadline(obj)


class CaseDetailOut(CaseOut):
    facts: str
    parties: list[PartyOut]
    sessions: list[SessionOut]
    agreement: AgreementOut | None
    events: list[EventOut]

    @staticmethod
    def resolve_parties(obj) -> list:
        return list(selectors.case_parties(case=obj))

    @staticmethod
    def resolve_sessions(obj) -> list:
        return list(selectors.case_sessions(case=obj))

    @staticmethod
    def resolve_agreement(obj):
        return getattr(obj, "agreement", None) if hasattr(obj, "agreement") else None

    @staticmethod
    def resolve_events(obj) -> list:
        return list(selectors.case_timeline(case=obj))


class PartyIn(Schema):
    """A party; ``registry_person_id`` / ``registry_entity_id`` pick a registry record (in the
    caller's registry scope) whose name and ID number / credit code replace the typed ones."""

    role: str
    kind: str = "person"
    name: str = ""
    identifier: str = ""
    phone: str = ""
    address: str = ""
    representative: str = ""
    registry_person_id: int | None = None
    registry_entity_id: int | None = None


def _parties(parties: list[PartyIn]) -> list[dict]:
    rows = []
    for party in parties:
        row = party.dict(exclude={"registry_person_id", "registry_entity_id"})
        row["person_id"] = party.registry_person_id or ""
        row["entity_id"] = party.registry_entity_id or ""
        rows.append(row)
    return rows


def _registry_fields(call, parties: list[PartyIn] = (), visitor: bool = False):
    """Run ``call``; a pick outside the caller's registry scope is reported on the API's own field
    (``parties.<i>.registry_person_id`` / ``registry_entity_id``, ``visitor_registry_person_id``)
    with ``disputes.registry_not_found`` — the same answer whether the record exists or not."""
    from zhiwang.core.errors import FieldError, ServiceError

    try:
        return call()
    except ServiceError as error:
        # The service numbers only the non-empty party rows, as the API client sent them.
        kept = [
            p
            for p in parties
            if p.name or p.identifier or p.phone or p.registry_person_id or p.registry_entity_id
        ]
        renamed = []
        for item in error.fields:
            name = item.field
            if item.code == "disputes.registry_not_found":
                if visitor and name == "visitor_name":
                    name = "visitor_registry_person_id"
                elif name.startswith("parties.") and name.endswith(".name"):
                    index = int(name.split(".")[1])
                    entity = index < len(kept) and kept[index].kind == "entity"
                    name = f"parties.{index}.registry_{'entity' if entity else 'person'}_id"
            renamed.append(FieldError(field=name, code=item.code, message=item.message))
        error.fields = renamed
        if error.field and renamed and error.code == renamed[0].code:
            error.field = renamed[0].field
        raise


class CaseIn(Schema):
    title: str = ""
    facts: str
    category: str
    division: str  # division code
    parties: list[PartyIn] = []
    source: str = "window"
    mediation_type: str = "peoples"
    scale: str = "individual"
    people_involved: int = 2
    amount: Decimal = Decimal("0")
    risk: str = "blue"
    idempotency_key: str = ""


class FromTicketIn(Schema):
    ticket: str
    category: str
    parties: list[PartyIn] = []
    risk: str = "blue"
    amount: Decimal = Decimal("0")
    idempotency_key: str = ""


class SeenIn(Schema):
    """``version``: the case's version as the caller last read it; a newer one answers 409."""

    version: int | None = None


class AssignIn(SeenIn):
    organisation: str = ""  # code; empty = chosen fairly
    mediator: str = ""  # username; empty = chosen fairly
    note: str = ""


class SessionIn(SeenIn):
    record: str
    held_at: datetime | None = None
    place: str = ""
    attendees: str = ""
    online: bool = False


class AgreementIn(SeenIn):
    form: str
    terms: str = ""
    performance_manner: str = ""
    performance_deadline: str = ""
    facts: str = ""
    signed_on: str = ""


class ConfirmationIn(SeenIn):
    court: str = ""
    applied_on: str = ""


class FollowUpIn(SeenIn):
    status: str
    note: str = ""


class ReferIn(SeenIn):
    kind: str
    reason: str = ""


class CloseIn(SeenIn):
    outcome: str = ""
    note: str = ""


class ReasonIn(Schema):
    reason: str = ""


class RevealedPartyOut(Schema):
    id: int
    role: str
    kind: str
    name: str
    identifier: str
    phone: str
    address: str


class LedgerRowOut(Schema):
    key: str
    name: str
    total: int
    open: int
    success: int
    red: int
    amount: Decimal


class CaseFilterIn(Schema):
    status: str = ""
    division: str = ""
    category: str = ""
    organisation: str = ""
    risk: str = ""
    near: bool = False
    backlog: bool = False
    mine: bool = False
    q: str = ""


def _division(code: str) -> Division | None:
    return Division.objects.filter(code=(code or "").strip()).first()


def _case(request, number: str, payload: SeenIn | None = None):
    """The case in the caller's scope (404 outside it); with the version the caller saw, if sent."""
    case = selectors.case_get(user=request.auth, number=number)
    if payload is not None and payload.version is not None:
        case.version = payload.version  # the service compares it with the locked row (409)
    return case


def _fields(payload: Schema) -> dict:
    return payload.dict(exclude={"version"})


def _created(request, result):
    """The case just registered (or found again by its key): the caller's own submission."""
    case = selectors.case_visible(request.auth).filter(pk=result.case.pk).first() or result.case
    return Status(201 if result.created else 200, case)


@router.get("/cases", response=list[CaseOut])
@paginate(LimitOffsetPagination)
def list_cases(request, filters: Query[CaseFilterIn]):
    """The ledger: cases in the caller's scope, newest first (``near``: one-month target near; ``backlog``)."""
    return selectors.case_list(user=request.auth, filters=filters.dict())


@router.post("/cases", response={201: CaseDetailOut, 200: CaseDetailOut})
def create_case(request, payload: CaseIn):
    """Register a case; a retry with the same ``idempotency_key`` answers 200 with the first case."""
    result = _registry_fields(
        lambda: services.case_register(
            actor=request.auth,
            division=_division(payload.division),
            parties=_parties(payload.parties),
            **payload.dict(exclude={"division", "parties"}),
        ),
        payload.parties,
    )
    return _created(request, result)


@router.post("/cases/from-ticket", response={201: CaseDetailOut, 200: CaseDetailOut})
def create_from_ticket(request, payload: FromTicketIn):
    """转调解: a ticket in the caller's scope becomes a case, its history linked."""
    result = _registry_fields(
        lambda: services.case_from_ticket(
            actor=request.auth,
            ticket_number=payload.ticket,
            category=payload.category,
            parties=_parties(payload.parties),
            risk=payload.risk,
            amount=payload.amount,
            idempotency_key=payload.idempotency_key,
        ),
        payload.parties,
    )
    return _created(request, result)


@router.get("/cases/{number}", response=CaseDetailOut)
def get_case(request, number: str):
    return _case(request, number)


@router.get("/cases/{number}/parties", response=list[PartyOut])
def list_parties(request, number: str):
    return list(selectors.case_parties(case=_case(request, number)))


@router.post("/cases/{number}/parties/reveal", response=list[RevealedPartyOut])
def reveal_parties(request, number: str, payload: ReasonIn):
    """Unmask the parties (mediator, supervising dispatcher, the window); logged on the timeline."""
    return services.case_reveal_parties(
        case=_case(request, number), actor=request.auth, reason=payload.reason
    )


@router.post("/cases/{number}/assign", response=CaseDetailOut)
def assign(request, number: str, payload: AssignIn):
    from zhiwang.accounts.models import User

    case = _case(request, number, payload)
    organisation = (
        MediationOrganisation.objects.filter(code=payload.organisation).first()
        if payload.organisation
        else None
    )
    mediator = User.objects.filter(username=payload.mediator).first() if payload.mediator else None
    if payload.organisation and organisation is None:
        from django.utils.translation import gettext as _

        from zhiwang.core.errors import ServiceError

        raise ServiceError("disputes.organisation_unknown", _("Unknown organisation."), field="organisation")
    services.case_assign(
        case=case, actor=request.auth, organisation=organisation, mediator=mediator, note=payload.note
    )
    return _case(request, number)


@router.get("/cases/{number}/sessions", response=list[SessionOut])
def list_sessions(request, number: str):
    return list(selectors.case_sessions(case=_case(request, number)))


@router.post("/cases/{number}/sessions", response={201: SessionOut})
def add_session(request, number: str, payload: SessionIn):
    session = services.session_record(
        case=_case(request, number, payload), actor=request.auth, **_fields(payload)
    )
    return Status(201, session)


class OnlineSessionIn(SeenIn):
    scheduled_at: datetime
    note: str = ""


class OnlineSessionOut(Schema):
    room: str
    scheduled_at: datetime
    video_url: str  # "" when no video service is configured: give the parties the room code
    note: str


@router.post("/cases/{number}/online-sessions", response={201: OnlineSessionOut})
def schedule_online(request, number: str, payload: OnlineSessionIn):
    """Schedule an online session: a meeting room (and its video link); the parties are texted."""
    meeting = services.online_session_schedule(
        case=_case(request, number, payload), actor=request.auth, **_fields(payload)
    )
    return Status(201, meeting)


class IssuedLinkOut(Schema):
    party: int
    role: str
    url: str  # the secret link: shown once, never stored
    expires_at: datetime
    texted: bool

    @staticmethod
    def resolve_party(obj) -> int:
        return obj.party.pk

    @staticmethod
    def resolve_role(obj) -> str:
        return obj.party.role


@router.post("/cases/{number}/agreement/confirmation-links", response={201: list[IssuedLinkOut]})
def send_confirmation_links(request, number: str, payload: SeenIn):
    """One-time links for the parties to confirm the agreement online (texted to those with a phone)."""
    from django.urls import reverse

    issued = services.confirmation_links_send(
        case=_case(request, number, payload),
        actor=request.auth,
        build_url=lambda token: request.build_absolute_uri(
            reverse("disputes:confirm_agreement", args=[token])
        ),
    )
    return Status(201, issued)


@router.post("/cases/{number}/agreement", response={201: AgreementOut})
def add_agreement(request, number: str, payload: AgreementIn):
    agreement = services.agreement_reach(
        case=_case(request, number, payload), actor=request.auth, **_fields(payload)
    )
    return Status(201, agreement)


@router.post("/cases/{number}/agreement/confirmation", response=AgreementOut)
def apply_confirmation(request, number: str, payload: ConfirmationIn):
    return services.confirmation_apply(
        case=_case(request, number, payload), actor=request.auth, **_fields(payload)
    )


@router.post("/cases/{number}/follow-ups", response=AgreementOut)
def follow_up(request, number: str, payload: FollowUpIn):
    case = _case(request, number, payload)
    services.performance_follow_up(case=case, actor=request.auth, status=payload.status, note=payload.note)
    case.agreement.refresh_from_db()
    return case.agreement


@router.post("/cases/{number}/refer", response=CaseDetailOut)
def refer(request, number: str, payload: ReferIn):
    services.case_refer(
        case=_case(request, number, payload), actor=request.auth, kind=payload.kind, reason=payload.reason
    )
    return _case(request, number)


@router.post("/cases/{number}/close", response=CaseDetailOut)
def close(request, number: str, payload: CloseIn):
    services.case_close(
        case=_case(request, number, payload), actor=request.auth, outcome=payload.outcome, note=payload.note
    )
    return _case(request, number)


@router.get("/ledger/summary", response=list[LedgerRowOut])
def ledger_summary(request, filters: Query[CaseFilterIn], by: str = "division"):
    """Counts per division, category, organisation or status (``by``), over the same filters as the list."""
    return selectors.ledger_summary(user=request.auth, by=by, filters=filters.dict())


@router.get("/indicators")
def indicators(request, since: datetime | None = None, until: datetime | None = None, division: str = ""):
    """Success rate, amounts, prevented escalation over the caller's cases received in [since, until)."""
    return selectors.dispute_indicators(user=request.auth, since=since, until=until, division=division)


# --- the window and alerts ----------------------------------------------------------------


class VisitIn(Schema):
    centre: int
    area: str
    matter: str = ""
    visitor_name: str = ""
    visitor_id_number: str = ""
    visitor_phone: str = ""
    visitor_registry_person_id: int | None = None  # a registry person in the caller's scope
    idempotency_key: str


class VisitOut(Schema):
    number: str
    status: str
    area: str
    matter: str
    visitor_name: str  # masked
    visitor_phone: str  # masked
    registered_at: datetime

    @staticmethod
    def resolve_area(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_visitor_name(obj) -> str:
        return obj.visitor.masked_name

    @staticmethod
    def resolve_visitor_phone(obj) -> str:
        return obj.visitor.masked_phone


class QueueOut(Schema):
    area: Ref
    waiting: int
    visits: list[VisitOut]


class AlertOut(Schema):
    id: int
    case: str
    kind: str
    message: str
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_case(obj) -> str:
        return obj.case.number


@router.post("/visits", response={201: VisitOut, 200: VisitOut})
def register_visit(request, payload: VisitIn):
    """Register a visitor at a window of the caller's centre; a retry with the same key answers 200."""
    from django.http import Http404

    centre = selectors.centres_for(user=request.auth).filter(pk=payload.centre).first()
    if centre is None:
        raise Http404(payload.centre)
    result = _registry_fields(
        lambda: services.visit_register(
            actor=request.auth,
            centre=centre,
            area_code=payload.area,
            matter=payload.matter,
            visitor_name=payload.visitor_name,
            visitor_id_number=payload.visitor_id_number,
            visitor_phone=payload.visitor_phone,
            visitor_person=payload.visitor_registry_person_id or "",
            idempotency_key=payload.idempotency_key,
        ),
        visitor=True,
    )
    return Status(201 if result.created else 200, result.visit)


@router.get("/centres/{centre_id}/queues", response=list[QueueOut])
def queues(request, centre_id: int):
    """Each function area's queue at a centre the caller works at or supervises."""
    from django.http import Http404

    centre = selectors.centres_for(user=request.auth).filter(pk=centre_id).first()
    if centre is None:
        raise Http404(centre_id)
    return [
        {"area": _ref(q["area"]), "waiting": q["waiting"], "visits": q["visits"]}
        for q in selectors.area_queues(user=request.auth, centre=centre)
    ]


@router.get("/alerts", response=list[AlertOut])
@paginate(LimitOffsetPagination)
def alerts(request, unread: bool = False):
    """The caller's own alerts (red-risk reports, reminders), newest first."""
    return selectors.alerts_for(user=request.auth, unread_only=unread)
