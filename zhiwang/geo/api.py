"""Geo API: divisions, grids, standard addresses and locate — all scoped to the caller."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from zhiwang.core.errors import ServiceError
from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.core.scoping import scope_of
from zhiwang.geo import selectors
from zhiwang.geo.locator import CHAIN, Location, locate
from zhiwang.geo.models import DivisionLevel
from zhiwang.geo.services import level_word

router = Router(tags=["geo"])


class DivisionOut(Schema):
    code: str
    name: str
    short_name: str
    level: str
    parent_code: str | None
    special: str
    grid_count: int
    building_count: int
    room_count: int

    @staticmethod
    def resolve_parent_code(obj) -> str | None:
        return obj.parent.code if obj.parent_id else None


#: A 12-digit division code in a filter: anything else is 422 ``request.invalid`` naming the
#: parameter (``field.bad_format``), not a silently empty list.
DIVISION_CODE_PATTERN = r"^[0-9]{12}$"


class DivisionFilter(Schema):
    level: DivisionLevel | None = None  # not a level: 422 field.not_a_choice
    parent: str | None = Field(None, pattern=DIVISION_CODE_PATTERN)
    q: str | None = None


@router.get("/divisions", response=list[DivisionOut], summary="Divisions visible to me")
@paginate(LimitOffsetPagination)
def divisions(request, filters: Query[DivisionFilter]):
    level = filters.level.value if filters.level else None
    return selectors.division_list(user=request.user, level=level, parent_code=filters.parent, q=filters.q)


@router.get("/divisions/{code}", response=DivisionOut, summary="One division")
def division(request, code: str):
    return selectors.division_get(user=request.user, code=code)


@router.get("/divisions/{code}/children.geojson", summary="Children of a division as GeoJSON")
def division_children_geojson(request, code: str):
    division = selectors.division_get(user=request.user, code=code)
    if division.level == "community":
        return selectors.feature_collection(
            selectors.grid_list(user=request.user, community=division), kind="grid"
        )
    return selectors.feature_collection(
        selectors.division_children(user=request.user, division=division), kind="division"
    )


class GridOut(Schema):
    code: str
    name: str
    community_code: str
    lon: float
    lat: float
    area_m2: float
    geometry_source: str

    @staticmethod
    def resolve_community_code(obj) -> str:
        return obj.community.code


class GridFilter(Schema):
    community: str | None = Field(None, pattern=DIVISION_CODE_PATTERN)


@router.get("/grids", response=list[GridOut], summary="Grids visible to me")
@paginate(LimitOffsetPagination)
def grids(request, filters: Query[GridFilter]):
    """``community``: the grids of one community (404 outside the caller's jurisdiction; a
    district's or subdistrict's code is 400 ``geo.not_a_community``: grids lie in communities)."""
    division = None
    if filters.community:
        division = selectors.division_get(user=request.user, code=filters.community)
        if division.level != DivisionLevel.COMMUNITY:
            raise ServiceError(
                "geo.not_a_community",
                _("%(division)s is a %(level)s, not a community: grids are listed by community.")
                % {"division": f"{division.code} {division.name}", "level": level_word(division.level)},
                field="community",
            )
    return selectors.grid_list(user=request.user, community=division)


@router.get("/grids/{code}", response=GridOut, summary="One grid")
def grid(request, code: str):
    return selectors.grid_get(user=request.user, code=code)


class AddressOut(Schema):
    code: str
    level: str
    name: str
    full_name: str
    house_code: str
    grid_code: str | None
    community_code: str
    lon: float | None
    lat: float | None

    @staticmethod
    def resolve_grid_code(obj) -> str | None:
        return obj.grid.code if obj.grid_id else None

    @staticmethod
    def resolve_community_code(obj) -> str:
        return obj.community.code


@router.get("/grids/{code}/buildings", response=list[AddressOut], summary="Buildings in a grid")
@paginate(LimitOffsetPagination)
def grid_buildings(request, code: str):
    grid_obj = selectors.grid_get(user=request.user, code=code)
    return selectors.building_list(user=request.user, grid=grid_obj).select_related("grid", "community")


class PlaceOut(Schema):
    code: str
    name: str


class LocationOut(Schema):
    lon: float
    lat: float
    precision: str
    grid: PlaceOut | None
    community: PlaceOut | None
    subdistrict: PlaceOut | None
    district: PlaceOut | None


@router.get(
    "/locate", response=LocationOut, summary="Which grid, community, subdistrict and district hold a point"
)
def locate_point(request, lon: str, lat: str, crs: str = "wgs84"):
    """``crs``: wgs84 (stored) or gcj02 (phone apps, Chinese maps; converted here).

    Scoped like every read: a level outside the caller's jurisdiction is ``null``, and a point
    with nothing left is 404 ``not_found`` (a point outside the city stays 400
    ``geo.outside_city``). ``precision`` is the finest level answered.
    """
    return scoped_location(locate(lon, lat, crs=crs), user=request.user)


def scoped_location(location: Location, *, user) -> dict:
    """``location.as_dict()`` with each level ``user`` may not see blanked; Http404 if none is left.

    The grid is visible to its grid workers and within its community's subtree; a division
    when it lies in the caller's jurisdiction (or holds one of the caller's grids), as
    ``division_get`` has it.
    """
    scope = scope_of(user)
    community_id = location.community.id if location.community is not None else None
    visible = {
        "grid": location.grid is not None and scope.allows_grid(location.grid.id, community_id),
        "community": location.community is not None and scope.allows_division(community_id),
        "subdistrict": location.subdistrict is not None and scope.allows_division(location.subdistrict.id),
        "district": location.district is not None and scope.allows_division(location.district.id),
    }
    if not any(visible.values()):
        raise Http404("locate: nothing in scope")
    out = location.as_dict()
    for level, shown in visible.items():
        if not shown:
            out[level] = None
    out["precision"] = next(level for level in CHAIN if out[level] is not None)
    return out
