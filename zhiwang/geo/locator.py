"""``locate(lon, lat)``: point → grid → community → subdistrict → district.

One in-memory index per process, built from the stored polygons (per level: the
prepared shapely polygons and a raster over them, laid out with an STRtree; see
``_Layer``) and rebuilt when ``GeoIndexVersion`` changes, so every web node
answers the same without shared state. Batches are answered with array
arithmetic (no shapely object per point); single calls take the same path
lazily, level by level.

Which polygons win: the finest level that contains the point decides the chain,
unless a coarser level has an *imported* (real) boundary that disagrees with it;
then the finer synthetic hit is dropped. So once real boundaries are loaded the
most detailed real polygons are used, and synthetic grids only refine them.
Spelled out, for the rule to be the same in the single-point and the batch path:

- Inside one level, the polygon that holds the point is an imported one if any
  imported polygon of that level holds it, else the first by load order (a point
  on a shared edge belongs to one polygon only). Synthetic cells may overlap a
  real boundary that replaced their neighbour's; the real one wins.
- A synthetic hit is dropped when any coarser level's hit is imported and is not
  the hit's own ancestor at that level; the next coarser hit is tried.
- An imported hit is never dropped: two real layers that disagree along a border
  (common with data from different sources) keep the finer one.
- The chain above the chosen polygon always comes from the division tree, never
  from the coarser polygons, so grid → community → subdistrict → district is
  consistent by construction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import shapely
from django.conf import settings
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.geo.crs import check_crs, check_point, to_wgs84
from zhiwang.geo.models import Division, DivisionLevel, GeoIndexVersion, GeometrySource, Grid

#: Finest first: the order in which levels are tried.
LEVELS = ("grid", DivisionLevel.COMMUNITY, DivisionLevel.SUBDISTRICT, DivisionLevel.DISTRICT)
DIVISION_LEVELS = LEVELS[1:]
CHAIN = ("grid", "community", "subdistrict", "district")

# Krasovsky ellipsoid constants of the GCJ-02 formula (as in ``geo.crs``).
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


@dataclass(frozen=True, slots=True)
class Place:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
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
        for level in CHAIN:
            if getattr(self, level) is not None:
                return level
        return "none"

    def as_dict(self) -> dict:
        out: dict = {"lon": self.lon, "lat": self.lat, "precision": self.precision}
        for level in CHAIN:
            place = getattr(self, level)
            out[level] = None if place is None else {"code": place.code, "name": place.name}
        return out


#: Marks of a raster cell (any value >= 0 is the polygon that covers the whole cell).
_EMPTY = -1  # no polygon touches the cell
_MIXED = -2  # several polygons, or an edge, cross the cell: test the candidates exactly

#: Raster size: about this many cells per polygon (more cells: more cells fully inside
#: one polygon, so fewer exact tests; but a longer build and more memory).
CELLS_PER_POLYGON = 32
MIN_CELLS = 4_096
MAX_CELLS = 1_500_000
#: Cell boxes are grown by this much (degrees, ~0.1 mm) before the tests, so a point
#: whose cell index is off by floating-point rounding still gets a correct answer.
_CELL_MARGIN = 1e-9


class _Layer:
    """The polygons of one level and a raster over them, so a point is located with
    array arithmetic instead of a geometry per point.

    Each raster cell is either empty, fully covered by the polygon a point in it
    must get (answered from the cell alone), or mixed: then the cell's candidate
    polygons, in order of preference (imported first, then load order), are tested
    exactly on the prepared polygons, and the first that holds the point wins.
    Building the shapely points for a batch and querying an STRtree cost more than
    the whole raster lookup; this is what makes the batch path fast.
    """

    def __init__(self, geoms: np.ndarray, owner: np.ndarray, imported: np.ndarray):
        self.geoms = geoms  # prepared polygons
        self.owner = owner  # dense index of the grid / division each polygon belongs to
        self.imported = imported  # bool per polygon
        self.any_imported = bool(imported.any())
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geoms))
        width, height = max(maxx - minx, 1e-6), max(maxy - miny, 1e-6)
        target = min(max(len(geoms) * CELLS_PER_POLYGON, MIN_CELLS), MAX_CELLS)
        size = float(np.sqrt(width * height / target))
        # One cell more than needed, so a point on the top or right edge of the extent has a cell.
        self.nx, self.ny = int(width / size) + 1, int(height / size) + 1
        self.minx, self.miny, self.size, self.inv_size = minx, miny, size, 1.0 / size
        self._build_cells(shapely.STRtree(geoms))

    def _build_cells(self, tree: shapely.STRtree) -> None:
        ncells = self.nx * self.ny
        state = np.full(ncells, _EMPTY, dtype=np.int64)
        mixed_cells: list[np.ndarray] = []
        mixed_polys: list[np.ndarray] = []
        # Rows of cells in chunks: a box per cell is the one large temporary.
        rows_per_chunk = max(1, 200_000 // self.nx)
        ix = np.arange(self.nx)
        for row0 in range(0, self.ny, rows_per_chunk):
            iy = np.arange(row0, min(row0 + rows_per_chunk, self.ny))
            cells = (iy[:, None] * self.nx + ix[None, :]).ravel()
            x0 = self.minx + (cells % self.nx) * self.size
            y0 = self.miny + (cells // self.nx) * self.size
            boxes = shapely.box(
                x0 - _CELL_MARGIN,
                y0 - _CELL_MARGIN,
                x0 + self.size + _CELL_MARGIN,
                y0 + self.size + _CELL_MARGIN,
            )
            box_idx, poly_idx = tree.query(boxes, predicate="intersects")
            if not len(box_idx):
                continue
            order = np.lexsort((poly_idx, ~self.imported[poly_idx], box_idx))
            box_idx, poly_idx = box_idx[order], poly_idx[order]
            first = np.ones(len(box_idx), dtype=bool)
            first[1:] = box_idx[1:] != box_idx[:-1]
            # The most preferred candidate covering the whole cell answers for every point in it.
            covered = shapely.contains_properly(self.geoms[poly_idx[first]], boxes[box_idx[first]])
            state[cells[box_idx[first]]] = np.where(covered, poly_idx[first], _MIXED)
            keep = ~np.repeat(covered, np.diff(np.append(np.flatnonzero(first), len(box_idx))))
            mixed_cells.append(cells[box_idx[keep]])
            mixed_polys.append(poly_idx[keep])
        cells_flat = np.concatenate(mixed_cells) if mixed_cells else np.empty(0, dtype=np.int64)
        polys_flat = np.concatenate(mixed_polys) if mixed_polys else np.empty(0, dtype=np.int64)
        # Candidates of mixed cells as CSR: cell c's are candidates[start[c]:start[c + 1]].
        self.state = state
        self.start = np.zeros(ncells + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells_flat, minlength=ncells), out=self.start[1:])
        self.candidates = polys_flat  # already grouped by cell (chunks and rows are in cell order)

    def hits(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per point: dense index of the owner of the polygon holding it (or -1), and whether it is imported."""
        n = len(xs)
        fx = (xs - self.minx) * self.inv_size
        fy = (ys - self.miny) * self.inv_size
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)  # NaN is never inside
        cell = np.zeros(n, dtype=np.int64)
        cell[inside] = fy[inside].astype(np.int64) * self.nx + fx[inside].astype(np.int64)
        poly = np.where(inside, self.state[cell], _EMPTY)
        mixed = np.flatnonzero(poly == _MIXED)
        poly[mixed] = -1
        if mixed.size:
            begin = self.start[cell[mixed]]
            count = self.start[cell[mixed] + 1] - begin
            which = np.repeat(np.arange(mixed.size), count)
            offset = np.arange(len(which)) - np.repeat(np.cumsum(count) - count, count)
            candidate = self.candidates[np.repeat(begin, count) + offset]
            point = mixed[which]
            holds = shapely.intersects_xy(self.geoms[candidate], xs[point], ys[point])
            which, candidate = which[holds], candidate[holds]
            first = np.ones(len(which), dtype=bool)
            first[1:] = which[1:] != which[:-1]
            poly[mixed[which[first]]] = candidate[first]
        found = poly >= 0
        safe = np.where(found, poly, 0)
        return np.where(found, self.owner[safe], -1), found & self.imported[safe]

    def hit_one(self, x: float, y: float) -> tuple[int, bool]:
        fx = (x - self.minx) * self.inv_size
        fy = (y - self.miny) * self.inv_size
        if not (0 <= fx < self.nx and 0 <= fy < self.ny):
            return -1, False
        cell = int(fy) * self.nx + int(fx)
        poly = int(self.state[cell])
        if poly == _EMPTY:
            return -1, False
        if poly == _MIXED:
            candidates = self.candidates[self.start[cell] : self.start[cell + 1]]
            holds = shapely.intersects_xy(self.geoms[candidates], x, y)
            if not holds.any():
                return -1, False
            poly = int(candidates[int(np.argmax(holds))])
        return int(self.owner[poly]), bool(self.imported[poly])


