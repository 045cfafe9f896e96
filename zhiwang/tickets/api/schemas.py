"""Output schemas of the tickets API and the functions that fill them (reporter's name and phone masked)."""

from datetime import datetime

from django.utils import timezone
from ninja import Schema

from zhiwang.core.masking import mask_name, mask_phone
from zhiwang.tickets import selectors
from zhiwang.tickets.disclosure import master_number_for_reporter
from zhiwang.tickets.explanations import event_label, event_note, event_payload, ticket_route_text
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.workflow import HANDLING, TICKET_WORKFLOW, TicketAction

# --- output schemas -------------------------------------------------------------


class Ref(Schema):
    code: str
    name: str


class TicketRef(Schema):
    number: str
    title: str
    status: str
    received_at: datetime


def ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def is_overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    return bool(ticket.status in HANDLING and ticket.due_at and ticket.due_at < (now or timezone.now()))


class TicketFields(Schema):
    """The fields of a ticket in a list (masked name and phone); ``TicketOut`` reads them off a model.

    The full contact only comes from ``POST /{number}/contact`` (permissioned, logged)."""

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
    reporter_name: str  # masked
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
        return ref(obj.category)

    @staticmethod
    def resolve_division(obj) -> dict | None:
        return ref(obj.division)

    @staticmethod
    def resolve_handling_unit(obj) -> dict | None:
        return ref(obj.handling_unit)

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return is_overdue(obj)

    @staticmethod
    def resolve_reporter_name(obj) -> str:
        return mask_name(obj.reporter_name) if obj.reporter_name else ""

    @staticmethod
    def resolve_reporter_phone(obj) -> str:
        return mask_phone(obj.reporter_phone) if obj.reporter_phone else ""


class InboxTicketOut(TicketOut):
    """A row of the unit's inbox (``selectors.handler_inbox``: its marks are read in the list's
    own statement, no query per row)."""

    sent_back: bool = False
    #: the unit asked to return the ticket or for more time, and the dispatcher has not decided yet
    awaiting_decision: bool = False
    #: what waits for that decision: ``return`` or ``extension`` (None when nothing waits)
    awaiting_decision_kind: str | None = None

    @staticmethod
    def resolve_awaiting_decision(obj) -> bool:
        return bool(getattr(obj, "awaiting_decision", None))

    @staticmethod
    def resolve_awaiting_decision_kind(obj) -> str | None:
        return getattr(obj, "awaiting_decision", None) or None


class TicketEventOut(Schema):
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
    category_source: str
    classification: dict
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
    timeline: list[TicketEventOut]
    requests: list[RequestOut]
    duplicates: list[TicketRef]
    duplicate_candidates: list[TicketRef]


def event_out(
    event, *, staff: bool, released: set[int] | frozenset = frozenset(), channel: str | None = None
) -> dict:
    """One timeline row; a citizen sees no actor, no payload, and only the notes meant for them:
    the answer or refusal, and a reply once released (``released``: ``released_reply_events``).

    The system's notes and the payload's ``route`` are in the reader's language
    (``tickets.explanations``); ``channel`` is the ticket's (read from the event when not given).
    """
    public_note = event.action in (TicketAction.ANSWER_DIRECTLY, TicketAction.REJECT) or (
        event.action == TicketAction.REPLY and event.pk in released
    )
    return {
        "at": event.at,
        "action": event.action,
        "action_label": event_label(event),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": (event.actor.display_name if event.actor_id else None) if staff else None,
        "unit": event.unit.name if event.unit_id else None,
        "note": event_note(event, channel=channel) if staff or public_note else "",
        "payload": event_payload(event.payload) if staff else {},
    }


def ticket_ref(ticket: Ticket) -> dict:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "status": ticket.status,
        "received_at": ticket.received_at,
    }


def timeline_out(ticket: Ticket, user) -> list[dict]:
    """The ticket's timeline as the user may see it (``event_out``)."""
    staff = selectors.is_staff_viewer(user)
    released = frozenset() if staff else selectors.released_reply_events(ticket=ticket)
    return [
        event_out(e, staff=staff, released=released, channel=ticket.channel)
        for e in selectors.ticket_timeline(user=user, ticket=ticket)
    ]


def detail_out(ticket: Ticket, user) -> dict:
    """The whole ticket as the user may see it (the timeline and requests for staff in full).

    A citizen gets the reply only once it was released to them (``reply_is_public``, as on the
    public page) and none of the duplicates merged into their ticket (other people's reports).
    """
    staff = selectors.is_staff_viewer(user)
    reply, replied_at = (ticket.reply, ticket.replied_at) if staff else selectors.public_reply(ticket)
    base = TicketOut.from_orm(ticket).dict()
    if (
        user is not None
        and ticket.reporter_id is not None
        and ticket.reporter_id == getattr(user, "pk", None)
    ):
        base["reporter_name"] = ticket.reporter_name  # their own name, masked for everyone else
    return {
        **base,
        "description": ticket.description,
        "address_text": ticket.address_text,
        "address_code": ticket.address.code if ticket.address_id else None,
        "lon": ticket.lon,
        "lat": ticket.lat,
        "grid": ticket.grid.code if ticket.grid_id else None,
        "community": ref(ticket.community),
        "subdistrict": ref(ticket.subdistrict),
        "district": ref(ticket.district),
        "dispatch_center": ref(ticket.dispatch_center) if staff else None,
        "suggested_unit": ref(ticket.suggested_unit) if staff else None,
        "route_explanation": ticket_route_text(ticket) if staff else "",  # in the reader's language
        "category_source": ticket.category_source if staff else "",
        # The classifier's top choices with confidences (staff: why the ticket went where it went).
        "classification": selectors.classification_view(ticket) if staff else {},
        "dispatched_at": ticket.dispatched_at,
        "accepted_at": ticket.accepted_at,
        "warn_at": ticket.warn_at,
        "suspended_at": ticket.suspended_at,
        "replied_at": replied_at,
        "closed_at": ticket.closed_at,
        "deadline_amount": float(ticket.deadline_amount),
        "deadline_unit": ticket.deadline_unit,
        "reply": reply,
        "resolved": ticket.resolved,
        "satisfaction": ticket.satisfaction,
        "unreachable": ticket.unreachable,
        "merged_into": (ticket.merged_into.number if ticket.merged_into_id else None)
        if staff
        else (master_number_for_reporter(ticket) or None),
        # What the caller may do now (the system's warning is nobody's button).
        "allowed_actions": [
            a
            for a in TICKET_WORKFLOW.allowed_actions(ticket.status, actor=user, obj=ticket)
            if a != TicketAction.WARN
        ],
        "timeline": timeline_out(ticket, user),
        "requests": list(selectors.ticket_requests(ticket=ticket)) if staff else [],
        "duplicates": [ticket_ref(t) for t in selectors.merged_duplicates(user=user, ticket=ticket)],
        "duplicate_candidates": [
            ticket_ref(t) for t in selectors.duplicate_candidates(user=user, ticket=ticket)
        ]
        if staff and ticket.is_open
        else [],
    }


def fresh_detail(ticket: Ticket, user) -> dict:
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
    return detail_out(ticket, user)
