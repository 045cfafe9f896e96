"""The governance index ranks only a place with enough tickets: ``IndexFormula.min_volume`` (the
fewest tickets due to close in the month, default 5) and each row's ``volume`` (its count).

Existing formulas take the default from their next computation; rows already computed were
scored with no minimum, so their copy of the formula says so (``min_volume: 0``) and their
ranks stand as they were published.
"""

from django.db import migrations, models


def snapshots_say_no_minimum(apps, schema_editor):
    GovernanceIndex = apps.get_model("analytics", "GovernanceIndex")
    rows = GovernanceIndex.objects.using(schema_editor.connection.alias)
    changed = []
    for row in rows.exclude(formula_used={}).only("pk", "formula_used").iterator():
        if isinstance(row.formula_used, dict) and "min_volume" not in row.formula_used:
            row.formula_used = {**row.formula_used, "min_volume": 0}
            changed.append(row)
        if len(changed) >= 1000:
            rows.bulk_update(changed, ["formula_used"])
            changed = []
    if changed:
        rows.bulk_update(changed, ["formula_used"])


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0009_indicator_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexformula",
            name="min_volume",
            field=models.PositiveSmallIntegerField(
                default=5,
                help_text=(
                    "A place with fewer tickets due to close in the month is scored but not ranked, "
                    "and is on neither the red nor the black list. 0 ranks every place that has a score."
                ),
                verbose_name="minimum tickets to rank",
            ),
        ),
        migrations.AddField(
            model_name="governanceindex",
            name="volume",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="tickets due to close"),
        ),
        migrations.RunPython(snapshots_say_no_minimum, migrations.RunPython.noop),
    ]
