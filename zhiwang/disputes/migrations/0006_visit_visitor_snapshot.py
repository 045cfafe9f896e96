"""Each visit keeps the visitor's name and phone as given at that visit (a snapshot).

Existing visits are filled from their ``Visitor`` as it is now: the earlier values were
overwritten in place and are gone, so the current ones are the best record there is.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill_snapshots(apps, schema_editor):
    Visit = apps.get_model("disputes", "Visit")
    Visitor = apps.get_model("disputes", "Visitor")
    visitor = Visitor.objects.filter(pk=OuterRef("visitor_id"))
    # One UPDATE with correlated subqueries: no row is read into Python.
    Visit.objects.update(
        visitor_name=Subquery(visitor.values("name")[:1]),
        visitor_phone=Subquery(visitor.values("phone")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0005_idempotency_fingerprints"),
    ]

    operations = [
        migrations.AddField(
            model_name="visit",
            name="visitor_name",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="visitor's name"),
        ),
        migrations.AddField(
            model_name="visit",
            name="visitor_phone",
            field=models.CharField(blank=True, default="", max_length=20, verbose_name="visitor's phone"),
        ),
        migrations.RunPython(backfill_snapshots, migrations.RunPython.noop, elidable=True),
    ]
