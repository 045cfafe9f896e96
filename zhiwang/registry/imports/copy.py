"""Bulk insert of new people: COPY into a staging table on PostgreSQL, batched INSERTs elsewhere.

Elsewhere one prepared ``INSERT`` runs for all rows (``executemany``).
PostgreSQL: rows go through ``COPY … FROM STDIN`` into a temporary table shaped like
``registry_person`` (no constraints), then one ``INSERT … SELECT … RETURNING`` moves
them and hands back the new ids, keyed by the ID-number hash.
"""

from __future__ import annotations

from django.db import connection

from zhiwang.registry.models import Person

STAGE = "registry_person_stage"


def _columns():
    return [f for f in Person._meta.concrete_fields if not f.primary_key]


def insert_people(people: list[Person]) -> None:
    """Insert ``people`` (new, unsaved) and set their primary keys."""
    fields = _columns()
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Person._meta.db_table)
    if connection.vendor != "postgresql":
        _insert_executemany(people, fields, names, table)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA"
        )
        raw = cursor.cursor  # the psycopg cursor
        with raw.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
            for row in _rows(people, fields):
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {STAGE} RETURNING id, id_number_hash"
        )
        ids = dict((key, pk) for pk, key in cursor.fetchall())
        cursor.execute(f"TRUNCATE {STAGE}")
    for person in people:
        person.pk = ids[person.id_number_hash]
        person._state.adding = False
        person._state.db = connection.alias


def _rows(people: list[Person], fields) -> list[list]:
    """Database values without the per-cell ORM preparation: the stamps every row of a chunk
    shares (times, source, batch) are prepared once, dates become ISO text on SQLite."""
    first = people[0]
    shared = {"created_at", "updated_at", "last_confirmed_at", "source_id", "import_batch_id"}
    constant = {
        f.attname: f.get_db_prep_save(getattr(first, f.attname), connection)
        for f in fields
        if f.attname in shared and all(getattr(p, f.attname) == getattr(first, f.attname) for p in people)
    }
    iso = connection.vendor != "postgresql"
    getters = []
    for f in fields:
        if f.attname in constant:
            value = constant[f.attname]
            getters.append(lambda p, v=value: v)
        elif f.get_internal_type() == "DateField" and iso:
            getters.append(lambda p, a=f.attname: getattr(p, a).isoformat() if getattr(p, a) else None)
        elif f.get_internal_type() in ("DateTimeField", "DecimalField", "JSONField"):
            getters.append(lambda p, f=f: f.get_db_prep_save(getattr(p, f.attname), connection))
        else:
            getters.append(lambda p, a=f.attname: getattr(p, a))
    return [[get(p) for get in getters] for p in people]


def _insert_executemany(people: list[Person], fields, names: str, table: str) -> None:
    """One prepared INSERT run for every row (no ORM compile per row), then the ids by hash."""
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", _rows(people, fields))
    ids = existing_hashes([p.id_number_hash for p in people])
    for person in people:
        person.pk = ids[person.id_number_hash]
        person._state.adding = False
        person._state.db = connection.alias


def existing_hashes(hashes: list[str]) -> dict[str, int]:
    """``{id_number_hash: pk}`` of the people already stored, by the unique index (raw SQL: the ORM's
    ``__in`` preparation of thousands of values costs more than the query)."""
    found: dict[str, int] = {}
    table = connection.ops.quote_name(Person._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(hashes), 900):  # SQLite's bound-parameter limit
            part = hashes[start : start + 900]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"SELECT id_number_hash, id FROM {table} WHERE id_number_hash IN ({marks})", part)
            found.update(cursor.fetchall())
    return found
