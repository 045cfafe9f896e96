"""``zhiwang load-divisions [--csv FILE]``: the city's administrative divisions, for a real install.

By default the shipped real Shenzhen divisions (NBS 2023: city, districts, subdistricts and
communities with their 12-digit codes, ``zhiwang/geo/data/``); ``--csv`` loads another city's file
in the same layout. An idempotent upsert (run it again after the statistics office's yearly
update); one bad row loads nothing and every problem is listed. Boundaries come after, with
``zhiwang import-boundaries``.

A division that moved (an administrative adjustment: a row with a new parent and a new code, the
old one in ``previous_code``; docs/geo.md) keeps its row; after the load, the tickets inside the
moved divisions and their analytics counts are re-derived for the current tree by
``zhiwang rederive_places`` (run here unless ``--no-rederive``; run by name, since the geo app
sits below tickets and analytics and imports neither).
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from zhiwang.core.errors import ServiceError
from zhiwang.geo.services import SHIPPED_DIVISIONS, divisions_load_csv


class Command(BaseCommand):
    help = (
        "Load or update the administrative divisions (default: the shipped real Shenzhen divisions) "
        "from a CSV: level, code, name, parent_code, short_name, special, approx_lon_wgs84, approx_lat_wgs84."
    )

    def add_arguments(self, parser):
        parser.add_argument("--csv", default=str(SHIPPED_DIVISIONS), help="divisions CSV (UTF-8)")
        parser.add_argument(
            "--no-rederive",
            action="store_true",
            help="do not re-derive the places of the tickets inside moved divisions now (run rederive_places later)",
        )

    def handle(self, *args, csv, no_rederive=False, **options):
        try:
            # One transaction for the load and the re-derivation: a failure of the second must
            # not leave the divisions moved while their tickets, counts and the code-prefix
            # scopes disagree (a moved district's tickets would leave its dispatchers' lists
            # while its dashboard still counted them).
            with transaction.atomic():
                result = divisions_load_csv(csv)
                moved = result["moved"]
                if moved and not no_rederive:
                    call_command("rederive_places", division=moved, stdout=self.stdout)
        except ServiceError as error:
            problems = [f"{e.field}: {e.message}" for e in error.fields] or [error.message]
            raise CommandError("\n".join(problems)) from None
        self.stdout.write(
            f"divisions: {result['total']} in the file, {result['created']} created, {result['updated']} updated"
        )
        if not moved:
            return
        self.stdout.write(f"moved: {len(moved)} divisions ({', '.join(moved)})")
        if no_rederive:
            follow_up = "zhiwang rederive-places " + " ".join(f"--division {code}" for code in moved)
            self.stdout.write(
                "The tickets inside them and their analytics counts still name the old parents. "
                f"Run now: {follow_up}"
            )
