"""Geo API: scoped reads, GeoJSON for the map, locate with stable error codes."""

import pytest

from zhiwang.geo.models import Grid

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


def test_division_list_is_scoped_and_paginated(api):
    from zhiwang.geo.models import Division

    body = api.get("/api/v1/geo/divisions?level=subdistrict&limit=5").json()
    assert body["count"] == Division.objects.filter(level="subdistrict", code__startswith="440305").count()
    assert len(body["items"]) <= 5
    assert all(item["code"].startswith("440305") for item in body["items"])
    assert api.get("/api/v1/geo/divisions/440303000000").status_code == 404


def test_children_geojson_of_a_community_are_its_grids(api):
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    body = api.get(f"/api/v1/geo/divisions/{grid.community.code}/children.geojson").json()
    assert body["type"] == "FeatureCollection"
    codes = {f["properties"]["code"] for f in body["features"]}
    assert grid.code in codes
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in body["features"])


def test_grid_buildings_outside_scope_are_not_found(api):
    luohu_grid = Grid.objects.filter(code__startswith="440303").first()
    assert api.get(f"/api/v1/geo/grids/{luohu_grid.code}").status_code == 404
    assert api.get(f"/api/v1/geo/grids/{luohu_grid.code}/buildings").status_code == 404


def test_locate_answers_the_chain(api):
    grid = Grid.objects.filter(code__startswith="440305").first()
    body = api.get(f"/api/v1/geo/locate?lon={grid.lon}&lat={grid.lat}").json()
    assert body["grid"]["code"] == grid.code
    assert body["district"]["code"] == "440305000000"
    assert body["precision"] == "grid"


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("lon=120.0&lat=30.0", "geo.outside_city", "lon"),
        ("lon=abc&lat=22.5", "geo.not_a_number", "lon"),
        ("lon=114.0&lat=95", "geo.out_of_range", "lat"),
        ("lon=114.0&lat=22.5&crs=bd09", "geo.unknown_crs", "crs"),
    ],
)
def test_locate_errors_have_stable_codes_and_name_the_field(api, query, code, field):
    response = api.get(f"/api/v1/geo/locate?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]


def test_anonymous_gets_401(client):
    assert client.get("/api/v1/geo/divisions").status_code == 401
