"""Lists at a city's scale (``benchmarks/tickets_list_bench.py``): counts stop at a cap
(``core.pagination.COUNT_CAP``) and say so, the API's ``count`` with ``count_exact``; the index
the scoped lists' order reads exists. The tests shrink the cap to 2."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from zhiwang.core.pagination import BoundedCount, CappedPaginator, count_up_to
from zhiwang.tickets import selectors
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr("zhiwang.core.pagination.COUNT_CAP", 2)
    return 2


def test_a_count_stops_at_the_cap_and_says_so(make_ticket, nanshan_dispatcher):
    for _ in range(3):
        make_ticket()
    tickets = selectors.ticket_list(user=nanshan_dispatcher)
    assert count_up_to(tickets, 5) == BoundedCount(3, True) == 3
    assert count_up_to(tickets, 3) == 3
    capped = count_up_to(tickets, 2)
    assert capped == BoundedCount(2, False) and capped != 2
    assert str(capped) == "2+" and str(count_up_to(tickets, 5)) == "3"
    assert not count_up_to(Ticket.objects.none()) and bool(capped)
    # in the thousands: as the pages show numbers in the language of the page
    with translation.override("en"):
        assert str(BoundedCount(10_000, False)) == "10,000+"
    with translation.override("zh-hans"):
        assert str(BoundedCount(10_000, False)) == "10000+"


def test_a_count_reads_at_most_the_cap_and_no_annotation(make_ticket, sub_handler, dispatched):
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        dispatched()
    inbox = selectors.handler_inbox(user=sub_handler)
    with CaptureQueriesContext(connection) as captured:
        assert count_up_to(inbox, 2) == BoundedCount(2, False)
    sql = captured.captured_queries[-1]["sql"]
    assert "LIMIT 3" in sql and "ORDER BY" not in sql
    # the inbox's per-row subqueries (sent back? a request awaiting decision?) are not counted
    assert "tickets_ticketrequest" not in sql and "tickets_ticketevent" not in sql


def test_the_paginator_pages_through_the_cap_only(make_ticket, nanshan_dispatcher):
    for _ in range(5):
        make_ticket()
    paginator = CappedPaginator(selectors.ticket_list(user=nanshan_dispatcher), 2, cap=4)
    assert (paginator.count, paginator.count_exact, paginator.num_pages) == (4, False, 2)
    assert paginator.get_page(99).number == 2
    assert len(paginator.get_page(2).object_list) == 2
    exact = CappedPaginator(selectors.ticket_list(user=nanshan_dispatcher), 2, cap=5)
    assert (exact.count, exact.count_exact, exact.num_pages) == (5, True, 3)


def test_the_api_count_is_exact_below_the_cap(as_user, make_ticket, nanshan_dispatcher, small_cap):
    make_ticket(), make_ticket()
    body = as_user(nanshan_dispatcher).get(f"{URL}/?limit=1").json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (2, True, 1)


def test_the_api_count_stops_at_the_cap_and_paging_goes_on(
    as_user, make_ticket, nanshan_dispatcher, small_cap
):
    made = {make_ticket().number for _ in range(4)}
    api = as_user(nanshan_dispatcher)
    body = api.get(f"{URL}/?limit=3&ordering=received_at").json()
    assert (body["count"], body["count_exact"]) == (2, False)
    assert len(body["items"]) == 3  # the page is not cut by the cap: only the count is
    rest = api.get(f"{URL}/?limit=3&offset=3&ordering=received_at").json()
    assert {i["number"] for i in body["items"] + rest["items"]} == made
    # filters still narrow, and a narrow list is counted exactly
    one = api.get(f"{URL}/?q={sorted(made)[0]}").json()
    assert (one["count"], one["count_exact"]) == (1, True)


def test_the_api_queue_counts_up_to_the_cap(as_user, make_ticket, nanshan_dispatcher, small_cap):
    for _ in range(3):
        make_ticket()  # awaiting dispatch
    body = as_user(nanshan_dispatcher).get(f"{URL}/queue").json()
    assert (body["pending_count"], body["pending_count_exact"]) == (2, False)
    assert len(body["pending"]) == 3  # the rows are not cut by the cap: only the count is
    assert (body["review_count"], body["review_count_exact"]) == (0, True)


def test_the_api_documents_the_bounded_count(as_user, nanshan_dispatcher):
    spec = as_user(nanshan_dispatcher).get("/api/v1/openapi.json").json()
    paged = spec["components"]["schemas"]["PagedTicketOut"]
    assert set(paged["required"]) >= {"items", "count", "count_exact"}
    assert "10,000" in paged["properties"]["count"]["description"]


def _indexes() -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, Ticket._meta.db_table)


def test_the_lists_order_and_the_breaching_tab_have_their_indexes():
    """The default list order (newest first, ties by id) reads ``tickets_received``; the queue's
    "near or past the deadline" tab reads ``tickets_handling_due``, only the tickets being handled;
    the "overdue" filter ``tickets_status_due``; the single-column received_at index
    ``tickets_received`` replaces is gone."""
    found = _indexes()
    assert found["tickets_received"]["columns"] == ["received_at", "id"]
    assert found["tickets_handling_due"]["columns"] == ["due_at", "id"]
    assert found["tickets_status_due"]["columns"] == ["status", "due_at"]
    alone = [name for name, c in found.items() if c["index"] and c["columns"] == ["received_at"]]
    assert alone == []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_expr(i.indpred, i.indrelid), i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'tickets_handling_due'"
            )
            predicate, valid = cursor.fetchone()
        assert valid and "dispatched" in predicate and "accepted" in predicate


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite reads the status index (queried with parameters)"
)
def test_the_breaching_tab_reads_the_partial_index(city_dispatcher):
    """The plan of the tab's first page on PostgreSQL: the partial index, not the due dates of every
    ticket (PostgreSQL walked the due_at index through the closed history: 4.4 s at 1 M tickets)."""
    from django.utils import timezone

    rows = selectors.dispatcher_queue(user=city_dispatcher, now=timezone.now()).breaching[:200]
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a test table is nearly empty: forbid what only a small table makes cheaper (the
            # test's transaction ends the setting)
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "tickets_handling_due" in plan, plan


def test_the_breaching_tab_is_nearest_deadline_first(dispatched, city_dispatcher):
    """On every database (SQLite orders by an expression of due_at: the same order)."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    made = [dispatched() for _ in range(3)]
    for hours, ticket in zip((5, 1, 3), made, strict=True):
        Ticket.objects.filter(pk=ticket.pk).update(due_at=now - timedelta(hours=hours))
    rows = selectors.dispatcher_queue(user=city_dispatcher, now=now).breaching
    assert [t.pk for t in rows] == [made[0].pk, made[2].pk, made[1].pk]