class Resolved(NamedTuple):
    """A batch answer as dense indices, -1 for none: ``index.grid_places[grid[i]]``,
    ``index.division_places[community[i]]`` and so on."""

    grid: np.ndarray
    community: np.ndarray
    subdistrict: np.ndarray
    district: np.ndarray


class GeoIndex:
    """The polygons of every level (``_Layer``), plus the division tree flattened into arrays.

    Divisions and grids get dense indices: their position in ``division_places`` /
    ``grid_places``. ``ancestors[level][target]`` maps a dense index of ``level``
    to the dense division index of its ancestor-or-self at ``target`` (-1 if none),
    so walking up the tree is one array lookup per level for a whole batch.
    ``chains[level][i]`` is the (grid, community, subdistrict, district) places of
    entry ``i``, ready to become a ``Location``.
    """

    def __init__(
        self,
        *,
        version: int,
        division_places: list[Place],
        grid_places: list[Place],
        ancestors: dict[str, dict[str, np.ndarray]],
        layers: dict[str, _Layer],
    ):
        self.version = version
        self.division_places = division_places
        self.grid_places = grid_places
        self.ancestors = ancestors
        self.layers = layers
        self.levels = tuple(level for level in LEVELS if level in layers)
        # Levels whose imported hits may veto a synthetic finer hit.
        self._vetoing = tuple(level for level in self.levels if layers[level].any_imported)
        self.chains = {"grid": self._chains("grid", grid_places)}
        division_chains = self._chains(DivisionLevel.COMMUNITY, None)
        for level in DIVISION_LEVELS:
            self.chains[level] = division_chains

    def _chains(self, level: str, own: list[Place] | None) -> list[tuple]:
        up = [self.ancestors[level][target].tolist() for target in DIVISION_LEVELS]
        places = self.division_places
        return [
            (own[i] if own is not None else None, *(places[a[i]] if a[i] >= 0 else None for a in up))
            for i in range(len(up[0]))
        ]

    # -- building ----------------------------------------------------------------
    @classmethod
    def build(cls) -> GeoIndex:
        """Read every division and grid polygon and index them (one pass over each table)."""
        version = current_version()
        rows = list(
            Division.objects.values_list(
                "id", "code", "name", "short_name", "level", "parent_id", "geometry", "geometry_source"
            ).iterator(chunk_size=2000)
        )
        position = {row[0]: i for i, row in enumerate(rows)}
        division_places = [Place(pk, code, short_name or name) for pk, code, name, short_name, *_rest in rows]

        # Ancestor-or-self of every division at each level, walking up once per division.
        # -1 at the end of each array lets a missing parent (-1) index it safely.
        division_ancestors = {level: np.full(len(rows) + 1, -1, dtype=np.int64) for level in DIVISION_LEVELS}
        for i in range(len(rows)):
            current, hops = i, 0
            while current is not None and hops <= len(LEVELS):
                level, parent_id = rows[current][4], rows[current][5]
                if level in division_ancestors:
                    division_ancestors[level][i] = current
                current, hops = position.get(parent_id), hops + 1

        grid_rows = list(
            Grid.objects.values_list(
                "id", "code", "name", "community_id", "geometry", "geometry_source"
            ).iterator(chunk_size=5000)
        )
        grid_places = [Place(pk, code, name) for pk, code, name, *_rest in grid_rows]
        grid_community = np.array([position.get(row[3], -1) for row in grid_rows], dtype=np.int64)
        ancestors: dict[str, dict[str, np.ndarray]] = {
            "grid": {level: division_ancestors[level][grid_community] for level in DIVISION_LEVELS}
        }
        trimmed = {level: array[:-1] for level, array in division_ancestors.items()}
        for level in DIVISION_LEVELS:
            ancestors[level] = trimmed

        sources: dict[str, list[tuple[int, str, bool]]] = {level: [] for level in LEVELS}
        for i, row in enumerate(grid_rows):
            sources["grid"].append((i, row[4], row[5] == GeometrySource.IMPORTED))
        for i, row in enumerate(rows):
            if row[6] and row[4] in sources:
                sources[row[4]].append((i, row[6], row[7] == GeometrySource.IMPORTED))
        layers = {}
        for level, items in sources.items():
            layer = cls._layer(items)
            if layer is not None:
                layers[level] = layer
        return cls(
            version=version,
            division_places=division_places,
            grid_places=grid_places,
            ancestors=ancestors,
            layers=layers,
        )

    @staticmethod
    def _layer(items: list[tuple[int, str, bool]]) -> _Layer | None:
        if not items:
            return None
        geoms = shapely.from_geojson([item[1] for item in items], on_invalid="ignore")
        # A row whose GeoJSON does not parse or is empty cannot hold a point: leave it out.
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not keep.any():
            return None
        geoms = geoms[keep]
        owner = np.array([item[0] for item in items], dtype=np.int64)[keep]
        imported = np.array([item[2] for item in items], dtype=bool)[keep]
        shapely.prepare(geoms)
        return _Layer(geoms, owner, imported)

    # -- queries -------------------------------------------------------------------
    def _choose(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per point: which level decides (position in ``self.levels``, -1 none) and its dense index.

        Vectorized ``locate_one``: the hits of levels holding imported polygons are
        computed for every point (they may veto a synthetic finer hit), the hits of
        the other levels only for the points still unresolved.
        """
        n = len(xs)
        chosen_level = np.full(n, -1, dtype=np.int64)
        chosen = np.full(n, -1, dtype=np.int64)
        vetoing = {level: self.layers[level].hits(xs, ys) for level in self._vetoing}
        unresolved = np.arange(n)
        for k, level in enumerate(self.levels):
            if unresolved.size == 0:
                break
            if level in vetoing:
                hit, imported = vetoing[level][0][unresolved], vetoing[level][1][unresolved]
            else:
                hit, imported = self.layers[level].hits(xs[unresolved], ys[unresolved])
            ok = hit >= 0
            synthetic = ok & ~imported
            if synthetic.any():
                safe = np.where(ok, hit, 0)
                for coarser in self.levels[k + 1 :]:
                    if coarser in vetoing:
                        c_hit, c_imported = vetoing[coarser][0][unresolved], vetoing[coarser][1][unresolved]
                        mine = self.ancestors[level][coarser][safe]
                        ok &= ~(synthetic & c_imported & (mine != c_hit))
            done = unresolved[ok]
            chosen_level[done] = k
            chosen[done] = hit[ok]
            unresolved = unresolved[~ok]
        return chosen_level, chosen

    def resolve(self, lons, lats) -> Resolved:
        """Locate a batch of WGS84 points; the answer is index arrays, no object per point."""
        xs = np.ascontiguousarray(lons, dtype=float)
        ys = np.ascontiguousarray(lats, dtype=float)
        chosen_level, chosen = self._choose(xs, ys)
        n = len(xs)
        out = {name: np.full(n, -1, dtype=np.int64) for name in CHAIN}
        for k, level in enumerate(self.levels):
            mask = chosen_level == k
            if not mask.any():
                continue
            picked = chosen[mask]
            if level == "grid":
                out["grid"][mask] = picked
            for target in DIVISION_LEVELS:
                out[str(target)][mask] = self.ancestors[level][target][picked]
        return Resolved(out["grid"], out["community"], out["subdistrict"], out["district"])

    def locate_many(self, lons, lats) -> list[Location | None]:
        """Locate a batch of WGS84 points (None for a point no polygon holds)."""
        xs = np.ascontiguousarray(lons, dtype=float)
        ys = np.ascontiguousarray(lats, dtype=float)
        chosen_level, chosen = self._choose(xs, ys)
        chains = [self.chains[level] for level in self.levels]
        return [
            None if k < 0 else Location(x, y, *chains[k][i])
            for x, y, k, i in zip(
                xs.tolist(), ys.tolist(), chosen_level.tolist(), chosen.tolist(), strict=True
            )
        ]

    def locate_one(self, lon: float, lat: float) -> Location | None:
        """Locate one WGS84 point: the same answer as ``locate_many``, with less overhead.

        Levels are looked at lazily: a synthetic grid hit needs only the levels that
        hold imported polygons, and a demo city has none.
        """
        levels = self.levels
        layers = self.layers
        cache: dict[str, tuple[int, bool]] = {}
        for k, level in enumerate(levels):
            hit, imported = cache.get(level) or layers[level].hit_one(lon, lat)
            if hit < 0:
                continue
            if not imported:
                mine = self.ancestors[level]
                vetoed = False
                for coarser in self._vetoing:
                    if levels.index(coarser) <= k:
                        continue
                    if coarser not in cache:
                        cache[coarser] = layers[coarser].hit_one(lon, lat)
                    c_hit, c_imported = cache[coarser]
                    if c_imported and int(mine[coarser][hit]) != c_hit:
                        vetoed = True
                        break
                if vetoed:
                    continue
            return Location(lon, lat, *self.chains[level][hit])
        return None

    def brute_force_grid(self, lon: float, lat: float) -> int | None:
        """Reference for benchmarks and tests: test every grid polygon in turn; the grid id.

        Same tie rule as the index (imported polygons first, then load order).
        """
        layer = self.layers.get("grid")
        if layer is None:
            return None
        point = shapely.Point(lon, lat)
        for want_imported in (True, False):
            for geom, owner, imported in zip(layer.geoms, layer.owner, layer.imported, strict=True):
                if imported == want_imported and geom.intersects(point):
                    return self.grid_places[int(owner)].id
        return None


_lock = threading.Lock()
_state: dict = {"index": None, "checked_at": 0.0}


def current_version() -> int:
    return GeoIndexVersion.objects.filter(key="boundaries").values_list("version", flat=True).first() or 0


def get_index() -> GeoIndex:
    """The process-wide index, rebuilt when the stored boundaries changed.

    The version is read from the database at most every
    ``ZHIWANG_GEO_INDEX_CHECK_SECONDS`` (default 5), so a single ``locate`` costs
    no query; a boundary import is seen by every process within that delay.
    """
    index = _state["index"]
    now = time.monotonic()
    if index is not None and now - _state["checked_at"] < getattr(
        settings, "ZHIWANG_GEO_INDEX_CHECK_SECONDS", 5
    ):
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
    """Forget the index (tests; after a database is swapped under a running process)."""
    with _lock:
        _state["index"] = None
        _state["checked_at"] = 0.0


def locate(lon, lat, *, crs: str = "wgs84") -> Location:
    """Locate one point. Raises ``ServiceError('geo.outside_city')`` when no polygon holds it.

    Bad input raises ``geo.not_a_number`` / ``geo.out_of_range`` (field ``lon`` or
    ``lat``) and ``geo.unknown_crs``.
    """
    lon, lat = check_point(lon, lat)
    if crs != "wgs84":
        lon, lat = to_wgs84(lon, lat, crs)
    result = get_index().locate_one(lon, lat)
    if result is None:
        raise ServiceError(
            "geo.outside_city",
            _("The point (%(lon).6f, %(lat).6f) is outside every known boundary of the city.")
            % {"lon": lon, "lat": lat},
            field="lon",
        )
    return result


def _gcj02_offsets(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84 at WGS84 points: ``crs.wgs84_to_gcj02`` on arrays (same formula)."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * pi)
    outside = ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def gcj02_to_wgs84_arrays(lons, lats) -> tuple[np.ndarray, np.ndarray]:
    """``crs.gcj02_to_wgs84`` on arrays, by the same fixed-point iteration (to < 1e-9 degrees).

    The scalar version costs tens of microseconds a point; batch files and
    boundary polygons have millions. Non-finite values pass through unchanged.
    """
    glon = np.array(lons, dtype=float)
    glat = np.array(lats, dtype=float)
    finite = np.isfinite(glon) & np.isfinite(glat)
    wlon, wlat = glon.copy(), glat.copy()
    todo = np.flatnonzero(finite)
    for _i in range(30):
        if todo.size == 0:
            break
        dlon, dlat = _gcj02_offsets(wlon[todo], wlat[todo])
        err_lon = wlon[todo] + dlon - glon[todo]
        err_lat = wlat[todo] + dlat - glat[todo]
        converged = (np.abs(err_lon) < 1e-9) & (np.abs(err_lat) < 1e-9)
        moving = todo[~converged]
        wlon[moving] -= err_lon[~converged]
        wlat[moving] -= err_lat[~converged]
        todo = moving
    return wlon, wlat


def to_wgs84_many(lons, lats, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinate arrays to WGS84 (non-finite values pass through unchanged)."""
    if check_crs(crs) == "gcj02":
        return gcj02_to_wgs84_arrays(lons, lats)
    return np.array(lons, dtype=float), np.array(lats, dtype=float)


def locate_many(lons, lats, *, crs: str = "wgs84") -> list[Location | None]:
    """Locate many points at once (None for a point outside the city or not finite)."""
    xs, ys = to_wgs84_many(lons, lats, crs)
    return get_index().locate_many(xs, ys)
