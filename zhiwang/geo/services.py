"""Every write of the geo app: divisions, grids, addresses, boundary versions, counters."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from pathlib import Path

from django.db import transaction
from django.db.models import Count, F
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.geo.models import (
    AddressLevel,
    Division,
    DivisionLevel,
    GeoIndexVersion,
    Grid,
    StandardAddress,
)
from zhiwang.geo.moves import Tree

SHIPPED_DIVISIONS = Path(__file__).resolve().parent / "data" / "shenzhen_divisions.csv"

#: The CSV says "street" for township-level units; the glossary says subdistrict.
CSV_LEVELS = {
    "city": DivisionLevel.CITY,
    "district": DivisionLevel.DISTRICT,
    "street": DivisionLevel.SUBDISTRICT,
    "subdistrict": DivisionLevel.SUBDISTRICT,
    "community": DivisionLevel.COMMUNITY,
}

#: ASCII digits only (``\d`` would take fullwidth and other Unicode digits); used with ``fullmatch``.
DIVISION_CODE_RE = re.compile(r"[0-9]{12}")
GRID_CODE_RE = re.compile(r"[0-9]{15}")


def validate_division_code(code: str, *, field: str = "code") -> str:
    code = (code or "").strip()
    if not DIVISION_CODE_RE.fullmatch(code):
        raise ServiceError(
            "geo.division_code_invalid",
            _("%(code)s is not a 12-digit division code.") % {"code": code or "∅"},
            field=field,
        )
    return code


def validate_grid_code(code: str, *, field: str = "code") -> str:
    """A grid code is 15 digits: 12 of its community, then a 3-digit sequence ≥ 001."""
    code = (code or "").strip()
    if not GRID_CODE_RE.fullmatch(code) or code.endswith("000"):
        raise ServiceError(
            "geo.grid_code_invalid",
            _("%(code)s is not a 15-digit grid code (community code + 3-digit sequence from 001).")
            % {"code": code or "∅"},
            field=field,
        )
    return code


def boundaries_changed() -> int:
    """Bump the boundary version so every process rebuilds its locate index.

    Call inside the transaction that changed grids or division boundaries.
    """
    row, _created = GeoIndexVersion.objects.get_or_create(key="boundaries")
    GeoIndexVersion.objects.filter(pk=row.pk).update(version=F("version") + 1)
    return row.version + 1


@transaction.atomic
def divisions_load_csv(path: Path | str = SHIPPED_DIVISIONS) -> dict[str, int]:
    """Load or update divisions from a CSV in the shipped layout (idempotent upsert).

    Columns: level, code, name, parent_code, short_name, special, approx_lon_wgs84,
    approx_lat_wgs84, and optionally previous_code. Every row is checked before anything is
    written; one bad row aborts the whole load with every problem listed.

    An administrative adjustment (区划调整) moves a division under another parent with a new
    code under it (DOMAIN.md: the code is district 6 + subdistrict 3 + community 3 digits):
    the row gives the new ``code``, the new ``parent_code`` and the old code as
    ``previous_code``, and the existing division takes the new code and parent (same row, so
    everything that points at it follows). A division whose code does not lie under its
    parent's is refused (``geo.division_outside_parent``): the code prefix and the parent
    links are one tree, which jurisdictions, ticket lists and dashboards all rely on.

    Returns the counts and ``moved``: the codes (new ones) of the existing divisions whose
    ancestor chain changed. Their places in records that keep coarse place columns (tickets'
    subdistrict and district, the analytics rollups) are re-derived afterwards by
    ``zhiwang rederive_places`` (the ``load_divisions`` command runs it); the locate index is
    rebuilt (boundary version bumped) and the division counts refreshed in this transaction.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ServiceError(
            "geo.file_unreadable", _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc}
        ) from exc
    errors = ErrorList()
    codes = set()
    for number, row in enumerate(rows, start=2):
        where = f"{path.name}:{number}"
        level = CSV_LEVELS.get((row.get("level") or "").strip())
        if level is None:
            errors.add(
                f"{where}.level",
                "geo.level_invalid",
                _("Unknown level %(level)s") % {"level": row.get("level")},
            )
        code = (row.get("code") or "").strip()
        if not DIVISION_CODE_RE.fullmatch(code):
            errors.add(
                f"{where}.code",
                "geo.division_code_invalid",
                _("%(code)s is not a 12-digit division code.") % {"code": code},
            )
        if code in codes:
            errors.add(
                f"{where}.code",
                "geo.division_code_duplicate",
                _("Division code %(code)s appears twice.") % {"code": code},
            )
        codes.add(code)
        previous = (row.get("previous_code") or "").strip()
        if previous and not DIVISION_CODE_RE.fullmatch(previous):
            errors.add(
                f"{where}.previous_code",
                "geo.division_code_invalid",
                _("%(code)s is not a 12-digit division code.") % {"code": previous},
            )
        if not (row.get("name") or "").strip():
            errors.add(f"{where}.name", "geo.name_missing", _("The name is empty."))
        for column in ("approx_lon_wgs84", "approx_lat_wgs84"):
            value = (row.get(column) or "").strip()
            try:
                if value and not math.isfinite(float(value)):
                    raise ValueError(value)
            except ValueError:
                errors.add(
                    f"{where}.{column}",
                    "geo.not_a_number",
                    _("%(value)s is not a number.") % {"value": value},
                )
    # A division that moves leaves its old code: a row for that code in the same file would
    # quietly make a second division of it (and which row won would depend on the order).
    for number, row in enumerate(rows, start=2):
        previous = (row.get("previous_code") or "").strip()
        if previous and previous != (row.get("code") or "").strip() and previous in codes:
            errors.add(
                f"{path.name}:{number}.previous_code",
                "geo.previous_code_in_file",
                _(
                    "%(code)s is given as a previous code and as a division of the file: a division that moves leaves its old code."
                )
                % {"code": previous},
            )
    errors.raise_if_any("geo.divisions_invalid")
    existing = {d.code: d for d in Division.objects.all()}
    order = {
        DivisionLevel.CITY: 0,
        DivisionLevel.DISTRICT: 1,
        DivisionLevel.SUBDISTRICT: 2,
        DivisionLevel.COMMUNITY: 3,
    }
    rows.sort(key=lambda r: order[CSV_LEVELS[r["level"].strip()]])
    created = updated = 0
    moved: list[Division] = []
    new: list[Division] = []
    for row in rows:
        code = row["code"].strip()
        level = CSV_LEVELS[row["level"].strip()]
        previous = (row.get("previous_code") or "").strip()
        if previous and previous != code and previous in existing:
            if code in existing:
                raise ServiceError(
                    "geo.division_code_taken",
                    _("Division %(previous)s cannot take the code %(code)s: another division has it.")
                    % {"previous": previous, "code": code},
                    field="code",
                )
            # the same division under its new code: tickets, grids and jurisdictions keep pointing at it
            existing[code] = existing.pop(previous)
        parent = existing.get((row.get("parent_code") or "").strip()) if level != DivisionLevel.CITY else None
        if level != DivisionLevel.CITY and parent is None:
            raise ServiceError(
                "geo.parent_missing",
                _("The parent %(parent)s of division %(code)s is not in the file.")
                % {"parent": row.get("parent_code"), "code": code},
                field="parent_code",
            )
        lon = float(row["approx_lon_wgs84"]) if (row.get("approx_lon_wgs84") or "").strip() else None
        lat = float(row["approx_lat_wgs84"]) if (row.get("approx_lat_wgs84") or "").strip() else None
        values = {
            "name": row["name"].strip(),
            "short_name": (row.get("short_name") or "").strip(),
            "level": level,
            "parent": parent,
            "special": (row.get("special") or "").strip()[:64],
        }
        division = existing.get(code)
        if division is None:
            division = Division.objects.create(code=code, lon=lon, lat=lat, **values)
            new.append(division)
            created += 1
        else:
            if division.code != code:
                values["code"] = code
            changed = [k for k, v in values.items() if getattr(division, k) != v]
            if "parent" in changed or "code" in changed:
                moved.append(division)
            for key in changed:
                setattr(division, key, values[key])
            if division.lon is None and lon is not None:
                division.lon, division.lat = lon, lat
                changed += ["lon", "lat"]
            if changed:
                division.save(update_fields=[*changed, "updated_at"])
                updated += 1
        existing[code] = division
    _check_codes_inside_parents(moved, new)
    if moved:
        boundaries_changed()  # every process rebuilds its locate index: the chains changed
        division_stats_refresh()
    return {
        "created": created,
        "updated": updated,
        "total": len(rows),
        "moved": sorted(d.code for d in moved),
    }


