"""Set-based insert of new records: COPY into a staging table on PostgreSQL, one prepared INSERT elsewhere.

The import builds plain rows (``{attname: value}``), never model instances: a model
object costs more than validating and hashing the row. Columns the rows do not name
take the field's default, prepared once per chunk; values every row shares (time
stamps, source, batch) are prepared once too.

PostgreSQL: rows go through ``COPY … FROM STDIN`` into a temporary table shaped like
the target (no constraints, no indexes), then one ``INSERT … SELECT … RETURNING`` moves
them and hands back the new ids. Elsewhere (SQLite) one prepared ``INSERT`` runs for all
rows (``executemany``) and the ids, when wanted, are read back by natural key.
"""

from __future__ import annotations

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
    plan = [(f.attname, constant[f.attname], convert) for f, convert in zip(fields, converters, strict=True)]
    out = []
    for row in rows:
        values = []
        for name, default, convert in plan:
            if name in row:
                value = row[name]
                values.append(convert(value) if convert is not None and value is not None else value)
            else:
                values.append(default)
        out.append(tuple(values))
    return out


def insert_rows(
    model: type[models.Model], rows: list[dict], *, shared: dict, key: str | None = None
) -> dict[str, int]:
    """Insert new records of ``model``; with ``key`` (a unique column) answer ``{key value: pk}``."""
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
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{returning}")
            ids = dict(cursor.fetchall()) if key else {}
            cursor.execute(f"TRUNCATE {stage}")
        return ids
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", data)
    return existing_keys(model, key, [row[key] for row in rows]) if key else {}


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
