"""Tickets API: submit from any client, every workflow action, scoped lists and queues.

Thin handlers: a ``…In`` schema checks the shape, a selector finds the ticket in the
caller's scope (404 outside it, like a ticket that does not exist), one service does
the work, a ``…Out`` schema shapes the answer. Every action body takes an optional
``expected_version``: when the ticket has changed since, the answer is 409
``tickets.version_conflict`` and nothing is written. Phones are masked in every
answer; ``POST /{number}/contact`` unmasks them for staff who give a reason (logged).
"""

from datetime import datetime

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.throttling import AnonRateThrottle

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.core.masking import mask_phone
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import Channel, Ticket
from zhiwang.tickets.workflow import HANDLING, TICKET_WORKFLOW, TicketAction

router = Router(tags=["tickets"])

#: Channels a citizen may submit through (the others are staff and system channels).
CITIZEN_CHANNELS = (Channel.WEB, Channel.APP, Channel.API)
PUBLIC_RATE = getattr(settings, "ZHIWANG_PUBLIC_LOOKUP_RATE", "30/m")


# --- output schemas -------------------------------------------------------------


class Ref(Schema):
    code: str
    name: str


class TicketRef(Schema):
    number: str
    title: str
    status: str
    received_at: datetime


def _ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def _overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    return bool(ticket.status in HANDLING and ticket.due_at and ticket.due_at < (now or timezone.now()))


class TicketFields(Schema):
    """The fields of a ticket in a list (masked phone); ``TicketOut`` reads them off a model."""

    number: str
    version: int
    kind: str
    kind_label: str
    category: Ref
    channel: str
    urgency: str
    title: str
    status: str
    status_label: str
    division: Ref | None
    handling_unit: Ref | None
    received_at: datetime
    accept_due_at: datetime | None
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    rework_count: int
    reporter_name: str
    reporter_phone: str  # masked


class TicketOut(TicketFields):
    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_category(obj) -> dict:
        return _ref(obj.category)

    @staticmethod
    def resolve_division(obj) -> dict | None:
        return _ref(obj.division)

    @staticmethod
    def resolve_handling_unit(obj) -> dict | None:
        return _ref(obj.handling_unit)

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return _overdue(obj)

    @staticmethod
    def resolve_reporter_phone(obj) -> str:
        return mask_phone(obj.reporter_phone) if obj.reporter_phone else ""


class InboxTicketOut(TicketOut):
    sent_back: bool = False


class EventOut(Schema):
    at: datetime
    action: str
    action_label: str
    from_state: str
    to_state: str
    actor: str | None
    unit: str | None
    note: str
    payload: dict


class RequestOut(Schema):
    id: int
    ticket: str
    kind: str
    status: str
    reason: str
    legal_basis: str
    wrong_dispatch: bool
    extra_days: int | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str

    @staticmethod
    def resolve_ticket(obj) -> str:
        return obj.ticket.number

    @staticmethod
    def resolve_requested_by(obj) -> str:
        return obj.requested_by.display_name

    @staticmethod
    def resolve_decided_by(obj) -> str | None:
        return obj.decided_by.display_name if obj.decided_by_id else None


class TicketDetailOut(TicketFields):
    description: str
    address_text: str
    address_code: str | None
    lon: float | None
    lat: float | None
    grid: str | None
    community: Ref | None
    subdistrict: Ref | None
    district: Ref | None
    dispatch_center: Ref | None
    suggested_unit: Ref | None
    route_explanation: str
    dispatched_at: datetime | None
    accepted_at: datetime | None
    warn_at: datetime | None
    suspended_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    deadline_amount: float
    deadline_unit: str
    reply: str
    resolved: bool | None
    satisfaction: str
    unreachable: bool
    merged_into: str | None
    allowed_actions: list[str]
    timeline: list[EventOut]
    requests: list[RequestOut]
    duplicates: list[TicketRef]
    duplicate_candidates: list[TicketRef]


