"""The admin's add forms check a division or a grid as load-divisions and import-boundaries do.

A community added with the code 440305 under a Luohu subdistrict took all of Nanshan as its
code-prefix subtree; a grid took the code "ABC". Both were saved.
"""

from __future__ import annotations

import json

import pytest

from zhiwang.geo.locator import locate
from zhiwang.geo.models import Division, DivisionLevel, Grid
from zhiwang.geo.services import division_problems, grid_problems

pytestmark = pytest.mark.django_db

ALIASES_NONE = {"aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"}


def square(lon: float, lat: float, d: float = 0.0005) -> str:
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def add_division(client, **fields):
    data = {"name": "新社区", "short_name": "", "special": "", "geometry": "", "geometry_source": ""}
    data.update(ALIASES_NONE, **fields)
    return client.post("/admin/geo/division/add/", data)


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_a_community_whose_code_is_a_district_prefix_is_refused(staff, city):
    luohu_subdistrict = Division.objects.filter(
        level=DivisionLevel.SUBDISTRICT, code__startswith="440303"
    ).first()
    errors = form_errors(add_division(staff, code="440305", level="community", parent=luohu_subdistrict.pk))
    assert "code" in errors
    assert not Division.objects.filter(name="新社区").exists()


@pytest.mark.parametrize(
    ("code", "level", "parent_code", "field"),
    [
        ("440305099000", "community", "440305001000", "code"),  # a subdistrict-shaped code, as a community
        ("440305001777", "subdistrict", "440305000000", "code"),  # inside 南头街道's prefix 440305001
        ("440303001099", "community", "440305001000", "code"),  # not under its parent (Luohu vs Nanshan)
        ("440305001099", "community", "440305000000", "parent"),  # a community straight under a district
    ],
)
def test_a_code_that_does_not_fit_its_level_or_parent_is_refused(
    staff, city, code, level, parent_code, field
):
    parent = Division.objects.get(code=parent_code)
    errors = form_errors(add_division(staff, code=code, level=level, parent=parent.pk))
    assert field in errors
    assert not Division.objects.filter(code=code).exists()


def test_a_community_that_fits_is_added_and_located(staff, city):
    subdistrict = city.subdistrict
    code = f"{subdistrict.code[:9]}998"
    grid = city.grids[0]
    locate(grid.lon, grid.lat)  # the index is built before the add
    response = add_division(
        staff,
        code=code,
        level="community",
        parent=subdistrict.pk,
        lon=grid.lon,
        lat=grid.lat,
        geometry=square(grid.lon, grid.lat),
        geometry_source="imported",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Division.objects.get(code=code)
    assert added.parent == subdistrict
    # an imported community boundary outranks the synthetic grid there: the new community answers
    assert locate(grid.lon, grid.lat).community.code == code


def test_a_boundary_that_is_not_geojson_or_not_in_shenzhen_is_refused(staff, city):
    subdistrict = city.subdistrict
    for geometry in ("not json", square(121.47, 31.23)):  # garbage; Shanghai
        errors = form_errors(
            add_division(
                staff,
                code=f"{subdistrict.code[:9]}997",
                level="community",
                parent=subdistrict.pk,
                geometry=geometry,
            )
        )
        assert "geometry" in errors
    errors = form_errors(
        add_division(
            staff, code=f"{subdistrict.code[:9]}997", level="community", parent=subdistrict.pk, lon=500
        )
    )
    assert "lon" in errors


def add_grid(client, **fields):
    data = {"name": "测试网格", "geometry_source": "imported", "area_m2": 0}
    data.update(fields)
    return client.post("/admin/geo/grid/add/", data)


def test_a_grid_code_that_is_not_its_communitys_is_refused(staff, city):
    grid = city.grids[0]
    luohu = Division.objects.filter(level=DivisionLevel.COMMUNITY, code__startswith="440303").first()
    point = {"lon": grid.lon, "lat": grid.lat, "geometry": square(grid.lon, grid.lat)}
    assert "code" in form_errors(add_grid(staff, code="ABC", community=luohu.pk, **point))
    # a valid-looking code of another community
    assert "code" in form_errors(
        add_grid(staff, code=f"{city.community.code}099", community=luohu.pk, **point)
    )
    # a grid in a subdistrict
    sub = city.subdistrict
    assert "community" in form_errors(add_grid(staff, code=f"{sub.code}099", community=sub.pk, **point))
    assert "geometry" in form_errors(
        add_grid(
            staff, code=f"{luohu.code}099", community=luohu.pk, lon=grid.lon, lat=grid.lat, geometry="{}"
        )
    )
    assert not Grid.objects.filter(name="测试网格").exists()


def test_a_grid_that_fits_is_added_and_located_at_once(staff, city):
    grid = city.grids[0]
    assert locate(grid.lon, grid.lat).grid.code == grid.code  # index built before the add
    code = f"{city.community.code}099"
    response = add_grid(
        staff,
        code=code,
        community=city.community.pk,
        lon=grid.lon,
        lat=grid.lat,
        geometry=square(grid.lon, grid.lat),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert locate(grid.lon, grid.lat).grid.code == code  # imported beats the synthetic grid


def test_the_services_say_why_in_words(city, english):
    nanshan = Division.objects.get(code="440305000000")
    [problem] = division_problems(code="440305001777", level="subdistrict", parent=nanshan)
    assert problem.code == "geo.division_code_level" and "9 digits" in problem.message
    [problem] = division_problems(code="440305001099", level="community", parent=nanshan)
    assert problem.code == "geo.division_parent_level" and "subdistrict" in problem.message
    [problem] = grid_problems(code="ABC", community=city.community)
    assert problem.code == "geo.grid_code_invalid"
    [problem] = grid_problems(code="440303001001001", community=city.community)
    assert problem.code == "geo.grid_outside_community" and city.community.code in problem.message
    assert (
        division_problems(code=f"{city.subdistrict.code[:9]}998", level="community", parent=city.subdistrict)
        == []
    )
