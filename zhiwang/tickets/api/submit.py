"""Submit a ticket from any client (idempotent)."""

import uuid
from datetime import datetime

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema, Status

from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets import access, selectors
from zhiwang.tickets.api.base import (
    SIGNED_IN,
    admits,
    require_reader,
    router,
)
from zhiwang.tickets.api.schemas import (
    Ref,
    TicketRef,
    ref,
    ticket_ref,
)
from zhiwang.tickets.models import Channel, QueuedStatus, QueuedSubmission, Ticket
from zhiwang.tickets.services.submit_batch import ticket_submit_many
from zhiwang.tickets.services.submit_group import ticket_submit_grouped
from zhiwang.tickets.services.submit_queue import submission_queue, submission_queue_has_room

#: Where the tickets API lives (links in answers are built from it, whatever the request path).
TICKETS_PATH = "/api/v1/tickets"

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


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None
    fields: list[dict] = []


class QueuedOut(Schema):
    """A queued submission's receipt: ``queued`` or ``processing``, then ``done`` with the
    ticket or ``refused`` with the error ``POST /`` would have answered."""

    receipt: uuid.UUID
    status: str
    status_label: str
    accepted_at: datetime
    finished_at: datetime | None
    created: bool
    ticket: SubmittedTicketOut | None
    error: ErrorOut | None
    links: dict[str, str]


def _base(request) -> str:
    """``TICKETS_PATH`` under the site's script prefix, if it is served under one."""
    return request.path[: len(request.path) - len(request.path_info)] + TICKETS_PATH


def _submitted(request, ticket: Ticket) -> dict:
    base = _base(request)
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


def _queued_out(request, row: QueuedSubmission) -> dict:
    return {
        "receipt": row.receipt,
        "status": row.status,
        "status_label": str(QueuedStatus(row.status).label),
        "accepted_at": row.accepted_at,
        "finished_at": row.finished_at,
        "created": row.created,
        "ticket": _submitted(request, row.ticket) if row.ticket_id else None,
        "error": row.error or None,
        "links": {"self": f"{_base(request)}/submissions/{row.receipt}"},
    }


def prefers_async(request) -> bool:
    """The client asked to be answered before the work is done (RFC 7240 ``Prefer: respond-async``)."""
    prefer = request.headers.get("Prefer") or ""
    return any(part.split(";")[0].strip().lower() == "respond-async" for part in prefer.split(","))


