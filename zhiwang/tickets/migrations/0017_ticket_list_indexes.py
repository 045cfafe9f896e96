"""The working lists at a city's scale (benchmarks/tickets_list_bench.py):

- ``tickets_received`` (received_at, id): the lists' order, newest first with ties by id; a deep
  page's ids are read from the index alone. It replaces the single-column received_at index (the
  same ranges on received_at use it).
- ``tickets_handling_due`` (due_at, id) of the tickets being handled: the dispatcher's "near or
  past the deadline" tab, nearest deadline first, without walking the due dates of the closed
  history (4.4 s at 1,000,000 tickets on PostgreSQL before).
- ``tickets_status_due`` (status, due_at): the lists' "overdue" filter and its counts (SQLite
  read every ticket for them: 2.6 s at 1,000,000 tickets).

On PostgreSQL the indexes are built ``CONCURRENTLY`` (this migration is not atomic): building one
over ten million tickets takes minutes, and a plain CREATE INDEX would block every write to the
tickets table (every submit, every dispatch) for that long. The old index is dropped only once the
new one exists. Should a concurrent build fail (it leaves an INVALID index behind), drop that index
and migrate again. On SQLite the same indexes are built the ordinary way.
"""

from django.db import migrations, models


class _Concurrently:
    """On PostgreSQL, build / drop the index CONCURRENTLY (no write lock); elsewhere, as usual."""

    def _concurrently(self, schema_editor) -> dict:
        return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class AddIndexConcurrently(_Concurrently, migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **self._concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._concurrently(schema_editor))


#: The name Django gave the index of ``received_at`` (``db_index=True``) in 0001_initial.
RECEIVED_AT_INDEX = "tickets_ticket_received_at_5a5d845d"


class DropIndexConcurrently(migrations.operations.base.Operation):
    """Drop one index by name (CONCURRENTLY on PostgreSQL); backwards, build it again."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, name: str, *, table: str, column: str):
        self.name, self.table, self.column = name, table, column

    def state_forwards(self, app_label, state):
        pass

    def _concurrently(self, schema_editor) -> str:
        return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        quote = schema_editor.quote_name
        schema_editor.execute(f"DROP INDEX {self._concurrently(schema_editor)}IF EXISTS {quote(self.name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE INDEX {self._concurrently(schema_editor)}{quote(self.name)} "
            f"ON {quote(self.table)} ({quote(self.column)})"
        )

    def describe(self):
        return f"Drop index {self.name}"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("tickets", "0016_queuedsubmission_idempotency_fingerprint"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ticket",
            index=models.Index(fields=["received_at", "id"], name="tickets_received"),
        ),
        AddIndexConcurrently(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("status__in", ["dispatched", "accepted"])),
                fields=["due_at", "id"],
                name="tickets_handling_due",
            ),
        ),
        AddIndexConcurrently(
            model_name="ticket",
            index=models.Index(fields=["status", "due_at"], name="tickets_status_due"),
        ),
        # the single-column index, now a prefix of tickets_received: dropped by its name (an
        # AlterField would make SQLite copy the whole tickets table to drop one index)
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ticket",
                    name="received_at",
                    field=models.DateTimeField(verbose_name="received at"),
                ),
            ],
            database_operations=[
                DropIndexConcurrently(RECEIVED_AT_INDEX, table="tickets_ticket", column="received_at")
            ],
        ),
    ]
