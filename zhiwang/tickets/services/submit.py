"""The one submit pipeline every channel goes through.

validate → idempotency → locate → deadline rule → route → (auto-)dispatch → timeline,
in one transaction. A retry with the same (channel, external id) returns the
ticket the first call made; nothing is ever half-written.

The steps live beside this module: ``intake_prepare`` (the read-only half: validate,
classify, locate, route), ``intake_validation`` (field rules), ``intake_place`` (locate,
deadline rule), ``numbering`` (ticket numbers); their names are importable from here as
before. ``submit_batch`` writes many submissions at once with the same rules.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit
from zhiwang.tickets.classify import Classification
from zhiwang.tickets.explanations import NOTE_AUTO_DISPATCHED, NOTE_RECEIVED, system_note
from zhiwang.tickets.models import (
    Category,
    CategoryCorrection,
    CategorySource,
    CorrectionSource,
    Ticket,
    TicketEvent,
    TicketStatus,
    Urgency,
)
from zhiwang.tickets.selectors import open_duplicates
from zhiwang.tickets.services.clock import dispatch_deadlines
from zhiwang.tickets.services.dispatching import dispatch_fields, dispatch_payload, notify_dispatched
from zhiwang.tickets.services.intake_place import (  # noqa: F401  (importable from here as before)
    DEFAULT_LIMITS,
    PLACE_KINDS,
    Place,
    deadline_rule,
    locate_place,
)
from zhiwang.tickets.services.intake_prepare import PlaceError, Prepared, prepare_submission
from zhiwang.tickets.services.intake_validation import (  # noqa: F401
    MAX_LENGTHS,
    _clean,
    _validate,
    check_same_submission,
)
from zhiwang.tickets.services.numbering import _provisional_number, next_number, number_ticket  # noqa: F401
from zhiwang.tickets.timeline_batch import timeline_batch
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction


@dataclass
class SubmitResult:
    """The ticket, whether this call created it (False: a retry), and open duplicates found at intake."""

    ticket: Ticket
    created: bool
    duplicates: list[Ticket] = field(default_factory=list)


def find_duplicates(
    *, category: Category, place: Place, at: datetime, exclude_pk: int | None = None
) -> list[Ticket]:
    """Open tickets of the same category at the same building, or near the point in the window."""
    return open_duplicates(
        category_id=category.pk,
        address=place.address,
        community_id=place.community.pk if place.community else None,
        lon=place.lon,
        lat=place.lat,
        at=at,
        exclude_pk=exclude_pk,
    )


def _existing(key: str) -> Ticket | None:
    """The ticket an earlier call with the same idempotency key made (a seam for the race test)."""
    return Ticket.objects.filter(idempotency_key=key).first()


def ticket_submit(
    *,
    channel: str,
    kind: str,
    category: Category | str | None = None,
    description: str,
    title: str = "",
    external_id: str = "",
    urgency: str = Urgency.NORMAL,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter=None,
    address_text: str = "",
    address_code: str = "",
    lon=None,
    lat=None,
    crs: str = "wgs84",
    received_at: datetime | None = None,
    actor=None,
    strict_replay: bool = False,
) -> SubmitResult:
    """Create a ticket from any channel (or return the one an earlier identical call created).

    ``external_id`` is the channel's own id (hotline call id, Open311 client request id,
    the web form's one-time token); (channel, external_id) is the idempotency key: a
    retry, even one racing the first call, gets the first call's ticket and
    ``created=False``. The retry's own fields are compared only with ``strict_replay`` (the
    API's retries): then a retry whose cleaned content differs from the first call's is refused,
    422 ``tickets.idempotency_key_reused`` (a ticket kept no fingerprint before: it answers
    every retry). Without it a key sent again is "recorded before" whatever it says (the
    operator's form typing the call id of a call the hotline import brought in). ``category`` is a
    ``Category`` or its code; a channel sending free text may leave it out and the
    classify step (``tickets.classify``) chooses one: only a confident model category
    may be dispatched automatically, a guess waits in the dispatcher's queue. The place is the standard address ``address_code``, else
    the point (``lon``, ``lat`` in ``crs``), else ``address_text`` matched against the
    standard addresses and division names; complaints, reports, requests for help and
    incidents must have one. Routing suggests a unit and a dispatcher queue; a certain
    rule dispatches at once unless open duplicates were found (the operator looks first).

    A grid worker's patrol report (``channel`` patrol, ``actor`` a grid worker) must be located in
    one of the worker's grids, whatever located it (``intake_patrol``): else
    ``tickets.outside_your_grids`` on the field that located it.

    Raises ``ServiceError`` ``tickets.invalid`` with every field error, or a single
    error (``tickets.address_unknown``, ``tickets.place_required``, ``geo.outside_city``,
    ``geo.not_a_number``, ``tickets.outside_your_grids``, …) naming its field. Nothing is written then.
    """
    try:
        prepared = prepare_submission(
            channel=channel,
            kind=kind,
            category=category,
            description=description,
            title=title,
            external_id=external_id,
            urgency=urgency,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            reporter=reporter,
            address_text=address_text,
            address_code=address_code,
            lon=lon,
            lat=lat,
            crs=crs,
            received_at=received_at,
            actor=actor,
        )
    except PlaceError as error:
        # A retry gets its ticket even if the place no longer resolves as it did the first time.
        existing = _existing(error.key) if error.retryable else None
        if existing is None:
            raise error.error from None
        if strict_replay:
            check_same_submission(stored=existing.idempotency_fingerprint, fresh=error.fingerprint)
        return SubmitResult(existing, False)
    ticket, key, received = prepared.ticket, prepared.key, prepared.received
    try:
        with transaction.atomic():
            with timeline_batch():  # the rollups of both timeline rows: one write, at its end
                duplicates = find_duplicates(category=ticket.category, place=prepared.place, at=received)
                dispatch_to = auto_dispatch(prepared, duplicates)
                ticket.number = _provisional_number()
                ticket.save(force_insert=True)
                events, correction = timeline_rows(prepared, duplicates, dispatch_to, actor=actor)
                for event in events:
                    event.save(force_insert=True)
                if correction is not None:
                    correction.save(force_insert=True)
                # Before the rollup write that ends the block: the day counter, then the rollup
                # rows, the order ``ticket_submit_many`` locks them in (no deadlock with a batch).
                number_ticket(ticket, received)
            if dispatch_to is not None:
                notify_dispatched(ticket, dispatch_to)
    except IntegrityError:
        # The same key was submitted before (a retry), or by a call racing this one that committed first.
        existing = _existing(key)
        if existing is None:
            raise
        if strict_replay:
            check_same_submission(stored=existing.idempotency_fingerprint, fresh=prepared.fingerprint)
        return SubmitResult(existing, False)
    return SubmitResult(ticket, True, duplicates)


def auto_dispatch(prepared: Prepared, duplicates: list) -> OrgUnit | None:
    """Dispatch the unsaved ticket at once when its rule is certain and nobody must look first.

    A certain rule and a confident category dispatch automatically unless open duplicates were
    found (the operator looks first). The ticket is then written once, in its final state
    (what ``ticket_dispatch`` would have done). Returns the unit, or None (the dispatcher's queue).
    """
    decided, classification, ticket = prepared.decided, prepared.classification, prepared.ticket
    certain = decided.auto_dispatch and classification.may_auto_dispatch
    dispatch_to = decided.unit if certain and not duplicates else None
    if dispatch_to is None or not dispatch_to.is_active:
        return None
    ticket.status = TICKET_WORKFLOW.target(TicketStatus.PENDING_DISPATCH, TicketAction.DISPATCH)
    ticket.version = 2
    dispatch_fields(ticket, unit=dispatch_to, now=timezone.now())
    return dispatch_to


def timeline_rows(
    prepared: Prepared, duplicates: list, dispatch_to: OrgUnit | None, *, actor
) -> tuple[list[TicketEvent], CategoryCorrection | None]:
    """The unsaved receive row (and automatic dispatch row) of a saved new ticket, and the intake choice."""
    ticket, decided, classification = prepared.ticket, prepared.decided, prepared.classification
    # The notes are kept as codes (rendered for each reader) and, for old readers, as sentences
    # in the city's language, whoever submitted (tickets.explanations).
    note, note_keys = system_note(NOTE_RECEIVED, channel=ticket.channel)
    events = [
        TicketEvent(
            ticket=ticket,
            actor=actor if getattr(actor, "pk", None) else None,
            action=TicketAction.RECEIVE,
            from_state="",
            to_state=TicketStatus.PENDING_DISPATCH,
            note=note,
            payload={
                "located_by": prepared.place.how,
                "route": ticket.route_explanation,
                "route_reason": decided.reason,
                "rule_id": decided.rule_id,
                "suggested_unit_id": decided.unit.pk if decided.unit else None,
                "duplicates": [d.number for d in duplicates],
                "category_source": classification.source,
                **note_keys,
            },
            at=prepared.received,
        )
    ]
    if dispatch_to is not None:
        note, note_keys = system_note(NOTE_AUTO_DISPATCHED, **_why(decided, classification))
        events.append(
            TicketEvent(
                ticket=ticket,
                actor=None,
                action=TicketAction.DISPATCH,
                from_state=TicketStatus.PENDING_DISPATCH,
                to_state=ticket.status,
                note=note,
                payload={**dispatch_payload(ticket, dispatch_to), **note_keys},
                unit_id=dispatch_to.pk,
                at=ticket.dispatched_at,
            )
        )
    return events, _intake_choice(ticket, classification, actor=actor, at=prepared.received)


def _why(decided, classification: Classification) -> dict:
    """The automatic dispatch note's parameters: the route reason, and the model when it chose the category."""
    if classification.source != CategorySource.MODEL or classification.suggestion is None:
        return {"route": decided.reason}
    return {
        "route": decided.reason,
        "model": classification.suggestion.model,
        "percent": round(100 * classification.suggestion.confidence),
    }


def _intake_choice(ticket: Ticket, classification: Classification, *, actor, at) -> CategoryCorrection | None:
    """An intake operator's category beside the model's suggestion: a training example (unsaved).

    Only staff choices count (a citizen's pick of a category is not a dispatcher's
    judgement), and only when there was a suggestion to compare with: no model, no row.
    """
    suggestion = classification.suggestion
    role = getattr(actor, "role", "") if getattr(actor, "pk", None) else ""
    if suggestion is None or classification.source != CategorySource.REPORTER or role in ("", "citizen"):
        return None
    return CategoryCorrection(
        ticket=ticket,
        text=ticket_text_of(ticket),
        suggested_label=suggestion.label,
        suggested_confidence=suggestion.confidence,
        model=suggestion.model,
        from_category=None,
        final_category=ticket.category,
        source=CorrectionSource.INTAKE,
        actor=actor,
        at=at,
    )


def ticket_text_of(ticket: Ticket) -> str:
    from zhiwang.tickets.classify import ticket_text

    return ticket_text(title=ticket.title, description=ticket.description)


def submission_token() -> str:
    """A one-time token for a web form, so a double click submits once."""
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()[:32]


__all__ = [
    "Place",
    "SubmitResult",
    "deadline_rule",
    "dispatch_deadlines",
    "find_duplicates",
    "locate_place",
    "ticket_submit",
]
