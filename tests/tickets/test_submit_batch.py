"""Many submissions at once (``ticket_submit_many``): the same outcome as one by one, written together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from tests.tickets.conftest import ILLEGAL_BUILDING, MONDAY_10, RUBBISH, SANITATION
from zhiwang.analytics.rollups import rollup_catch_up, rollup_snapshot
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Grid
from zhiwang.tickets.models import CategoryCorrection, Notification, Ticket, TicketCounter, TicketEvent
from zhiwang.tickets.services import submit_batch, ticket_submit
from zhiwang.tickets.services.submit_batch import MAX_BATCH, ticket_submit_many

pytestmark = pytest.mark.django_db


#: A hotline complaint at no place yet (each use adds its key and its place).
COMPLAINT = {
    "channel": "hotline",
    "kind": "complaint",
    "category": SANITATION,
    "description": "垃圾没人清运。",
}


def _mix(building, room) -> list[dict]:
    """Every path of the pipeline: automatic dispatch, duplicates (by building and by point),
    the dispatcher's queue, inquiries without a place, refusals, and a repeated key."""
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    incident = {
        "channel": "patrol",
        "kind": "incident",
        "category": RUBBISH,
        "description": "路边有暴露垃圾。",
    }
    return [
        {**incident, "external_id": "p-1", "address_code": building.code},  # auto-dispatched
        {**incident, "external_id": "p-2", "address_code": room.code},  # its twin: waits
        {
            "channel": "patrol",
            "kind": "report",
            "category": ILLEGAL_BUILDING,
            "description": "楼顶违建。",
            "external_id": "p-3",
            "address_code": building.code,
        },
        {**COMPLAINT, "external_id": "h-1", "address_code": building.code, "reporter_phone": "13800138000"},
        {
            **COMPLAINT,
            "external_id": "h-2",
            "reporter_phone": "call me",
            "address_code": building.code,
        },  # refused
        {**COMPLAINT, "external_id": "h-3", "address_code": "440305999999999-X"},  # unknown place: refused
        {**COMPLAINT, "external_id": "h-4", "lon": grid.lon, "lat": grid.lat},
        {**COMPLAINT, "external_id": "h-5", "lon": grid.lon + 0.0003, "lat": grid.lat},  # ~31 m: a twin
        {
            "channel": "hotline",
            "kind": "inquiry",
            "category": SANITATION,
            "description": "公积金怎么提取？",
            "external_id": "h-6",
        },
        {**COMPLAINT, "external_id": "h-1", "address_code": building.code},  # a repeat of h-1
        {
            "channel": "hotline",
            "kind": "inquiry",
            "category": SANITATION,
            "description": "没有外部编号的咨询。",
        },
    ]


def _signature(outcome) -> tuple:
    """Everything a submission leaves behind, without database ids."""
    if isinstance(outcome, ServiceError):
        return ("error", outcome.code, outcome.field)
    ticket = Ticket.objects.get(pk=outcome.ticket.pk)
    events = [
        (
            e.action,
            e.from_state,
            e.to_state,
            e.note,
            {k: v for k, v in e.payload.items() if k != "rule_id"},
            e.at,
        )
        for e in ticket.events.order_by("pk")
    ]
    return (
        outcome.created,
        ticket.number,
        ticket.status,
        ticket.version,
        ticket.handling_unit_id,
        ticket.suggested_unit_id,
        ticket.dispatch_center_id,
        ticket.accept_due_at,
        ticket.due_at,
        ticket.warn_at,
        ticket.idempotency_key.split(":auto:")[0],
        [d.number for d in outcome.duplicates],
        events,
        sorted(Notification.objects.filter(ticket=ticket).values_list("unit_id", "kind", "message")),
    )


