"""``locate(lon, lat)``: point → grid → community → subdistrict → district.

One in-memory index per process, built from the stored polygons with shapely's
STRtree (one tree per level) and rebuilt when ``GeoIndexVersion`` changes, so
every web node answers the same without shared state.

Which polygons win: the finest level that contains the point decides the chain,
unless a coarser level has an *imported* (real) boundary that disagrees with it;
then the finer synthetic hit is dropped. So once real boundaries are loaded the
most detailed real polygons are used, and synthetic grids only refine them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.geo.crs import check_point, to_wgs84
from zhiwang.geo.models import Division, DivisionLevel, GeoIndexVersion, GeometrySource, Grid

LEVELS = ("grid", DivisionLevel.COMMUNITY, DivisionLevel.SUBDISTRICT, DivisionLevel.DISTRICT)


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Location:
    """Where a point is: the grid (if any grid contains it) and its divisions."""

    lon: float
    lat: float
    grid: Place | None
    community: Place | None
    subdistrict: Place | None
    district: Place | None

    @property
    def precision(self) -> str:
        for level in ("grid", "community", "subdistrict", "district"):
            if getattr(self, level) is not None:
                return level
        return "none"

    def as_dict(self) -> dict:
        out: dict = {"lon": self.lon, "lat": self.lat, "precision": self.precision}
        for level in ("grid", "community", "subdistrict", "district"):
            place = getattr(self, level)
            out[level] = None if place is None else {"code": place.code, "name": place.name}
        return out


@dataclass
class _Division:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class GeoIndex:
    """Polygons of every level in STRtrees, plus the division tree to walk up."""

    def __init__(self, *, version: int, divisions: dict[int, _Division], trees: dict[str, tuple], grid_places: dict[int, tuple[Place, int]]):
        self.version = version
        self.divisions = divisions
        # level -> (STRtree, ids array, imported flags array)
        self.trees = trees
        # grid id -> (Place, community id)
        self.grid_places = grid_places

    @classmethod
    def build(cls) -> GeoIndex:
        version = GeoIndexVersion.objects.filter(key="boundaries").values_list("version", flat=True).first() or 0
        divisions: dict[int, _Division] = {}
        division_geoms: dict[str, list[tuple[int, str, bool]]] = {level: [] for level in LEVELS[1:]}
        for row in Division.objects.values_list("id", "code", "name", "short_name", "level", "parent_id", "geometry", "geometry_source").iterator(chunk_size=2000):
            pk, code, name, short_name, level, parent_id, geometry, source = row
            divisions[pk] = _Division(pk, code, short_name or name, level, parent_id)
            if geometry and level in division_geoms:
                division_geoms[level].append((pk, geometry, source == GeometrySource.IMPORTED))
        trees: dict[str, tuple] = {}
        grid_places: dict[int, tuple[Place, int]] = {}
        grid_rows = []
        for pk, code, name, community_id, geometry, source in Grid.objects.values_list(
            "id", "code", "name", "community_id", "geometry", "geometry_source"
        ).iterator(chunk_size=5000):
            grid_places[pk] = (Place(pk, code, name), community_id)
            grid_rows.append((pk, geometry, source == GeometrySource.IMPORTED))
        for level, rows in (("grid", grid_rows), *division_geoms.items()):
            if not rows:
                continue
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            geoms = shapely.from_geojson([r[1] for r in rows], on_invalid="ignore")
            imported = np.fromiter((r[2] for r in rows), dtype=bool, count=len(rows))
            shapely.prepare(geoms)
            trees[level] = (shapely.STRtree(geoms), ids, imported, geoms)
        return cls(version=version, divisions=divisions, trees=trees, grid_places=grid_places)

    # -- walking the tree ---------------------------------------------------
    def _place(self, division_id: int | None) -> Place | None:
        if division_id is None:
            return None
        d = self.divisions[division_id]
        return Place(d.id, d.code, d.name)

    def _ancestor(self, division_id: int, level: str) -> int | None:
        current = self.divisions.get(division_id)
        while current is not None and current.level != level:
            current = self.divisions.get(current.parent_id) if current.parent_id else None
        return current.id if current else None

    def _chain(self, lon: float, lat: float, grid_id: int | None, division_id: int | None) -> Location:
        grid = None
        if grid_id is not None:
            grid, division_id = self.grid_places[grid_id]
        return Location(
            lon=lon,
            lat=lat,
            grid=grid,
            community=self._place(self._ancestor(division_id, DivisionLevel.COMMUNITY)) if division_id else None,
            subdistrict=self._place(self._ancestor(division_id, DivisionLevel.SUBDISTRICT)) if division_id else None,
            district=self._place(self._ancestor(division_id, DivisionLevel.DISTRICT)) if division_id else None,
        )

    # -- queries ---------------------------------------------------------------
    def _hits(self, points: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per level: (id of the first polygon containing each point or -1, imported flag)."""
        out = {}
        n = len(points)
        for level, (tree, ids, imported, _geoms) in self.trees.items():
            hit = np.full(n, -1, dtype=np.int64)
            hit_imported = np.zeros(n, dtype=bool)
            point_idx, tree_idx = tree.query(points, predicate="intersects")
            # First hit per point wins (a point on a shared edge belongs to the lower tree index).
            order = np.lexsort((tree_idx, point_idx))
            point_idx, tree_idx = point_idx[order], tree_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            hit[point_idx[first]] = ids[tree_idx[first]]
            hit_imported[point_idx[first]] = imported[tree_idx[first]]
            out[level] = (hit, hit_imported)
        return out

    def locate_many(self, lons, lats) -> list[Location | None]:
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        points = shapely.points(lons, lats)
        hits = self._hits(points)
        results: list[Location | None] = []
        empty = (np.full(len(points), -1), np.zeros(len(points), dtype=bool))
        grid_hit, _gi = hits.get("grid", empty)
        division_levels = [lvl for lvl in LEVELS[1:]]
        for i in range(len(points)):
            candidates: list[tuple[str, int]] = []
            if grid_hit[i] >= 0:
                candidates.append(("grid", int(grid_hit[i])))
            for level in division_levels:
                h, _imp = hits.get(level, empty)
                if h[i] >= 0:
                    candidates.append((level, int(h[i])))
            chosen = None
            for idx, (level, pk) in enumerate(candidates):
                division_id = self.grid_places[pk][1] if level == "grid" else pk
                consistent = True
                for coarser_level, coarser_pk in candidates[idx + 1 :]:
                    _h, imp = hits[coarser_level]
                    if imp[i] and self._ancestor(division_id, coarser_level) != coarser_pk:
                        consistent = False
                        break
                if consistent:
                    chosen = (level, pk)
                    break
            if chosen is None:
                results.append(None)
            elif chosen[0] == "grid":
                results.append(self._chain(float(lons[i]), float(lats[i]), chosen[1], None))
            else:
                results.append(self._chain(float(lons[i]), float(lats[i]), None, chosen[1]))
        return results

    def brute_force_grid(self, lon: float, lat: float) -> int | None:
        """Reference implementation for benchmarks and tests: test every grid polygon."""
        if "grid" not in self.trees:
            return None
        _tree, ids, _imported, geoms = self.trees["grid"]
        point = shapely.Point(lon, lat)
        for pk, geom in zip(ids, geoms, strict=True):
            if geom is not None and geom.intersects(point):
                return int(pk)
        return None


