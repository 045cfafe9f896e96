"""A grid added or deleted in the admin recounts its community's and ancestors' grid counts;
its point and area come from the pasted boundary as ``import-boundaries`` computes them.

Before: the counts stayed as they were until the next full ``division_stats_refresh``, and a grid
added with a boundary kept whatever point and area were typed (the form required them).
"""

from __future__ import annotations

import json

import pytest
import shapely
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.geo.boundaries import boundaries_import, boundary_shape, grid_place
from zhiwang.geo.models import Division, DivisionLevel, Grid
from zhiwang.geo.services import division_grid_counts_refresh, division_stats_refresh

pytestmark = pytest.mark.django_db


def polygon(lon: float, lat: float, d: float = 0.0005) -> dict:
    """An L-shaped (concave) polygon: its centroid is outside it, its representative point inside."""
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat - d / 2],
        [lon - d / 2, lat - d / 2],
        [lon - d / 2, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def grid_counts() -> dict[str, int]:
    return dict(Division.objects.values_list("code", "grid_count"))


def chain(community: Division) -> list[Division]:
    found, division = [], community
    while division is not None:
        found.append(division)
        division = division.parent
    return found


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def counted(city):
    """The city with its counts as a full refresh leaves them (the baseline every test compares to)."""
    division_stats_refresh()
    return city


def add_grid(client, community: Division, sequence: int, geometry: dict | str, **fields):
    data = {
        "code": f"{community.code}{sequence:03d}",
        "name": "测试网格",
        "community": community.pk,
        "geometry": geometry if isinstance(geometry, str) else json.dumps(geometry),
        "geometry_source": "imported",
        "lon": "",
        "lat": "",
        "area_m2": "",
    }
    data.update(fields)
    return client.post("/admin/geo/grid/add/", data)


def other_community(city) -> Division:
    return (
        Division.objects.of_level(DivisionLevel.COMMUNITY)
        .exclude(code__startswith=city.community.code[:6])
        .order_by("code")
        .first()
    )


# -- grid counts ------------------------------------------------------------------------------


def test_a_grid_added_in_the_admin_counts_in_its_community_and_every_ancestor(staff, counted):
    community = counted.community
    before = grid_counts()
    grid = counted.grids[0]
    response = add_grid(staff, community, 901, polygon(grid.lon, grid.lat))
    assert response.status_code == 302, response.context["adminform"].form.errors

    after = grid_counts()
    ancestors = {d.code for d in chain(community)}
    assert len(ancestors) == 4  # community, subdistrict, district, city
    for code in ancestors:
        assert after[code] == before[code] + 1, code
    assert {c: n for c, n in after.items() if c not in ancestors} == {
        c: n for c, n in before.items() if c not in ancestors
    }
    division_stats_refresh()
    assert grid_counts() == after  # what the full refresh gives


def test_a_grid_deleted_in_the_admin_is_no_longer_counted(staff, counted):
    community = counted.community
    grid = counted.grids[0]
    assert add_grid(staff, community, 902, polygon(grid.lon, grid.lat)).status_code == 302
    added = Grid.objects.get(code=f"{community.code}902")
    before = grid_counts()

    response = staff.post(f"/admin/geo/grid/{added.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Grid.objects.filter(pk=added.pk).exists()
    after = grid_counts()
    for division in chain(community):
        assert after[division.code] == before[division.code] - 1, division.code
    division_stats_refresh()
    assert grid_counts() == after


def test_grids_of_two_districts_deleted_in_bulk_recount_both_chains(staff, counted):
    here, there = counted.community, other_community(counted)
    victims = [Grid.objects.filter(community=here).order_by("code").first()]
    victims.append(Grid.objects.filter(community=there).order_by("code").first())
    assert None not in victims
    before = grid_counts()

    response = staff.post(
        "/admin/geo/grid/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in victims], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Grid.objects.filter(pk__in=[g.pk for g in victims]).exists()
    after = grid_counts()
    city_code = chain(here)[-1].code
    assert after[city_code] == before[city_code] - 2
    for division in chain(here)[:-1] + chain(there)[:-1]:
        assert after[division.code] == before[division.code] - 1, division.code
    division_stats_refresh()
    assert grid_counts() == after


def test_the_recount_reads_no_address_and_few_rows(counted):
    community = counted.community
    Grid.objects.create(
        code=f"{community.code}903",
        name="x",
        community=community,
        geometry=json.dumps(polygon(counted.grids[0].lon, counted.grids[0].lat)),
        lon=counted.grids[0].lon,
        lat=counted.grids[0].lat,
    )
    with CaptureQueriesContext(connection) as queries:
        division_grid_counts_refresh([community.pk])
    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    assert "standardaddress" not in sql  # the full refresh walks every address; this must not
    # four levels: one lookup, two grouped counts and one update each, plus the transaction
    assert len(queries.captured_queries) <= 4 * 4 + 2
    assert Division.objects.get(pk=community.pk).grid_count == community.grids.count()
    after = grid_counts()
    division_stats_refresh()
    assert grid_counts() == after


# -- point and area from the boundary ---------------------------------------------------------


def test_a_grid_added_with_a_boundary_gets_the_point_and_area_an_import_gives(staff, city):
    community = city.community
    shape = polygon(city.grids[0].lon, city.grids[0].lat)
    response = add_grid(staff, community, 904, shape)
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Grid.objects.get(code=f"{community.code}904")

    boundaries_import(
        features=[{"type": "Feature", "properties": {"code": f"{community.code}905"}, "geometry": shape}],
        level="grid",
    )
    imported = Grid.objects.get(code=f"{community.code}905")
    assert (added.lon, added.lat, added.area_m2) == (imported.lon, imported.lat, imported.area_m2)
    assert added.geometry == imported.geometry
    assert (added.lon, added.lat, added.area_m2) == grid_place(boundary_shape(json.dumps(shape)))
    assert 5_000 < added.area_m2 < 10_000  # ¾ of a ~105 m × 111 m square
    stored = shapely.from_geojson(added.geometry)
    assert stored.contains(shapely.Point(added.lon, added.lat))  # not the centroid, which is outside
    assert not stored.contains(stored.centroid)


def test_a_typed_point_is_kept_and_the_area_is_measured_anyway(staff, city):
    community, grid = city.community, city.grids[0]
    shape = polygon(grid.lon, grid.lat)
    response = add_grid(staff, community, 906, shape, lon=grid.lon, lat=grid.lat, area_m2=1)
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Grid.objects.get(code=f"{community.code}906")
    assert (added.lon, added.lat) == (grid.lon, grid.lat)
    assert added.area_m2 == grid_place(boundary_shape(json.dumps(shape)))[2]


def test_half_a_point_is_refused_on_the_empty_half(staff, city):
    community, grid = city.community, city.grids[0]
    response = add_grid(staff, community, 907, polygon(grid.lon, grid.lat), lon=grid.lon)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"lat"}
    assert not Grid.objects.filter(code=f"{community.code}907").exists()


def test_a_bad_boundary_with_no_point_says_so_on_the_boundary(staff, city):
    response = add_grid(staff, city.community, 908, "not json")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "geometry" in errors
    assert not Grid.objects.filter(code=f"{city.community.code}908").exists()


def test_a_new_boundary_on_the_change_form_moves_the_point_unless_one_is_typed(staff, city):
    grid = city.grids[0]
    other = city.grids[-1] if len(city.grids) > 1 else grid
    shape = polygon(other.lon + 0.001, other.lat + 0.001)
    data = {
        "name": grid.name,
        "geometry": json.dumps(shape),
        "geometry_source": "imported",
        "lon": grid.lon,  # the old point, left as it was
        "lat": grid.lat,
        "area_m2": grid.area_m2,
    }
    response = staff.post(f"/admin/geo/grid/{grid.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    grid.refresh_from_db()
    assert (grid.lon, grid.lat, grid.area_m2) == grid_place(boundary_shape(json.dumps(shape)))

    # an edit of the name only leaves the point and area alone, even a cleared area
    data.update(name="改名网格", geometry=grid.geometry, lon=grid.lon, lat=grid.lat, area_m2="")
    response = staff.post(f"/admin/geo/grid/{grid.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    kept = Grid.objects.get(pk=grid.pk)
    assert (kept.name, kept.lon, kept.lat, kept.area_m2) == ("改名网格", grid.lon, grid.lat, grid.area_m2)