def _check_codes_inside_parents(moved: list[Division], new: list[Division]) -> None:
    """Refuse a load after which a division's code does not lie under its parent's code.

    Checks the new divisions, the moved ones and everything below them: a subdistrict that
    takes a new code takes its communities along only if the file gives them new codes too.
    Any problem rolls the whole load back (the caller's transaction).
    """
    if not moved and not new:
        return
    tree = Tree.load()
    inside = tree.subtree(d.pk for d in moved) | {d.pk for d in new}
    divisions = {
        d.pk: d for d in Division.objects.filter(pk__in=inside | {tree.parent[pk] for pk in inside} - {None})
    }
    errors = ErrorList()
    for pk in sorted(inside, key=lambda pk: divisions[pk].code):
        division = divisions[pk]
        parent = divisions.get(division.parent_id)
        if parent is not None and not division.code.startswith(parent.code_prefix):
            errors.add(
                f"{division.code}.parent_code",
                "geo.division_outside_parent",
                _(
                    "Division %(code)s %(name)s is not inside its parent %(parent)s: its code must start "
                    "with %(prefix)s. A division that moves gets a new code under its new parent: give it in "
                    "code, and the old one in previous_code."
                )
                % {
                    "code": division.code,
                    "name": division.name,
                    "parent": parent.code,
                    "prefix": parent.code_prefix,
                },
            )
    errors.raise_if_any("geo.divisions_invalid")


