"""``zhiwang registry-rehash``: recompute people's ID-number and phone hashes after a key change.

The registry's part of ``zhiwang rehash-all`` (which recomputes every app's keyed hashes: run that
after changing the key), kept for an installation that rebuilds the registry alone."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from zhiwang.registry.models import Person
from zhiwang.registry.services.rehash import person_hashes_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every person's keyed ID-number and phone hashes with the current "
        "ZHIWANG_REGISTRY_HASH_KEY (run after changing it). Resumable; a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="only count the people whose hashes differ"
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        bar = None
        if not options["no_progress"]:
            bar = tqdm(total=Person.objects.count(), unit="people", desc="rehash")
        result = person_hashes_rebuild(
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            progress=bar.update if bar is not None else None,
        )
        if bar is not None:
            bar.close()
        verb = "would rehash" if result.dry_run else "rehashed"
        conflicts = (
            f", {result.conflicts} stored twice: ID-number hash set aside, merge them by hand"
            if result.conflicts
            else ""
        )
        self.stdout.write(f"{verb} {result.changed} of {result.checked} people{conflicts}")
