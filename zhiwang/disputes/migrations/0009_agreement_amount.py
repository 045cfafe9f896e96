"""An agreement records the amount it settles (协议金额), which "amount resolved" (化解金额) sums.

Until now "amount resolved" summed the amount involved of the cases mediated successfully, so an
agreement settling 800 yuan on a case registered with amount 0 resolved nothing. Agreements made
before this migration take their case's amount involved: what "amount resolved" counted for them
until now, so no past figure changes. Backwards the column is dropped.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def amounts_from_cases(apps, schema_editor):
    Agreement = apps.get_model("disputes", "Agreement")
    DisputeCase = apps.get_model("disputes", "DisputeCase")
    Agreement.objects.update(
        amount=Subquery(DisputeCase.objects.filter(pk=OuterRef("case_id")).values("amount")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("disputes", "0008_hashes_under_the_hash_key")]

    operations = [
        migrations.AddField(
            model_name="agreement",
            name="amount",
            field=models.DecimalField(
                decimal_places=2, default=0, max_digits=14, verbose_name="amount agreed (CNY)"
            ),
        ),
        migrations.RunPython(amounts_from_cases, migrations.RunPython.noop),
    ]
