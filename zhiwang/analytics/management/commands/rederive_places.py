"""``zhiwang rederive_places --division CODE … | --all``: tickets and rollups follow the current division tree.

After an administrative adjustment moved divisions (``zhiwang load-divisions`` runs this for the
divisions its load moved), the tickets located inside them still name their old subdistrict or
district, and so do their rollup rows. This re-derives both in one transaction
(``analytics.rollups.places.places_rederive``): set-based, touching only rows that differ.
``--all`` re-derives the whole city (a repair, e.g. after a division was edited by hand).
"""

import time

from django.core.management.base import BaseCommand, CommandError

from zhiwang.analytics.rollups.places import places_rederive
from zhiwang.geo.models import Division, DivisionLevel


class Command(BaseCommand):
    help = (
        "Re-derive the subdistrict and district of the tickets (and their rollup rows) inside the "
        "given divisions, or the whole city with --all, from the current division tree."
    )

    def add_arguments(self, parser):
        parser.add_argument("--division", action="append", default=[], help="division code (repeatable)")
        parser.add_argument("--all", action="store_true", help="every division of the city")

    def handle(self, *args, division, all=False, **options):
        if all:
            ids = set(Division.objects.filter(level=DivisionLevel.DISTRICT).values_list("pk", flat=True))
        else:
            found = dict(Division.objects.filter(code__in=division).values_list("code", "pk"))
            unknown = sorted(set(division) - set(found))
            if unknown:
                raise CommandError(f"unknown division codes: {', '.join(unknown)}")
            if not found:
                raise CommandError("give --division CODE (repeatable) or --all")
            ids = set(found.values())
        started = time.perf_counter()
        result = places_rederive(division_ids=ids)
        self.stdout.write(
            f"places re-derived: {result['tickets']} tickets, {result['rollup_rows']} rollup rows re-keyed "
            f"in {time.perf_counter() - started:.1f} s"
        )
