"""A list's pages read their ids first (``core.pagination.page_rows``), on SQLite the first page too
when the list joins or annotates: every page holds the same rows, in the same order, as the plain query's
slice, for every scoped role, ordering and offset, and a handler never sees a ticket outside the
scope on any page (``benchmarks/tickets_list_bench.py``: the scoped lists at 1,000,000 tickets)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.core.pagination import CappedPaginator, page_rows
from zhiwang.geo.models import Division
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets/"
ROLES = ("sub_handler", "handler", "subdistrict_dispatcher", "nanshan_dispatcher", "grid_worker", "citizen")


@pytest.fixture
def city_of_tickets(make_ticket, luohu_building, nanshan_community, sub_handler, city_dispatcher, citizen):
    """Tickets in the sub handler's subdistrict (several received at the same moment: ties by id),
    in another Nanshan subdistrict, in Luohu, a Luohu one dispatched to the sub handler's unit
    (seen through the unit), one in Luohu reported by the citizen; some being handled, most waiting."""
    other_sub = (
        Division.objects.filter(parent=nanshan_community.parent.parent, level="subdistrict")
        .exclude(pk=nanshan_community.parent_id)
        .order_by("code")
        .first()
    )
    inside = [make_ticket() for _ in range(6)]
    elsewhere = [
        make_ticket(kind="inquiry", address_code="", address_text=f"{other_sub.name}某处") for _ in range(3)
    ]
    luohu = [make_ticket(address_code=luohu_building.code) for _ in range(3)]
    by_unit = services.ticket_dispatch(ticket=luohu[0], unit=sub_handler.org_unit, actor=city_dispatcher)
    mine = make_ticket(reporter=citizen, address_code=luohu_building.code)
    # ties: three tickets of the subdistrict and one elsewhere received at the same moment
    moment = inside[0].received_at - timedelta(hours=1)
    Ticket.objects.filter(pk__in=[inside[1].pk, inside[3].pk, inside[5].pk, elsewhere[0].pk]).update(
        received_at=moment
    )
    return {"inside": inside, "elsewhere": elsewhere, "luohu": luohu, "by_unit": by_unit, "mine": mine}


def _pages(queryset, size: int) -> list[list[int]]:
    total = queryset.count()
    return [[t.pk for t in page_rows(queryset, offset, size)] for offset in range(0, total + size, size)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("ordering", list(selectors.ORDERINGS))
def test_every_page_is_the_plain_querys_slice(request, city_of_tickets, role, ordering):
    user = request.getfixturevalue(role)
    for filters in ({"ordering": ordering}, {"ordering": ordering, "status": "open"}):
        plain = [t.pk for t in selectors.ticket_list(user=user, filters=filters)]
        assert plain == [
            t.pk
            for t in Ticket.objects.visible_to(user)
            .filter(pk__in=plain)
            .order_by(*selectors.ORDERINGS[ordering])
        ]
        for size in (1, 2, 5):
            pages = _pages(selectors.ticket_list(user=user, filters=filters), size)
            assert [pk for page in pages for pk in page] == plain, (role, filters, size)
            for offset in range(len(plain) + 1):
                shown = [
                    t.pk for t in page_rows(selectors.ticket_list(user=user, filters=filters), offset, size)
                ]
                assert shown == plain[offset : offset + size]


def test_the_sub_handler_sees_the_subdistrict_the_unit_and_nothing_else(
    city_of_tickets, sub_handler, as_user
):
    """Leak test over every offset of the API and every page of the web list."""
    seen = {t.pk for t in city_of_tickets["inside"]} | {city_of_tickets["by_unit"].pk}
    never = {t.pk for t in city_of_tickets["elsewhere"] + city_of_tickets["luohu"][1:]}
    never.add(city_of_tickets["mine"].pk)
    assert {t.pk for t in Ticket.objects.visible_to(sub_handler)} == seen
    numbers = dict(Ticket.objects.values_list("number", "pk"))
    api = as_user(sub_handler)
    for limit in (1, 2, 4):
        found = []
        for offset in range(0, len(seen) + limit + 1):
            body = api.get(f"{URL}?limit={limit}&offset={offset}").json()
            items = [numbers[item["number"]] for item in body["items"]]
            assert not set(items) & never
            if offset % limit == 0:
                found += items
        assert sorted(found) == sorted(seen)


def test_the_web_list_pages_show_the_scope_only(city_of_tickets, sub_handler, as_user, monkeypatch):
    monkeypatch.setattr("zhiwang.web.tickets.views.work.LIST_PAGE", 2)
    seen = {t.number for t in Ticket.objects.visible_to(sub_handler)}
    everything = set(Ticket.objects.values_list("number", flat=True))
    web = as_user(sub_handler)
    shown = []
    for page in range(1, len(seen) // 2 + 3):
        html = web.get(f"/tickets/?page={page}").content.decode()
        on_page = {number for number in everything if number in html}
        assert on_page <= seen, on_page - seen
        if page <= (len(seen) + 1) // 2:
            shown.append(on_page)
    assert set().union(*shown) == seen


def test_the_paginator_pages_are_the_plain_slices(city_of_tickets, nanshan_dispatcher):
    plain = [t.pk for t in selectors.ticket_list(user=nanshan_dispatcher)]
    paginator = CappedPaginator(selectors.ticket_list(user=nanshan_dispatcher), 3)
    assert paginator.count == len(plain)
    for number in paginator.page_range:
        assert [t.pk for t in paginator.page(number).object_list] == plain[(number - 1) * 3 : number * 3]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only (FIRST_PAGE_BY_IDS)")
def test_the_first_page_reads_the_ids_then_the_rows(city_of_tickets, sub_handler):
    """The ids without joins, ordered; then the page's rows with their joins (``select_related``),
    put in the ids' order; the query holds the whole scope condition."""
    tickets = selectors.ticket_list(user=sub_handler)
    with CaptureQueriesContext(connection) as captured:
        rows = page_rows(tickets, 0, 3)
    ids_sql, rows_sql = (q["sql"] for q in captured.captured_queries)
    assert "JOIN" not in ids_sql and "ORDER BY" in ids_sql and "LIMIT 3" in ids_sql
    assert "handling_unit_id" in ids_sql and "division_id" in ids_sql and "reporter_id" in ids_sql
    assert "JOIN" in rows_sql
    assert [t.pk for t in rows] == [t.pk for t in selectors.ticket_list(user=sub_handler)[:3]]
    # a list without joins or annotations: one query, as before
    plain = Ticket.objects.visible_to(sub_handler).order_by("-received_at", "-pk")
    with CaptureQueriesContext(connection) as captured:
        assert len(list(page_rows(plain, 0, 3))) == 3
    assert len(captured.captured_queries) == 1
    # nor a DISTINCT one (its ids would need the order's columns selected too)
    distinct = selectors.ticket_list(user=sub_handler).distinct()
    with CaptureQueriesContext(connection) as captured:
        assert [t.pk for t in page_rows(distinct, 0, 3)] == [t.pk for t in rows]
    assert len(captured.captured_queries) == 1


