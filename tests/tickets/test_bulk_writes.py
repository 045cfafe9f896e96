"""``core.bulk``: many rows at once (COPY on PostgreSQL, bulk_create on SQLite) write what ``save()`` writes."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from tests.tickets.conftest import SANITATION
from zhiwang.analytics.models import RollupArea
from zhiwang.analytics.rollups.writes import upsert
from zhiwang.core.bulk import array_type, insert_all, update_column
from zhiwang.tickets.models import Ticket, TicketEvent
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db


def _clone(obj, **changes):
    twin = copy.copy(obj)
    twin.pk = None
    twin._state = copy.copy(obj._state)
    twin._state.adding = True
    for name, value in changes.items():
        setattr(twin, name, value)
    return twin


def _inquiry(external_id: str) -> Ticket:
    return ticket_submit(
        channel="hotline",
        kind="inquiry",
        category=SANITATION,
        description="请问垃圾几点清运？",
        external_id=external_id,
    ).ticket


def _row(model, pk, *, leave_out=()):
    values = model_to_dict(model.objects.get(pk=pk))
    return {k: v for k, v in values.items() if k not in {"id", *leave_out}}


def test_inserted_rows_read_back_as_saved_ones(nanshan_building):
    # given a ticket and its timeline rows written by the pipeline (save())
    saved = ticket_submit(
        channel="hotline",
        kind="complaint",
        category=SANITATION,
        description="垃圾没人清运。",
        address_code=nanshan_building.code,
        reporter_phone="13800138000",
        external_id="bulk-1",
    ).ticket
    events = list(TicketEvent.objects.filter(ticket=saved).order_by("pk"))
    assert any(e.payload for e in events)  # JSON is among the columns
    # when copies go in through insert_all (text choices, decimals, JSON, foreign keys by object)
    ticket = _clone(saved, idempotency_key="hotline:bulk-2", number="ZW-test-2")
    copies = [_clone(e, ticket=ticket) for e in events]
    with transaction.atomic():
        insert_all([ticket])
        insert_all(copies)
    # then every object has its key, ascending in the order given, and the rows read back equal
    assert ticket.pk is not None and ticket.pk != saved.pk
    assert [c.pk for c in copies] == sorted(c.pk for c in copies)
    assert not ticket._state.adding
    stamps = ("created_at", "updated_at")
    assert _row(Ticket, ticket.pk, leave_out=("idempotency_key", "number", *stamps)) == _row(
        Ticket, saved.pk, leave_out=("idempotency_key", "number", *stamps)
    )
    assert Ticket.objects.get(pk=ticket.pk).created_at >= saved.created_at  # auto_now_add ran
    for original, twin in zip(events, copies, strict=True):
        assert _row(TicketEvent, twin.pk, leave_out=("ticket",)) == _row(
            TicketEvent, original.pk, leave_out=("ticket",)
        )
        assert TicketEvent.objects.get(pk=twin.pk).ticket_id == ticket.pk


def test_a_unique_violation_is_an_integrity_error_and_writes_nothing(nanshan_building):
    saved = _inquiry("bulk-3")
    fresh = _clone(saved, idempotency_key="hotline:bulk-4", number="ZW-test-4")
    taken = _clone(saved, number="ZW-test-5")  # the same idempotency key as ``saved``
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            insert_all([fresh, taken])
    assert Ticket.objects.count() == 1


def test_update_column_writes_each_objects_own_value(nanshan_building):
    tickets = [_inquiry(f"u-{i}") for i in range(3)]
    for i, ticket in enumerate(tickets):
        ticket.number = f"ZW-new-{i}"
        ticket.title = "not written"
    update_column(tickets, "number")
    rows = dict(Ticket.objects.values_list("pk", "number"))
    assert rows == {t.pk: f"ZW-new-{i}" for i, t in enumerate(tickets)}
    assert not Ticket.objects.filter(title="not written").exists()


def test_nothing_to_write_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_all([])
        update_column([], "number")


def test_an_over_long_value_fails_rather_than_being_cut(nanshan_building):
    """Arrays are cast to the column's type without its length: the column refuses an over-long
    value (a cast to ``varchar(20)[]`` would cut it short without a word, and a rollup row would
    count under another key)."""
    assert "(" not in array_type(Ticket._meta.get_field("number"), connection)
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce a column's length")
    ticket = _inquiry("long")
    ticket.number = "ZW" + "9" * 30
    with pytest.raises(DataError):
        with transaction.atomic():
            update_column([ticket], "number")
    with pytest.raises(DataError):
        with transaction.atomic():
            # enough rows for the one-array-per-column form (fewer go as a VALUES list)
            rows = {(date(2026, 11, 2), 1, 2, n, "hotline", "complaint"): {"received": 1} for n in range(10)}
            rows[(date(2026, 11, 2), 1, 2, 3, "c" * 20, "complaint")] = {"received": 1}
            upsert(RollupArea, rows)
    assert not RollupArea.objects.filter(channel__startswith="c" * 16).exists()


def test_the_batch_duplicate_search_runs_without_jit(nanshan_building, nanshan_room):
    from zhiwang.tickets.intake_selectors import DuplicateSearch, open_duplicates_many

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the PostgreSQL run of the suite checks it)")
    from django.utils import timezone

    searches = [DuplicateSearch(1, nanshan_building, None, None, None, timezone.now())] * 3
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = on")
        open_duplicates_many(searches)
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
