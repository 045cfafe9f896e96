from django.db import migrations


def load(apps, schema_editor):
    from zhiwang.tickets.catalogue import load_catalogue

    load_catalogue(Category=apps.get_model("tickets", "Category"), KindDeadline=apps.get_model("tickets", "KindDeadline"))


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
