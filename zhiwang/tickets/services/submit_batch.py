"""Many submissions written at once: the hotline batch import and departments' pushes.

The same pipeline as ``ticket_submit`` (``intake_prepare`` reads, the same duplicate rules, the
same automatic dispatch, timeline rows, numbers, rollups and inbox messages), but the writes of
a whole batch go together: one transaction, one statement per table (tickets, timeline rows,
intake choices, inbox messages), one counter statement per day, one rollup write, one commit.
That is what makes a bulk intake fast; a single submission stays on ``ticket_submit``.

Each submission gets its own outcome, in order: a ``SubmitResult`` or the ``ServiceError`` that
refused it. A refused submission writes nothing and does not stop the others; the accepted ones
are written all together or not at all. A retry (same channel + external id as an earlier
ticket, or as an earlier submission of the same batch) gets that ticket with ``created=False``;
with ``strict_replay`` (the API's) only when its content is the same, else it is refused
(``tickets.idempotency_key_reused``, as ``ticket_submit`` refuses it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from django.db import IntegrityError, OperationalError, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from zhiwang.core.bulk import insert_all, update_column
from zhiwang.core.errors import ServiceError
from zhiwang.core.fingerprint import same_input
from zhiwang.tickets.intake_selectors import DuplicateSearch, open_duplicates_many, twins_among
from zhiwang.tickets.models import Notification, Ticket, TicketEvent
from zhiwang.tickets.services.dispatching import dispatched_message
from zhiwang.tickets.services.intake_memo import intake_memo
from zhiwang.tickets.services.intake_prepare import PlaceError, Prepared, prepare_submission
from zhiwang.tickets.services.intake_validation import key_reused_error
from zhiwang.tickets.services.numbering import _provisional_number, take_numbers
from zhiwang.tickets.services.submit import (
    SubmitResult,
    auto_dispatch,
    ticket_submit,
    timeline_rows,
)
from zhiwang.tickets.timeline_batch import timeline_batch

#: The most submissions one call takes (one transaction; the caller splits bigger files).
MAX_BATCH = 1000

Outcome = SubmitResult | ServiceError


def ticket_submit_many(
    submissions: Sequence[dict], *, actor=None, strict_replay: bool = False
) -> list[Outcome]:
    """Submit every item of ``submissions`` (each the keyword arguments of ``ticket_submit``).

    ``actor`` is recorded on every item's timeline, unless the item names its own ``actor``
    (``submit_group`` gathers several callers' submissions); ``strict_replay`` likewise (see
    ``ticket_submit``): an item that repeats a key with other content — an earlier ticket's, or
    an earlier item's of the same batch — is refused on its own. Returns one outcome per item, in order. At most ``MAX_BATCH`` items per call. If a racing
    call takes an idempotency key of the batch between the check and the write, the batch is
    written again one by one through ``ticket_submit`` (which settles such races), so the
    outcomes are the same either way.
    """
    if len(submissions) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} submissions per batch")
    actors = [s.get("actor", actor) for s in submissions]
    stricts = [bool(s.get("strict_replay", strict_replay)) for s in submissions]
    submissions = [{k: v for k, v in s.items() if k not in ("actor", "strict_replay")} for s in submissions]
    outcomes: list[Outcome | None] = [None] * len(submissions)
    prepared: dict[int, Prepared] = {}
    place_errors: dict[int, PlaceError] = {}
    # The batch's categories and standard addresses: one query each, not one per submission.
    memo = intake_memo(
        category_codes=[s.get("category") for s in submissions if isinstance(s.get("category"), str)],
        address_codes=[(s.get("address_code") or "").strip() for s in submissions],
    )
    with memo:
        for i, submission in enumerate(submissions):
            try:
                prepared[i] = prepare_submission(**submission, actor=actors[i])
            except PlaceError as error:
                place_errors[i] = error
            except ServiceError as error:
                outcomes[i] = error
    keys = {p.key for p in prepared.values() if p.external_id}
    keys |= {e.key for e in place_errors.values() if e.retryable}
    earlier = {t.idempotency_key: t for t in Ticket.objects.filter(idempotency_key__in=keys)} if keys else {}
    new: dict[int, Prepared] = {}
    first_of_key: dict[str, int] = {}
    repeats: dict[int, int] = {}  # a repeat of a key earlier in the batch → that submission
    for i, p in prepared.items():
        if p.key in earlier:
            outcomes[i] = _replay(earlier[p.key], p.fingerprint, strict=stricts[i])
        elif p.key in first_of_key:
            repeats[i] = first_of_key[p.key]
        else:
            first_of_key[p.key] = i
            new[i] = p
    for i, error in place_errors.items():
        found = earlier.get(error.key) if error.retryable else None
        if found is not None:
            outcomes[i] = _replay(found, error.fingerprint, strict=stricts[i])
        elif error.retryable and first_of_key.get(error.key, i) < i:
            repeats[i] = first_of_key[error.key]  # one by one, it would find the ticket written just before
        else:
            outcomes[i] = error.error
    if new:
        try:
            outcomes_of_new = _write(new, actors=actors)
        except (IntegrityError, OperationalError) as error:
            if not _lost_a_race(error):
                raise
            # A racing call took one of the keys: one by one, each settles its own race.
            outcomes_of_new = {i: _submit_one(submissions[i], actors[i], stricts[i]) for i in new}
        for i, outcome in outcomes_of_new.items():
            outcomes[i] = outcome
    for i, first in repeats.items():
        mine = prepared[i].fingerprint if i in prepared else place_errors[i].fingerprint
        if stricts[i] and not same_input(prepared[first].fingerprint, mine):
            # two items of one batch with one key and two contents: the later one is refused
            # (one by one, it would have been refused as the first one's retry)
            outcomes[i] = key_reused_error()
            continue
        outcome = outcomes[first]
        outcomes[i] = SubmitResult(outcome.ticket, False) if isinstance(outcome, SubmitResult) else outcome
    assert all(o is not None for o in outcomes)  # every submission has its outcome
    return cast(list[Outcome], outcomes)


def _lost_a_race(error: Exception) -> bool:
    """A unique key taken meanwhile, or (PostgreSQL) a deadlock with a single submission of the same
    key (it holds the key and waits for the day counter, which the batch holds while inserting)."""
    if isinstance(error, IntegrityError):
        return True
    return getattr(getattr(error, "__cause__", None), "sqlstate", None) == "40P01"


def _submit_one(submission: dict, actor, strict_replay: bool) -> Outcome:
    try:
        return ticket_submit(**submission, actor=actor, strict_replay=strict_replay)
    except ServiceError as error:
        return error


def _replay(ticket: Ticket, fingerprint: str, *, strict: bool) -> Outcome:
    """A retry of an earlier ticket's key: that ticket, unless ``strict`` and the content differs."""
    if strict and not same_input(ticket.idempotency_fingerprint, fingerprint):
        return key_reused_error()
    return SubmitResult(ticket, False)


