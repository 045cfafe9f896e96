"""PostgreSQL: indexes for the entity "name contains" search (``selectors.entity_search``).

- The ``pg_trgm`` extension and a trigram GIN index on legal entities' names, for texts of
  three characters or more. Migration 0004 skipped the index silently when the extension
  could not be created; the search then scans every entity, far too slow at city scale.
  This migration requires it and says what to do when the database user may not create
  extensions.
- Two-character texts (common in Chinese: 科技, 华为) contain no whole trigram, so a
  bigram index: ``registry_name_bigrams(text)`` (immutable: the distinct character pairs
  of a text) and a GIN index on it. No extension needed.

SQLite keeps ``LIKE`` (no index needed at the sizes SQLite serves).
"""

from django.db import migrations, transaction

TRIGRAM_INDEX = "registry_entity_name_trgm"
BIGRAM_INDEX = "registry_entity_name_bigram"
BIGRAM_FUNCTION = """
CREATE OR REPLACE FUNCTION registry_name_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(value, i, 2)), '{}')
    FROM generate_series(1, char_length(value) - 1) AS i
$$
"""

NOT_PERMITTED = (
    "The registry needs the PostgreSQL extension pg_trgm (trigram index for the entity name "
    "search), and this database user may not create it: {error}\n"
    "Ask a database superuser to run, in database {database}:\n"
    "    CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    "then run `zhiwang migrate` again. (Debian/Ubuntu ship pg_trgm in the postgresql-contrib "
    "package of the server.)"
)


class TrigramUnavailable(RuntimeError):
    """pg_trgm is missing or may not be created by the migrating user."""


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        installed = cursor.fetchone() is not None
    if not installed:
        try:
            # A savepoint, so the error below is the one the operator sees.
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # noqa: BLE001 - insufficient privilege, extension not installed…
            raise TrigramUnavailable(
                NOT_PERMITTED.format(error=str(error).strip(), database=connection.settings_dict["NAME"])
            ) from None
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON registry_legalentity USING gin (name gin_trgm_ops)"
    )
    schema_editor.execute(BIGRAM_FUNCTION)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {BIGRAM_INDEX} ON registry_legalentity "
        "USING gin (registry_name_bigrams(name))"
    )


def backwards(apps, schema_editor):
    # The extension and the trigram index stay (0004's backwards drops the index).
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {BIGRAM_INDEX}")
    schema_editor.execute("DROP FUNCTION IF EXISTS registry_name_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_validate_publish"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