def _event(event, *, staff: bool) -> dict:
    public_note = event.action in (TicketAction.REPLY, TicketAction.ANSWER_DIRECTLY, TicketAction.REJECT)
    return {
        "at": event.at,
        "action": event.action,
        "action_label": str(TicketAction(event.action).label)
        if event.action in TicketAction.values
        else event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": (event.actor.display_name if event.actor_id else None) if staff else None,
        "unit": event.unit.name if event.unit_id else None,
        "note": event.note if staff or public_note else "",
        "payload": event.payload if staff else {},
    }


def _ticket_ref(ticket: Ticket) -> dict:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "status": ticket.status,
        "received_at": ticket.received_at,
    }


def _detail(ticket: Ticket, user) -> dict:
    """The whole ticket as the user may see it (the timeline and requests for staff in full)."""
    staff = selectors.is_staff_viewer(user)
    base = TicketOut.from_orm(ticket).dict()
    return {
        **base,
        "description": ticket.description,
        "address_text": ticket.address_text,
        "address_code": ticket.address.code if ticket.address_id else None,
        "lon": ticket.lon,
        "lat": ticket.lat,
        "grid": ticket.grid.code if ticket.grid_id else None,
        "community": _ref(ticket.community),
        "subdistrict": _ref(ticket.subdistrict),
        "district": _ref(ticket.district),
        "dispatch_center": _ref(ticket.dispatch_center) if staff else None,
        "suggested_unit": _ref(ticket.suggested_unit) if staff else None,
        "route_explanation": ticket.route_explanation if staff else "",
        "dispatched_at": ticket.dispatched_at,
        "accepted_at": ticket.accepted_at,
        "warn_at": ticket.warn_at,
        "suspended_at": ticket.suspended_at,
        "replied_at": ticket.replied_at,
        "closed_at": ticket.closed_at,
        "deadline_amount": float(ticket.deadline_amount),
        "deadline_unit": ticket.deadline_unit,
        "reply": ticket.reply,
        "resolved": ticket.resolved,
        "satisfaction": ticket.satisfaction,
        "unreachable": ticket.unreachable,
        "merged_into": ticket.merged_into.number if ticket.merged_into_id else None,
        # What the caller may do now (the system's warning is nobody's button).
        "allowed_actions": [
            a
            for a in TICKET_WORKFLOW.allowed_actions(ticket.status, actor=user, obj=ticket)
            if a != TicketAction.WARN
        ],
        "timeline": [_event(e, staff=staff) for e in selectors.ticket_timeline(user=user, ticket=ticket)],
        "requests": list(selectors.ticket_requests(ticket=ticket)) if staff else [],
        "duplicates": [_ticket_ref(t) for t in selectors.merged_duplicates(ticket=ticket)],
        "duplicate_candidates": [
            _ticket_ref(t) for t in selectors.duplicate_candidates(user=user, ticket=ticket)
        ]
        if staff and ticket.is_open
        else [],
    }


def _fresh(ticket: Ticket, user) -> dict:
    """The answer to an action: the ticket as it is now (the caller may no longer be in its scope)."""
    ticket = (
        Ticket.objects.select_related(
            "category",
            "handling_unit",
            "division",
            "community",
            "subdistrict",
            "district",
            "dispatch_center",
            "suggested_unit",
            "address",
            "grid",
            "merged_into",
        )
        .filter(pk=ticket.pk)
        .get()
    )
    return _detail(ticket, user)


def _require_staff(user) -> None:
    if not selectors.is_staff_viewer(user):
        raise PermissionDeniedError("auth.forbidden", _("You are not allowed to do this."))


def _unit(code: str | None, field: str = "unit") -> OrgUnit | None:
    if not code:
        return None
    unit = OrgUnit.objects.filter(code=code.strip(), is_active=True).first()
    if unit is None:
        raise ServiceError(
            "tickets.unit_unknown", _("There is no active unit %(code)s.") % {"code": code}, field=field
        )
    return unit


# --- catalogue, units ------------------------------------------------------------


class CategoryOut(Schema):
    code: str
    name: str
    parent_code: str | None
    depth: int
    is_leaf: bool
    kinds: list[str]
    deadline_amount: float | None
    deadline_unit: str
    urgent_deadline_amount: float | None
    urgent_deadline_unit: str
    requires_verification: bool


@router.get("/categories", response=list[CategoryOut], summary="The category catalogue (tree order)")
def categories(request, kind: str = ""):
    """Every active category, parents before children; ``kind`` keeps those used for that kind."""
    return selectors.category_list(kind=kind)


