"""``zhiwang seed_calendar``: re-seed the work calendar from the chinese-calendar package.

Run it after upgrading chinese-calendar (a new release knows next year's holidays).
Idempotent: it upserts, keeps every row an administrator entered, and creates the
default work schedule only when there is none.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from zhiwang.core.workcalendar.services import calendar_seed


class Command(BaseCommand):
    help = "Re-seed holidays and make-up working days from the chinese-calendar package (keeps administrators' rows)."

    def handle(self, *args, **options) -> None:
        result = calendar_seed()
        years = f"{result.years[0]}–{result.years[-1]}" if result.years else "–"
        self.stdout.write(
            _(
                "Calendar years %(years)s: %(created)d days created, %(updated)d updated, %(unchanged)d unchanged, "
                "%(removed)d removed; %(kept)d days entered by administrators kept."
            )
            % {
                "years": years,
                "created": result.days_created,
                "updated": result.days_updated,
                "unchanged": result.days_unchanged,
                "removed": result.days_removed,
                "kept": result.days_kept_admin,
            }
        )
        if result.years_kept_admin:
            self.stdout.write(
                _("Years kept as administrators entered them: %(years)s")
                % {"years": ", ".join(map(str, result.years_kept_admin))}
            )
        if result.schedule_created:
            self.stdout.write(_("Default work schedule created (09:00–12:00, 14:00–18:00)."))
        self.stdout.write(self.style.SUCCESS(_("Work calendar seeded.")))
