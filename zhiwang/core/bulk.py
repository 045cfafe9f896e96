"""Writing many rows at once, fast on PostgreSQL: ``insert_all`` and ``update_column``.

Django's ``bulk_create`` builds one ``INSERT … VALUES (%s, …), (%s, …) …`` per batch. With the
psycopg driver (client-side binding, Django's default) every such statement is new to the
driver, which splits its text on each ``%s`` before sending it: for a batch of a hundred
tickets (≈ 50 columns) that split, and the ORM's per-value preparation, cost more than the
database's own work (the batch submit's profile, docs/benchmarks.md). On PostgreSQL these
helpers send the rows with ``COPY`` instead (psycopg's C copy path) after taking the primary keys
from the table's sequence in one statement, and update one column of many rows with one short
statement over ``unnest`` arrays. Elsewhere (SQLite) they are ``bulk_create`` and ``bulk_update``.

Same contract as ``bulk_create``: no ``save()``, no signals; the objects get their primary keys.
Unlike it: ``COPY`` bypasses Django's cursor wrapper (it is not in ``connection.queries`` or
``CaptureQueriesContext``; the key statement before it is), and models with generated columns
or database defaults take ``bulk_create`` (``COPY`` would write those columns).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections, models


def insert_all(objs: Sequence[models.Model]) -> None:
    """Insert ``objs`` (instances of one model, not yet saved), setting their primary keys.

    Fields' ``pre_save`` runs as in ``bulk_create`` (``auto_now_add`` and ``auto_now`` get the
    time). A unique violation raises ``django.db.IntegrityError`` and writes nothing of the
    batch (the caller's transaction decides the rest).
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[
        DEFAULT_DB_ALIAS
    ]  # the object itself: ``django.db.connection`` is a per-access proxy
    opts = model._meta
    fields = list(opts.concrete_fields)
    if connection.vendor != "postgresql" or any(f.generated or f.has_db_default() for f in fields):
        model.objects.bulk_create(objs)
        return
    table = connection.ops.quote_name(opts.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    without_pk = [obj for obj in objs if obj.pk is None]
    rows = []
    with connection.cursor() as cursor:
        if without_pk:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(opts.db_table), opts.pk.column, len(without_pk)],
            )
            # ascending, in the objects' order: the same order bulk_create's RETURNING gives
            for obj, pk in zip(without_pk, sorted(row[0] for row in cursor.fetchall()), strict=True):
                obj.pk = pk
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="insert_all")
            rows.append([_db_value(f, obj, connection) for f in fields])
        with connection.wrap_database_errors:  # psycopg's errors as Django's (IntegrityError, …)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def update_column(objs: Sequence[models.Model], field_name: str) -> None:
    """Write the current value of ``field_name`` of each of ``objs`` (saved instances of one model)."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, [field_name])
        return
    opts = model._meta
    field = opts.get_field(field_name)
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    sql = (
        f"UPDATE {table} SET {qn(field.column)} = v.value "
        f"FROM unnest(%s::{array_type(opts.pk, connection)}[], %s::{array_type(field, connection)}[]) "
        f"AS v(pk, value) WHERE {table}.{qn(opts.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[obj.pk for obj in objs], [_db_value(field, obj, connection) for obj in objs]])


def array_type(field, connection) -> str:
    """The PostgreSQL element type for an array of ``field``'s values: its column type without a
    length (``varchar(16)`` → ``varchar``), so that an over-long value fails when it reaches the
    column instead of being cut short by the array's cast."""
    db_type = field.rel_db_type(connection) if field.primary_key else field.db_type(connection)
    return re.sub(r"\(.*\)", "", db_type).strip()


def _db_value(field, obj, connection):
    value = field.get_db_prep_save(field.pre_save(obj, obj._state.adding), connection)
    # Django's text choices are ``str`` subclasses, but the driver dumps an ``Enum`` by name.
    return value.value if isinstance(value, enum.Enum) else value