def test_a_batch_leaves_exactly_what_one_by_one_submissions_leave(frozen_now, nanshan_building, nanshan_room):
    submissions = _mix(nanshan_building, nanshan_room)
    before = rollup_snapshot()
    with transaction.atomic():  # one by one, then rolled back (the timeline cannot be deleted)
        one_by_one = []
        for submission in submissions:
            try:
                one_by_one.append(ticket_submit(**submission))
            except ServiceError as error:
                one_by_one.append(error)
        expected = [_signature(o) for o in one_by_one]
        expected_rollups = rollup_snapshot()
        transaction.set_rollback(True)
    assert rollup_snapshot() == before and not Ticket.objects.exists() and not TicketCounter.objects.exists()

    outcomes = ticket_submit_many(submissions)

    assert [_signature(o) for o in outcomes] == expected
    assert rollup_snapshot() == expected_rollups  # counted in the batch's own transaction
    assert rollup_catch_up() == 0
    # what the mix is meant to cover, so the comparison above is not vacuous
    statuses = [o.ticket.status if not isinstance(o, ServiceError) else o.code for o in outcomes]
    assert statuses[:4] == ["dispatched", "pending_dispatch", "dispatched", "pending_dispatch"]
    assert isinstance(outcomes[4], ServiceError)
    assert [f.field for f in outcomes[4].fields] == ["reporter_phone"]
    assert isinstance(outcomes[5], ServiceError)
    assert [d.pk for d in outcomes[1].duplicates] == [outcomes[0].ticket.pk]
    assert [d.pk for d in outcomes[7].duplicates] == [outcomes[6].ticket.pk]
    assert outcomes[9].ticket.pk == outcomes[3].ticket.pk and outcomes[9].created is False


def test_numbers_are_consecutive_per_day_in_submission_order(frozen_now, nanshan_building):
    ticket_submit(channel="hotline", kind="inquiry", category=SANITATION, description="先来的一件。")
    yesterday = MONDAY_10 - timedelta(days=1)
    base = {
        "channel": "hotline",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "批量导入的来电。",
    }
    outcomes = ticket_submit_many(
        [
            {**base, "external_id": "a"},
            {**base, "external_id": "b", "received_at": yesterday},
            {**base, "external_id": "c"},
        ]
    )
    numbers = [o.ticket.number for o in outcomes]
    assert numbers == ["ZW20261123000002", "ZW20261122000001", "ZW20261123000003"]
    assert ticket_submit(**base).ticket.number == "ZW20261123000004"  # no gap after the batch


def test_a_retry_of_the_whole_batch_writes_nothing_new(nanshan_building, nanshan_room):
    submissions = _mix(nanshan_building, nanshan_room)
    first = ticket_submit_many(submissions)
    counts = (Ticket.objects.count(), TicketEvent.objects.count(), Notification.objects.count())
    again = ticket_submit_many(submissions)
    # the last submission has no external id: a new ticket each time, like ticket_submit
    assert (Ticket.objects.count(), TicketEvent.objects.count(), Notification.objects.count()) == (
        counts[0] + 1,
        counts[1] + 1,
        counts[2],
    )
    for before, after in zip(first[:-1], again[:-1], strict=True):
        if isinstance(before, ServiceError):
            assert isinstance(after, ServiceError) and after.code == before.code
        else:
            assert after.created is False and after.ticket.pk == before.ticket.pk


def test_a_failure_while_writing_leaves_no_trace(monkeypatch, nanshan_building, nanshan_room):
    before = rollup_snapshot()

    real_insert_all = submit_batch.insert_all

    def broken(objs):
        # the last write of the batch fails: everything before it must be undone
        if objs and isinstance(objs[0], Notification):
            raise RuntimeError("disk full")
        real_insert_all(objs)

    with monkeypatch.context() as patch:
        patch.setattr(submit_batch, "insert_all", broken)
        with pytest.raises(RuntimeError):
            ticket_submit_many(_mix(nanshan_building, nanshan_room))
    written = (Ticket.objects.count(), TicketEvent.objects.count(), CategoryCorrection.objects.count())
    assert written == (0, 0, 0)
    assert rollup_snapshot() == before
    # the numbers were given back: the next ticket of the day is the first
    again = ticket_submit(
        channel="hotline", kind="inquiry", category=SANITATION, description="下一件来电咨询。"
    )
    assert again.ticket.number.endswith("000001")


