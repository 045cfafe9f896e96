from django.db import migrations


def seed(apps, schema_editor):
    from zhiwang.registry.defaults import seed_defaults

    seed_defaults(
        MappingTemplate=apps.get_model("registry", "MappingTemplate"),
        EligibilityRule=apps.get_model("registry", "EligibilityRule"),
    )


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
