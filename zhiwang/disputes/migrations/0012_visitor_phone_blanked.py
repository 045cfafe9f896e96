"""Blank ``Visitor.phone``: since phones are kept per centre (on its visits, ``Visit.visitor_phone``)
nothing writes or reads it, but the rows from before keep the phone some centre recorded last, and
a phone belongs to the centre it was given to. The visits keep theirs, so nothing is lost.

The column stays (empty) for now; a later release may drop it. Backwards nothing is restored.
"""

from django.db import migrations


def blank_phones(apps, schema_editor):
    Visitor = apps.get_model("disputes", "Visitor")
    Visitor.objects.exclude(phone="").update(phone="")


class Migration(migrations.Migration):
    dependencies = [("disputes", "0011_amount_involved_from_agreements")]

    operations = [migrations.RunPython(blank_phones, migrations.RunPython.noop)]
