"""Geo API filters refuse what they cannot mean, naming the parameter, instead of an empty 200."""

import pytest

from zhiwang.geo.models import Division, DivisionLevel, Grid

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


@pytest.mark.parametrize(
    ("url", "field", "code"),
    [
        ("/api/v1/geo/divisions?level=bogus", "level", "field.not_a_choice"),
        ("/api/v1/geo/divisions?parent=nonsense", "parent", "field.bad_format"),
        ("/api/v1/geo/divisions?parent=4403050010001", "parent", "field.bad_format"),
        ("/api/v1/geo/grids?community=南头", "community", "field.bad_format"),
    ],
)
def test_a_filter_value_that_cannot_mean_anything_is_422(api, url, field, code):
    response = api.get(url)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "request.invalid" and error["field"] == field
    assert error["fields"][0]["code"] == code


@pytest.mark.parametrize("level", [DivisionLevel.DISTRICT, DivisionLevel.SUBDISTRICT])
def test_grids_of_a_division_that_is_not_a_community_is_a_clear_error(api, level):
    division = Division.objects.filter(level=level, code__startswith="440305").order_by("code").first()
    response = api.get(f"/api/v1/geo/grids?community={division.code}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("geo.not_a_community", "community")
    assert division.code in error["message"]


def test_good_filters_still_answer(api):
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    body = api.get(f"/api/v1/geo/grids?community={grid.community.code}").json()
    assert grid.code in {item["code"] for item in body["items"]}
    body = api.get("/api/v1/geo/divisions?level=community&parent=440305001000").json()
    assert body["count"] == Division.objects.filter(parent__code="440305001000").count() > 0
    assert api.get("/api/v1/geo/grids?community=440303001001").status_code == 404  # Luohu: not mine
    assert api.get("/api/v1/geo/grids").status_code == 200
