"""``zhiwang import_registry``: import a department file (CSV or Excel) into the registry, resumable.

``--validate-only`` checks the file and writes the report without touching the registry;
running the same command again with ``--publish`` imports that validated file for real.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.registry.imports.pipeline import import_batch_create, import_batch_publish, import_batch_run
from zhiwang.registry.imports.report import report_workbook
from zhiwang.registry.models import ImportStatus, MappingTemplate, RecordKind


class Command(BaseCommand):
    help = "Import people, legal entities or housing from a CSV/Excel file (run again to resume)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (UTF-8 or GBK) or .xlsx file")
        parser.add_argument("--kind", required=True, choices=[k.value for k in RecordKind])
        parser.add_argument("--source", required=True, help="code of the source department (org unit)")
        parser.add_argument(
            "--template", help="name of the mapping template (default: the first of this kind)"
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=None,
            help="rows per chunk (default 10,000 on SQLite, else 2,000)",
        )
        parser.add_argument("--report", help="write the validation report (.xlsx) here")
        parser.add_argument("--no-progress", action="store_true")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--validate-only",
            action="store_true",
            help="check the file and write the report; nothing reaches the registry",
        )
        mode.add_argument(
            "--publish", action="store_true", help="import a file validated before with --validate-only"
        )

    def handle(self, *args, **options):
        if options["validate_only"] and options["publish"]:
            raise CommandError("choose --validate-only or --publish, not both")
        source = OrgUnit.objects.filter(code=options["source"]).first()
        if source is None:
            raise CommandError(f"no org unit with code {options['source']!r}")
        templates = MappingTemplate.objects.filter(kind=options["kind"])
        template = (
            templates.filter(name=options["template"]).first() if options["template"] else templates.first()
        )
        if options["template"] and template is None:
            raise CommandError(f"no {options['kind']} mapping template named {options['template']!r}")
        try:
            batch = import_batch_create(
                actor=None,
                kind=options["kind"],
                source=source,
                file_path=options["file"],
                template=template,
                chunk_size=options["chunk_size"],
                validate_only=options["validate_only"],
            )
            if options["publish"]:
                if batch.validate_only and batch.status != ImportStatus.VALIDATED:
                    raise CommandError(
                        f"batch {batch.pk} is still being validated ({batch.status}): "
                        "run it again with --validate-only to finish, then --publish"
                    )
                elif batch.status == ImportStatus.VALIDATED:
                    batch = import_batch_publish(batch=batch, actor=None)
            elif batch.status == ImportStatus.VALIDATED:
                self.stdout.write(
                    f"batch {batch.pk} is validated and not published: "
                    "read its report, then run this command again with --publish"
                )
        except ServiceError as error:
            raise CommandError(f"{error.code}: {error.message}") from None
        if batch.status == ImportStatus.DONE:
            self.stdout.write(f"batch {batch.pk} was already imported completely")
        elif batch.status != ImportStatus.VALIDATED:
            bar = (
                None
                if options["no_progress"]
                else tqdm(total=batch.rows_total, unit="rows", desc=f"batch {batch.pk}")
            )
            seen = [batch.rows_read]
            if bar is not None:
                bar.update(batch.rows_read)

            def progress(current):
                if bar is not None:
                    bar.update(current.rows_read - seen[0])
                seen[0] = current.rows_read

            batch = import_batch_run(batch=batch, progress=progress)
            if bar is not None:
                bar.close()
        would = "would be " if batch.status == ImportStatus.VALIDATED else ""
        self.stdout.write(
            f"batch {batch.pk} {batch.status}: read {batch.rows_read}, {would}created {batch.rows_created}, "
            f"{would}updated {batch.rows_updated}, {would}unchanged {batch.rows_unchanged}, "
            f"rejected {batch.rows_rejected}"
        )
        if batch.error:
            self.stderr.write(batch.error)
        if options["report"]:
            report_workbook(batch, options["report"])
            self.stdout.write(f"report written to {options['report']}")
        if batch.status == ImportStatus.FAILED:
            raise CommandError("import failed")
