"""Set-based insert of new records: COPY into a staging table on PostgreSQL, one prepared INSERT elsewhere.

The import builds plain rows (``{attname: value}``), never model instances: a model
object costs more than validating and hashing the row. Columns the rows do not name
take the field's default, prepared once per chunk; values every row shares (time
stamps, source, batch) are prepared once too.

PostgreSQL: rows go through ``COPY … FROM STDIN`` into a temporary table shaped like
the target (no constraints, no indexes), then one ``INSERT … SELECT … ON CONFLICT DO
NOTHING RETURNING`` moves them and hands back the new ids. Elsewhere (SQLite) one
prepared ``INSERT … ON CONFLICT DO NOTHING`` runs for all rows (``executemany``) and the
ids, when wanted, are read back by natural key. ``insert_skipping`` inserts the rows not
stored yet and names the others (people: one probe of the unique index, not two).

The caller has read the existing keys in the same transaction, so a conflict means that
another import inserted the same record in between: ``insert_rows`` then raises
:class:`RaceLost` and the caller runs the whole chunk again (it sees the record as
existing the second time). No row is half written and no count is wrong.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from django.db import connection, models

from zhiwang.registry.models import Person


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _prepared(field: models.Field, value):
    """The value as the driver wants it (dates as ISO text on SQLite, aware datetimes, decimals…)."""
    if value is None:
        return None
    kind = field.get_internal_type()
    if kind == "DateField" and connection.vendor != "postgresql":
        return value.isoformat() if isinstance(value, date) else value
    if kind in ("DateTimeField", "DecimalField", "JSONField", "BooleanField"):
        return field.get_db_prep_save(value, connection)
    return value


def _tuples(model, fields, rows: list[dict], shared: dict) -> list[tuple]:
    """Driver tuples: per-row values, else the shared values, else the field default."""
    constant = {}
    for f in fields:
        if f.attname in shared:
            constant[f.attname] = _prepared(f, shared[f.attname])
        elif f.has_default():
            constant[f.attname] = _prepared(f, f.get_default())
        else:
            constant[f.attname] = None if f.null else ""
    converters = []
    iso = connection.vendor != "postgresql"
    for f in fields:
        kind = f.get_internal_type()
        if kind == "DateField" and iso:
            converters.append(lambda v: v.isoformat() if isinstance(v, date) else v)
        elif kind in ("DateTimeField", "DecimalField", "JSONField", "BooleanField"):
            converters.append(lambda v, f=f: f.get_db_prep_save(v, connection))
        else:
            converters.append(None)
    names = [f.attname for f in fields]
    defaults = [constant[name] for name in names]
    # dict.get over every column runs in C (map); only the few columns that need converting
    # and that the rows name are then looked at one by one.
    convert = [(i, name, c) for i, (name, c) in enumerate(zip(names, converters, strict=True)) if c]
    out = []
    for row in rows:
        values = list(map(row.get, names, defaults))
        for i, name, c in convert:
            value = values[i]
            if value is not None and name in row:
                values[i] = c(value)
        out.append(tuple(values))
    return out


#: SQLite settings for the length of an import (restored afterwards): a 64 MB page cache, and
#: a WAL checkpoint every 1 GB of WAL instead of every 4 MB. Every commit appends the pages it
#: touched to the WAL; a checkpoint copies the latest version of each page into the database
#: file, so the fewer checkpoints, the fewer times the same random-hash index pages are written
#: there (measured at 1 M people: commit time 67 s → 32 s against a checkpoint every 64 MB).
#: The WAL is truncated at the end of the import. ``synchronous = NORMAL`` (the project's
#: setting) stays: in WAL mode a killed process loses no committed transaction.
SQLITE_BULK_PRAGMAS = {"cache_size": -65536, "wal_autocheckpoint": 262144}


@contextmanager
def bulk_session():
    """Connection settings for a bulk import, restored on the way out (no-op but on SQLite)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        saved = {}
        for name, value in SQLITE_BULK_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name}")
            saved[name] = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in saved.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")
            if not connection.in_atomic_block:  # give the WAL's disk space back
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class RaceLost(Exception):
    """A record thought new was inserted meanwhile by someone else: redo the chunk."""


