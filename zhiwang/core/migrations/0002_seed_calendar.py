"""Seed holidays and make-up working days from chinese-calendar, and the default work schedule.

The seeding code is shared with ``zhiwang seed_calendar`` and takes the historical
models as arguments. Reversing keeps the rows: they are data an administrator may
have completed since, and 0001's reversal drops the tables anyway.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from zhiwang.core.workcalendar.seeding import seed_calendar_tables, seed_default_schedule

    seed_calendar_tables(
        CalendarDay=apps.get_model("core", "CalendarDay"), CalendarYear=apps.get_model("core", "CalendarYear")
    )
    seed_default_schedule(
        WorkSchedule=apps.get_model("core", "WorkSchedule"),
        WorkingWindow=apps.get_model("core", "WorkingWindow"),
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
