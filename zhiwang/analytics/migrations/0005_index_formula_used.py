"""Each governance index row keeps a copy of the formula that scored it; rows computed before
get their formula's present values (the best that is known of it)."""

from django.db import migrations, models


def copy_formulas(apps, schema_editor):
    GovernanceIndex = apps.get_model("analytics", "GovernanceIndex")
    IndexFormula = apps.get_model("analytics", "IndexFormula")
    for formula in IndexFormula.objects.all():
        GovernanceIndex.objects.filter(formula=formula).update(
            formula_used={
                "name": formula.name,
                "weights": formula.weights,
                "red_count": formula.red_count,
                "black_count": formula.black_count,
                "black_below": formula.black_below,
            }
        )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_transferred_counter"),
    ]

    operations = [
        migrations.AddField(
            model_name="governanceindex",
            name="formula_used",
            field=models.JSONField(blank=True, default=dict, verbose_name="formula used"),
        ),
        migrations.RunPython(copy_formulas, migrations.RunPython.noop),
    ]