class SuggestionOut(Schema):
    code: str
    name: str
    path: str
    score: float


@router.get("/categories/suggest", response=list[SuggestionOut], summary="Categories suggested for a text")
def category_suggest(request, text: str, kind: str = "", limit: int = 5):
    """Keyword and name matches over the catalogue, best first, ``score`` 0–1 (the classifier plugs in here)."""
    return [
        {"code": s.category.code, "name": s.category.name, "path": s.path, "score": s.score}
        for s in selectors.category_suggestions(text=text, kind=kind, limit=max(1, min(limit, 20)))
    ]


class UnitOut(Schema):
    code: str
    name: str
    kind: str
    division: str | None

    @staticmethod
    def resolve_division(obj) -> str | None:
        return obj.division.code if obj.division_id else None


@router.get("/units", response=list[UnitOut], summary="Handling units I may dispatch to")
@paginate(LimitOffsetPagination)
def units(request, q: str = ""):
    return selectors.handling_unit_choices(user=request.user, q=q)


# --- submit -----------------------------------------------------------------------


class TicketSubmitIn(Schema):
    channel: str = Channel.API
    kind: str
    category: str
    description: str
    title: str = ""
    urgency: str = "normal"
    external_id: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    address_code: str = ""
    address_text: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    received_at: datetime | None = None


class SubmitOut(Schema):
    created: bool
    ticket: TicketDetailOut
    duplicates: list[TicketRef]


@router.post("/", response={200: SubmitOut, 201: SubmitOut}, summary="Submit a ticket (idempotent)")
def submit(request, payload: TicketSubmitIn):
    """201 with the new ticket; 200 with the same ticket when this caller sent the same
    (``channel``, ``external_id``) before — a retry after a timeout is safe.

    The ``Idempotency-Key`` header may carry the external id instead of the body; ids are
    kept per caller (the stored key is ``channel:u<user id>:<external id>``).
    Citizens submit through ``web``, ``app`` or ``api`` and are the reporter.
    """
    user = request.user
    header_key = (request.headers.get("Idempotency-Key") or "").strip()
    external_id = payload.external_id.strip()
    if header_key and external_id and header_key != external_id:
        raise ServiceError(
            "tickets.idempotency_mismatch",
            _("The Idempotency-Key header and external_id differ."),
            field="external_id",
        )
    data = payload.dict()
    # A client's ids are its own: two clients both sending "1" are two tickets, and nobody
    # can fetch somebody else's ticket by replaying a guessed id.
    raw_key = external_id or header_key
    data["external_id"] = f"u{user.pk}:{raw_key}" if raw_key else ""
    reporter = None
    if not selectors.is_staff_viewer(user):
        if payload.channel not in CITIZEN_CHANNELS:
            raise PermissionDeniedError(
                "tickets.channel_not_allowed",
                _("Citizens report through the web form, the app or the API."),
                field="channel",
            )
        reporter = user
        data["reporter_phone"] = data["reporter_phone"] or getattr(user, "phone", "")
        data["reporter_name"] = data["reporter_name"] or getattr(user, "full_name", "")
    result = services.ticket_submit(**data, reporter=reporter, actor=user)
    body = {
        "created": result.created,
        "ticket": _fresh(result.ticket, user),
        "duplicates": [
            _ticket_ref(t) for t in selectors.duplicate_candidates(user=user, tickets=result.duplicates)
        ],
    }
    return Status(201 if result.created else 200, body)


# --- lists ------------------------------------------------------------------------


class TicketListFilter(Schema):
    status: str = ""
    kind: str = ""
    category: str = ""
    channel: str = ""
    urgency: str = ""
    handling_unit: str = ""
    division: str = ""
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    ordering: str = "-received_at"


@router.get("/", response=list[TicketOut], summary="Tickets visible to me, filtered")
@paginate(LimitOffsetPagination)
def ticket_list(request, filters: Query[TicketListFilter]):
    """``status``: a status, ``open`` or ``final``; ``category``/``division``: a code and its subtree;
    ``ordering``: received_at, due_at, number, status (``-`` for descending)."""
    return selectors.ticket_list(user=request.user, filters=selectors.TicketFilters(**filters.dict()))


