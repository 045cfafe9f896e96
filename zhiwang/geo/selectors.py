"""Reads of the geo app, always scoped to who is asking."""

from __future__ import annotations

import json

from django.db.models import QuerySet
from django.http import Http404

from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import AddressLevel, Division, DivisionLevel, Grid, StandardAddress


def division_root_list(*, user) -> list[Division]:
    """Where a user's browsing starts: the city, or the tops of their jurisdiction."""
    scope = scope_of(user)
    if scope.everything:
        return list(Division.objects.filter(level=DivisionLevel.CITY))
    visible = Division.objects.visible_to(user)
    visible_ids = set(visible.values_list("pk", flat=True))
    return [d for d in visible.order_by("code") if d.parent_id not in visible_ids]


def division_get(*, user, code: str) -> Division:
    """One division by code, or 404 when it does not exist or lies outside the user's scope."""
    division = Division.objects.visible_to(user).select_related("parent").filter(code=code).first()
    if division is None:
        raise Http404(code)
    return division


def division_ancestors(*, division: Division) -> list[Division]:
    """City → … → parent, for breadcrumbs (names only; links are checked separately)."""
    chain = []
    current = division.parent
    while current is not None:
        chain.append(current)
        current = current.parent
    return list(reversed(chain))


def division_children(*, user, division: Division) -> QuerySet[Division]:
    return Division.objects.visible_to(user).filter(parent=division).order_by("code")


def division_list(
    *, user, level: str | None = None, parent_code: str | None = None, q: str | None = None
) -> QuerySet[Division]:
    qs = Division.objects.visible_to(user).select_related("parent")
    if level:
        qs = qs.filter(level=level)
    if parent_code:
        qs = qs.filter(parent__code=parent_code)
    if q:
        qs = qs.filter(name__contains=q)
    return qs.order_by("code")


def grid_list(*, user, community: Division | None = None) -> QuerySet[Grid]:
    qs = Grid.objects.visible_to(user).select_related("community")
    if community is not None:
        qs = qs.filter(community=community)
    return qs.order_by("code")


def grid_get(*, user, code: str) -> Grid:
    grid = (
        Grid.objects.visible_to(user)
        .select_related("community", "community__parent", "community__parent__parent")
        .filter(code=code)
        .first()
    )
    if grid is None:
        raise Http404(code)
    return grid


def building_list(
    *, user, grid: Grid | None = None, community: Division | None = None
) -> QuerySet[StandardAddress]:
    qs = StandardAddress.objects.visible_to(user).filter(level=AddressLevel.BUILDING)
    if grid is not None:
        qs = qs.filter(grid=grid)
    if community is not None:
        qs = qs.filter(community=community)
    return qs.order_by("code")


def address_get(*, user, code: str) -> StandardAddress:
    address = (
        StandardAddress.objects.visible_to(user)
        .select_related("grid", "community", "parent")
        .filter(code=code)
        .first()
    )
    if address is None:
        raise Http404(code)
    return address


def feature_collection(items, *, kind: str) -> dict:
    """GeoJSON of divisions or grids for the map (geometry is stored as GeoJSON text)."""
    features = []
    for item in items:
        if not item.geometry:
            continue
        props = {"code": item.code, "name": getattr(item, "display_name", item.name), "kind": kind}
        for counter in ("grid_count", "building_count", "room_count"):
            if hasattr(item, counter):
                props[counter] = getattr(item, counter)
        features.append({"type": "Feature", "geometry": json.loads(item.geometry), "properties": props})
    return {"type": "FeatureCollection", "features": features}
