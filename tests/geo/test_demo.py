"""The demo city: grids tessellate their community, and are numbered west→east, north→south."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import shapely

from zhiwang.geo.demo import generate_grids
from zhiwang.geo.models import Division, DivisionLevel, Grid

pytestmark = pytest.mark.django_db

#: The demo stores coordinates rounded to 1e-7 degrees (about 1 cm), grid and
#: community each on their own; that rounding is the only mismatch allowed. (The
#: cells before rounding agree to ~1e-12 relative; after it, small communities
#: differ by up to ~3e-5 relative, so a flat 1e-6 relative bound would fail on
#: rounding alone; the bound below scales with the perimeter, where rounding acts.)
ROUNDING = 1e-7


def _grids_by_community() -> dict[int, list[shapely.Geometry]]:
    grids: dict[int, list[shapely.Geometry]] = defaultdict(list)
    for community_id, geometry in Grid.objects.values_list("community_id", "geometry"):
        grids[community_id].append(shapely.from_geojson(geometry))
    return grids


def test_grids_tessellate_every_community_without_gaps_or_overlaps(city):
    grids = _grids_by_community()
    communities = list(Division.objects.of_level(DivisionLevel.COMMUNITY).exclude(geometry=""))
    assert len(communities) > 700

    for community in communities:
        shape = shapely.from_geojson(community.geometry)
        cells = grids[community.id]
        union = shapely.union_all(cells)
        total = sum(cell.area for cell in cells)
        # No overlaps: the cells' areas add up to the area of their union.
        assert total == pytest.approx(union.area, rel=1e-9), community.code
        # No gaps and nothing outside: the union is the community, up to the rounding.
        assert abs(total - shape.area) <= shape.length * ROUNDING, community.code
        assert shapely.hausdorff_distance(union, shape) <= 2 * ROUNDING, community.code


def _rows_in_reading_order(centroids: list[shapely.Point], code: str) -> list[list[shapely.Point]]:
    """Read the numbering like text: a row goes on while x grows; each new row must lie further south."""
    rows: list[list[shapely.Point]] = [[centroids[0]]]
    for previous, current in zip(centroids, centroids[1:], strict=False):
        if current.x > previous.x:
            rows[-1].append(current)
        else:
            rows.append([current])
    mean_lat = [np.mean([p.y for p in row]) for row in rows]
    assert all(a > b for a, b in zip(mean_lat, mean_lat[1:], strict=False)), code
    return rows


def test_grids_are_numbered_west_to_east_then_north_to_south(city):
    communities = list(
        Division.objects.of_level(DivisionLevel.COMMUNITY).exclude(geometry="").order_by("code")[:60]
    )

    for community in communities:
        grids = generate_grids(community, shapely.from_geojson(community.geometry), seed=3, count=16)
        assert [g.code for g in grids] == [f"{community.code}{n:03d}" for n in range(1, len(grids) + 1)]
        centroids = [shapely.from_geojson(g.geometry).centroid for g in grids]

        rows = _rows_in_reading_order(centroids, community.code)

        assert len(rows) > 1, community.code
        # The first grid is in the northern half, the last in the southern half.
        lats = sorted(p.y for p in centroids)
        assert centroids[0].y >= lats[len(lats) // 2 - 1] and centroids[-1].y <= lats[len(lats) // 2]


def test_the_stored_city_is_numbered_the_same_way(city):
    centroids: dict[str, list[shapely.Point]] = defaultdict(list)
    for code, geometry in Grid.objects.order_by("code").values_list("code", "geometry"):
        centroids[code[:12]].append(shapely.from_geojson(geometry).centroid)

    for community_code, points in centroids.items():
        _rows_in_reading_order(points, community_code)
