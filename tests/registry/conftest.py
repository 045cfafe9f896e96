"""Registry fixtures: the demo city's first Nanshan community filled with synthetic records."""

from __future__ import annotations

import pytest

from zhiwang.geo.models import AddressLevel, Division, StandardAddress


def _persona(username: str):
    from zhiwang.accounts.models import User

    return User.objects.get(username=username)


@pytest.fixture
def steward(db):
    """City-wide data steward."""
    return _persona("demo_steward")


@pytest.fixture
def grid_police(db):
    """Member of the first grid only."""
    return _persona("demo_grid_police")


@pytest.fixture
def home_community(db):
    """The community the demo grid worker serves (first community of Nanshan's first subdistrict)."""
    from zhiwang.accounts.models import User

    worker = User.objects.get(username="demo_grid_worker")
    return Division.objects.get(pk=next(iter(worker.scope.grid_community_ids)))


@pytest.fixture
def luohu_community(db):
    return (
        Division.objects.filter(code__startswith="440303", level="community", addresses__isnull=False)
        .order_by("code")
        .distinct()
        .first()
    )


@pytest.fixture
def registry_demo(db, home_community, luohu_community):
    """Synthetic people, entities and housing in one Nanshan and one Luohu community."""
    from zhiwang.registry.demo import demo_registry_create

    return demo_registry_create(scale="small", seed=3, communities=[home_community, luohu_community])


@pytest.fixture
def home_room(db, grid_worker):
    """A room in the grid worker's first grid."""
    grid_id = sorted(grid_worker.scope.grid_ids)[0]
    return StandardAddress.objects.filter(grid_id=grid_id, level=AddressLevel.ROOM).order_by("code").first()


@pytest.fixture
def luohu_room(db, luohu_community):
    return (
        StandardAddress.objects.filter(community=luohu_community, level=AddressLevel.ROOM)
        .order_by("code")
        .first()
    )


@pytest.fixture
def source_unit(db):
    from zhiwang.accounts.models import OrgUnit

    return OrgUnit.objects.get(code="DEMO-CITY-DATA")


@pytest.fixture
def other_unit(db):
    from zhiwang.accounts.models import OrgUnit

    return OrgUnit.objects.get(code="DEMO-NS-URBAN")


@pytest.fixture
def import_dir(settings, tmp_path):
    """Import uploads and scratch files of the test in its own folder."""
    settings.ZHIWANG_REGISTRY_IMPORT_DIR = str(tmp_path / "imports")


@pytest.fixture
def templates(db):
    """The shipped mapping templates (and eligibility rules), by record kind."""
    from zhiwang.registry.defaults import seed_defaults
    from zhiwang.registry.models import EligibilityRule, MappingTemplate

    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    return {t.kind: t for t in MappingTemplate.objects.all()}


@pytest.fixture
def template(templates):
    """The police's resident-population template (公安实有人口)."""
    from zhiwang.registry.models import MappingTemplate

    return MappingTemplate.objects.get(name="公安实有人口")
