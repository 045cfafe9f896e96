"""``zhiwang rehash-all``: after the hash key changed, recompute every keyed hash of every app.

Every keyed hash (``core.keyed_hash``: ``ZHIWANG_REGISTRY_HASH_KEY``, else ``SECRET_KEY``) is
rebuilt from what its app stores. Each app says how in its ``rekey`` module: ``REKEY_STEPS``,
``{name: (count, rebuild)}``, where ``count()`` is the number of rows the step reads (the
progress bar's total) and ``rebuild(*, batch_size, dry_run, progress)`` does the work, batch by
batch, and returns a result with ``checked`` and ``changed`` (and any other counts it keeps).
Today: ``registry.rekey`` (people), ``disputes.rekey`` (visitors, parties), ``analytics.rekey``
(repeat-caller alert keys).

The modules are found by name in the installed apps, as Django's admin finds ``admin`` modules:
this command imports no app, so it sits where the floors allow (``web`` may not import
``analytics``, its neighbour on the top floor), and an app that keeps a keyed hash adds its
step without touching it. Every step writes only rows whose value differs, one transaction per
batch: a stopped run is finished by running it again, and a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import module_has_submodule
from tqdm import tqdm

#: The module of an app that lists its keyed-hash steps (``REKEY_STEPS``).
STEPS_MODULE = "rekey"


def rekey_steps() -> dict:
    """Every installed app's ``REKEY_STEPS``, in ``INSTALLED_APPS`` order (lower floors first)."""
    steps = {}
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, STEPS_MODULE):
            module = import_module(f"{config.name}.{STEPS_MODULE}")
            steps.update(getattr(module, "REKEY_STEPS", {}))
    return steps


class Command(BaseCommand):
    help = (
        "Recompute every keyed hash of every app (registry people, dispute visitors and parties, "
        "repeat-caller alert keys) with the current ZHIWANG_REGISTRY_HASH_KEY (run after changing "
        "it). Resumable; a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count what would change")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        verb = "would rehash" if options["dry_run"] else "rehashed"
        for name, (count, rebuild) in rekey_steps().items():
            bar = None
            if not options["no_progress"]:
                bar = tqdm(total=count(), unit="rows", desc=name)
            result = rebuild(
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                progress=bar.update if bar is not None else None,
            )
            if bar is not None:
                bar.close()
            extra = {
                key: value
                for key, value in (asdict(result) if is_dataclass(result) else {}).items()
                if key not in ("checked", "changed", "dry_run") and value
            }
            more = "".join(f", {key} {value}" for key, value in extra.items())
            self.stdout.write(f"{name}: {verb} {result.changed} of {result.checked}{more}")
