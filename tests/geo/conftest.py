"""Geo fixtures: the tiny demo city (built once per session by tests/conftest.py) and helpers.

Every test runs in a transaction that is rolled back, and boundary versions go
back with it: two tests can each bump the version to the same number with
different polygons. So the process-wide locate index is dropped around every
test here; rebuilding it for the tiny city takes a fraction of a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import shapely
from django.utils import translation

from zhiwang.geo.locator import reset_index
from zhiwang.geo.models import Division, DivisionLevel, Grid


@pytest.fixture(autouse=True)
def _fresh_locate_index():
    reset_index()
    yield
    reset_index()


@pytest.fixture
def english():
    """Tests that read messages read the English msgids, whatever zh-hans translations exist."""
    with translation.override("en"):
        yield


@dataclass
class City:
    """Handles on the demo city for tests: a community with its grids, and its neighbours."""

    community: Division
    grids: list[Grid]

    @property
    def subdistrict(self) -> Division:
        return self.community.parent

    @property
    def district(self) -> Division:
        return self.community.parent.parent

    def neighbour(self) -> Division:
        """Another community of the same subdistrict whose polygon touches this one."""
        mine = shapely.from_geojson(self.community.geometry)
        for other in self.subdistrict.children.exclude(pk=self.community.pk).order_by("code"):
            if other.geometry and shapely.intersects(mine, shapely.from_geojson(other.geometry)):
                return other
        raise AssertionError("the demo community has no neighbour")


@pytest.fixture
def city(db) -> City:
    """The tiny demo city; built here if the session fixture did not (slower, same result)."""
    if not Grid.objects.exists():
        from zhiwang.geo.demo import demo_geography_build

        demo_geography_build(scale="tiny", seed=1)
    community = (
        Division.objects.of_level(DivisionLevel.COMMUNITY)
        .filter(code__startswith="440304", grids__isnull=False)
        .select_related("parent__parent")
        .order_by("code")
        .first()
    )
    return City(community=community, grids=list(community.grids.order_by("code")))


def as_feature(geometry, **properties) -> dict:
    """A GeoJSON feature from a shapely geometry (or a GeoJSON geometry dict) and properties."""
    if not isinstance(geometry, dict):
        geometry = json.loads(shapely.to_geojson(geometry))
    return {"type": "Feature", "properties": properties, "geometry": geometry}


@pytest.fixture
def geojson_file(tmp_path):
    """Write features as a FeatureCollection file: ``geojson_file(features, encoding=..., name=...)``."""

    def write(features: list[dict], *, encoding: str = "utf-8", name: str = "boundaries.geojson") -> Path:
        path = tmp_path / name
        data = {"type": "FeatureCollection", "features": features}
        path.write_text(json.dumps(data, ensure_ascii=False), encoding=encoding)
        return path

    return write


@pytest.fixture
def make_feature():
    return as_feature