@router.post(
    "/",
    response={200: SubmitOut, 201: SubmitOut, 202: QueuedOut},
    summary="Submit a ticket (idempotent; queued with Prefer: respond-async)",
)
@admits(SIGNED_IN)  # whoever files nothing is refused by the channel rule, with its code
def submit(request, payload: TicketSubmitIn, response: HttpResponse):
    """201 with the new ticket; 200 with the same ticket when this caller sent the same
    (``channel``, ``external_id``) before — a retry after a timeout is safe. The retry must
    repeat the first call's content (cleaned: spaces around texts, the phone's spelling and the
    time received do not count): other content with the same key is 422
    ``tickets.idempotency_key_reused`` and writes nothing.

    The answer is short (number, status, deadlines, links); ``GET links.self`` gives the
    whole ticket with its timeline.

    The ``Idempotency-Key`` header may carry the external id instead of the body; ids are
    kept per caller (the stored key is ``channel:u<user id>:<external id>``).
    Citizens submit through ``web``, ``app`` or ``api`` and are the reporter.

    The server decides which channels a caller files through, by role (``tickets.access``):
    citizens ``web``/``app``/``api``; grid workers ``patrol`` (in their own grids); intake
    operators, dispatchers and administrators ``hotline``, ``window``, ``petition``,
    ``department``, ``volunteer`` and ``api``; integration clients these and ``video``;
    ``open311`` only through the Open311 endpoint; other roles none. Another channel is 403
    ``tickets.channel_not_allowed`` (on ``channel``), and nothing is written or queued.

    With ``Prefer: respond-async`` the submission is checked and queued, and the answer is
    ``202`` with a receipt (``links.self``: ``GET /submissions/{receipt}``) that gives the
    ticket, or the refusal, a moment later; an ``external_id`` is required. Field errors are
    answered at once as without the header; a retry answers the same receipt. While the queue
    is full (``ZHIWANG_INTAKE_QUEUE_LIMIT`` waiting) the header is not honoured: the answer is
    201/200 with the ticket, as without it, and carries no ``Preference-Applied``.
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
    # The caller's channel, by role: told now, not as a 202 refused later on the receipt (the
    # service checks it again on every path).
    access.check_channel(channel=payload.channel, actor=user)
    reporter = None
    if not selectors.is_staff_viewer(user):
        reporter = user
        data["reporter_phone"] = data["reporter_phone"] or getattr(user, "phone", "")
        data["reporter_name"] = data["reporter_name"] or getattr(user, "full_name", "")
    if prefers_async(request) and submission_queue_has_room():
        queued = submission_queue(**data, reporter=reporter, actor=user)
        body = _queued_out(request, queued.submission)
        response["Location"] = body["links"]["self"]
        response["Preference-Applied"] = "respond-async"
        return Status(202, body)
    # Written together with API submissions arriving at the same moment (one transaction).
    result = ticket_submit_grouped(**data, reporter=reporter, actor=user, strict_replay=True)
    body = {
        "created": result.created,
        "ticket": _submitted(request, result.ticket),
        "duplicates": [ticket_ref(t) for t in selectors.visible_among(user=user, tickets=result.duplicates)],
    }
    return Status(201 if result.created else 200, body)


@router.get("/submissions/{receipt}", response=QueuedOut, summary="A queued submission's receipt")
@admits(SIGNED_IN)  # the caller's own receipts only
def submission_receipt(request, receipt: str):
    """The receipt of ``POST /`` with ``Prefer: respond-async``: only for the caller who submitted."""
    try:
        wanted = uuid.UUID(receipt)
    except ValueError:
        wanted = None
    row = (
        QueuedSubmission.objects.select_related("ticket__category", "ticket__handling_unit")
        .filter(receipt=wanted, submitted_by_id=request.user.pk)
        .first()
        if wanted
        else None
    )
    if row is None:
        raise NotFound("tickets.receipt_not_found", _("No such receipt."), field="receipt")
    return _queued_out(request, row)


# --- batch (department push, hotline systems) -------------------------------------


class TicketBatchIn(Schema):
    tickets: list[TicketSubmitIn]


class BatchItemOut(Schema):
    index: int
    created: bool
    ticket: SubmittedTicketOut | None = None
    error: ErrorOut | None = None


class SubmitBatchOut(Schema):
    created: int
    existing: int
    refused: int
    results: list[BatchItemOut]


#: The most tickets one batch request takes.
BATCH_LIMIT = 500


@router.post("/batch", response=SubmitBatchOut, summary="Submit many tickets at once (idempotent, per item)")
def submit_batch(request, payload: TicketBatchIn):
    """For departments and hotline systems pushing their records: up to 500 per request.

    Every item is a ``POST /`` body and gets its own result, in order: ``created`` with the
    ticket, or ``error`` (the same codes and fields as ``POST /``) — a refused item writes
    nothing and does not stop the others; the accepted ones are written in one transaction.
    Items with an ``external_id`` sent before (by this caller) answer ``created: false`` with
    that ticket, so the whole request can be retried safely; an item that repeats an
    ``external_id`` (sent before, or earlier in the same batch) with other content is refused
    with ``tickets.idempotency_key_reused``. The staff roles that read tickets and integration
    clients only (else 403 ``auth.forbidden``); each item through a channel of the caller's
    (``POST /``), else that item is refused with ``tickets.channel_not_allowed``.
    """
    user = request.user
    require_reader(user)
    if not payload.tickets:
        raise ServiceError("tickets.batch_empty", _("Send at least one ticket."), field="tickets")
    if len(payload.tickets) > BATCH_LIMIT:
        raise ServiceError(
            "tickets.batch_too_large",
            _("At most %(limit)d tickets per request.") % {"limit": BATCH_LIMIT},
            field="tickets",
        )
    outcomes: dict[int, object] = {}
    submissions: dict[int, dict] = {}
    for index, item in enumerate(payload.tickets):
        try:
            access.check_channel(channel=item.channel, actor=user)  # as POST / checks it, first
        except ServiceError as error:
            outcomes[index] = error
            continue
        data = item.dict()
        raw_key = data["external_id"].strip()
        data["external_id"] = f"u{user.pk}:{raw_key}" if raw_key else ""  # ids are per caller, as in POST /
        submissions[index] = data
    if submissions:
        written = ticket_submit_many(list(submissions.values()), actor=user, strict_replay=True)
        outcomes.update(zip(submissions, written, strict=True))
    results, totals = [], {"created": 0, "existing": 0, "refused": 0}
    for index, outcome in sorted(outcomes.items()):
        if isinstance(outcome, ServiceError):
            totals["refused"] += 1
            results.append({"index": index, "created": False, "error": outcome.as_dict()})
        else:
            totals["created" if outcome.created else "existing"] += 1
            results.append(
                {"index": index, "created": outcome.created, "ticket": _submitted(request, outcome.ticket)}
            )
    return {**totals, "results": results}
