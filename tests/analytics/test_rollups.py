"""Rollups: incremental counting in the transition's transaction, catch-up of bulk rows, rebuild."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Sum

from zhiwang.analytics.models import OpenStock, RollupArea, RollupFact, TicketTrack
from zhiwang.analytics.rollups import rollup_catch_up, rollup_rebuild, rollup_snapshot
from zhiwang.tickets.models import OPEN_STATUSES, Ticket, TicketEvent, TicketStatus


def _city_total(metric: str) -> int:
    if metric in ("open", "overdue_open"):
        return OpenStock.objects.aggregate(n=Sum(metric))["n"] or 0
    fine = RollupFact.objects.aggregate(n=Sum(metric))["n"] or 0
    assert fine == (RollupArea.objects.aggregate(n=Sum(metric))["n"] or 0)  # coarse = fine
    return fine


@pytest.mark.django_db
def test_submit_is_counted_in_the_same_transaction(make_ticket, nanshan_community):
    ticket = make_ticket()
    assert _city_total("received") == 1
    assert _city_total("open") == 1
    row = RollupFact.objects.get(received=1)
    assert row.community_id == nanshan_community.pk == ticket.community_id
    assert row.subdistrict_id == ticket.subdistrict_id
    assert row.district_id == ticket.district_id
    assert row.grid_id == ticket.grid_id
    assert TicketTrack.objects.get(ticket_id=ticket.pk).last_event == ticket.events.get().pk


@pytest.mark.django_db
def test_a_failed_transition_leaves_no_count(dispatched, hotline):
    from zhiwang.core.errors import ServiceError
    from zhiwang.tickets.services import ticket_accept

    ticket = dispatched()
    before = rollup_snapshot()
    with pytest.raises(ServiceError):
        ticket_accept(ticket=ticket, actor=hotline)  # not the handling unit
    assert rollup_snapshot() == before


@pytest.mark.django_db
def test_rebuild_equals_incremental_after_a_mixed_history(history):
    """40 histories through every service path plus bulk sweep rows, then the rebuild."""
    rollup_catch_up()  # the sweep's bulk rows (warnings, urges, supervisions)
    incremental = rollup_snapshot()
    events = TicketEvent.objects.count()
    assert TicketTrack.objects.filter(last_event__gt=0).count() == Ticket.objects.count()
    actions = Counter(TicketEvent.objects.values_list("action", flat=True))
    assert actions["urge"] + actions["warn"] > 0, "the history should contain bulk sweep rows"

    tracks = set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue"))

    result = rollup_rebuild()
    assert result["events"] == events
    assert rollup_snapshot() == incremental
    assert set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue")) == tracks

    # the counters agree with the tickets themselves
    tickets = Ticket.objects.all()
    assert _city_total("received") == tickets.count()
    assert _city_total("open") == tickets.filter(status__in=OPEN_STATUSES).count()
    assert _city_total("closed") == tickets.filter(status=TicketStatus.CLOSED).count()
    assert _city_total("reopened") == actions["reopen"]
    assert _city_total("overdue_open") == sum(1 for _t, _e, overdue in tracks if overdue)
    # per community and per grid, the arrivals match the tickets located there
    for community_id in set(tickets.exclude(community=None).values_list("community_id", flat=True)):
        rows = RollupFact.objects.filter(community_id=community_id)
        assert rows.aggregate(n=Sum("received"))["n"] == tickets.filter(community_id=community_id).count()
        located = tickets.filter(community_id=community_id).exclude(grid=None).count()
        assert (rows.exclude(grid_id=0).aggregate(n=Sum("received"))["n"] or 0) == located


@pytest.mark.django_db
def test_catch_up_counts_bulk_rows_once(history):
    rollup_catch_up()
    first = rollup_snapshot()
    assert rollup_catch_up() == 0
    assert rollup_snapshot() == first


@pytest.mark.django_db
def test_bulk_generator_rows_are_caught_up_and_match_rebuild(db):
    from zhiwang.tickets.history import bulk_tickets_create

    from .conftest import HISTORY_END

    bulk_tickets_create(count=60, seed=9, as_of=HISTORY_END, days=20)
    assert RollupFact.objects.count() == 0  # bulk_create sends no signal
    assert rollup_catch_up() == TicketEvent.objects.count()
    caught_up = rollup_snapshot()
    tracks = set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue"))
    assert _city_total("overdue") > 0 and _city_total("urged") > 0, "overdue episodes expected"
    rollup_rebuild()
    assert rollup_snapshot() == caught_up
    assert set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue")) == tracks
    assert _city_total("overdue_open") == sum(1 for _t, _e, overdue in tracks if overdue)
    assert _city_total("received") == 60


@pytest.mark.django_db
def test_rebuild_command(history):
    from io import StringIO

    out = StringIO()
    call_command("analytics_rebuild", stdout=out)
    assert "events" in out.getvalue()
    assert _city_total("received") == Ticket.objects.count()
