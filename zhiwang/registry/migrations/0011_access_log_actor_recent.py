"""``registry_access_actor_recent`` (actor, action, at) on the access log: the hourly limits of
identifier searches and of registrations of unseen numbers (``services.audit``) read one user's
rows of a few actions within the last hour on every such search or registration. With only the
single-column actor index they walked all of that user's rows, reveals included, which are most of
the log.

On PostgreSQL the index is built ``CONCURRENTLY`` (this migration is not atomic): the log grows
with every reveal, and a plain CREATE INDEX would block every write to it (every reveal, every
logged search) while it builds. Should a concurrent build fail (it leaves an INVALID index behind),
drop that index and migrate again. On SQLite it is built the ordinary way.
"""

from django.db import migrations, models


class AddIndexConcurrently(migrations.AddIndex):
    """On PostgreSQL, build / drop the index CONCURRENTLY (no write lock); elsewhere, as usual."""

    def _concurrently(self, schema_editor) -> dict:
        return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **self._concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("registry", "0010_registration_review"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="accesslog",
            index=models.Index(fields=["actor", "action", "at"], name="registry_access_actor_recent"),
        ),
    ]
