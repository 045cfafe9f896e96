"""`zhiwang locate --input points.csv --lon-column C --lat-column C --output out.csv`.

For data stewards: every row of a CSV gets the grid, community, subdistrict and
district (codes and names) of its point, plus a status. The file is streamed in
chunks through the batch locator, so memory stays flat for any file size; the
output appears under its name only when complete.

Input encoding: UTF-8 with or without BOM, else GB18030 (a superset of GBK, what
Excel on Chinese Windows writes). Output: UTF-8 with BOM by default, so Excel
opens it with the Chinese intact.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from zhiwang.core.errors import ServiceError
from zhiwang.geo.crs import check_crs, check_point
from zhiwang.geo.locator import get_index, to_wgs84_many

OUTPUT_COLUMNS = (
    "grid_code",
    "grid_name",
    "community_code",
    "community_name",
    "subdistrict_code",
    "subdistrict_name",
    "district_code",
    "district_name",
    "locate_status",
    "locate_note",
)
STATUS_OK = "ok"
STATUS_OUTSIDE = "outside_city"
STATUS_INVALID = "invalid_coordinate"

_BLOCK = 1 << 20


@dataclass
class LocateCsvReport:
    encoding: str
    rows: int = 0
    statuses: dict[str, int] = field(
        default_factory=lambda: {STATUS_OK: 0, STATUS_OUTSIDE: 0, STATUS_INVALID: 0}
    )


def detect_encoding(path: Path) -> tuple[str, int]:
    """(encoding, number of lines) after one streaming pass: UTF-8 (BOM or not), else GB18030."""
    with path.open("rb") as fh:
        head = fh.read(3)
    if head == codecs.BOM_UTF8:
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    error = None
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        lines = 0
        try:
            with path.open("rb") as fh:
                while block := fh.read(_BLOCK):
                    decoder.decode(block)
                    lines += block.count(b"\n")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            error = exc
            continue
        return encoding, lines
    raise ServiceError(
        "geo.file_encoding",
        _("%(path)s is neither UTF-8 nor GBK text (%(error)s).") % {"path": path.name, "error": error},
        field="input",
    )


def locate_csv(
    *,
    input_path: Path | str,
    output_path: Path | str,
    lon_column: str,
    lat_column: str,
    crs: str = "wgs84",
    chunk_size: int = 10_000,
    output_encoding: str = "utf-8-sig",
    delimiter: str = ",",
    progress: Callable[[int, int], None] | None = None,
) -> LocateCsvReport:
    """Copy a CSV, appending ``OUTPUT_COLUMNS`` to every row; one locate index for the whole file.

    Raises ``ServiceError`` (``geo.file_unreadable``, ``geo.file_encoding``, ``geo.csv_empty``,
    ``geo.column_missing``, ``geo.column_conflict``, ``geo.output_is_input``, ``geo.unknown_crs``)
    before writing anything. A bad coordinate never stops the run: its row gets
    ``invalid_coordinate`` and the reason. ``progress(rows done, rows expected)`` is
    called per chunk (expected counts lines, so a quoted multi-line field overestimates).
    """
    crs = check_crs(crs)
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise ServiceError(
            "geo.file_unreadable",
            _("Cannot read %(path)s: no such file.") % {"path": input_path},
            field="input",
        )
    if output_path.resolve() == input_path.resolve():
        raise ServiceError(
            "geo.output_is_input", _("The output must be another file than the input."), field="output"
        )
    encoding, lines = detect_encoding(input_path)
    report = LocateCsvReport(encoding=encoding)
    index = get_index()
    partial = output_path.with_name(output_path.name + ".part")
    with input_path.open(encoding=encoding, newline="") as src:
        reader = csv.reader(src, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise ServiceError(
                "geo.csv_empty", _("%(path)s has no header row.") % {"path": input_path.name}, field="input"
            )
        names = [name.strip() for name in header]
        missing = [column for column in (lon_column, lat_column) if column not in names]
        if missing:
            raise ServiceError(
                "geo.column_missing",
                _("The input has no column %(missing)s; its columns are: %(columns)s.")
                % {"missing": ", ".join(missing), "columns": ", ".join(names)},
                field="lon_column" if lon_column in missing else "lat_column",
            )
        clashes = [column for column in OUTPUT_COLUMNS if column in names]
        if clashes:
            raise ServiceError(
                "geo.column_conflict",
                _("The input already has the output columns %(columns)s; rename them first.")
                % {"columns": ", ".join(clashes)},
                field="input",
            )
        lon_at, lat_at = names.index(lon_column), names.index(lat_column)
        width = len(header)
        try:
            with partial.open("w", encoding=output_encoding, newline="") as out:
                writer = csv.writer(out, delimiter=delimiter)
                writer.writerow([*header, *OUTPUT_COLUMNS])
                chunk: list[list[str]] = []
                for row in reader:
                    if not row:
                        continue  # a blank line carries no point
                    if len(row) < width:
                        row += [""] * (width - len(row))
                    chunk.append(row)
                    if len(chunk) >= chunk_size:
                        _locate_chunk(
                            chunk, writer, index, lon_at, lat_at, lon_column, lat_column, crs, report
                        )
                        if progress:
                            progress(report.rows, max(lines - 1, report.rows))
                        chunk = []
                if chunk:
                    _locate_chunk(chunk, writer, index, lon_at, lat_at, lon_column, lat_column, crs, report)
                if progress:
                    progress(report.rows, report.rows)
            os.replace(partial, output_path)
        finally:
            partial.unlink(missing_ok=True)
    return report


def _locate_chunk(chunk, writer, index, lon_at, lat_at, lon_column, lat_column, crs, report) -> None:
    n = len(chunk)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    reasons: dict[int, str] = {}
    for i, row in enumerate(chunk):
        try:
            xs[i], ys[i] = check_point(
                row[lon_at].strip(), row[lat_at].strip(), lon_field=lon_column, lat_field=lat_column
            )
        except ServiceError as exc:
            reasons[i] = exc.message
    xs, ys = to_wgs84_many(xs, ys, crs)
    found = index.resolve(xs, ys)
    grids, divisions = index.grid_places, index.division_places
    outside = _("No boundary of the city holds this point.")
    coarse = _("No grid holds this point; located to its %(level)s.")
    for i, (row, g, c, s, d) in enumerate(
        zip(
            chunk,
            found.grid.tolist(),
            found.community.tolist(),
            found.subdistrict.tolist(),
            found.district.tolist(),
            strict=True,
        )
    ):
        cells: list[str] = []
        for places, at in ((grids, g), (divisions, c), (divisions, s), (divisions, d)):
            cells += (places[at].code, places[at].name) if at >= 0 else ("", "")
        if i in reasons:
            status, note = STATUS_INVALID, reasons[i]
        elif d < 0 and s < 0 and c < 0 and g < 0:
            status, note = STATUS_OUTSIDE, outside
        elif g < 0:
            level = "community" if c >= 0 else "subdistrict" if s >= 0 else "district"
            status, note = STATUS_OK, coarse % {"level": level}
        else:
            status, note = STATUS_OK, ""
        report.statuses[status] += 1
        writer.writerow([*row, *cells, status, note])
    report.rows += n


class Command(BaseCommand):
    help = (
        "Locate every row of a CSV file: append grid, community, subdistrict and district codes and names, "
        "and a status (ok / outside_city / invalid_coordinate)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="CSV with a header row (UTF-8 or GBK)")
        parser.add_argument(
            "--output", required=True, help="CSV to write (UTF-8 with BOM unless --output-encoding)"
        )
        parser.add_argument("--lon-column", required=True)
        parser.add_argument("--lat-column", required=True)
        parser.add_argument("--crs", default="wgs84", help="wgs84 (default) or gcj02")
        parser.add_argument("--chunk-size", type=int, default=10_000)
        parser.add_argument(
            "--output-encoding", default="utf-8-sig", choices=["utf-8-sig", "utf-8", "gb18030"]
        )
        parser.add_argument("--delimiter", default=",")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["chunk_size"] < 1:
            raise CommandError(_("--chunk-size must be at least 1."))
        # tqdm writes to stderr, so stdout stays a clean summary.
        bar = tqdm(desc=_("locating"), unit="row", disable=options["no_progress"])

        def progress(done: int, expected: int) -> None:
            bar.total = expected
            bar.update(done - bar.n)

        try:
            report = locate_csv(
                input_path=options["input"],
                output_path=options["output"],
                lon_column=options["lon_column"],
                lat_column=options["lat_column"],
                crs=options["crs"],
                chunk_size=options["chunk_size"],
                output_encoding=options["output_encoding"],
                delimiter=options["delimiter"],
                progress=progress,
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(rows)s rows (read as %(encoding)s): %(ok)s located, %(outside)s outside the city, "
                    "%(invalid)s with invalid coordinates → %(output)s"
                )
                % {
                    "rows": report.rows,
                    "encoding": report.encoding,
                    "ok": report.statuses[STATUS_OK],
                    "outside": report.statuses[STATUS_OUTSIDE],
                    "invalid": report.statuses[STATUS_INVALID],
                    "output": options["output"],
                }
            )
        )