def test_a_key_taken_by_a_racing_call_falls_back_to_one_by_one(monkeypatch, nanshan_building, nanshan_room):
    submissions = _mix(nanshan_building, nanshan_room)
    real_write = submit_batch._write

    def racing_write(new, *, actors):
        # a racing call commits h-1 between the batch's key check and its write
        monkeypatch.setattr(submit_batch, "_write", real_write)
        ticket_submit(**submissions[3])
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(submit_batch, "_write", racing_write)
    outcomes = ticket_submit_many(submissions)
    assert outcomes[3].created is False and outcomes[9].ticket.pk == outcomes[3].ticket.pk
    assert outcomes[0].created and outcomes[0].ticket.status == "dispatched"
    assert Ticket.objects.filter(idempotency_key="hotline:h-1").count() == 1
    assert isinstance(outcomes[4], ServiceError) and isinstance(outcomes[5], ServiceError)


def test_a_batch_is_bounded():
    with pytest.raises(ValueError):
        ticket_submit_many([{}] * (MAX_BATCH + 1))


def test_a_repeated_key_whose_place_no_longer_resolves_gets_the_first_ticket(nanshan_building):
    """As one by one: the second call finds the ticket the first one just wrote."""
    first, second = ticket_submit_many(
        [
            {**COMPLAINT, "external_id": "call-9", "address_code": nanshan_building.code},
            {**COMPLAINT, "external_id": "call-9", "address_code": "440305999999999-X"},
        ]
    )
    assert first.created and second.created is False and second.ticket.pk == first.ticket.pk


def test_more_duplicate_searches_than_one_statement_takes(db):
    """SQLite takes at most 500 terms in one compound SELECT: the searches go in several statements."""
    from zhiwang.geo.models import AddressLevel, StandardAddress

    buildings = list(StandardAddress.objects.filter(level=AddressLevel.BUILDING).order_by("code")[:501])
    assert len(buildings) == 501
    outcomes = ticket_submit_many(
        [{**COMPLAINT, "external_id": f"big-{i}", "address_code": b.code} for i, b in enumerate(buildings)]
    )
    assert all(not isinstance(o, ServiceError) and o.created for o in outcomes)
    numbers = sorted(int(o.ticket.number[-6:]) for o in outcomes)
    assert numbers == list(range(1, 502))


def test_many_duplicate_searches_find_what_each_search_alone_finds(
    frozen_now, nanshan_building, nanshan_room
):
    """Many searches go in one statement (on PostgreSQL a LATERAL one, from three on); one search
    alone goes as plain SQL. Both must find the same tickets: by building, inside it, by point in
    the window, never other categories, closed tickets or the excluded one."""
    from zhiwang.tickets.intake_selectors import DuplicateSearch, open_duplicates_many
    from zhiwang.tickets.models import TicketStatus

    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    at_building = ticket_submit(**COMPLAINT, external_id="d-1", address_code=nanshan_building.code).ticket
    in_room = ticket_submit(**COMPLAINT, external_id="d-2", address_code=nanshan_room.code).ticket
    by_point = ticket_submit(**COMPLAINT, external_id="d-3", lon=grid.lon, lat=grid.lat).ticket
    closed = ticket_submit(**COMPLAINT, external_id="d-4", address_code=nanshan_building.code).ticket
    Ticket.objects.filter(pk=closed.pk).update(status=TicketStatus.CLOSED)
    frozen_now(MONDAY_10 + timedelta(days=2))
    from django.utils import timezone

    now = timezone.now()
    category = at_building.category_id
    community = by_point.community_id
    searches = [
        DuplicateSearch(category, nanshan_room, None, None, None, now),  # the building and the room
        DuplicateSearch(category, nanshan_building, None, None, None, now, exclude_pk=at_building.pk),
        DuplicateSearch(category, None, community, grid.lon + 0.0003, grid.lat, now),  # ~31 m away
        DuplicateSearch(category, None, community, grid.lon, grid.lat, now + timedelta(days=8)),  # too late
        DuplicateSearch(category, None, None, None, None, now),  # no place: nothing to search
        DuplicateSearch(category + 1, nanshan_building, None, None, None, now),  # another category
    ]
    together = open_duplicates_many(searches)
    alone = [open_duplicates_many([search])[0] for search in searches]
    assert together == alone
    assert together[0] == [at_building, in_room] and together[1] == [in_room]
    assert together[2] == [by_point] and together[3:] == [[], [], []]
