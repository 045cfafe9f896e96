"""locate(): point → grid → community → subdistrict → district, on the tiny demo city."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from zhiwang.core.errors import ServiceError
from zhiwang.geo import locator
from zhiwang.geo.boundaries import boundaries_import
from zhiwang.geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from zhiwang.geo.locator import gcj02_to_wgs84_arrays, get_index, locate, locate_many
from zhiwang.geo.models import Division, DivisionLevel, GeometrySource, Grid
from zhiwang.geo.services import boundaries_changed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _inside(grid: Grid) -> tuple[float, float]:
    """A point surely inside the grid (its stored point is a representative point)."""
    return grid.lon, grid.lat


def _random_points(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # The demo city's bounds plus a margin, so some points are outside every polygon.
    return rng.uniform(113.70, 114.70, n), rng.uniform(22.40, 22.90, n)


# -- the chain -----------------------------------------------------------------------


def test_a_point_inside_a_grid_gets_that_grid_and_its_divisions(city):
    grid = city.grids[0]

    where = locate(*_inside(grid))

    assert where.precision == "grid"
    assert where.grid.code == grid.code
    assert where.community.code == city.community.code
    assert where.subdistrict.code == city.subdistrict.code
    assert where.district.code == city.district.code
    assert where.as_dict()["district"] == {"code": city.district.code, "name": city.district.display_name}


def test_every_grid_locates_to_itself_in_one_batch(city):
    grids = list(Grid.objects.select_related("community__parent__parent"))
    lons = [g.lon for g in grids]
    lats = [g.lat for g in grids]

    found = locate_many(lons, lats)

    assert [f.grid.code for f in found] == [g.code for g in grids]
    assert [f.community.code for f in found] == [g.community.code for g in grids]
    assert [f.subdistrict.code for f in found] == [g.community.parent.code for g in grids]
    assert [f.district.code for f in found] == [g.community.parent.parent.code for g in grids]


def test_a_point_on_the_outer_edge_of_the_city_is_inside(city):
    # The northernmost vertex of all grids lies on the edge of the index's extent.
    index = get_index()
    coords = np.concatenate([shapely.get_coordinates(g) for g in index.layers["grid"].geoms])
    x, y = coords[np.argmax(coords[:, 1])]

    assert locate(x, y).grid is not None
    assert index.locate_many([x], [y])[0].grid is not None


def test_a_shared_vertex_belongs_to_exactly_one_grid(city):
    a, b = city.grids[0], city.grids[1]
    shared = shapely.intersection(shapely.from_geojson(a.geometry), shapely.from_geojson(b.geometry))
    x, y = shapely.get_coordinates(shared)[0]

    where = locate(x, y)

    assert where.grid.code in {a.code, b.code}


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("lon, lat", [(120.0, 30.0), (113.0, 22.0), (0, 0)])
def test_a_point_outside_shenzhen_is_refused(city, lon, lat):
    with pytest.raises(ServiceError) as error:
        locate(lon, lat)

    assert error.value.code == "geo.outside_city"
    assert locate_many([lon], [lat]) == [None]


@pytest.mark.parametrize(
    "lon, lat, code, field",
    [
        ("abc", 22.5, "geo.not_a_number", "lon"),
        (114.0, None, "geo.not_a_number", "lat"),
        (114.0, "", "geo.not_a_number", "lat"),
        (181, 22.5, "geo.out_of_range", "lon"),
        (114.0, -91, "geo.out_of_range", "lat"),
        (float("nan"), 22.5, "geo.out_of_range", "lon"),
        (114.0, float("inf"), "geo.out_of_range", "lat"),
    ],
)
def test_bad_coordinates_name_the_field(city, lon, lat, code, field):
    with pytest.raises(ServiceError) as error:
        locate(lon, lat)

    assert error.value.code == code
    assert error.value.field == field


def test_an_unknown_crs_is_refused(city):
    with pytest.raises(ServiceError) as error:
        locate(114.05, 22.55, crs="bd09")

    assert error.value.code == "geo.unknown_crs"


def test_non_finite_points_in_a_batch_are_none(city):
    grid = city.grids[0]

    found = locate_many([np.nan, grid.lon, np.inf], [22.5, grid.lat, 22.5])

    assert found[0] is None and found[2] is None
    assert found[1].grid.code == grid.code


# -- GCJ-02 --------------------------------------------------------------------------------


def test_gcj02_input_is_converted_before_locating(city):
    grid = city.grids[0]
    gx, gy = wgs84_to_gcj02(*_inside(grid))

    where = locate(gx, gy, crs="gcj02")
    batch = locate_many([gx], [gy], crs="gcj02")[0]

    assert where.grid.code == grid.code
    assert abs(where.lon - grid.lon) < 1e-6 and abs(where.lat - grid.lat) < 1e-6
    assert batch == where


def test_the_gcj02_offset_is_large_enough_to_matter(city):
    # Without conversion a GCJ-02 point lands ~500 m away: the test above proves conversion happens.
    gx, gy = wgs84_to_gcj02(114.05, 22.55)
    assert abs(gx - 114.05) > 0.003


def test_batch_gcj02_conversion_equals_the_scalar_one():
    lons, lats = _random_points(2_000)

    xs, ys = gcj02_to_wgs84_arrays(lons, lats)

    expected = np.array([gcj02_to_wgs84(x, y) for x, y in zip(lons, lats, strict=True)])
    assert np.abs(xs - expected[:, 0]).max() < 1e-9
    assert np.abs(ys - expected[:, 1]).max() < 1e-9
    back = np.array([wgs84_to_gcj02(x, y) for x, y in zip(xs, ys, strict=True)])
    assert np.abs(back[:, 0] - lons).max() < 1e-6
    assert np.abs(back[:, 1] - lats).max() < 1e-6


# -- the index follows the boundaries ---------------------------------------------------------


def test_the_index_is_rebuilt_when_the_boundary_version_changes(city):
    grid = city.grids[0]
    point = _inside(grid)
    first = get_index()
    assert get_index() is first  # nothing changed: the same index
    # A new imported grid over the point, written the way every boundary change is.
    square = shapely.box(point[0] - 1e-4, point[1] - 1e-4, point[0] + 1e-4, point[1] + 1e-4)
    Grid.objects.create(
        code=city.community.code + "901",
        name="新网格",
        community=city.community,
        geometry=shapely.to_geojson(square),
        geometry_source=GeometrySource.IMPORTED,
        lon=point[0],
        lat=point[1],
    )
    assert locate(*point).grid.code == grid.code  # not yet announced: the old index answers

    boundaries_changed()

    assert get_index() is not first
    assert locate(*point).grid.code == city.community.code + "901"


def test_the_version_check_is_throttled(city, settings, monkeypatch):
    settings.ZHIWANG_GEO_INDEX_CHECK_SECONDS = 60
    clock = [1000.0]
    monkeypatch.setattr(locator.time, "monotonic", lambda: clock[0])
    first = get_index()
    boundaries_changed()

    assert get_index() is first  # within the interval no query is made
    clock[0] += 61
    assert get_index() is not first


# -- imported boundaries win over synthetic ones --------------------------------------------------


def _grow_with_square(division: Division, x: float, y: float) -> shapely.Geometry:
    """The division's polygon plus a small square around (x, y)."""
    square = shapely.box(x - 2e-4, y - 2e-4, x + 2e-4, y + 2e-4)
    return shapely.union(shapely.from_geojson(division.geometry), square)


