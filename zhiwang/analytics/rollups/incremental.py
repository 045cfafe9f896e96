"""The incremental path: the receiver of each new timeline row, and the flush of a timeline batch.

``rollup_event_saved`` (called by the ``post_save`` receiver of ``signals.py``) counts a row in the
transaction that wrote it; inside a ``tickets.timeline_batch`` it only notes the row, and
``rollup_batch_flush`` counts the batch's rows together when the batch ends, before the commit.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from zhiwang.analytics.models import TicketTrack
from zhiwang.analytics.rollups.rules import TicketFacts
from zhiwang.analytics.rollups.writes import Deltas, _count, _write_small
from zhiwang.tickets.models import TicketEvent
from zhiwang.tickets.timeline_batch import current_batch
from zhiwang.tickets.workflow import TicketAction as A


def rollup_event_saved(event: TicketEvent) -> None:
    """Count a timeline row just written (and any earlier uncounted rows of its ticket), in its transaction.

    Inside a ``tickets.timeline_batch`` (a service writing several rows in one transaction) the
    row is only noted, with its ticket's facts as they are now, and counted with the others
    of the batch when it ends (``rollup_batch_flush``), right before the commit.
    """
    batch = current_batch()
    if batch is not None:
        row = (event.pk, event.action, event.payload, event.unit_id, event.at)
        batch.buffer(BATCH_BUFFER, rollup_batch_flush).append(
            (event.ticket_id, row, TicketFacts.of(event.ticket), _opens_timeline(event))
        )
        return
    # No savepoint: inside a transaction a failure here must fail the caller's write too.
    with transaction.atomic(savepoint=False):
        track = TicketTrack.objects.filter(ticket_id=event.ticket_id).first() or TicketTrack(
            ticket_id=event.ticket_id
        )
        if event.pk <= track.last_event:
            return
        rows = [
            (pk, action, payload, unit_id, at)
            for pk, action, payload, unit_id, at in TicketEvent.objects.filter(
                ticket_id=event.ticket_id, pk__gt=track.last_event, pk__lt=event.pk
            )
            .order_by("pk")
            .values_list("pk", "action", "payload", "unit_id", "at")
        ]
        rows.append((event.pk, event.action, event.payload, event.unit_id, event.at))
        deltas = Deltas()
        _count(rows, TicketFacts.of(event.ticket), track, deltas)
        _write_small(deltas, [track])


#: The name of the rollups' buffer in a timeline batch.
BATCH_BUFFER = "analytics.rollups"


def _opens_timeline(event: TicketEvent) -> bool:
    """The receive row written with a new ticket: nothing of that ticket can have been counted before."""
    return event.action == A.RECEIVE and not event.from_state


def rollup_batch_flush(items: list[tuple]) -> None:
    """Count the rows a timeline batch noted: one multi-row upsert per table (one statement on PostgreSQL).

    ``items``: ``(ticket_id, row, facts, opens_timeline)`` in the order the rows were written.
    Each row is counted as ``rollup_event_saved`` would have counted it at once (with its
    ticket's facts of that moment, after any earlier uncounted rows of the ticket); a ticket
    whose receive row is in the batch is new, so its track and earlier rows are not read.
    """
    by_ticket: dict[int, list[tuple]] = defaultdict(list)
    for ticket_id, row, facts, opens in items:
        by_ticket[ticket_id].append((row, facts, opens))
    known = [pk for pk, rows in by_ticket.items() if not rows[0][2]]
    tracks = {pk: TicketTrack(ticket_id=pk) for pk in by_ticket}
    earlier: dict[int, list[tuple]] = defaultdict(list)
    if known:
        tracks.update({t.ticket_id: t for t in TicketTrack.objects.filter(ticket_id__in=known)})
        noted = {row[0] for ticket_id in known for row, _facts, _opens in by_ticket[ticket_id]}
        low = min(tracks[pk].last_event for pk in known)
        high = max(row[0] for ticket_id in known for row, _facts, _opens in by_ticket[ticket_id])
        for ticket_id, *row in (
            TicketEvent.objects.filter(ticket_id__in=known, pk__gt=low, pk__lt=high)
            .order_by("pk")
            .values_list("ticket_id", "pk", "action", "payload", "unit_id", "at")
        ):
            if row[0] not in noted:
                earlier[ticket_id].append(tuple(row))
    deltas = Deltas()
    for ticket_id, rows in by_ticket.items():
        track = tracks[ticket_id]
        before = earlier.get(ticket_id, [])
        for row, facts, _opens in rows:
            # Earlier uncounted rows (bulk paths) first, counted with this row's facts, as at once.
            now = [r for r in before if r[0] < row[0]]
            before = [r for r in before if r[0] > row[0]]
            _count([*now, row], facts, track, deltas)
    _write_small(deltas, list(tracks.values()))