class QueueOut(Schema):
    pending: list[TicketOut]
    pending_count: int
    requests: list[RequestOut]
    requests_count: int
    review: list[TicketOut]
    review_count: int
    follow_up: list[TicketOut]
    follow_up_count: int
    breaching: list[TicketOut]
    breaching_count: int


@router.get("/queue", response=QueueOut, summary="My dispatcher queue")
def queue(request, limit: int = 50):
    """Pending dispatch, handler requests, replies to review, follow-ups, and what is about to breach
    (past 80 % of its time, overdue, or not accepted in time) — each list capped at ``limit``."""
    _require_staff(request.user)
    limit = max(1, min(limit, 200))
    q = selectors.dispatcher_queue(user=request.user)
    out = {}
    for name in ("pending", "requests", "review", "follow_up", "breaching"):
        qs = getattr(q, name)
        out[name] = list(qs[:limit])
        out[f"{name}_count"] = qs.count()
    return out


@router.get("/inbox", response=list[InboxTicketOut], summary="My unit's inbox")
@paginate(LimitOffsetPagination)
def inbox(request):
    """Tickets my unit must sign for or is handling, nearest deadline first; ``sent_back`` marks
    replies that came back."""
    return selectors.handler_inbox(user=request.user)


@router.get("/history/caller", response=list[TicketOut], summary="Earlier tickets from a phone number")
def caller_history(request, phone: str, limit: int = 10):
    _require_staff(request.user)
    return selectors.caller_history(user=request.user, phone=phone, limit=max(1, min(limit, 50)))


class AddressRef(Schema):
    code: str
    full_name: str


class AddressHistoryOut(Schema):
    address: AddressRef | None
    tickets: list[TicketOut]


@router.get("/history/address", response=AddressHistoryOut, summary="Earlier tickets at an address")
def address_history(request, address_code: str = "", address_text: str = "", limit: int = 10):
    """Tickets at the same building, by standard address code or by a free-text address."""
    _require_staff(request.user)
    found = selectors.address_history(
        user=request.user,
        address=address_code or None,
        address_text=address_text,
        limit=max(1, min(limit, 50)),
    )
    return {"address": found.address, "tickets": found.tickets}


# --- the citizen's public view ------------------------------------------------------


class PublicLookupIn(Schema):
    number: str
    phone: str


class PublicEventOut(Schema):
    at: datetime
    action: str
    label: str


class PublicTicketOut(Schema):
    number: str
    kind: str
    kind_label: str
    category: str
    title: str
    status: str
    status_label: str
    received_at: datetime
    due_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    reply: str
    merged_into: str
    can_rate: bool
    events: list[PublicEventOut]


@router.post(
    "/public/lookup",
    response=PublicTicketOut,
    auth=None,
    throttle=[AnonRateThrottle(PUBLIC_RATE)],
    summary="Follow my ticket (number + phone)",
)
def public_lookup(request, payload: PublicLookupIn):
    """No sign-in: the number and the phone given when reporting must both match (404 otherwise)."""
    found = selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)
    if found is None:
        raise Http404
    return found


class PublicRateIn(PublicLookupIn):
    resolved: bool
    satisfaction: str
    note: str = ""


@router.post(
    "/public/rate",
    response=PublicTicketOut,
    auth=None,
    throttle=[AnonRateThrottle(PUBLIC_RATE)],
    summary="Rate the answer to my ticket",
)
def public_rate(request, payload: PublicRateIn):
    services.ticket_rate_by_citizen(
        number=payload.number,
        phone=payload.phone,
        resolved=payload.resolved,
        satisfaction=payload.satisfaction,
        note=payload.note,
    )
    return selectors.public_ticket_lookup(number=payload.number, phone=payload.phone)


# --- bulk dispatch --------------------------------------------------------------------


class BulkDispatchIn(Schema):
    numbers: list[str]
    unit: str | None = None
    note: str = ""


class ErrorOut(Schema):
    code: str
    message: str


class BulkResultOut(Schema):
    number: str
    ok: bool
    version: int | None = None
    error: ErrorOut | None = None


