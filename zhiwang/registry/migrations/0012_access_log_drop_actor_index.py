"""Drop the single-column index on the access log's ``actor``: ``registry_access_actor_recent``
(actor, action, at, migration 0011) starts with the actor, so it answers every lookup by actor alone
as well (a user's rows, the PROTECT check when a user is deleted), and the second index only cost
every write to a log that grows with every reveal. The model says ``db_index=False``.

The index is the one Django made for the foreign key (``registry_accesslog_actor_id_<hash>``); it is
found by introspection (an index on exactly ``actor_id``), not by a name written here. On PostgreSQL it
is dropped ``CONCURRENTLY`` (this migration is not atomic), as 0011 built its index: a plain DROP INDEX
takes the table's exclusive lock and would queue every read and write of the log behind any long
query. Should a concurrent drop fail half-way (it can leave the index INVALID), migrate again: the
index is looked up by its column, so the left-over is found and dropped. Backwards, the index is
built again the same way (unless one on exactly that column is there already). On SQLite it is dropped and built the ordinary way (an AlterField there would copy the whole
table).
"""

from django.conf import settings
from django.db import migrations, models
from django.db.migrations.operations.base import Operation
from django.db.models import Index


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class DropActorIndex(Operation):
    """Database only (the state change is the AlterField beside it): drop / build the index on
    ``accesslog.actor_id``, CONCURRENTLY on PostgreSQL."""

    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, "accesslog")
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        column = model._meta.get_field("actor").column
        for name in schema_editor._constraint_names(model, [column], index=True, type_=Index.suffix):
            schema_editor.execute(
                schema_editor._delete_index_sql(model, name, **_concurrently(schema_editor))
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, "accesslog")
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        field = model._meta.get_field("actor")
        if schema_editor._constraint_names(model, [field.column], index=True, type_=Index.suffix):
            return
        schema_editor.execute(
            schema_editor._create_index_sql(model, fields=[field], **_concurrently(schema_editor))
        )

    def describe(self):
        return "Drop the single-column index on accesslog.actor (concurrently on PostgreSQL)"


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("registry", "0011_access_log_actor_recent"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="accesslog",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="Empty for the system (deadline tasks, imports).",
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="%(app_label)s_%(class)s_entries",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="actor",
                    ),
                ),
            ],
            database_operations=[DropActorIndex()],
        ),
    ]
