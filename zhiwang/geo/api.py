"""Geo API: divisions, grids, standard addresses and locate — all scoped to the caller."""

from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from zhiwang.geo import selectors
from zhiwang.geo.locator import locate

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


class DivisionFilter(Schema):
    level: str | None = None
    parent: str | None = None
    q: str | None = None


@router.get("/divisions", response=list[DivisionOut], summary="Divisions visible to me")
@paginate(LimitOffsetPagination)
def divisions(request, filters: Query[DivisionFilter]):
    return selectors.division_list(
        user=request.user, level=filters.level, parent_code=filters.parent, q=filters.q
    )


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


@router.get("/grids", response=list[GridOut], summary="Grids visible to me")
@paginate(LimitOffsetPagination)
def grids(request, community: str | None = None):
    division = selectors.division_get(user=request.user, code=community) if community else None
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
    """``crs``: wgs84 (stored) or gcj02 (phone apps, Chinese maps; converted here)."""
    return locate(lon, lat, crs=crs).as_dict()
