"""A (grid, name) index for grid workers' name searches, and finer name statistics on PostgreSQL.

At Shenzhen scale (18 M people) a grid worker's search for "王伟" walked the name index and
filtered ~8,000 rows by grid to find 11 (0.1–0.5 s). The new index answers it directly, but
the planner only takes it when it knows that a two-character prefix matches thousands of
people: with the default statistics (100 histogram buckets of ~180,000 names) it estimates
one or two. 5,000 buckets fix the estimate; ANALYZE of an 18 M-row table then takes ~30 s
(measured) instead of ~1 s, in the background. See docs/benchmarks.md (registry at scale).
"""

from django.db import migrations, models

NAME_STATISTICS = 5000


def name_statistics(apps, schema_editor, target=NAME_STATISTICS):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite's planner has no per-column statistics target
    table = schema_editor.quote_name(apps.get_model("registry", "Person")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN name SET STATISTICS {int(target)}")


def default_statistics(apps, schema_editor):
    name_statistics(apps, schema_editor, target=-1)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("geo", "0002_division_alias"),
        ("registry", "0006_entity_name_search"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["grid", "name"], name="registry_person_grid_name"),
        ),
        migrations.RunPython(name_statistics, default_statistics),
    ]
