"""Submit a ticket from any client (idempotent)."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Schema, Status

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets import selectors, services
from zhiwang.tickets.api.base import (
    CITIZEN_CHANNELS,
    router,
)
from zhiwang.tickets.api.schemas import (
    Ref,
    TicketRef,
    ref,
    ticket_ref,
)
from zhiwang.tickets.models import Channel, Ticket

# --- submit -----------------------------------------------------------------------


class TicketSubmitIn(Schema):
    channel: str = Channel.API
    kind: str
    # Leave empty to let the classifier choose (free text from the API or a department).
    category: str = ""
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


class SubmittedTicketOut(Schema):
    """What a client needs right after submitting; the whole ticket is at ``links.self``."""

    number: str
    version: int
    kind: str
    status: str
    status_label: str
    category: Ref
    received_at: datetime
    handling_unit: Ref | None
    accept_due_at: datetime | None
    due_at: datetime | None
    links: dict[str, str]


class SubmitOut(Schema):
    created: bool
    ticket: SubmittedTicketOut
    duplicates: list[TicketRef]


def _submitted(request, ticket: Ticket) -> dict:
    base = request.path.rstrip("/")
    return {
        "number": ticket.number,
        "version": ticket.version,
        "kind": ticket.kind,
        "status": ticket.status,
        "status_label": str(ticket.get_status_display()),
        "category": ref(ticket.category),
        "received_at": ticket.received_at,
        "handling_unit": ref(ticket.handling_unit),
        "accept_due_at": ticket.accept_due_at,
        "due_at": ticket.due_at,
        "links": {"self": f"{base}/{ticket.number}", "timeline": f"{base}/{ticket.number}/timeline"},
    }


@router.post("/", response={200: SubmitOut, 201: SubmitOut}, summary="Submit a ticket (idempotent)")
def submit(request, payload: TicketSubmitIn):
    """201 with the new ticket; 200 with the same ticket when this caller sent the same
    (``channel``, ``external_id``) before — a retry after a timeout is safe.

    The answer is short (number, status, deadlines, links); ``GET links.self`` gives the
    whole ticket with its timeline.

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
        "ticket": _submitted(request, result.ticket),
        "duplicates": [
            ticket_ref(t) for t in selectors.duplicate_candidates(user=user, tickets=result.duplicates)
        ],
    }
    return Status(201 if result.created else 200, body)
