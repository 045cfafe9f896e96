"""Every write of the geo app: divisions, grids, addresses, boundary versions, counters."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, FieldError, ServiceError
from zhiwang.geo.crs import check_point
from zhiwang.geo.models import (
    LEVEL_PREFIX_LENGTH,
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


#: The level of a division's parent, one up (DOMAIN.md, "Codes and identifiers"); a city has none.
PARENT_LEVEL = {
    DivisionLevel.DISTRICT: DivisionLevel.CITY,
    DivisionLevel.SUBDISTRICT: DivisionLevel.DISTRICT,
    DivisionLevel.COMMUNITY: DivisionLevel.SUBDISTRICT,
}
#: Where a level's own digits start in the 12-digit code: province 2, city 2, district 2,
#: subdistrict 3, community 3; the level's own digits end at ``LEVEL_PREFIX_LENGTH``.
_OWN_DIGITS_FROM = {
    DivisionLevel.CITY: 2,
    DivisionLevel.DISTRICT: 4,
    DivisionLevel.SUBDISTRICT: 6,
    DivisionLevel.COMMUNITY: 9,
}


def level_word(level: str) -> str:
    """The level as a word inside a sentence (``DivisionLevel`` labels are translated)."""
    return str(DivisionLevel(level).label).lower()


def _code_layout(level: str) -> str:
    return {
        DivisionLevel.CITY: _("4 digits, the last two not 00, then 8 zeros (e.g. 440300000000)"),
        DivisionLevel.DISTRICT: _("6 digits, the last two not 00, then 6 zeros (e.g. 440305000000)"),
        DivisionLevel.SUBDISTRICT: _("9 digits, the last three not 000, then 000 (e.g. 440305001000)"),
        DivisionLevel.COMMUNITY: _("12 digits, the last three not 000 (e.g. 440305001001)"),
    }[level]


def division_code_problems(code: str, level: str) -> list[FieldError]:
    """Whether ``code`` is a code of ``level``: 12 ASCII digits, the level's own digits not all
    zero and every digit after them zero (DOMAIN.md: district 6 + subdistrict 3 + community 3).

    A subdistrict 440305001777 would otherwise take the code prefix of 南头街道 (440305001), and a
    community 440305000000 all of Nanshan: jurisdictions and lists are code-prefix scans.
    """
    if not DIVISION_CODE_RE.fullmatch(code or ""):
        return [
            FieldError(
                "code",
                "geo.division_code_invalid",
                _("%(code)s is not a 12-digit division code.") % {"code": code or "∅"},
            )
        ]
    own = code[_OWN_DIGITS_FROM[level] : LEVEL_PREFIX_LENGTH[level]]
    if own.strip("0") and not code[LEVEL_PREFIX_LENGTH[level] :].strip("0"):
        return []
    return [
        FieldError(
            "code",
            "geo.division_code_level",
            _("%(code)s is not a %(level)s code: %(layout)s.")
            % {"code": code, "level": level_word(level), "layout": _code_layout(level)},
        )
    ]


def division_parent_problems(code: str, level: str, parent: Division | None) -> list[FieldError]:
    """Whether ``parent`` can hold a division of ``level`` and ``code``: a city has no parent, any
    other division's parent is of the level one up and its code starts with the parent's prefix."""
    if level == DivisionLevel.CITY:
        if parent is None:
            return []
        return [FieldError("parent", "geo.division_city_parent", _("A city has no parent division."))]
    wanted = PARENT_LEVEL[level]
    if parent is None:
        return [
            FieldError(
                "parent",
                "geo.division_parent_missing",
                _("A %(level)s needs its %(parent_level)s as parent.")
                % {"level": level_word(level), "parent_level": level_word(wanted)},
            )
        ]
    if parent.level != wanted:
        return [
            FieldError(
                "parent",
                "geo.division_parent_level",
                _("The parent of a %(level)s is a %(parent_level)s; %(parent)s is a %(actual)s.")
                % {
                    "level": level_word(level),
                    "parent_level": level_word(wanted),
                    "parent": f"{parent.code} {parent.name}",
                    "actual": level_word(parent.level),
                },
            )
        ]
    if not code.startswith(parent.code_prefix):
        return [
            FieldError(
                "code",
                "geo.division_outside_parent",
                _("%(code)s does not lie under its parent %(parent)s: its code must start with %(prefix)s.")
                % {"code": code, "parent": f"{parent.code} {parent.name}", "prefix": parent.code_prefix},
            )
        ]
    return []


def division_problems(
    *, code: str, level: str, parent: Division | None, lon=None, lat=None
) -> list[FieldError]:
    """Every check of a new division, as ``divisions_load_csv`` makes them (the admin's add form
    calls it): the code fits the level, the parent is one level up and holds the code, and the
    approximate point, when given, is a longitude/latitude pair. Fields: code, parent, lon, lat."""
    problems = division_code_problems(code, level)
    if not problems:
        problems = division_parent_problems(code, level, parent)
    problems += coordinate_problems(lon, lat)
    return problems


def coordinate_problems(lon, lat, *, lon_field: str = "lon", lat_field: str = "lat") -> list[FieldError]:
    """The problem with an optional longitude/latitude pair (each blank, or a number in range)."""
    try:
        check_point(
            0 if lon in (None, "") else lon,
            0 if lat in (None, "") else lat,
            lon_field=lon_field,
            lat_field=lat_field,
        )
    except ServiceError as exc:
        return exc.fields
    return []


def grid_problems(*, code: str, community: Division | None) -> list[FieldError]:
    """Every check of a new grid (the admin's add form calls it; ``import-boundaries`` makes the
    same): a 15-digit code = its community's 12-digit code + a sequence from 001, in a community."""
    try:
        code = validate_grid_code(code)
    except ServiceError as exc:
        return exc.fields
    if community is None:
        return []  # the form says the community is required
    if community.level != DivisionLevel.COMMUNITY:
        return [
            FieldError(
                "community",
                "geo.grid_community_level",
                _("A grid lies in a community; %(division)s is a %(level)s.")
                % {"division": f"{community.code} {community.name}", "level": level_word(community.level)},
            )
        ]
    if code[:12] != community.code:
        return [
            FieldError(
                "code",
                "geo.grid_outside_community",
                _("Grid %(code)s is not in community %(community)s: its code must start with %(prefix)s.")
                % {"code": code, "community": f"{community.code} {community.name}", "prefix": community.code},
            )
        ]
    return []


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
    written; one bad row aborts the whole load with every problem listed: a code that does not
    fit its level (``division_code_problems``), an approximate point that is not a
    longitude/latitude pair; after the rows, a parent that is not one level up
    (``geo.division_parent_level``) or whose prefix the code does not start with.

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
        if level is None and not DIVISION_CODE_RE.fullmatch(code):
            errors.add(
                f"{where}.code",
                "geo.division_code_invalid",
                _("%(code)s is not a 12-digit division code.") % {"code": code},
            )
        elif level is not None:
            # the code's shape says its level: a subdistrict's ends in 000, a community's does not
            for problem in division_code_problems(code, level):
                errors.add(f"{where}.code", problem.code, problem.message)
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
        for column, bound in (("approx_lon_wgs84", 180), ("approx_lat_wgs84", 90)):
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
                continue
            if value and abs(float(value)) > bound:  # not a longitude / latitude (swapped, projected)
                errors.add(
                    f"{where}.{column}",
                    "geo.out_of_range",
                    _("%(field)s is out of range: %(value)s") % {"field": column, "value": value},
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
        wrong_level = [
            problem
            for problem in division_parent_problems(division.code, division.level, parent)
            if problem.code == "geo.division_parent_level"
        ]
        if wrong_level:  # a community straight under a district: no code prefix can be right
            errors.add(f"{division.code}.parent_code", wrong_level[0].code, wrong_level[0].message)
        elif parent is not None and not division.code.startswith(parent.code_prefix):
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


#: Counters are summed bottom-up: a division's children are counted before it.
_STATS_DEPTH = {
    DivisionLevel.COMMUNITY: 3,
    DivisionLevel.SUBDISTRICT: 2,
    DivisionLevel.DISTRICT: 1,
    DivisionLevel.CITY: 0,
}
COUNTERS = ("grid_count", "building_count", "room_count")


def _lock_divisions(queryset):
    """``queryset`` with its rows locked, in primary-key order: the one order every counter write
    of the geo app takes (``division_stats_refresh`` locks every row, a chain recount its chain),
    so two of them never wait for each other crosswise.

    ``FOR NO KEY UPDATE`` where the database has it (PostgreSQL): it does not wait for the key
    share lock that inserting a grid or an address takes on its community, so a write that
    inserts first and recounts after cannot deadlock with a refresh that locks first. SQLite
    locks no rows (one writer at a time for the whole database).
    """
    no_key = connection.features.has_select_for_no_key_update
    return queryset.select_for_update(no_key=no_key).order_by("pk")


def _own_counts(fields: Iterable[str], division_ids: list[int] | None) -> dict[str, dict[int, int]]:
    """What each of ``fields`` counts in a division's own rows (grids, buildings, rooms whose
    ``community`` is the division), grouped by division; divisions with none are left out.
    ``division_ids`` None: every division (one scan, no id list)."""
    own: dict[str, dict[int, int]] = {}
    grids, addresses = Grid.objects.all(), StandardAddress.objects.all()
    if division_ids is not None:
        grids = grids.filter(community_id__in=division_ids)
        addresses = addresses.filter(community_id__in=division_ids)
    if "grid_count" in fields:
        own["grid_count"] = dict(
            grids.values_list("community_id").annotate(n=Count("id")).values_list("community_id", "n")
        )
    levels = {"building_count": AddressLevel.BUILDING, "room_count": AddressLevel.ROOM}
    wanted = {levels[f]: f for f in fields if f in levels}
    if wanted:
        for f in wanted.values():
            own[f] = {}
        # one grouped count on the (community, level) index for both counters
        rows = (
            addresses.filter(level__in=list(wanted))
            .values_list("community_id", "level")
            .annotate(n=Count("id"))
            .values_list("community_id", "level", "n")
        )
        for community_id, level, n in rows:
            own[wanted[level]][community_id] = n
    return own


@transaction.atomic
def division_stats_refresh() -> None:
    """Recount grids, buildings and rooms per division (bottom-up, grouped queries only).

    Every division row is locked first (``_lock_divisions``, primary-key order) and only then
    are the grids and addresses counted: a chain recount of the admin
    (``division_chain_counts_refresh``) that holds some of the rows makes this wait until it
    commits, and then the counts read here include its rows; one that comes later waits for this
    transaction and then recounts from what it wrote. Without the lock first, a refresh that
    counted before an admin save committed would write its older counts over the admin's.
    (PostgreSQL's default READ COMMITTED: each statement after the lock sees what committed
    before it. The counts are exact for writes that lock as these do; see docs/geo.md.)
    """
    divisions = list(_lock_divisions(Division.objects.only("id", "parent_id", "level")))
    own = _own_counts(COUNTERS, None)
    by_id = {d.id: d for d in divisions}
    totals = {d.id: [own[f].get(d.id, 0) for f in COUNTERS] for d in divisions}
    for division in sorted(divisions, key=lambda d: -_STATS_DEPTH[d.level]):
        if division.parent_id and division.parent_id in by_id:
            parent_total = totals[division.parent_id]
            for i, value in enumerate(totals[division.id]):
                parent_total[i] += value
    for division in divisions:
        division.grid_count, division.building_count, division.room_count = totals[division.id]
    Division.objects.bulk_update(divisions, list(COUNTERS), batch_size=500)


def _chain_ids(division_ids: set[int]) -> set[int]:
    """``division_ids`` and all their ancestors, by the parent links, read without locking (four
    parent hops per query: a Shenzhen chain from a community in one)."""
    hops = (
        "parent_id",
        "parent__parent_id",
        "parent__parent__parent_id",
        "parent__parent__parent__parent_id",
    )
    found: set[int] = set()
    frontier = set(division_ids)
    while frontier:
        tops: set[int] = set()
        for pk, *ancestors in Division.objects.filter(pk__in=frontier).values_list("pk", *hops):
            found.add(pk)
            found.update(a for a in ancestors[:-1] if a is not None)
            if ancestors[-1] is not None:
                tops.add(ancestors[-1])
        frontier = tops - found
    return found


@transaction.atomic
def division_chain_counts_refresh(division_ids: Iterable[int], *, fields: Iterable[str] = COUNTERS) -> None:
    """Recount ``fields`` (of ``COUNTERS``) of these divisions and of their ancestors, and of
    nothing else: the communities whose grids or addresses were added, moved or deleted one by
    one, as in the admin.

    Each gets what ``division_stats_refresh`` gives it: its own rows plus the stored counts of
    its children, deepest level first. That is a few grouped queries per level (rows counted by
    community on an index, children summed by parent) instead of the full refresh's walk over
    every address. The chain's rows are locked first, in primary-key order as the full refresh
    locks them (``_lock_divisions``), and counted after: two saves in one community both count
    (the second waits for the first to commit, then sees its row), and a concurrent full refresh
    either finishes before the recount reads or reads after it commits.
    """
    fields = tuple(f for f in COUNTERS if f in set(fields))
    ids = {pk for pk in division_ids if pk is not None}
    if not ids or not fields:
        return
    chain: dict[int, Division] = {}
    missing = _chain_ids(ids)
    while missing:
        # Normally one pass. A parent that changed between the walk and the lock (a divisions
        # load committing meanwhile) adds the new ancestors in a second pass, which locks them
        # out of the common order: PostgreSQL may then report a deadlock and roll one back.
        found = list(
            _lock_divisions(Division.objects.filter(pk__in=missing)).only("id", "parent_id", "level", *fields)
        )
        if not found:  # deleted meanwhile: nothing left to count
            break
        chain.update((d.pk, d) for d in found)
        missing = (
            _chain_ids({d.parent_id for d in chain.values() if d.parent_id} - chain.keys()) - chain.keys()
        )
    for depth in sorted({_STATS_DEPTH[d.level] for d in chain.values()}, reverse=True):
        ids_here = [pk for pk, d in chain.items() if _STATS_DEPTH[d.level] == depth]
        own = _own_counts(fields, ids_here)
        below = (
            Division.objects.filter(parent_id__in=ids_here)
            .values_list("parent_id")
            .annotate(**{f"below_{f}": Sum(f) for f in fields})
            .values_list("parent_id", *(f"below_{f}" for f in fields))
        )
        below = {row[0]: row[1:] for row in below}
        for pk in ids_here:
            sums = below.get(pk, (0,) * len(fields))
            for i, f in enumerate(fields):
                setattr(chain[pk], f, own[f].get(pk, 0) + (sums[i] or 0))
        Division.objects.bulk_update([chain[pk] for pk in ids_here], list(fields))


def division_grid_counts_refresh(division_ids: Iterable[int]) -> None:
    """``grid_count`` of these divisions and their ancestors (a grid added or deleted in the
    admin): ``division_chain_counts_refresh`` without reading any address."""
    division_chain_counts_refresh(division_ids, fields=("grid_count",))


def division_address_counts_refresh(division_ids: Iterable[int]) -> None:
    """``building_count`` and ``room_count`` of these divisions and their ancestors (a building,
    unit or room added, moved or deleted in the admin: pass the old and the new community)."""
    division_chain_counts_refresh(division_ids, fields=("building_count", "room_count"))
