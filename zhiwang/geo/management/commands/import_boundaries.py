"""`zhiwang import-boundaries FILE.geojson --level ...`: real boundaries for divisions or grids.

A thin wrapper over ``geo.boundaries``: read, import, print the report. Exits
non-zero (CommandError) with one line per rejected feature when nothing was imported.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from zhiwang.core.errors import ServiceError
from zhiwang.geo.boundaries import (
    IMPORT_LEVELS,
    MATCH_CHOICES,
    BoundaryImportRejected,
    ImportReport,
    boundaries_import,
    boundaries_read,
)
from zhiwang.geo.models import DivisionLevel


class Command(BaseCommand):
    help = (
        "Import boundaries from a GeoJSON file for the divisions of one level (matched by code or name) "
        "or for grids (by 15-digit grid code). All or nothing unless --skip-unmatched."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="GeoJSON FeatureCollection (or single Feature) of Polygon/MultiPolygon"
        )
        parser.add_argument("--level", required=True, choices=[str(level) for level in IMPORT_LEVELS])
        # Not argparse choices: the service answers an unknown CRS with its own error (geo.unknown_crs).
        parser.add_argument("--crs", default="wgs84", help="wgs84 (default) or gcj02; stored as WGS84")
        parser.add_argument("--match", default="code", choices=MATCH_CHOICES)
        parser.add_argument(
            "--code-property",
            default="code",
            help="property holding the code: 12 digits, or 6 (district) / 9 (subdistrict); 15 for grids",
        )
        parser.add_argument("--name-property", default="name", help="property holding the name")
        parser.add_argument(
            "--skip-unmatched", action="store_true", help="import the matched features and list the others"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        try:
            features = boundaries_read(options["file"])
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        # tqdm writes to stderr, so stdout stays a clean report.
        bar = tqdm(
            total=len(features),
            desc=_("checking features"),
            unit="feature",
            disable=options["no_progress"] or len(features) < 200,
        )
        try:
            report = boundaries_import(
                features=features,
                level=options["level"],
                crs=options["crs"],
                match=options["match"],
                code_property=options["code_property"],
                name_property=options["name_property"],
                skip_unmatched=options["skip_unmatched"],
                dry_run=options["dry_run"],
                progress=lambda done, total: bar.update(done - bar.n),
            )
        except BoundaryImportRejected as exc:
            bar.close()
            self._notes(exc.report)
            lines = [f"{exc.code}: {exc.message}"]
            lines += [f"  [{issue.code}] {issue.describe()}" for issue in exc.report.problems]
            raise CommandError("\n".join(lines)) from exc
        except ServiceError as exc:
            bar.close()
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        bar.close()
        self._notes(report)
        for issue in report.unmatched:
            self.stdout.write(
                self.style.WARNING(
                    _("skipped: [%(code)s] %(issue)s")
                    % {
                        "code": issue.code,
                        "issue": issue.describe(),
                    }
                )
            )
        values = {
            # the level's own word (区, 街道, 社区, 网格), not its code
            "level": _level_label(report.level),
            "created": len(report.created),
            "updated": len(report.updated),
            "skipped": len(report.unmatched),
            "total": report.features,
        }
        if report.dry_run:
            message = _(
                "Dry run, nothing written: %(created)s %(level)s boundaries would be created and %(updated)s "
                "replaced; %(skipped)s of %(total)s features skipped."
            )
        else:
            message = _(
                "Imported %(level)s boundaries: %(created)s created, %(updated)s replaced; "
                "%(skipped)s of %(total)s features skipped."
            )
        self.stdout.write(self.style.SUCCESS(message % values))

    def _notes(self, report: ImportReport) -> None:
        for note in report.notes:
            self.stdout.write(self.style.NOTICE(_("note: %(issue)s") % {"issue": note.describe()}))


def _level_label(level: str) -> str:
    if level == "grid":
        return str(_("grid"))
    try:
        return str(DivisionLevel(level).label)
    except ValueError:
        return level