def insert_rows(
    model: type[models.Model],
    rows: list[dict],
    *,
    shared: dict,
    key: str | None = None,
    conflict: str | None = None,
    skip_existing: bool = False,
) -> dict[str, int]:
    """Insert new records of ``model``; with ``key`` (a unique column) answer ``{key value: pk}``.

    ``conflict`` names the natural-key column(s) of a unique constraint: a row that meets an
    existing one is not inserted and :class:`RaceLost` is raised (see the module doc), or,
    with ``skip_existing`` (PostgreSQL only), is left out of the answer: the caller treats
    the rows missing from it as existing records."""
    if not rows:
        return {}
    fields = _columns(model)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    data = _tuples(model, fields, rows, shared)
    if connection.vendor == "postgresql":
        stage = connection.ops.quote_name(f"{model._meta.db_table}_stage")
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
                f"AS SELECT {names} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                for values in data:
                    copy.write_row(values)
            returning = f" RETURNING {connection.ops.quote_name(key)}, id" if key else ""
            on_conflict = f" ON CONFLICT ({conflict}) DO NOTHING" if conflict else ""
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{on_conflict}{returning}"
            )
            inserted = cursor.rowcount
            ids = dict(cursor.fetchall()) if key else {}
            cursor.execute(f"TRUNCATE {stage}")
        if inserted != len(data) and not skip_existing:
            raise RaceLost(model._meta.label)
        return ids
    if skip_existing:
        raise ValueError("skip_existing needs INSERT … RETURNING with ON CONFLICT (PostgreSQL)")
    marks = ", ".join(["%s"] * len(fields))
    on_conflict = f" ON CONFLICT ({conflict}) DO NOTHING" if conflict else ""
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}){on_conflict}", data)
        if conflict and cursor.rowcount != len(data):
            raise RaceLost(model._meta.label)
    return existing_keys(model, key, [row[key] for row in rows]) if key else {}


def insert_skipping(
    model: type[models.Model], rows: list[dict], *, shared: dict, key: str, want_ids: bool
) -> tuple[dict, list]:
    """Insert the rows whose ``key`` (a unique column) is not stored yet; answer ``({key: pk} of
    the inserted rows, [keys refused])``. The ids come always on PostgreSQL (``RETURNING``),
    on SQLite only ``want_ids`` (read back by key).

    SQLite has no ``RETURNING`` for ``executemany``: the statement's row count says whether
    every row went in (a new file: nothing more to read). If not, the rows stored under the
    chunk's keys are read: those carrying this batch and their own file row are the ones just
    inserted (no earlier record can: a batch writes each row once, a chunk whole or not at
    all), the others were refused."""
    if not rows:
        return {}, []
    if connection.vendor == "postgresql":
        ids = insert_rows(model, rows, shared=shared, key=key, conflict=key, skip_existing=True)
        return ids, [row[key] for row in rows if row[key] not in ids]
    fields = _columns(model)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({connection.ops.quote_name(key)}) "
            "DO NOTHING",
            _tuples(model, fields, rows, shared),
        )
        inserted = cursor.rowcount
    keys = [row[key] for row in rows]
    if inserted == len(rows):
        return (existing_keys(model, key, keys) if want_ids else {}), []
    batch_id, own_row = shared["import_batch_id"], {row[key]: row["import_row"] for row in rows}
    ids = {}
    column = connection.ops.quote_name(key)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
            part = keys[start : start + 900]
            cursor.execute(
                f"SELECT {column}, id, import_batch_id, import_row FROM {table} "
                f"WHERE {column} IN ({', '.join(['%s'] * len(part))})",
                part,
            )
            for value, pk, stored_batch, stored_row in cursor.fetchall():
                if stored_batch == batch_id and stored_row == own_row[value]:
                    ids[value] = pk
    return ids, [k for k in keys if k not in ids]


def existing_keys(model: type[models.Model], key: str, values: list) -> dict:
    """``{key value: pk}`` of the records already stored, by a unique index (raw SQL: the ORM's
    ``__in`` preparation of thousands of values costs more than the query)."""
    found: dict = {}
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(key)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(%s)", [list(values)])
            return dict(cursor.fetchall())
        for start in range(0, len(values), 900):  # SQLite's bound-parameter limit
            part = values[start : start + 900]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} IN ({marks})", part)
            found.update(cursor.fetchall())
    return found


def existing_hashes(hashes: list[str]) -> dict[str, int]:
    """``{id_number_hash: pk}`` of the people already stored."""
    return existing_keys(Person, "id_number_hash", hashes)
