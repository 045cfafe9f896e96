"""The scoped lists on SQLite (benchmarks/tickets_list_bench.py): ``tickets_division_received``
(division_id, received_at, id), the scope's division column with the lists' order.

A scoped list ("reporter = R OR division IN (…) OR handling unit = U", ``TicketQuerySet.visible_to``)
is read by SQLite with one index per term (MULTI-INDEX OR), then sorted. Reading the division
term by this index instead of ``tickets_scope`` (division_id, status) made the ids of a district
department's list 0.24 s → 0.03 s and a subdistrict's 0.035 s → 0.011 s at 1,000,000 tickets
(the same plan otherwise; ``EXPLAIN QUERY PLAN`` names the index). Indexes of the same shape on
the handling unit and on the reporter were measured too and changed nothing: not built.

SQLite only: PostgreSQL combines the same terms with a BitmapOr of the indexes it has (a
subdistrict's page 10–30 ms), so another index over millions of tickets would only slow its
writes. Not in the model's ``Meta.indexes`` for that reason (the model state is unchanged and
``makemigrations`` has nothing to add). Built the ordinary way: SQLite has no concurrent build, and
at 1,000,000 tickets it takes a few seconds; the statistics are refreshed after ``migrate``
(``core.sqlite_stats``), so the planner knows the index at once.
"""

from django.db import migrations

NAME = "tickets_division_received"
TABLE = "tickets_ticket"
COLUMNS = ("division_id", "received_at", "id")


class AddSqliteIndex(migrations.operations.base.Operation):
    """Build the index on SQLite (nothing elsewhere); backwards, drop it. No model state."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "sqlite":
            return
        quote = schema_editor.quote_name
        columns = ", ".join(quote(column) for column in COLUMNS)
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {quote(NAME)} ON {quote(TABLE)} ({columns})")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "sqlite":
            return
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(NAME)}")

    def describe(self):
        return f"Add the SQLite index {NAME}"


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0017_ticket_list_indexes"),
    ]

    operations = [AddSqliteIndex()]
