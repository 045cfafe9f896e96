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


# --- the timeline batch: a submit's rows counted once, at the end of its transaction -------------


@pytest.mark.django_db
def test_a_submit_writes_each_rollup_table_once(make_ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.tickets.conftest import RUBBISH
    from zhiwang.tickets.models import TicketStatus

    make_ticket()  # the first of the day creates rows; the second adds to them
    with CaptureQueriesContext(connection) as queries:
        ticket = make_ticket(kind="incident", category=RUBBISH, channel="patrol")
    assert ticket.status == TicketStatus.DISPATCHED  # two timeline rows: receive, dispatch
    tables = ("rollupfact", "rolluparea", "rollupunit", "openstock", "addressday", "tickettrack")
    writes = [q["sql"] for q in queries.captured_queries if "analytics_" in q["sql"]]
    for table in tables:
        assert sum(f"analytics_{table}" in sql for sql in writes) == 1, table
    if connection.vendor == "postgresql":
        assert len(writes) == 1  # one statement for all of them
    assert _city_total("received") == 2
    assert _city_total("dispatched") == 1


@pytest.mark.django_db
def test_a_submit_failing_after_its_rollups_were_written_leaves_no_trace(make_ticket, monkeypatch):
    from zhiwang.tickets.services import submit

    make_ticket()
    before = rollup_snapshot(), TicketTrack.objects.count(), Ticket.objects.count()

    def fail(ticket, now):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(submit, "number_ticket", fail)  # runs after the batch wrote the rollups
    with pytest.raises(RuntimeError):
        make_ticket()
    assert (rollup_snapshot(), TicketTrack.objects.count(), Ticket.objects.count()) == before


@pytest.mark.django_db
def test_a_batch_counts_at_its_end_after_earlier_uncounted_rows(make_ticket):
    """Rows noted in a batch are counted when it ends, behind a bulk row of the same ticket, as the rebuild does."""
    from django.db import transaction
    from django.utils import timezone

    from zhiwang.tickets.timeline_batch import timeline_batch
    from zhiwang.tickets.workflow import TicketAction

    ticket = make_ticket()
    now = timezone.now()
    TicketEvent.objects.bulk_create(  # a sweep's row: no signal, not counted yet
        [TicketEvent(ticket=ticket, action=TicketAction.URGE, from_state="", to_state="", at=now)]
    )
    before = rollup_snapshot()
    with transaction.atomic(), timeline_batch():
        TicketEvent.objects.create(
            ticket=ticket, action=TicketAction.SUPERVISE, from_state="", to_state="", at=now
        )
        assert rollup_snapshot() == before  # noted, not yet counted
        TicketEvent.objects.create(
            ticket=ticket, action=TicketAction.URGE, from_state="", to_state="", at=now
        )
    assert _city_total("urged") == 2
    assert _city_total("supervised") == 1
    assert _city_total("overdue") == 1  # the episode began at the bulk row, once
    assert TicketTrack.objects.get(ticket_id=ticket.pk).last_event == ticket.events.order_by("pk").last().pk
    incremental = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == incremental


def test_a_batch_needs_a_transaction():
    from zhiwang.tickets.timeline_batch import timeline_batch

    with pytest.raises(RuntimeError), timeline_batch():
        pass


@pytest.mark.django_db
def test_a_nested_batch_rolled_back_with_its_savepoint_leaves_no_count(make_ticket):
    from django.db import transaction
    from django.utils import timezone

    from zhiwang.tickets.timeline_batch import timeline_batch
    from zhiwang.tickets.workflow import TicketAction

    ticket = make_ticket()
    now = timezone.now()
    with transaction.atomic(), timeline_batch():
        try:
            with transaction.atomic(), timeline_batch():
                TicketEvent.objects.create(
                    ticket=ticket, action=TicketAction.URGE, from_state="", to_state="", at=now
                )
                raise RuntimeError("rolled back with its savepoint")
        except RuntimeError:
            pass
        with transaction.atomic(), timeline_batch():  # this one stays: counted by the outer batch
            TicketEvent.objects.create(
                ticket=ticket, action=TicketAction.SUPERVISE, from_state="", to_state="", at=now
            )
    assert _city_total("urged") == 0
    assert _city_total("supervised") == 1
    incremental = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == incremental


@pytest.mark.django_db
def test_rebuild_writes_the_rollups_in_day_order(history):
    """A window of days is a run of adjacent rows (pages) after a rebuild, not rows spread over the table."""
    from zhiwang.analytics.models import AddressDay, RollupUnit

    rollup_rebuild()
    for model in (RollupFact, RollupArea, RollupUnit, AddressDay):
        days = list(model.objects.order_by("pk").values_list("day", flat=True))
        assert len(set(days)) > 1, model.__name__
        assert days == sorted(days), model.__name__


@pytest.mark.django_db(transaction=True)
def test_rebuild_vacuums_the_rollups_on_postgresql(city_restored, make_ticket):
    """VACUUM (ANALYZE) after the rebuild's transaction on PostgreSQL; never inside a transaction."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from zhiwang.analytics.rollups import rollup_vacuum

    make_ticket()
    with CaptureQueriesContext(connection) as queries:
        rollup_rebuild()
    vacuums = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("VACUUM")]
    if connection.vendor == "postgresql":
        assert len(vacuums) == 1 and '"analytics_rollupfact"' in vacuums[0] and "ANALYZE" in vacuums[0]
    else:
        assert not vacuums
    with transaction.atomic():
        assert rollup_vacuum() is False
    assert _city_total("received") == 1


@pytest.mark.django_db
def test_a_transfer_leaves_the_open_count_without_counting_as_closed(accepted, nanshan_dispatcher):
    """移交 ends the ticket here: it leaves the open stock (it stayed there for good before) but is
    not the unit's closure; the rebuild states the same rule."""
    from zhiwang.tickets.services import ticket_transfer

    ticket = accepted()
    assert _city_total("open") == 1
    ticket_transfer(ticket=ticket, actor=nanshan_dispatcher, target="调解", reference="TJ-1")
    assert (_city_total("open"), _city_total("closed"), _city_total("closed_on_time")) == (0, 0, 0)
    # the flow that accounts for it: received = closed + rejected + merged + transferred + open
    assert _city_total("transferred") == 1
    received, ended = (
        _city_total("received"),
        sum(_city_total(m) for m in ("closed", "rejected", "merged", "transferred", "open")),
    )
    assert received == ended
    incremental = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == incremental


@pytest.mark.django_db
def test_a_change_of_category_moves_the_tickets_counts_and_rebuild_agrees(dispatched, nanshan_dispatcher):
    """Received, dispatched and urged past the deadline (an overdue episode) under one category,
    then corrected twice: every count of the ticket now sits under the last category, as a
    rebuild puts it."""
    from datetime import timedelta

    from zhiwang.tickets.models import Category
    from zhiwang.tickets.services import ticket_recategorise, ticket_urge

    ticket = dispatched()
    first = ticket.category_id
    past_due = ticket.due_at + timedelta(minutes=1)
    ticket = ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="快办", now=past_due)
    ticket = ticket_recategorise(ticket=ticket, category="GI0301", actor=nanshan_dispatcher)
    ticket = ticket_recategorise(ticket=ticket, category="GI0201", actor=nanshan_dispatcher)
    last = Category.objects.get(code="GI0201").pk

    def by_category(model, metric):
        rows = model.objects.values_list("category_id").annotate(n=Sum(metric))
        return {category: n for category, n in rows if n}

    for metric in ("received", "dispatched", "urged", "overdue"):
        assert by_category(RollupFact, metric) == {last: 1}, metric
        assert by_category(RollupArea, metric) == {last: 1}, metric
    assert by_category(OpenStock, "open") == by_category(OpenStock, "overdue_open") == {last: 1}
    assert first != last
    incremental = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == incremental
