"""``zhiwang disputes-link-registry``: link older visitors and parties to the registry (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from zhiwang.disputes.services.backfill import registry_backfill, registry_backfill_count


class Command(BaseCommand):
    help = (
        "Link unlinked dispute visitors and parties to registry people (by the registry's keyed hash "
        "of the ID number) and legal entities (by credit code). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count what would be linked")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        bar = None
        if not options["no_progress"]:
            bar = tqdm(total=registry_backfill_count(), unit="rows", desc="link to registry")
        result = registry_backfill(
            dry_run=options["dry_run"],
            batch_size=options["batch_size"],
            progress=bar.update if bar is not None else None,
        )
        if bar is not None:
            bar.close()
        verb = "would link" if result.dry_run else "linked"
        self.stdout.write(
            f"{verb} {result.linked}: visitors {result.visitors_linked}/{result.visitors_checked}, "
            f"person parties {result.person_parties_linked}/{result.person_parties_checked}, "
            f"entity parties {result.entity_parties_linked}/{result.entity_parties_checked} (linked/checked)"
        )
