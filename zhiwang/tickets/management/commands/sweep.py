"""`zhiwang sweep`: run the deadline sweep now (the task worker runs it every 5 minutes)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from zhiwang.tickets.services.clock import clock_sweep


class Command(BaseCommand):
    help = "Warn, urge and supervise every ticket whose deadline threshold has been crossed (exactly once)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="Act as if it were this moment (ISO 8601; local time when no offset is given)."
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, now, batch_size, no_progress, **options):
        moment = None
        if now:
            try:
                moment = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now {now!r} is not an ISO 8601 date and time") from exc
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        bar = tqdm(desc="clock sweep", unit="ticket", disable=no_progress)

        def progress(scanned):
            bar.update(scanned - bar.n)

        try:
            report = clock_sweep(now=moment, batch_size=batch_size, progress=progress)
        finally:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                "Sweep: {accept_warned} not accepted in time, {warned} warned, {overdue} overdue, "
                "{urged} urged, {supervised} supervised ({scanned} candidates, {skipped} left for "
                "the next run).".format(**report.as_dict())
            )
        )