def _write(new: dict[int, Prepared], *, actors: list) -> dict[int, SubmitResult]:
    """Write the batch's new tickets in one transaction (see the module docstring)."""
    order = sorted(new)
    results: dict[int, SubmitResult] = {}
    with transaction.atomic():
        with timeline_batch():  # every receiver's work on the batch's timeline rows: once, at the end
            batch_tickets = []
            dispatched = {}
            in_database = open_duplicates_many([_search(new[i]) for i in order])
            for i, found in zip(order, in_database, strict=True):
                p = new[i]
                ticket = p.ticket
                duplicates = found + twins_among(ticket, batch_tickets)
                dispatched[i] = auto_dispatch(p, duplicates)
                batch_tickets.append(ticket)
                results[i] = SubmitResult(ticket, True, duplicates)
            # The same lock order as ticket_submit: the tickets' keys, the day counter, the rollup
            # rows (else a batch and a single submission could deadlock). So the tickets go in
            # with stand-in numbers, and get their real ones, in order, right after.
            for ticket in batch_tickets:
                ticket.number = _provisional_number()
            insert_all(batch_tickets)
            _number(new, order)  # the day counters: locked from here to the commit
            update_column(batch_tickets, "number")
            events, corrections, notices = [], [], []
            for i in order:
                rows, correction = timeline_rows(
                    new[i], results[i].duplicates, dispatched[i], actor=actors[i]
                )
                events += rows
                if correction is not None:
                    corrections.append(correction)
                if dispatched[i] is not None:
                    ticket = new[i].ticket
                    notices.append(
                        Notification(
                            unit_id=dispatched[i].pk,
                            ticket=ticket,
                            kind="dispatched",
                            message=dispatched_message(ticket)[:500],
                        )
                    )
            insert_all(events)
            for event in events:  # what ``save()`` would have announced (the rollups listen)
                post_save.send(sender=TicketEvent, instance=event, created=True, raw=False, using="default")
            insert_all(corrections)
            insert_all(notices)
    return results


def _search(p: Prepared) -> DuplicateSearch:
    """What ``find_duplicates`` looks for, for one prepared submission."""
    place = p.place
    community_id = place.community.pk if place.community else None
    return DuplicateSearch(
        p.ticket.category_id, place.address, community_id, place.lon, place.lat, p.received
    )


def _number(new: dict[int, Prepared], order: list[int]) -> None:
    """Give the batch's tickets their numbers, in submission order, one counter statement per day."""
    by_day: dict[object, list[Ticket]] = defaultdict(list)
    for i in order:
        ticket = new[i].ticket
        by_day[_local_day(ticket.received_at)].append(ticket)
    for day in sorted(by_day):  # always the same order: concurrent batches lock the rows alike
        tickets = by_day[day]
        for ticket, number in zip(tickets, take_numbers(day, len(tickets)), strict=True):
            ticket.number = number


def _local_day(at: datetime):
    return timezone.localtime(at).date()
