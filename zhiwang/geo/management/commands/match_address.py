"""`zhiwang match-address --input file.csv --column C --output out.csv`.

For data stewards: every row of a CSV (UTF-8 or GBK) or .xlsx file gets the
district, subdistrict and community (codes and names), the standard address
code, the level reached and the confidence of its free-text address column.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from zhiwang.core.errors import ServiceError
from zhiwang.geo.addressing.batch import match_file


class Command(BaseCommand):
    help = (
        "Match the free-text address column of a CSV or .xlsx file: append district, subdistrict and "
        "community codes and names, the standard address code, the level reached and the confidence."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="CSV (UTF-8 or GBK) or .xlsx with a header row")
        parser.add_argument("--output", required=True, help="CSV (UTF-8 with BOM) or .xlsx to write")
        parser.add_argument("--column", required=True, help="the header of the address column")
        parser.add_argument("--chunk-size", type=int, default=2_000)
        parser.add_argument("--delimiter", default=",")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["chunk_size"] < 1:
            raise CommandError(_("--chunk-size must be at least 1."))
        bar = tqdm(desc=_("matching addresses"), unit="row", disable=options["no_progress"])

        def progress(done: int, expected: int) -> None:
            bar.total = expected
            bar.update(done - bar.n)

        try:
            report = match_file(
                input_path=options["input"],
                output_path=options["output"],
                column=options["column"],
                chunk_size=options["chunk_size"],
                delimiter=options["delimiter"],
                progress=progress,
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            bar.close()
        levels = ", ".join(f"{level} {count}" for level, count in sorted(report.levels.items()))
        self.stdout.write(
            self.style.SUCCESS(
                _("%(rows)s rows (read as %(encoding)s) matched: %(levels)s → %(output)s")
                % {
                    "rows": report.rows,
                    "encoding": report.encoding,
                    "levels": levels,
                    "output": options["output"],
                }
            )
        )
