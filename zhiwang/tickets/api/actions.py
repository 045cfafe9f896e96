"""One ticket: detail, timeline, duplicates, contact, and every workflow action (plus bulk dispatch)."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Schema, Status

from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors, services
from zhiwang.tickets.api.base import (
    active_unit_by_code,
    require_reader,
    router,
)
from zhiwang.tickets.api.schemas import (
    RequestOut,
    TicketDetailOut,
    TicketEventOut,
    TicketRef,
    detail_out,
    fresh_detail,
    ticket_ref,
    timeline_out,
)
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.services.transition import permission_first, permitted_now
from zhiwang.tickets.workflow import TicketAction

# --- bulk dispatch --------------------------------------------------------------------


class BulkDispatchIn(Schema):
    numbers: list[str]
    unit: str | None = None
    note: str = ""


class BulkErrorOut(Schema):
    code: str
    message: str


class BulkResultOut(Schema):
    number: str
    ok: bool
    version: int | None = None
    error: BulkErrorOut | None = None


@router.post("/bulk-dispatch", response=list[BulkResultOut], summary="Dispatch many tickets")
def bulk_dispatch(request, payload: BulkDispatchIn):
    """Each ticket on its own (one failing does not stop the others); without ``unit`` each goes
    to its suggested unit. At most 100 numbers.

    Every ticket is checked first — in the caller's scope (else ``not_found``), in a state that
    takes a dispatch (else ``workflow.illegal_transition``), the caller allowed to dispatch it
    (else ``workflow.permission_denied``) — and ``unit`` is looked up only when at least one
    ticket passed: somebody who may dispatch none of them learns nothing about units (a code
    that is no active unit is then 400 ``tickets.unit_unknown`` for the whole request).
    """
    if not payload.numbers or len(payload.numbers) > 100:
        raise ServiceError("tickets.bulk_size", _("Dispatch 1 to 100 tickets at once."), field="numbers")
    user = request.user
    results: list[dict | None] = []
    dispatchable: list[tuple[int, Ticket]] = []
    for number in payload.numbers:
        try:
            ticket = selectors.ticket_get(user=user, number=number)
        except Http404:
            results.append(_not_found(number))
            continue
        try:
            permitted_now(ticket, TicketAction.DISPATCH, actor=user)
        except ServiceError as exc:
            results.append(_refused(ticket.number, exc))
        else:
            dispatchable.append((len(results), ticket))
            results.append(None)  # filled below
    unit = active_unit_by_code(payload.unit) if dispatchable else None
    seen: set[int] = set()
    for index, ticket in dispatchable:
        if ticket.pk in seen:  # named twice: the second is answered as the ticket is now
            ticket.refresh_from_db()
        seen.add(ticket.pk)
        try:
            services.ticket_dispatch(ticket=ticket, unit=unit, actor=user, note=payload.note)
        except ServiceError as exc:
            results[index] = _refused(ticket.number, exc)
        else:
            results[index] = {"number": ticket.number, "ok": True, "version": ticket.version}
    return results


def _not_found(number: str) -> dict:
    return {"number": number, "ok": False, "error": {"code": "not_found", "message": _("Not found.")}}


def _refused(number: str, error: ServiceError) -> dict:
    return {"number": number, "ok": False, "error": {"code": error.code, "message": error.message}}


# --- one ticket ---------------------------------------------------------------------


@router.get("/{number}", response=TicketDetailOut, summary="One ticket with its timeline")
def ticket_detail(request, number: str):
    return detail_out(selectors.ticket_get(user=request.user, number=number), request.user)


@router.get("/{number}/timeline", response=list[TicketEventOut], summary="A ticket's timeline")
def ticket_timeline(request, number: str):
    ticket = selectors.ticket_get(user=request.user, number=number)
    return timeline_out(ticket, request.user)


@router.get("/{number}/duplicates", response=list[TicketRef], summary="Open tickets that may be the same")
def ticket_duplicates(request, number: str):
    require_reader(request.user)
    ticket = selectors.ticket_get(user=request.user, number=number)
    return [ticket_ref(t) for t in selectors.duplicate_candidates(user=request.user, ticket=ticket)]


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


class RequestDecisionIn(NoteIn):
    approve: bool


class ReplyIn(VersionIn):
    reply: str


class ReviewIn(NoteIn):
    approve: bool


class VerifyIn(NoteIn):
    passed: bool


class TicketFollowUpIn(NoteIn):
    resolved: bool | None = None
    satisfaction: str = ""
    unreachable: bool = False


class MergeIn(NoteIn):
    master: str


class RejectIn(VersionIn):
    reason: str


class TransferIn(VersionIn):
    target: str
    reference: str
    note: str = ""


def _get(request, number: str, action: str | None = None) -> Ticket:
    """The ticket (404 outside the caller's scope); with ``action``, 403 unless the caller may do it,
    before the handler reads anything else of the request (a unit or a master ticket by code)."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    if action is not None:
        permission_first(ticket, action, actor=request.user)
    return ticket


@router.post("/{number}/dispatch", response=TicketDetailOut, summary="Dispatch to a unit")
def dispatch(request, number: str, payload: DispatchIn):
    """Without ``unit``, to the unit the routing rules suggested."""
    ticket = _get(request, number, TicketAction.DISPATCH)
    services.ticket_dispatch(
        ticket=ticket,
        unit=active_unit_by_code(payload.unit),
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/reassign", response=TicketDetailOut, summary="Reassign to another unit")
def reassign(request, number: str, payload: ReassignIn):
    ticket = _get(request, number, TicketAction.REASSIGN)
    services.ticket_reassign(
        ticket=ticket,
        unit=active_unit_by_code(payload.unit),
        actor=request.user,
        note=payload.note,
        wrong_dispatch=payload.wrong_dispatch,
        expected_version=payload.expected_version,
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/accept", response=TicketDetailOut, summary="Sign for the ticket")
def accept(request, number: str, payload: VersionIn):
    ticket = _get(request, number)
    services.ticket_accept(ticket=ticket, actor=request.user, expected_version=payload.expected_version)
    return fresh_detail(ticket, request.user)


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
def request_decide(request, number: str, request_id: int, payload: RequestDecisionIn):
    ticket = _get(request, number)
    handler_request = selectors.ticket_request_get(user=request.user, ticket=ticket, request_id=request_id)
    services.ticket_decide(
        request=handler_request,
        approve=payload.approve,
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/resume", response=TicketDetailOut, summary="End a suspension")
def resume(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_resume(
        ticket=ticket, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/reply", response=TicketDetailOut, summary="Reply (the unit's answer)")
def reply(request, number: str, payload: ReplyIn):
    ticket = _get(request, number)
    services.ticket_reply(
        ticket=ticket, actor=request.user, reply=payload.reply, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


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
    return fresh_detail(ticket, request.user)


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
    return fresh_detail(ticket, request.user)


@router.post("/{number}/follow-up", response=TicketDetailOut, summary="Record the follow-up")
def follow_up(request, number: str, payload: TicketFollowUpIn):
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
    return fresh_detail(ticket, request.user)


@router.post("/{number}/urge", response=TicketDetailOut, summary="Urge the unit (催办)")
def urge(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_urge(
        ticket_id=ticket.pk, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/supervise", response=TicketDetailOut, summary="Supervise an overdue ticket (督办)")
def supervise(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_supervise(
        ticket_id=ticket.pk, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/merge", response=TicketDetailOut, summary="Merge into a master ticket")
def merge(request, number: str, payload: MergeIn):
    ticket = _get(request, number, TicketAction.MERGE)
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
    return fresh_detail(ticket, request.user)


@router.post("/{number}/reject", response=TicketDetailOut, summary="Do not accept (不予受理)")
def reject(request, number: str, payload: RejectIn):
    ticket = _get(request, number)
    services.ticket_reject(
        ticket=ticket, actor=request.user, reason=payload.reason, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/answer", response=TicketDetailOut, summary="Answer an inquiry directly")
def answer_directly(request, number: str, payload: ReplyIn):
    ticket = _get(request, number)
    services.ticket_answer_directly(
        ticket=ticket, actor=request.user, reply=payload.reply, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/transfer", response=TicketDetailOut, summary="Transfer to another procedure (移交)")
def transfer(request, number: str, payload: TransferIn):
    ticket = _get(request, number)
    services.ticket_transfer(
        ticket=ticket,
        actor=request.user,
        target=payload.target,
        reference=payload.reference,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return fresh_detail(ticket, request.user)


class RecategoriseIn(NoteIn):
    category: str


@router.post("/{number}/category", response=TicketDetailOut, summary="Change the category (改分类)")
def recategorise(request, number: str, payload: RecategoriseIn):
    """The correction is kept as a training example for the category model."""
    ticket = _get(request, number)
    services.ticket_recategorise(
        ticket=ticket,
        category=payload.category,
        actor=request.user,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return fresh_detail(ticket, request.user)


@router.post("/{number}/notes", response=TicketDetailOut, summary="Add a note to the timeline")
def note(request, number: str, payload: NoteIn):
    ticket = _get(request, number)
    services.ticket_note(
        ticket=ticket, actor=request.user, note=payload.note, expected_version=payload.expected_version
    )
    return fresh_detail(ticket, request.user)
