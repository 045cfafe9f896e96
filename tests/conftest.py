"""Shared fixtures: one tiny demo city per test session, and the named personas of STYLE.md.

The city (real Shenzhen divisions, synthetic grids and addresses, the demo accounts)
is built once into the test database; each test runs in a transaction that is
rolled back, so tests can change it freely.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("ZHIWANG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

NANSHAN = "440305000000"
LUOHU = "440303000000"


def pytest_configure(config):
    from django.conf import settings

    # Fast hashing for the whole session, including the city built before any test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.ZHIWANG_GEO_INDEX_CHECK_SECONDS = 0
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 0
    # Other apps' tests may edit units or rules with QuerySet.update(), which bumps no version.
    settings.ZHIWANG_TICKETS_CACHE_CHECK_SECONDS = 0
    settings.LANGUAGE_CODE = "zh-hans"
    # Each test rolls back the boundary version it bumped: two tests may reach the same
    # version number with different polygons, so no test may trust a cached index.
    from zhiwang.geo.addressing import reset_address_index
    from zhiwang.geo.locator import reset_index

    reset_index()
    # Same for the address index: after a rollback SQLite may reuse row ids, so its
    # cheap change check could miss that the data changed.
    reset_address_index()
    from zhiwang.tickets.cache import routing_config_reset

    routing_config_reset()
    from zhiwang.tickets.services.submit_queue import submission_queue_room_reset

    submission_queue_room_reset()  # a test that filled the queue must not leave it "full"


def build_city() -> None:
    from zhiwang.accounts.demo import demo_accounts_create
    from zhiwang.geo.demo import demo_geography_build
    from zhiwang.geo.locator import reset_index

    demo_geography_build(scale="tiny", seed=1)
    demo_accounts_create(password="pw-for-tests")
    from zhiwang.tickets.catalogue import load_catalogue
    from zhiwang.tickets.demo import demo_routing_create
    from zhiwang.tickets.models import Category, KindDeadline

    # Transactional tests flush the tables the data migrations filled: load again if empty.
    load_catalogue(Category=Category, KindDeadline=KindDeadline)
    from zhiwang.core.workcalendar.models import CalendarYear
    from zhiwang.core.workcalendar.services import calendar_seed

    if not CalendarYear.objects.exists():
        calendar_seed()
    demo_routing_create()
    reset_index()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        build_city()


@pytest.fixture
def city_restored(transactional_db):
    """The demo city for a transactional test: pytest-django runs those last and empties every
    table after each, so one that runs after another (e.g. when a subset of files is run) finds
    no city. Ask for it before the fixtures that read the city."""
    from zhiwang.accounts.models import User

    if not User.objects.filter(username="demo_grid_worker").exists():
        build_city()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a clean skip when this checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set ZHIWANG_SHARED_DATA); skipping")
    return SHARED_DATA


def _persona(username: str):
    from zhiwang.accounts.models import User

    return User.objects.get(username=username)


@pytest.fixture
def admin_user(db):
    return _persona("demo_admin")


@pytest.fixture
def nanshan_dispatcher(db):
    """Dispatcher of Nanshan district: sees Nanshan, not Luohu."""
    return _persona("demo_ns_dispatcher")


@pytest.fixture
def luohu_dispatcher(db):
    """Dispatcher of Luohu district: the outsider for everything in Nanshan."""
    return _persona("demo_lh_dispatcher")


@pytest.fixture
def subdistrict_dispatcher(db):
    return _persona("demo_sub_dispatcher")


@pytest.fixture
def grid_worker(db):
    """Grid worker of two grids of the first community of Nanshan's first subdistrict."""
    return _persona("demo_grid_worker")


@pytest.fixture
def citizen(db):
    return _persona("demo_citizen")


@pytest.fixture
def city_leader(db):
    return _persona("demo_leader")
