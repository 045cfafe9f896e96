"""Ticket numbers: ZW + local date + a 6-digit sequence from the day's counter row.

Part of the submit pipeline (``services.submit``). The counter row gives numbers without
gaps (a rolled-back submission gives its number back) and serialises concurrent
submissions while it is locked, so the pipeline takes the number last (``number_ticket``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connection
from django.utils import timezone

from zhiwang.tickets.models import Ticket, TicketCounter


def next_number(now: datetime) -> str:
    """ZW + local date + 6-digit sequence, from the day's counter row (one ``UPDATE … RETURNING``).

    The row stays locked until the caller's transaction ends, so numbers are never given
    twice and a rolled-back submission gives its number back.
    """
    day = timezone.localtime(now).date()
    value = _counter_increment(day)
    if value is None:
        TicketCounter.objects.get_or_create(day=day)
        value = _counter_increment(day)
    return _format_number(day, value)


def _format_number(day, value: int) -> str:
    return f"ZW{day:%Y%m%d}{value:06d}"


def _provisional_number() -> str:
    """A unique stand-in (never seen outside the transaction) until ``number_ticket`` gives the real one."""
    return "~" + uuid.uuid4().hex[:19]


def number_ticket(ticket: Ticket, now: datetime) -> str:
    """Give the saved ``ticket`` its number, as the last write of its transaction.

    Concurrent submissions queue on the day's counter row until their transactions end, so
    the number is taken last: the row is locked only for this statement, what follows of the
    transaction and its commit. On PostgreSQL the counter and the ticket are updated in one
    statement (``WITH c AS (UPDATE … RETURNING) UPDATE ticket``).
    """
    day = timezone.localtime(now).date()
    if connection.vendor != "postgresql":
        ticket.number = next_number(now)
        Ticket.objects.filter(pk=ticket.pk).update(number=ticket.number)
        return ticket.number
    counter = connection.ops.quote_name(TicketCounter._meta.db_table)
    table = connection.ops.quote_name(Ticket._meta.db_table)
    sql = (
        f"WITH c AS (UPDATE {counter} SET value = value + 1 WHERE day = %s RETURNING value) "
        f"UPDATE {table} SET number = %s || lpad(c.value::text, 6, '0') FROM c WHERE {table}.id = %s "
        "RETURNING c.value"
    )
    params = [connection.ops.adapt_datefield_value(day), f"ZW{day:%Y%m%d}", ticket.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:  # the day's first ticket: create the day's row, then again
            TicketCounter.objects.get_or_create(day=day)
            cursor.execute(sql, params)
            row = cursor.fetchone()
    ticket.number = _format_number(day, row[0])
    return ticket.number


def take_numbers(day, count: int) -> list[str]:
    """``count`` consecutive numbers of ``day`` in one statement (a batch of submissions).

    Same counter row and the same rules as ``next_number``: the row stays locked until the
    caller's transaction ends, and a rollback gives the numbers back.
    """
    last = _counter_increment(day, count)
    if last is None:
        TicketCounter.objects.get_or_create(day=day)
        last = _counter_increment(day, count)
    return [_format_number(day, value) for value in range(last - count + 1, last + 1)]


def _counter_increment(day, by: int = 1) -> int | None:
    table = connection.ops.quote_name(TicketCounter._meta.db_table)
    params = [int(by), connection.ops.adapt_datefield_value(day)]
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:  # UPDATE … RETURNING as well
            cursor.execute(f"UPDATE {table} SET value = value + %s WHERE day = %s RETURNING value", params)
            row = cursor.fetchone()
            return row[0] if row else None
        cursor.execute(f"UPDATE {table} SET value = value + %s WHERE day = %s", params)
        if not cursor.rowcount:
            return None
        cursor.execute(f"SELECT value FROM {table} WHERE day = %s", params[1:])
        return cursor.fetchone()[0]
