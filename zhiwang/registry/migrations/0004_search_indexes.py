"""Search indexes at city scale.

- ``registry_person_grid`` duplicated the grid foreign key's own index: dropped.
- PostgreSQL only: people's ``name`` gets the "C" collation, so its b-tree indexes serve
  a name-prefix search (``LIKE '王%'``, which a b-tree under a linguistic collation cannot)
  in name order, and a LIMIT stops after the first rows. Chinese names then sort by code
  point, as they already do under the usual C.UTF-8 / en_US database collations.
- PostgreSQL only, when the ``pg_trgm`` extension can be created: a trigram GIN index on
  legal entities' names for the "name contains" search. Without it that search scans.
"""

from django.db import migrations, transaction

TRIGRAM_INDEX = "registry_entity_name_trgm"


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    schema_editor.execute('ALTER TABLE registry_person ALTER COLUMN name TYPE varchar(64) COLLATE "C"')
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        available = cursor.fetchone() is not None
    if not available:
        return
    try:
        # A savepoint: without the privilege to create it the migration carries on without the index.
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - insufficient privilege and the like: fall back to a scan
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON registry_legalentity USING gin (name gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    schema_editor.execute('ALTER TABLE registry_person ALTER COLUMN name TYPE varchar(64) COLLATE "default"')


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_conflict_resolution"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="person",
            name="registry_person_grid",
        ),
        migrations.RunPython(forwards, backwards),
    ]