@transaction.atomic
def division_stats_refresh() -> None:
    """Recount grids, buildings and rooms per division (bottom-up, grouped queries only)."""
    grid_counts = Counter(
        dict(
            Grid.objects.values_list("community_id").annotate(n=Count("id")).values_list("community_id", "n")
        )
    )
    building_counts = Counter(
        dict(
            StandardAddress.objects.filter(level=AddressLevel.BUILDING)
            .values_list("community_id")
            .annotate(n=Count("id"))
            .values_list("community_id", "n")
        )
    )
    room_counts = Counter(
        dict(
            StandardAddress.objects.filter(level=AddressLevel.ROOM)
            .values_list("community_id")
            .annotate(n=Count("id"))
            .values_list("community_id", "n")
        )
    )
    divisions = list(Division.objects.only("id", "parent_id", "level"))
    by_id = {d.id: d for d in divisions}
    totals = {d.id: [grid_counts[d.id], building_counts[d.id], room_counts[d.id]] for d in divisions}
    depth = {
        DivisionLevel.COMMUNITY: 3,
        DivisionLevel.SUBDISTRICT: 2,
        DivisionLevel.DISTRICT: 1,
        DivisionLevel.CITY: 0,
    }
    for division in sorted(divisions, key=lambda d: -depth[d.level]):
        if division.parent_id and division.parent_id in by_id:
            parent_total = totals[division.parent_id]
            for i, value in enumerate(totals[division.id]):
                parent_total[i] += value
    for division in divisions:
        division.grid_count, division.building_count, division.room_count = totals[division.id]
    Division.objects.bulk_update(divisions, ["grid_count", "building_count", "room_count"], batch_size=500)
