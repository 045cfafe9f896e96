"""Review fixes: locate is scoped to the caller; codes are ASCII digits only."""

import pytest
import shapely

from zhiwang.core.errors import ServiceError
from zhiwang.geo.boundaries import BoundaryImportRejected, boundaries_import
from zhiwang.geo.models import Grid
from zhiwang.geo.services import validate_division_code, validate_grid_code

pytestmark = pytest.mark.django_db


def locate(client, user, grid):
    client.force_login(user)
    return client.get(f"/api/v1/geo/locate?lon={grid.lon}&lat={grid.lat}")


def codes(body) -> dict:
    return {
        level: (body[level] or {}).get("code") for level in ("grid", "community", "subdistrict", "district")
    }


# --- GET /geo/locate answers only what the caller may see ------------------------------------------


def test_locate_outside_the_callers_jurisdiction_is_not_found(client, luohu_dispatcher):
    nanshan_grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    response = locate(client, luohu_dispatcher, nanshan_grid)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "440305" not in response.content.decode()


def test_a_citizen_learns_no_place_but_whether_the_point_is_in_the_city(client, citizen):
    grid = Grid.objects.order_by("code").first()
    response = locate(client, citizen, grid)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    outside = client.get("/api/v1/geo/locate?lon=120.0&lat=30.0")
    assert outside.status_code == 400
    assert outside.json()["error"]["code"] == "geo.outside_city"


def test_levels_above_the_jurisdiction_are_blank(client, subdistrict_dispatcher):
    subdistrict = subdistrict_dispatcher.jurisdictions.get()
    grid = Grid.objects.filter(community__parent=subdistrict).order_by("code").first()
    response = locate(client, subdistrict_dispatcher, grid)
    assert response.status_code == 200
    body = response.json()
    assert codes(body) == {
        "grid": grid.code,
        "community": grid.community.code,
        "subdistrict": subdistrict.code,
        "district": None,  # the district is not the caller's
    }
    assert body["precision"] == "grid"


def test_a_grid_worker_sees_own_grids_and_their_community_only(client, grid_worker):
    mine = Grid.objects.filter(assignments__user=grid_worker).order_by("code").first()
    body = locate(client, grid_worker, mine).json()
    assert codes(body) == {
        "grid": mine.code,
        "community": mine.community.code,
        "subdistrict": None,
        "district": None,
    }
    elsewhere = Grid.objects.exclude(community=mine.community).order_by("code").first()
    assert locate(client, grid_worker, elsewhere).status_code == 404


def test_a_grid_not_ones_own_is_blank_in_ones_community(client):
    from zhiwang.accounts.models import User

    police = User.objects.get(username="demo_grid_police")  # serves one grid of a community with more
    own = Grid.objects.get(assignments__user=police)
    other = Grid.objects.filter(community=own.community).exclude(pk=own.pk).order_by("code").first()
    body = locate(client, police, other).json()
    assert codes(body) == {
        "grid": None,
        "community": own.community.code,
        "subdistrict": None,
        "district": None,
    }
    assert body["precision"] == "community"


# --- Codes: ASCII digits, the whole value --------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "44030500100１",  # a FULLWIDTH digit
        "٤٤٠٣٠٥٠٠١٠٠١",  # ARABIC-INDIC digits
        "44030500100\u0661",
    ],
)
def test_division_code_takes_ascii_digits_only(code):
    with pytest.raises(ServiceError) as caught:
        validate_division_code(code)
    assert caught.value.code == "geo.division_code_invalid"


@pytest.mark.parametrize("code", ["440305001001１０１", "44030500100100\u0661"])
def test_grid_code_takes_ascii_digits_only(code):
    with pytest.raises(ServiceError) as caught:
        validate_grid_code(code)
    assert caught.value.code == "geo.grid_code_invalid"


def test_grid_import_refuses_a_code_with_fullwidth_digits(city, make_feature):
    community = city.community
    c = shapely.from_geojson(community.geometry).representative_point()
    square = shapely.box(c.x - 1e-4, c.y - 1e-4, c.x + 1e-4, c.y + 1e-4)
    code = community.code + "１０１"
    with pytest.raises(BoundaryImportRejected) as caught:
        boundaries_import(features=[make_feature(square, code=code)], level="grid")
    assert [p.code for p in caught.value.report.unmatched] == ["geo.grid_code_invalid"]
    assert not Grid.objects.filter(code=code).exists()