@router.post("/bulk-dispatch", response=list[BulkResultOut], summary="Dispatch many tickets")
def bulk_dispatch(request, payload: BulkDispatchIn):
    """Each ticket on its own (one failing does not stop the others); without ``unit`` each goes
    to its suggested unit. At most 100 numbers."""
    if not payload.numbers or len(payload.numbers) > 100:
        raise ServiceError("tickets.bulk_size", _("Dispatch 1 to 100 tickets at once."), field="numbers")
    unit = _unit(payload.unit)
    results = []
    for number in payload.numbers:
        try:
            ticket = selectors.ticket_get(user=request.user, number=number)
            services.ticket_dispatch(ticket=ticket, unit=unit, actor=request.user, note=payload.note)
            results.append({"number": ticket.number, "ok": True, "version": ticket.version})
        except Http404:
            results.append(
                {"number": number, "ok": False, "error": {"code": "not_found", "message": _("Not found.")}}
            )
        except ServiceError as exc:
            results.append(
                {"number": number, "ok": False, "error": {"code": exc.code, "message": exc.message}}
            )
    return results


# --- one ticket ---------------------------------------------------------------------


@router.get("/{number}", response=TicketDetailOut, summary="One ticket with its timeline")
def ticket_detail(request, number: str):
    return _detail(selectors.ticket_get(user=request.user, number=number), request.user)


@router.get("/{number}/timeline", response=list[EventOut], summary="A ticket's timeline")
def ticket_timeline(request, number: str):
    ticket = selectors.ticket_get(user=request.user, number=number)
    staff = selectors.is_staff_viewer(request.user)
    return [_event(e, staff=staff) for e in selectors.ticket_timeline(user=request.user, ticket=ticket)]


@router.get("/{number}/duplicates", response=list[TicketRef], summary="Open tickets that may be the same")
def ticket_duplicates(request, number: str):
    _require_staff(request.user)
    ticket = selectors.ticket_get(user=request.user, number=number)
    return [_ticket_ref(t) for t in selectors.duplicate_candidates(user=request.user, ticket=ticket)]


class ContactIn(Schema):
    reason: str


class ContactOut(Schema):
    reporter_name: str
    reporter_phone: str