_lock = threading.Lock()
_state: dict = {"index": None, "checked_at": 0.0}


def current_version() -> int:
    return GeoIndexVersion.objects.filter(key="boundaries").values_list("version", flat=True).first() or 0


def get_index() -> GeoIndex:
    """The process-wide index, rebuilt when the stored boundaries changed."""
    interval = getattr(settings, "ZHIWANG_GEO_INDEX_CHECK_SECONDS", 5)
    now = time.monotonic()
    index = _state["index"]
    if index is not None and now - _state["checked_at"] < interval:
        return index
    version = current_version()
    with _lock:
        index = _state["index"]
        if index is None or index.version != version:
            index = GeoIndex.build()
            _state["index"] = index
        _state["checked_at"] = now
    return index


def reset_index() -> None:
    with _lock:
        _state["index"] = None
        _state["checked_at"] = 0.0


def locate(lon, lat, *, crs: str = "wgs84") -> Location:
    """Locate one point. Raises ``ServiceError('geo.outside_city')`` when no polygon holds it."""
    lon, lat = check_point(lon, lat)
    lon, lat = to_wgs84(lon, lat, crs)
    result = get_index().locate_many([lon], [lat])[0]
    if result is None:
        raise ServiceError(
            "geo.outside_city",
            _("The point (%(lon).6f, %(lat).6f) is outside every known boundary of the city.") % {"lon": lon, "lat": lat},
            field="lon",
        )
    return result


def locate_many(lons, lats, *, crs: str = "wgs84") -> list[Location | None]:
    """Locate many points at once (None for a point outside the city)."""
    if crs != "wgs84":
        pairs = [to_wgs84(float(x), float(y), crs) for x, y in zip(lons, lats, strict=True)]
        lons = [p[0] for p in pairs]
        lats = [p[1] for p in pairs]
    return get_index().locate_many(lons, lats)
