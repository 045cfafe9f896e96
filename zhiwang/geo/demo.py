"""Synthetic geometry for the real Shenzhen divisions: boundaries, grids, buildings, rooms.

No licensed boundaries exist to ship, so the demo city places each subdistrict
around its real point (from the shipped CSV), builds subdistrict cells as a
Voronoi tessellation of those points clipped to a hull of the city, districts as
the union of their subdistricts, communities as Voronoi cells inside their
subdistrict, and grids as Voronoi cells inside their community. Clipped Voronoi
cells tessellate their parent exactly: no gaps, no overlaps (tests check it).

Deterministic: every random draw comes from a generator seeded with
(seed, division code), so a seed always gives the same city. The same generator
feeds tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import transaction
from shapely.geometry import Polygon, mapping

from zhiwang.geo.models import (
    AddressAlias,
    AddressLevel,
    Division,
    DivisionLevel,
    GeometrySource,
    Grid,
    StandardAddress,
)
from zhiwang.geo.services import boundaries_changed, division_stats_refresh, divisions_load_csv


@dataclass(frozen=True)
class Scale:
    """How big the demo city is. ``large`` is about Shenzhen's 20,000 grids and 11 M rooms."""

    name: str
    grids_per_community: int
    buildings_per_grid: int
    units: tuple[int, int]
    floors: tuple[int, int]
    rooms_per_floor: tuple[int, int]


SCALES = {
    "tiny": Scale("tiny", 2, 1, (1, 1), (2, 3), (2, 2)),
    "small": Scale("small", 3, 2, (1, 2), (3, 8), (2, 2)),
    "medium": Scale("medium", 8, 5, (1, 3), (4, 18), (2, 4)),
    "large": Scale("large", 25, 8, (1, 3), (6, 20), (2, 4)),
}

ROAD_WORDS = (
    "深南 滨海 红荔 新洲 侨香 沙河 学府 创业 宝源 梅林 莲花 香蜜 桃园 留仙 西丽 龙岗 布吉 坪山 光侨 观澜 "
    "民治 福华 彩田 皇岗 益田 华强 振华 爱国 文锦 东门 翠竹 泥岗 笋岗 清水河 沙井 松岗 石岩 福永 新安 "
    "宝民 建安 前进 兴华 南海 后海 科苑 高新 深云 龙珠 塘朗 大冲 蛇口 望海 工业 荔园 景田 上步 八卦"
).split()
ROAD_SUFFIXES = ("路", "大道", "街", "一路", "二路")
ESTATE_WORDS = (
    "海景 碧水 翠苑 锦绣 阳光 金色 华侨 御景 星河 万科 幸福 和谐 春华 秋实 东方 南国 紫荆 丽晶 "
    "雅园 鸿景 宝安 荔枝 桂园 松坪 榕树 明珠 龙城 新城 百合 康乐"
).split()
ESTATE_SUFFIXES = ("花园", "小区", "公寓", "苑", "新村", "家园", "大厦")

#: Roughly the land of Shenzhen (WGS84); the demo city is clipped to it.
CITY_BOUNDS = (113.75, 22.44, 114.63, 22.87)


