"""``IndicatorFigure.computed_at`` is the moment the figures were counted at (``as_of``), written by
the computation, no longer the insert's clock (``auto_now``): a month's figures are final when it
is on or after the month's settle time (docs/analytics.md, "Stored indicators").

State only: no column changes. Rows computed before keep their insert time, which is when they
were counted to within the computation's duration, so they read final or preliminary as they are.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0010_index_min_volume"),
    ]

    operations = [
        migrations.AlterField(
            model_name="indicatorfigure",
            name="computed_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="computed at"),
        ),
    ]
