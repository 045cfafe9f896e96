"""The catch-up path: count timeline rows that bulk paths wrote without a signal (periodic task)."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from zhiwang.analytics.models import RollupState, TicketTrack
from zhiwang.analytics.rollups.rules import _TICKET_FIELDS, TicketFacts
from zhiwang.analytics.rollups.writes import Deltas, _count, _save_tracks, _state
from zhiwang.tickets.models import Ticket, TicketEvent

#: Rows re-read behind the watermark by the catch-up: bulk rows may commit after later rows.
CATCH_UP_LOOKBACK = 20000
#: The columns of a timeline row the catch-up reads.
_EVENT_FIELDS = ("pk", "ticket_id", "action", "to_state", "payload", "unit_id", "at")


def _count_batch(events: list[dict], tracks: dict[int, TicketTrack]) -> Deltas:
    """Count a batch of rows (any tickets, ordered by pk) against ``tracks``; returns the deltas."""
    ticket_ids = {e["ticket_id"] for e in events}
    facts = {
        row["pk"]: TicketFacts(**row)
        for row in Ticket.objects.filter(pk__in=ticket_ids).order_by().values(*_TICKET_FIELDS)
    }
    by_ticket: dict[int, list] = defaultdict(list)
    for e in events:
        by_ticket[e["ticket_id"]].append((e["pk"], e["action"], e["payload"], e["unit_id"], e["at"]))
    deltas = Deltas()
    for ticket_id, rows in by_ticket.items():
        track = tracks.get(ticket_id)
        if track is None:
            track = tracks[ticket_id] = TicketTrack(ticket_id=ticket_id)
        _count(rows, facts[ticket_id], track, deltas)
    return deltas


def rollup_catch_up(*, batch_size: int = 5000, lookback: int = CATCH_UP_LOOKBACK) -> int:
    """Count timeline rows written without a signal (bulk paths); returns how many were counted.

    Scans rows above ``watermark − lookback`` in pk order, a batch per transaction, locking the
    batch's tickets (so a transition of the same ticket waits), and counts those above each
    ticket's ``last_event``. Safe to run at any time, as often as wanted.
    """
    cursor = max(_state().watermark - lookback, 0)
    counted = 0
    while True:
        with transaction.atomic():
            events = list(
                TicketEvent.objects.filter(pk__gt=cursor).order_by("pk").values(*_EVENT_FIELDS)[:batch_size]
            )
            if not events:
                break
            ticket_ids = sorted({e["ticket_id"] for e in events})
            list(Ticket.objects.select_for_update().filter(pk__in=ticket_ids).values_list("pk", flat=True))
            tracks = {t.ticket_id: t for t in TicketTrack.objects.filter(ticket_id__in=ticket_ids)}
            before = {pk: t.last_event for pk, t in tracks.items()}
            todo = [e for e in events if e["pk"] > before.get(e["ticket_id"], 0)]
            if todo:
                deltas = _count_batch(todo, tracks)
                deltas.flush()
                changed = [t for pk, t in tracks.items() if t.last_event != before.get(pk)]
                _save_tracks(changed)
                counted += len(todo)
            cursor = events[-1]["pk"]
            RollupState.objects.filter(pk=1).update(watermark=cursor, caught_up_at=timezone.now())
    return counted