def test_the_inbox_pages_keep_their_marks(as_user, sub_handler, accepted, dispatched):
    """An annotated list (the inbox's marks) read ids first: the marks of the page's rows."""
    first = accepted()
    services.ticket_request(ticket=first, kind="extension", actor=sub_handler, reason="需协调", extra_days=3)
    dispatched(), accepted()
    inbox = selectors.handler_inbox(user=sub_handler)
    plain = [(t.pk, t.awaiting_decision, t.sent_back) for t in selectors.handler_inbox(user=sub_handler)]
    for size in (1, 2):
        paged = [
            (t.pk, t.awaiting_decision, t.sent_back)
            for offset in range(0, len(plain), size)
            for t in page_rows(inbox, offset, size)
        ]
        assert paged == plain
    assert ("extension" in [mark for _, mark, _ in plain]) is True


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only (migration 0018)")
def test_sqlite_has_the_scope_order_index():
    """``tickets_division_received``: SQLite reads a scope's "division IN …" term by it (a
    district's ids 0.24 s → 0.03 s at 1,000,000 tickets)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Ticket._meta.db_table)
    assert found["tickets_division_received"]["columns"] == ["division_id", "received_at", "id"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only (migration 0018)")
def test_a_migrate_builds_the_index_again_when_a_table_rebuild_dropped_it():
    """The index is not in the model state: a later migration that rebuilds the ticket table on
    SQLite (``AlterField`` …) drops it silently. Each migrate that ran migrations builds it again
    (``core.sqlite_stats.after_migrate``) before refreshing the statistics."""
    from zhiwang.core.sqlite_stats import after_migrate, sqlite_indexes_ensure

    table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "tickets_division_received"')  # as a table rebuild leaves it
        assert "tickets_division_received" not in connection.introspection.get_constraints(cursor, table)
    after_migrate(sender=None, using="default", plan=[])  # nothing migrated: nothing done
    with connection.cursor() as cursor:
        assert "tickets_division_received" not in connection.introspection.get_constraints(cursor, table)
    after_migrate(sender=None, using="default", plan=[("tickets", "0019_something")])
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    assert found["tickets_division_received"]["columns"] == ["division_id", "received_at", "id"]
    assert sqlite_indexes_ensure() == []  # there: nothing more to build


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_postgresql_has_no_scope_order_index():
    """PostgreSQL reads the scope by a BitmapOr of the indexes it has: no index to keep up."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Ticket._meta.db_table)
    assert "tickets_division_received" not in found


@pytest.mark.parametrize(
    "role",
    ("city_dispatcher", "nanshan_dispatcher", "luohu_dispatcher", "subdistrict_dispatcher", "sub_handler"),
)
def test_the_queue_requests_are_those_of_the_tickets_in_scope(
    request, city_of_tickets, accepted, sub_handler, role
):
    """The requests tab looks each pending request's ticket up in the scope (``Exists``): the same
    requests as "ticket IN (the scope's ids)", a Luohu one for the Luohu dispatcher only."""
    from zhiwang.tickets.models import RequestStatus, TicketRequest

    nanshan = services.ticket_request(
        ticket=accepted(), kind="extension", actor=sub_handler, reason="需勘察", extra_days=2
    )
    luohu_ticket = services.ticket_accept(ticket=city_of_tickets["by_unit"], actor=sub_handler)
    luohu = services.ticket_request(
        ticket=luohu_ticket, kind="extension", actor=sub_handler, reason="需协调", extra_days=3
    )
    user = request.getfixturevalue(role)
    shown = list(selectors.dispatcher_queue(user=user).requests)
    scope = Ticket.objects.visible_to(user).values("pk")
    expected = list(
        TicketRequest.objects.filter(status=RequestStatus.PENDING, ticket__in=scope).order_by(
            "requested_at", "pk"
        )
    )
    assert shown == expected
    assert (nanshan in shown) == (role != "luohu_dispatcher")
    assert (luohu in shown) == (role in ("city_dispatcher", "luohu_dispatcher", "sub_handler"))
