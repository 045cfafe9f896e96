"""``zhiwang load-divisions [--csv FILE]``: the city's administrative divisions, for a real install.

By default the shipped real Shenzhen divisions (NBS 2023: city, districts, subdistricts and
communities with their 12-digit codes, ``zhiwang/geo/data/``); ``--csv`` loads another city's file
in the same layout. An idempotent upsert (run it again after the statistics office's yearly
update); one bad row loads nothing and every problem is listed. Boundaries come after, with
``zhiwang import-boundaries``.
"""

from django.core.management.base import BaseCommand, CommandError

from zhiwang.core.errors import ServiceError
from zhiwang.geo.services import SHIPPED_DIVISIONS, divisions_load_csv


class Command(BaseCommand):
    help = (
        "Load or update the administrative divisions (default: the shipped real Shenzhen divisions) "
        "from a CSV: level, code, name, parent_code, short_name, special, approx_lon_wgs84, approx_lat_wgs84."
    )

    def add_arguments(self, parser):
        parser.add_argument("--csv", default=str(SHIPPED_DIVISIONS), help="divisions CSV (UTF-8)")

    def handle(self, *args, csv, **options):
        try:
            result = divisions_load_csv(csv)
        except ServiceError as error:
            problems = [f"{e.field}: {e.message}" for e in error.fields] or [error.message]
            raise CommandError("\n".join(problems)) from None
        self.stdout.write(
            f"divisions: {result['total']} in the file, {result['created']} created, {result['updated']} updated"
        )
