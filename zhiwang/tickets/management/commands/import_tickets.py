"""``zhiwang import-tickets``: the hotline batch import (a CSV or Excel file of calls → tickets).

Idempotent: rows already imported (same channel + call id) are reported, not written again, so
a broken-off import is finished by running the same command again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from zhiwang.accounts.models import User
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.hotline_import import BATCH_ROWS, field_label, import_tickets, write_report
from zhiwang.tickets.models import Channel


class Command(BaseCommand):
    help = "Import hotline calls from a CSV/Excel file as tickets (run again to resume; retries are safe)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (UTF-8 or GBK) or .xlsx file, one call per row")
        parser.add_argument("--channel", default=Channel.HOTLINE, choices=list(Channel.values))
        parser.add_argument("--operator", help="username recorded as the intake operator of every row")
        parser.add_argument("--report", help="write the row-by-row report (CSV) here")
        parser.add_argument("--validate-only", action="store_true", help="check every row; write nothing")
        parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="rows per transaction")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        actor = None
        if options["operator"]:
            actor = User.objects.filter(username=options["operator"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user named {options['operator']!r}")
        if not 1 <= options["batch_rows"] <= 1000:
            raise CommandError("--batch-rows must be between 1 and 1000")
        bar = None if options["no_progress"] else tqdm(unit="row", desc="import", file=self.stderr._out)

        def progress(done: int, total: int | None) -> None:
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)

        try:
            summary = import_tickets(
                options["file"],
                channel=options["channel"],
                actor=actor,
                validate_only=options["validate_only"],
                progress=progress,
                batch_rows=options["batch_rows"],
            )
        except ServiceError as error:
            raise CommandError(f"{error.code}: {error.message}") from None
        finally:
            if bar is not None:
                bar.close()
        if options["report"]:
            write_report(summary, options["report"])
        totals = summary.totals
        verb = "would be created" if options["validate_only"] else "created"
        self.stdout.write(
            f"{totals['created']} {verb}, {totals['existing']} imported before, {totals['refused']} refused"
            + (f"; report: {options['report']}" if options["report"] else "")
        )
        for row in [r for r in summary.rows if r.outcome == "refused"][:10]:
            self.stdout.write(f"  row {row.row}: {row.code} [{refused_column(row)}] {row.message}")


def refused_column(row) -> str:
    """The column a refused row is reported under, as the web import's report names it: the file's
    own header for the field, else the field's usual (Chinese) header (``hotline_import.field_label``);
    "—" for a refusal of no column. Never the pipeline's field name: the operator knows the file."""
    return row.column or (field_label(row.field) if row.field else "—")
