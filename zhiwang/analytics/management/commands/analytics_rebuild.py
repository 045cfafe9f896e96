"""``zhiwang analytics_rebuild``: empty the rollups and count the whole ticket timeline again."""

import time

from django.core.management.base import BaseCommand

from zhiwang.analytics.rollups import rollup_catch_up, rollup_rebuild


class Command(BaseCommand):
    help = "Rebuild the analytics rollups from the ticket timeline (or, with --catch-up, count rows bulk paths wrote)."

    def add_arguments(self, parser):
        parser.add_argument("--catch-up", action="store_true", help="Only count rows not counted yet.")
        parser.add_argument("--batch", type=int, default=5000, help="Tickets per batch.")

    def handle(self, *args, catch_up=False, batch=5000, **options):
        started = time.perf_counter()
        if catch_up:
            counted = rollup_catch_up()
            self.stdout.write(f"caught up: {counted} events in {time.perf_counter() - started:.1f} s")
            return

        def progress(tickets, events):
            if options.get("verbosity", 1) > 1:
                self.stdout.write(f"  {tickets} tickets, {events} events")

        result = rollup_rebuild(batch_tickets=batch, progress=progress)
        self.stdout.write(
            f"rebuilt: {result['tickets']} tickets, {result['events']} events, {result['rows']} rollup rows "
            f"in {time.perf_counter() - started:.1f} s"
        )
