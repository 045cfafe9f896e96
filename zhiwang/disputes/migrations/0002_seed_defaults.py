"""Seed the function areas (1+8+N) and the Ministry of Justice dispute categories."""

from django.db import migrations


def seed(apps, schema_editor):
    from zhiwang.disputes.defaults import defaults_seed

    defaults_seed(
        FunctionArea=apps.get_model("disputes", "FunctionArea"),
        DisputeCategory=apps.get_model("disputes", "DisputeCategory"),
    )


class Migration(migrations.Migration):
    dependencies = [("disputes", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