def _rng(seed: int, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _geojson(geom) -> str:
    geom = shapely.set_precision(geom, 1e-7)
    return json.dumps(mapping(geom), separators=(",", ":"))


def _polygonal(geom):
    """Keep only the polygonal part of a clip result (drop stray lines/points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def _points_inside(poly, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random points inside ``poly`` (rejection sampling on its bounding box)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    out = np.empty((0, 2))
    for _attempt in range(200):
        need = n - len(out)
        if need <= 0:
            break
        batch = max(need * 4, 16)
        xs = rng.uniform(minx, maxx, batch)
        ys = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(poly, xs, ys)
        out = np.vstack([out, np.column_stack([xs[inside], ys[inside]])])
    if len(out) < n:  # a sliver too thin to hit: fall back to its representative point
        rp = poly.representative_point()
        out = np.vstack([out, np.tile([rp.x, rp.y], (n - len(out), 1))])
    return out[:n]


def _tessellate(poly, seeds: np.ndarray, rng: np.random.Generator) -> list:
    """Voronoi cells of ``seeds`` clipped to ``poly``; one cell per seed, in seed order."""
    if len(seeds) == 1:
        return [poly]
    # Break exact ties so Voronoi never sees duplicate seeds.
    seeds = seeds + rng.normal(0, 1e-7, seeds.shape)
    multipoint = shapely.multipoints(seeds)
    cells = shapely.voronoi_polygons(multipoint, extend_to=shapely.box(*poly.buffer(0.5).bounds))
    cells = list(cells.geoms)
    points = shapely.points(seeds)
    tree = shapely.STRtree(cells)
    ordered = [None] * len(seeds)
    seed_idx, cell_idx = tree.query(points, predicate="intersects")
    for s, c in zip(seed_idx, cell_idx, strict=True):
        if ordered[s] is None:
            ordered[s] = cells[c]
    return [
        _polygonal(shapely.intersection(cell, poly)) if cell is not None else Polygon() for cell in ordered
    ]


def _number_west_east_north_south(cells: list) -> list[int]:
    """Order in which cells get sequence numbers: rows north→south, west→east inside a row."""
    centroids = np.array([[c.centroid.x, c.centroid.y] if not c.is_empty else [0, 0] for c in cells])
    maxy, miny = centroids[:, 1].max(), centroids[:, 1].min()
    rows = max(1, round(np.sqrt(len(cells))))
    band = (maxy - miny) / rows or 1.0
    row_of = np.minimum(((maxy - centroids[:, 1]) / band).astype(int), rows - 1)
    return sorted(range(len(cells)), key=lambda i: (row_of[i], centroids[i, 0]))


def _area_m2(geom) -> float:
    # Equirectangular approximation at Shenzhen's latitude; good to ~1 % for grid-sized shapes.
    lat = geom.centroid.y if not geom.is_empty else 22.6
    return geom.area * (111_320.0**2) * float(np.cos(np.radians(lat)))


def generate_boundaries(*, seed: int) -> dict[int, object]:
    """Synthetic polygons for every division below the city: {division id: geometry}."""
    divisions = list(Division.objects.order_by("code"))
    by_id = {d.id: d for d in divisions}
    children: dict[int, list[Division]] = {}
    for d in divisions:
        if d.parent_id:
            children.setdefault(d.parent_id, []).append(d)
    city = next(d for d in divisions if d.level == DivisionLevel.CITY)
    districts = children.get(city.id, [])
    subdistricts = [s for dist in districts for s in children.get(dist.id, [])]
    # Seeds: the real point of each subdistrict, else near its district's point.
    seeds = []
    for sub in subdistricts:
        if sub.lon is not None:
            seeds.append((sub.lon, sub.lat))
        else:
            parent = by_id[sub.parent_id]
            rng = _rng(seed, sub.code)
            base = (parent.lon or 114.05, parent.lat or 22.6)
            seeds.append((base[0] + rng.normal(0, 0.02), base[1] + rng.normal(0, 0.015)))
    seeds_arr = np.array(seeds)
    hull = shapely.convex_hull(shapely.multipoints(seeds_arr)).buffer(0.05)
    city_poly = shapely.intersection(hull, shapely.box(*CITY_BOUNDS))
    geoms: dict[int, object] = {city.id: city_poly}
    for sub, cell in zip(subdistricts, _tessellate(city_poly, seeds_arr, _rng(seed, city.code)), strict=True):
        geoms[sub.id] = cell
    for dist in districts:
        geoms[dist.id] = shapely.union_all([geoms[s.id] for s in children.get(dist.id, [])])
    for sub in subdistricts:
        communities = children.get(sub.id, [])
        if not communities:
            continue
        rng = _rng(seed, sub.code)
        cells = _tessellate(geoms[sub.id], _points_inside(geoms[sub.id], len(communities), rng), rng)
        for community, cell in zip(communities, cells, strict=True):
            geoms[community.id] = cell
    return geoms


def generate_grids(community: Division, community_geom, *, seed: int, count: int) -> list[Grid]:
    rng = _rng(seed, "grids:" + community.code)
    cells = _tessellate(community_geom, _points_inside(community_geom, count, rng), rng)
    cells = [c for c in cells if not c.is_empty]
    grids = []
    for sequence, index in enumerate(_number_west_east_north_south(cells), start=1):
        cell = cells[index]
        point = cell.representative_point()
        grids.append(
            Grid(
                code=f"{community.code}{sequence:03d}",
                name=f"{community.display_name}第{sequence}网格",
                community=community,
                geometry=_geojson(cell),
                geometry_source=GeometrySource.SYNTHETIC,
                lon=round(point.x, 7),
                lat=round(point.y, 7),
                area_m2=round(_area_m2(cell), 1),
            )
        )
    return grids


def _address_rows(
    community: Division, grids: list[Grid], grid_geoms: list, ancestors: str, *, seed: int, scale: Scale
) -> Iterator[tuple[StandardAddress, list[tuple[StandardAddress, list[StandardAddress]]], str]]:
    """Yield (building, [(unit, [rooms])], alias) for one community."""
    rng = _rng(seed, "addresses:" + community.code)
    roads = [rng.choice(ROAD_WORDS) + rng.choice(ROAD_SUFFIXES) for _i in range(max(2, len(grids)))]
    building_seq = 0
    for grid, geom in zip(grids, grid_geoms, strict=True):
        points = _points_inside(geom, scale.buildings_per_grid, rng)
        estate = rng.choice(ESTATE_WORDS) + rng.choice(ESTATE_SUFFIXES)
        road = roads[grid.sequence % len(roads)]
        for lon, lat in points:
            building_seq += 1
            number = str(int(rng.integers(1, 400)))
            bname = f"{building_seq}栋"
            bcode = f"{community.code}-{building_seq:05d}"
            house19 = f"{community.code}{grid.sequence % 100:02d}{building_seq:05d}"
            prefix = f"{ancestors}{community.display_name}{road}{number}号{estate}"
            building = StandardAddress(
                code=bcode,
                level=AddressLevel.BUILDING,
                community=community,
                grid=grid,
                house_code=house19,
                road=road,
                road_number=number,
                estate=estate,
                name=bname,
                full_name=prefix + bname,
                lon=round(float(lon), 7),
                lat=round(float(lat), 7),
            )
            units = []
            n_units = int(rng.integers(scale.units[0], scale.units[1] + 1))
            floors = int(rng.integers(scale.floors[0], scale.floors[1] + 1))
            per_floor = int(rng.integers(scale.rooms_per_floor[0], scale.rooms_per_floor[1] + 1))
            for u in range(1, n_units + 1):
                unit = StandardAddress(
                    code=f"{bcode}-{u:02d}",
                    level=AddressLevel.UNIT,
                    community=community,
                    grid=grid,
                    house_code="",
                    road=road,
                    road_number=number,
                    estate=estate,
                    name=f"{u}单元",
                    full_name=f"{prefix}{bname}{u}单元",
                    lon=building.lon,
                    lat=building.lat,
                )
                rooms = []
                for floor in range(1, floors + 1):
                    for r in range(1, per_floor + 1):
                        rname = f"{floor}{r:02d}"
                        rooms.append(
                            StandardAddress(
                                code=f"{bcode}-{u:02d}-{rname}",
                                level=AddressLevel.ROOM,
                                community=community,
                                grid=grid,
                                house_code=f"{house19}{u:02d}{floor:02d}{r:02d}",
                                road=road,
                                road_number=number,
                                estate=estate,
                                name=rname,
                                floor=floor,
                                full_name=f"{prefix}{bname}{u}单元{rname}室",
                                lon=building.lon,
                                lat=building.lat,
                            )
                        )
                units.append((unit, rooms))
            yield building, units, f"{estate}{building_seq}号楼"


@dataclass
class DemoResult:
    divisions: int = 0
    grids: int = 0
    buildings: int = 0
    units: int = 0
    rooms: int = 0

    @property
    def rows(self) -> int:
        return self.grids + self.buildings + self.units + self.rooms


def demo_geography_build(
    *, scale: str = "small", seed: int = 1, progress: Callable[[int, int], None] | None = None
) -> DemoResult:
    """Build the demo city's geography (replacing any previous synthetic grids and addresses).

    One transaction: a crash leaves the previous state. ``progress(done, total)`` is
    called once per community.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    spec = SCALES[scale]
    result = DemoResult()
    with transaction.atomic():
        divisions_load_csv()
        StandardAddress.objects.filter(parent__isnull=False).delete()
        StandardAddress.objects.all().delete()
        Grid.objects.filter(geometry_source=GeometrySource.SYNTHETIC).delete()
        geoms = generate_boundaries(seed=seed)
        divisions = list(Division.objects.select_related("parent", "parent__parent").order_by("code"))
        for division in divisions:
            if division.id in geoms and division.geometry_source != GeometrySource.IMPORTED:
                division.geometry = _geojson(geoms[division.id])
                division.geometry_source = GeometrySource.SYNTHETIC
        Division.objects.bulk_update(divisions, ["geometry", "geometry_source"], batch_size=200)
        result.divisions = len(divisions)
        communities = [d for d in divisions if d.level == DivisionLevel.COMMUNITY]
        for done, community in enumerate(communities, start=1):
            geom = geoms[community.id]
            if geom.is_empty:
                continue
            grids = generate_grids(community, geom, seed=seed, count=spec.grids_per_community)
            Grid.objects.bulk_create(grids, batch_size=1000)
            result.grids += len(grids)
            grid_geoms = [shapely.from_geojson(g.geometry) for g in grids]
            subdistrict = community.parent
            district = subdistrict.parent
            ancestors = f"深圳市{district.display_name}{subdistrict.display_name}"
            batch = list(_address_rows(community, grids, grid_geoms, ancestors, seed=seed, scale=spec))
            StandardAddress.objects.bulk_create([b for b, _u, _a in batch], batch_size=1000)
            AddressAlias.objects.bulk_create(
                [AddressAlias(address=b, alias=alias) for b, _u, alias in batch], batch_size=1000
            )
            units = []
            for building, unit_rows, _alias in batch:
                for unit, _rooms in unit_rows:
                    unit.parent = building
                    units.append(unit)
            StandardAddress.objects.bulk_create(units, batch_size=1000)
            rooms = []
            for _building, unit_rows, _alias in batch:
                for unit, unit_rooms in unit_rows:
                    for room in unit_rooms:
                        room.parent = unit
                        rooms.append(room)
            StandardAddress.objects.bulk_create(rooms, batch_size=2000)
            result.buildings += len(batch)
            result.units += len(units)
            result.rooms += len(rooms)
            if progress:
                progress(done, len(communities))
        division_stats_refresh()
        boundaries_changed()
    return result
