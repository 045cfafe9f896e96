"""`zhiwang demo-tickets`: ticket histories for the demo city (through the services, or in bulk)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from zhiwang.tickets.history import bulk_tickets_create, demo_tickets_create


class Command(BaseCommand):
    help = (
        "Make realistic ticket histories on the demo city: through the real services (default; "
        "hundreds), or --bulk rows for benchmarks (millions)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--bulk", action="store_true", help="Write rows directly (benchmarks).")
        parser.add_argument(
            "--days", type=int, default=None, help="Spread over this many days (60; bulk 30)."
        )
        parser.add_argument(
            "--open-fraction", type=float, default=0.3, help="--bulk: share of tickets still open."
        )
        parser.add_argument("--as-of", help="--bulk: the moment the histories lead up to (ISO 8601).")
        parser.add_argument("--batch-size", type=int, default=5000, help="--bulk: rows per batch.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(
        self, *args, count, seed, bulk, days, open_fraction, as_of, batch_size, no_progress, **options
    ):
        if count < 1:
            raise CommandError("--count must be at least 1")
        if not 0 <= open_fraction <= 1:
            raise CommandError("--open-fraction must be between 0 and 1")
        moment = None
        if as_of:
            try:
                moment = datetime.fromisoformat(as_of)
            except ValueError as exc:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 date and time") from exc
            moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
        bar = tqdm(total=count, desc="tickets", unit="ticket", disable=no_progress)

        def progress(done, total):
            bar.update(done - bar.n)

        try:
            if bulk:
                result = bulk_tickets_create(
                    count=count,
                    seed=seed,
                    as_of=moment,
                    open_fraction=open_fraction,
                    days=days or 30,
                    batch_size=batch_size,
                    progress=progress,
                )
                summary = (
                    f"{result.tickets} tickets, {result.events} timeline rows, {result.alerts} clock alerts"
                )
            else:
                result = demo_tickets_create(count=count, seed=seed, days=days or 60, progress=progress)
                summary = f"{result.created} tickets made, {result.existing} already there"
                if result.failures:
                    summary += f", {len(result.failures)} refused steps"
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(result.statuses.items()))
        self.stdout.write(self.style.SUCCESS(f"{summary}. By status: {statuses}."))