@router.post("/{number}/contact", response=ContactOut, summary="Unmask the reporter's contact (logged)")
def reveal_contact(request, number: str, payload: ContactIn):
    """For the dispatcher, intake operator or handling unit who must call back; the reason and the
    reader are written to the ticket's timeline."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    return services.ticket_reveal_contact(ticket=ticket, actor=request.user, reason=payload.reason)


class VersionIn(Schema):
    expected_version: int | None = None


class NoteIn(VersionIn):
    note: str = ""


class DispatchIn(NoteIn):
    unit: str | None = None


class ReassignIn(NoteIn):
    unit: str
    wrong_dispatch: bool = True


class RequestIn(VersionIn):
    kind: str
    reason: str
    legal_basis: str = ""
    wrong_dispatch: bool = False
    extra_days: int | None = None


class DecideIn(NoteIn):
    approve: bool


class ReplyIn(VersionIn):
    reply: str


class ReviewIn(NoteIn):
    approve: bool


class VerifyIn(NoteIn):
    passed: bool


class FollowUpIn(NoteIn):
    resolved: bool | None = None
    satisfaction: str = ""
    unreachable: bool = False


class MergeIn(NoteIn):
    master: str


class RejectIn(VersionIn):
    reason: str


def _get(request, number: str) -> Ticket:
    return selectors.ticket_get(user=request.user, number=number)


@router.post("/{number}/dispatch", response=TicketDetailOut, summary="Dispatch to a unit")
def dispatch(request, number: str, payload: DispatchIn):
    """Without ``unit``, to the unit the routing rules suggested."""
    ticket = _get(request, number)
    services.ticket_dispatch(
        ticket=ticket,
        unit=_unit(payload.unit),
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/reassign", response=TicketDetailOut, summary="Reassign to another unit")
def reassign(request, number: str, payload: ReassignIn):
    ticket = _get(request, number)
    services.ticket_reassign(
        ticket=ticket,
        unit=_unit(payload.unit),
        actor=request.user,
        note=payload.note,
        wrong_dispatch=payload.wrong_dispatch,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/accept", response=TicketDetailOut, summary="Sign for the ticket")
def accept(request, number: str, payload: VersionIn):
    ticket = _get(request, number)
    services.ticket_accept(ticket=ticket, actor=request.user, expected_version=payload.expected_version)
    return _fresh(ticket, request.user)


@router.post("/{number}/requests", response={201: RequestOut}, summary="Ask to return, extend or suspend")
def request_create(request, number: str, payload: RequestIn):
    ticket = _get(request, number)
    created = services.ticket_request(
        ticket=ticket,
        kind=payload.kind,
        actor=request.user,
        reason=payload.reason,
        legal_basis=payload.legal_basis,
        wrong_dispatch=payload.wrong_dispatch,
        extra_days=payload.extra_days,
        expected_version=payload.expected_version,
    )
    return Status(201, created)


@router.post(
    "/{number}/requests/{request_id}/decide", response=TicketDetailOut, summary="Approve or refuse a request"
)
def request_decide(request, number: str, request_id: int, payload: DecideIn):
    ticket = _get(request, number)
    handler_request = selectors.ticket_request_get(user=request.user, ticket=ticket, request_id=request_id)
    services.ticket_decide(
        request=handler_request,
        approve=payload.approve,
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/resume", response=TicketDetailOut, summary="End a suspension")
def resume(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_resume(
        ticket=ticket, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/reply", response=TicketDetailOut, summary="Reply (the unit's answer)")
def reply(request, number: str, payload: ReplyIn):
    ticket = _get(request, number)
    services.ticket_reply(
        ticket=ticket, actor=request.user, reply=payload.reply, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/review", response=TicketDetailOut, summary="Review the reply")
def review(request, number: str, payload: ReviewIn):
    ticket = _get(request, number)
    services.ticket_review(
        ticket=ticket,
        actor=request.user,
        approve=payload.approve,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/verify", response=TicketDetailOut, summary="On-site verification result")
def verify(request, number: str, payload: VerifyIn):
    ticket = _get(request, number)
    services.ticket_verify(
        ticket=ticket,
        actor=request.user,
        passed=payload.passed,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/follow-up", response=TicketDetailOut, summary="Record the follow-up")
def follow_up(request, number: str, payload: FollowUpIn):
    """Closes the ticket, or reopens it (rework + 1) when unresolved or unsatisfied."""
    ticket = _get(request, number)
    services.ticket_follow_up(
        ticket=ticket,
        actor=request.user,
        resolved=payload.resolved,
        satisfaction=payload.satisfaction,
        unreachable=payload.unreachable,
        note=payload.note,
        by_citizen=not selectors.is_staff_viewer(request.user),
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/urge", response=TicketDetailOut, summary="Urge the unit (催办)")
def urge(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_urge(
        ticket_id=ticket.pk, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/supervise", response=TicketDetailOut, summary="Supervise an overdue ticket (督办)")
def supervise(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_supervise(
        ticket_id=ticket.pk, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/merge", response=TicketDetailOut, summary="Merge into a master ticket")
def merge(request, number: str, payload: MergeIn):
    ticket = _get(request, number)
    try:
        master = selectors.ticket_get(user=request.user, number=payload.master)
    except Http404:
        raise ServiceError(
            "tickets.master_invalid", _("Merge into another open ticket."), field="master"
        ) from None
    services.ticket_merge(
        ticket=ticket,
        master=master,
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/reject", response=TicketDetailOut, summary="Do not accept (不予受理)")
def reject(request, number: str, payload: RejectIn):
    ticket = _get(request, number)
    services.ticket_reject(
        ticket=ticket, actor=request.user, reason=payload.reason, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/answer", response=TicketDetailOut, summary="Answer an inquiry directly")
def answer_directly(request, number: str, payload: ReplyIn):
    ticket = _get(request, number)
    services.ticket_answer_directly(
        ticket=ticket, actor=request.user, reply=payload.reply, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)


@router.post("/{number}/notes", response=TicketDetailOut, summary="Add a note to the timeline")
def note(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_note(
        ticket=ticket, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return _fresh(ticket, request.user)