def test_an_imported_community_overrides_a_synthetic_grid_that_disagrees(city, make_feature):
    grid = city.grids[0]
    x, y = _inside(grid)
    other = city.neighbour()
    boundaries_import(
        features=[make_feature(_grow_with_square(other, x, y), code=other.code)], level="community"
    )

    where = locate(x, y)

    assert where.grid is None  # the grid belongs to another community than the real boundary
    assert where.community.code == other.code
    assert where.subdistrict.code == other.parent.code
    assert where.precision == "community"
    # Elsewhere the synthetic grid still refines: its other grids are untouched.
    assert locate(*_inside(city.grids[1])).grid.code == city.grids[1].code


def test_an_imported_district_overrides_every_finer_synthetic_level(city, make_feature):
    grid = city.grids[0]
    x, y = _inside(grid)
    other = (
        Division.objects.of_level(DivisionLevel.DISTRICT)
        .exclude(pk=city.district.pk)
        .order_by("code")
        .first()
    )
    boundaries_import(
        features=[make_feature(_grow_with_square(other, x, y), code=other.code[:6])], level="district"
    )

    where = locate(x, y)

    assert (where.grid, where.community, where.subdistrict) == (None, None, None)
    assert where.district.code == other.code


def test_an_imported_grid_wins_over_the_synthetic_grid_it_overlaps(city, make_feature):
    grid = city.grids[0]
    x, y = _inside(grid)
    other = city.neighbour()
    square = shapely.box(x - 2e-4, y - 2e-4, x + 2e-4, y + 2e-4)
    boundaries_import(features=[make_feature(square, code=other.code + "950")], level="grid")

    where = locate(x, y)

    # An imported polygon is never vetoed: the finest real polygon decides.
    assert where.grid.code == other.code + "950"
    assert where.community.code == other.code


def test_batch_and_single_calls_agree_everywhere(city, make_feature):
    # Mix imported and synthetic polygons so the veto rule is exercised in both paths.
    grid = city.grids[0]
    x, y = _inside(grid)
    other = city.neighbour()
    boundaries_import(
        features=[make_feature(_grow_with_square(other, x, y), code=other.code)], level="community"
    )
    lons, lats = _random_points(3_000)
    lons = np.append(lons, x)
    lats = np.append(lats, y)
    index = get_index()

    batch = index.locate_many(lons, lats)

    single = [index.locate_one(float(a), float(b)) for a, b in zip(lons, lats, strict=True)]
    assert batch == single
    assert batch[-1].community.code == other.code
    assert sum(r is not None for r in batch) > 1_000


def test_the_index_agrees_with_the_brute_force_scan(city):
    index = get_index()
    lons, lats = _random_points(120, seed=11)

    found = index.locate_many(lons, lats)

    brute = [index.brute_force_grid(float(a), float(b)) for a, b in zip(lons, lats, strict=True)]
    assert [f.grid.id if f and f.grid else None for f in found] == brute
