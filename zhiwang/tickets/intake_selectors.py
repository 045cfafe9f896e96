"""Reads of the intake desk: who calls again, what happened at this address, open duplicates.

Part of ``tickets.selectors`` (which imports every name from here), scoped the same way —
except ``open_duplicates``, the submit pipeline's unscoped read.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from zhiwang.core.masking import mask_phone
from zhiwang.core.phones import comparable_phone
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import StandardAddress
from zhiwang.tickets.access import reads_tickets
from zhiwang.tickets.models import OPEN_STATUSES, Ticket
from zhiwang.tickets.workflow import may_search_by_contact, may_see_contact

#: Searches that unmask personal data (caller history by phone): who searched what, when.
audit_log = logging.getLogger("zhiwang.tickets.audit")

_LIST_RELATED = ("category", "handling_unit", "division", "community", "subdistrict", "district")


def _visible(user) -> QuerySet[Ticket]:
    return Ticket.objects.visible_to(user).select_related(*_LIST_RELATED)


#: The most tickets of one phone number ``caller_history`` reads to find ``limit`` the user may see.
_CALLER_SCAN = 500


def caller_history(*, user, phone: str, limit: int = 10, exclude: Ticket | None = None) -> list[Ticket]:
    """Earlier tickets from the same phone number, newest first (the operator sees who calls again).

    A hit tells the searcher that the number is the reporter's, so it unmasks the phone: only
    tickets on which the user may see the contact (``may_see_contact``) are answered, and every
    search is written to the ``zhiwang.tickets.audit`` log (who, the masked number, what was found).
    The number is read by ``comparable_phone``: tickets stored before the mobile rule (a
    "1381234567") are found too.
    """
    normalized = comparable_phone(phone)
    if not normalized or not may_search_by_contact(user):
        return []
    qs = _visible(user).filter(reporter_phone=normalized)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    found = []
    for ticket in qs.order_by("-received_at", "-pk")[:_CALLER_SCAN]:
        if may_see_contact(user, ticket):
            found.append(ticket)
            if len(found) >= limit:
                break
    audit_log.info(
        "caller history: user=%s phone=%s found=%s",
        getattr(user, "pk", None),
        mask_phone(normalized),
        ",".join(t.number for t in found) or "-",
    )
    return found


def _building(address: StandardAddress) -> StandardAddress:
    while address.parent_id is not None:
        address = address.parent
    return address


def _inside_building(building: StandardAddress) -> QuerySet[StandardAddress]:
    """The addresses inside a building (its code then "-"), as an index range on the code."""
    prefix = f"{building.code}-"
    if connection.vendor == "sqlite":
        # SQLite does not use an index for LIKE … ESCAPE; a range on the (binary) code does.
        inside = Q(code__gte=prefix, code__lt=f"{building.code}.")
    else:
        inside = Q(code__startswith=prefix)  # the varchar_pattern_ops index of the unique code
    return StandardAddress.objects.filter(inside).values("pk")


def at_building(address: StandardAddress) -> Q:
    """Tickets at the building of ``address`` or anywhere inside it ("-" ends a building's code)."""
    building = _building(address)
    return Q(address=building) | Q(address__in=_inside_building(building))


class AddressHistory(NamedTuple):
    address: StandardAddress | None
    tickets: list[Ticket]


#: The longest address a ticket keeps (``Ticket.address_text``); a longer text is cut before
#: matching (the API refuses it), so a pasted page costs no more than a real address.
ADDRESS_TEXT_LENGTH = 255


def address_in_scope(*, user, code: str) -> StandardAddress | None:
    """The standard address of ``code`` if it lies in the user's jurisdiction (or grids), else None:
    an address outside it is answered exactly like a code that does not exist."""
    code = (code or "").strip()
    if not code:
        return None
    return StandardAddress.objects.visible_to(user).filter(code=code).first()


def address_matched_in_scope(*, user, address_text: str) -> StandardAddress | None:
    """The standard address a free-text address names, if it lies in the user's jurisdiction;
    a match outside it is answered like no match (the same rule as ``registry``'s place search)."""
    address = match_address(address_text).address
    if address is None or not StandardAddress.objects.visible_to(user).filter(pk=address.pk).exists():
        return None
    return address


def address_history(
    *,
    user,
    address: StandardAddress | str | None = None,
    address_text: str = "",
    limit: int = 10,
    exclude: Ticket | None = None,
) -> AddressHistory:
    """Earlier tickets at the same building, newest first.

    ``address`` is a standard address or its code; else ``address_text`` is matched
    (at least a building must be recognised). Answers the address found and the tickets.
    A code or a text is looked up in the user's jurisdiction only: outside it the answer is
    ``(None, [])``, as for an address that does not exist (neither its name nor its existence
    is told). A ``StandardAddress`` given is the caller's, read through a scoped selector.

    Only a ticket reader (``access.reads_tickets``) is answered tickets, in their jurisdiction
    (``Ticket.objects.visible_to``): a page of another app that shows a place to its own readers
    (the registry's building page) lists through here, and lists nothing to the others.
    """
    if isinstance(address, str):
        address = address_in_scope(user=user, code=address)
    address_text = (address_text or "").strip()[:ADDRESS_TEXT_LENGTH]
    if address is None and len(address_text) >= 4:
        address = address_matched_in_scope(user=user, address_text=address_text)
    if address is None:
        return AddressHistory(None, [])
    if not reads_tickets(user):
        return AddressHistory(address, [])
    qs = _visible(user).filter(at_building(address))
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return AddressHistory(address, list(qs.order_by("-received_at", "-pk")[:limit]))


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def open_duplicates(
    *,
    category_id: int,
    address: StandardAddress | None,
    community_id: int | None,
    lon: float | None,
    lat: float | None,
    at: datetime,
    exclude_pk: int | None = None,
) -> list[Ticket]:
    """Open tickets of the same category at the same building, or near the point within the window.

    Unscoped (the submit pipeline's read); ``duplicate_candidates`` is the scoped one.
    Radius and window: ``ZHIWANG_DUPLICATE_RADIUS_M`` (100 m), ``ZHIWANG_DUPLICATE_WINDOW_DAYS`` (7).
    The nearby search stays inside the community (index ``tickets_dup_area``); a twin
    across a community border is found by its address, not its point.
    """
    search = DuplicateSearch(category_id, address, community_id, lon, lat, at, exclude_pk)
    return open_duplicates_many([search])[0]


#: Searches per statement of ``open_duplicates_many`` (SQLite's limit of a compound SELECT).
_UNION_TERMS = 500
#: From this many searches on, PostgreSQL gets them as one LATERAL statement (``_duplicate_rows_pg``);
#: fewer are cheaper as plain SQL (measured: 1 ms more for one search, 0.6 ms less per search at 4).
_LATERAL_FROM = 3


class DuplicateSearch(NamedTuple):
    """The arguments of one ``open_duplicates`` call (``open_duplicates_many`` takes many)."""

    category_id: int
    address: StandardAddress | None
    community_id: int | None
    lon: float | None
    lat: float | None
    at: datetime
    exclude_pk: int | None = None


def open_duplicates_many(searches: list[DuplicateSearch]) -> list[list[Ticket]]:
    """``open_duplicates`` for each search, in one statement and one read of the tickets found
    (a batch of submissions: one round trip instead of one per submission)."""
    radius = getattr(settings, "ZHIWANG_DUPLICATE_RADIUS_M", 100)
    window = timedelta(days=getattr(settings, "ZHIWANG_DUPLICATE_WINDOW_DAYS", 7))
    plans, parts = [], []
    for index, search in enumerate(searches):
        building = _building(search.address) if search.address is not None else None
        nearby = search.lon is not None and search.lat is not None and search.community_id is not None
        plans.append((building, nearby))
        if building is None and not nearby:
            continue
        sql, part_params = _duplicate_sql(
            category_id=search.category_id,
            building=building,
            community_id=search.community_id if nearby else None,
            since=search.at - window,
            until=search.at + window,
            exclude_pk=search.exclude_pk,
        )
        parts.append((f"SELECT {index}, q.* FROM ({sql}) q", part_params))
    rows_of: dict[int, list] = {i: [] for i in range(len(searches))}
    if connection.vendor == "postgresql" and len(parts) >= _LATERAL_FROM:
        _duplicate_rows_pg(searches, plans, window, rows_of)
        parts = []  # answered above
    with connection.cursor() as cursor:
        # SQLite takes at most 500 terms in one compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
        for start in range(0, len(parts), _UNION_TERMS):
            chunk = parts[start : start + _UNION_TERMS]
            cursor.execute(" UNION ALL ".join(sql for sql, _p in chunk), [p for _s, ps in chunk for p in ps])
            for index, *row in cursor.fetchall():
                rows_of[index].append(row)
    found_of = []
    for index, search in enumerate(searches):
        building, nearby = plans[index]
        at_address, close_by, seen_nearby = [], [], 0
        # earliest first, as each part's ORDER BY said (UNION ALL does not promise to keep it)
        for pk, address_id, code, near, t_lon, t_lat, _at in sorted(
            rows_of[index], key=lambda r: (r[6], r[0])
        ):
            if building is not None and len(at_address) < 20:
                if address_id == building.pk or (code or "").startswith(f"{building.code}-"):
                    at_address.append(pk)
            if nearby and near and seen_nearby < 200:
                seen_nearby += 1
                if _distance_m(search.lon, search.lat, t_lon, t_lat) <= radius:
                    close_by.append(pk)
        found_of.append({*at_address, *close_by})
    wanted = set().union(*found_of) if found_of else set()
    tickets = {t.pk: t for t in Ticket.objects.filter(pk__in=wanted)} if wanted else {}
    return [sorted((tickets[pk] for pk in found), key=lambda t: (t.received_at, t.pk)) for found in found_of]


def _duplicate_rows_pg(
    searches: list[DuplicateSearch], plans: list, window: timedelta, rows_of: dict
) -> None:
    """PostgreSQL: every search of ``open_duplicates_many`` in one statement of fixed text.

    The searches go in as arrays and each runs as a ``LATERAL`` subquery: PostgreSQL plans the
    statement once, where a ``UNION ALL`` of a hundred searches took ~1 ms of planning per
    search (more than running it). Each arm of the search has its own index: the building
    and the addresses inside it (the code's pattern index, then ``tickets_dup_address``), the
    area (``tickets_dup_area``); the same rows as ``_duplicate_sql``.
    """
    qn = connection.ops.quote_name
    ticket, address = qn(Ticket._meta.db_table), qn(StandardAddress._meta.db_table)
    columns: list[list] = [[] for _ in range(9)]
    for index, (search, (building, nearby)) in enumerate(zip(searches, plans, strict=True)):
        if building is None and not nearby:
            continue
        values = (
            index,
            search.category_id,
            building.pk if building is not None else None,
            f"{building.code}-" if building is not None else None,  # inside: code >= "B-" and < "B."
            f"{building.code}." if building is not None else None,
            search.community_id if nearby else None,
            search.at - window,
            search.at + window,
            search.exclude_pk,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if not columns[0]:
        return
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    arm = f"t.category_id = s.category_id AND t.status IN ({statuses}) AND t.id IS DISTINCT FROM s.exclude_pk"
    wanted = "t.id, t.address_id, t.community_id, t.lon, t.lat, t.received_at"
    sql = (
        "SELECT s.idx, q.id, q.address_id, a.code, "
        "CASE WHEN q.community_id = s.community_id AND q.received_at >= s.since AND q.received_at <= s.until "
        "AND q.lon IS NOT NULL AND q.lat IS NOT NULL THEN 1 ELSE 0 END, q.lon, q.lat, q.received_at "
        "FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::bigint[], "
        "%s::timestamptz[], %s::timestamptz[], %s::bigint[]) "
        "AS s(idx, category_id, building_id, inside_from, inside_to, community_id, since, until, exclude_pk) "
        "CROSS JOIN LATERAL ("
        # the building and every address inside it, looked up first (then tickets_dup_address)
        f"SELECT {wanted} FROM {ticket} t WHERE t.address_id = ANY(ARRAY(SELECT a2.id FROM {address} a2 "
        "WHERE a2.code ~>=~ s.inside_from AND a2.code ~<~ s.inside_to) || s.building_id) "
        # "+ 0": not the category's index, which the generic plan may prefer (it cannot know that a
        # building has tens of tickets and a category of a big city hundreds of thousands)
        f"AND {arm.replace('t.category_id =', 't.category_id + 0 =')} UNION SELECT {wanted} FROM {ticket} t WHERE t.community_id = s.community_id "
        f"AND t.received_at >= s.since AND t.received_at <= s.until AND t.lon IS NOT NULL AND t.lat IS NOT NULL "
        f"AND {arm} ORDER BY received_at, id LIMIT {_DUPLICATE_ROWS}"
        f") q LEFT OUTER JOIN {address} a ON a.id = q.address_id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Never JIT-compiled: with real statistics the estimate of a hundred searches crosses
        # jit_above_cost, and compiling took 80 ms where the statement runs in 6. ``SET LOCAL``
        # (this transaction only) and not a connection option, which poolers such as PgBouncer refuse.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, [*columns, *OPEN_STATUSES, *OPEN_STATUSES])
        for index, *row in cursor.fetchall():
            rows_of[index].append(row)


def twins_among(ticket: Ticket, earlier: list[Ticket]) -> list[Ticket]:
    """Which of ``earlier`` (new, unsaved tickets of the same batch) ``open_duplicates`` would find for ``ticket``.

    A batch of submissions is written at once, so its tickets are not in the database when the
    next one looks for duplicates: the same rules run here on the batch's own tickets (all
    open): same category, and the same building (or an address inside it), or a point within
    the radius, in the same community, within the window.
    """
    if not earlier:
        return []
    radius = getattr(settings, "ZHIWANG_DUPLICATE_RADIUS_M", 100)
    window = timedelta(days=getattr(settings, "ZHIWANG_DUPLICATE_WINDOW_DAYS", 7))
    building = _building(ticket.address) if ticket.address is not None else None
    nearby = ticket.lon is not None and ticket.lat is not None and ticket.community_id is not None
    found = []
    for other in earlier:
        if other.category_id != ticket.category_id:
            continue
        if building is not None and other.address is not None:
            if other.address_id == building.pk or other.address.code.startswith(f"{building.code}-"):
                found.append(other)
                continue
        if (
            nearby
            and other.community_id == ticket.community_id
            and other.lon is not None
            and other.lat is not None
            and abs(other.received_at - ticket.received_at) <= window
            and _distance_m(ticket.lon, ticket.lat, other.lon, other.lat) <= radius
        ):
            found.append(other)
    return found


#: At most this many open tickets are read per duplicate search (the earliest; 20 at the building
#: and 200 in the area are considered, as before).
_DUPLICATE_ROWS = 500


def _duplicate_sql(
    *,
    category_id: int,
    building: StandardAddress | None,
    community_id: int | None,
    since: datetime,
    until: datetime,
    exclude_pk: int | None,
) -> tuple[str, list]:
    """The query (and its parameters) for ``(pk, address_id, address code, near, lon, lat, received_at)``
    of the earliest open tickets of the category
    at the building (or inside it) or, with ``community_id``, located in that community within
    [since, until]; ``near`` says the latter. One narrow query, written in SQL: it runs on every
    submission, and building it with the ORM cost more than running it.
    """
    qn = connection.ops.quote_name
    ticket, address = qn(Ticket._meta.db_table), qn(StandardAddress._meta.db_table)
    params: list = []
    near_sql = "FALSE"
    if community_id is not None:
        near_sql = (
            "(t.community_id = %s AND t.received_at >= %s AND t.received_at <= %s "
            "AND t.lon IS NOT NULL AND t.lat IS NOT NULL)"
        )
        near_params = [
            community_id,
            connection.ops.adapt_datetimefield_value(since),
            connection.ops.adapt_datetimefield_value(until),
        ]
    either = []
    if building is not None:
        prefix = f"{building.code}-"
        if connection.vendor == "sqlite":
            # SQLite does not use an index for LIKE … ESCAPE; a range on the (binary) code does.
            inside, inside_params = "a2.code >= %s AND a2.code < %s", [prefix, f"{building.code}."]
        else:  # the varchar_pattern_ops index of the unique code
            pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            inside, inside_params = "a2.code LIKE %s", [pattern]
        either.append(f"t.address_id = %s OR t.address_id IN (SELECT a2.id FROM {address} a2 WHERE {inside})")
        params += [building.pk, *inside_params]
    if community_id is not None:
        either.append(near_sql)
        params += near_params
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    sql = (
        f"SELECT t.id, t.address_id, a.code, CASE WHEN {near_sql} THEN 1 ELSE 0 END, t.lon, t.lat, t.received_at "
        f"FROM {ticket} t LEFT OUTER JOIN {address} a ON a.id = t.address_id "
        f"WHERE t.category_id = %s AND t.status IN ({statuses}) AND ({' OR '.join(either)})"
        + (" AND t.id <> %s" if exclude_pk is not None else "")
        + f" ORDER BY t.received_at, t.id LIMIT {_DUPLICATE_ROWS}"
    )
    all_params = [
        *(near_params if community_id is not None else []),
        category_id,
        *OPEN_STATUSES,
        *params,
        *([exclude_pk] if exclude_pk is not None else []),
    ]
    return sql, all_params


def visible_among(*, user, tickets: list[Ticket]) -> list[Ticket]:
    """Those of ``tickets`` the user may see, earliest first: one query of keys only (the API's
    answer to a submission names its duplicates by number, title and state, all on the ticket)."""
    if not tickets:
        return []
    visible = set(
        Ticket.objects.visible_to(user).filter(pk__in=[t.pk for t in tickets]).values_list("pk", flat=True)
    )
    return sorted((t for t in tickets if t.pk in visible), key=lambda t: (t.received_at, t.pk))


def duplicate_candidates(*, user, ticket: Ticket | None = None, tickets=None) -> list[Ticket]:
    """Open duplicates of ``ticket`` the user may see (or, of ``tickets`` already found, the visible ones)."""
    if ticket is not None:
        tickets = open_duplicates(
            category_id=ticket.category_id,
            address=ticket.address,
            community_id=ticket.community_id,
            lon=ticket.lon,
            lat=ticket.lat,
            at=ticket.received_at,
            exclude_pk=ticket.pk,
        )
    ids = [t.pk for t in tickets or ()]
    if not ids:
        return []
    return list(_visible(user).filter(pk__in=ids).order_by("received_at", "pk"))
