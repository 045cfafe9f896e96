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
    # Sessions last a 12-hour shift (ZHIWANG_SESSION_HOURS); tests that move the clock days ahead
    # (frozen_now) keep their signed-in client. tests/web/test_settings.py checks the real default.
    settings.SESSION_COOKIE_AGE = 366 * 24 * 3600


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


#: The test database as the session left it with its city (see ``city_restore``).
_snapshot: dict | None = None


def _snapshot_take() -> dict | None:
    """Every table's rows: a page copy of SQLite's in-memory test database, PostgreSQL's binary COPY."""
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        import sqlite3

        copy = sqlite3.connect(":memory:", check_same_thread=False)
        connection.connection.backup(copy)
        return {"sqlite": copy}
    if connection.vendor == "postgresql":
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        rows = {}
        with connection.cursor() as cursor:
            for table in tables:
                with cursor.cursor.copy(
                    f"COPY {connection.ops.quote_name(table)} TO STDOUT (FORMAT BINARY)"
                ) as copy:
                    rows[table] = b"".join(bytes(block) for block in copy)
        return {"postgresql": rows}
    return None


def _snapshot_restore(snapshot: dict) -> None:
    from django.db import connection, transaction

    if "sqlite" in snapshot:
        connection.ensure_connection()
        snapshot["sqlite"].backup(connection.connection)
        return
    rows = snapshot["postgresql"]
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # the flush left only what post_migrate makes (content types, permissions): made again
        # with other ids, so they go too and come back as the city's rows point to them
        cursor.execute("TRUNCATE " + ", ".join(quote(table) for table in rows))
        for table, data in rows.items():
            with cursor.cursor.copy(f"COPY {quote(table)} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)


def city_restore() -> None:
    """The demo city in the database of a transactional test (flushed after every such test).

    Puts back the database exactly as the session built it (tables, rows and ids, including what
    the data migrations seeded) in a fraction of a second; builds the city again when there is
    no copy of it (as ``build_city`` would). Nothing to do while the city is there.
    """
    from django.contrib.contenttypes.models import ContentType

    from zhiwang.accounts.models import User
    from zhiwang.core.workcalendar.services import work_calendar_reset
    from zhiwang.geo.addressing import reset_address_index
    from zhiwang.geo.locator import reset_index
    from zhiwang.tickets.cache import routing_config_reset

    if User.objects.filter(username="demo_grid_worker").exists():
        return
    if _snapshot is None:
        build_city()
        return
    _snapshot_restore(_snapshot)
    ContentType.objects.clear_cache()
    work_calendar_reset()
    reset_index()
    reset_address_index()
    routing_config_reset()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    global _snapshot
    with django_db_blocker.unblock():
        build_city()
        _snapshot = _snapshot_take()


@pytest.fixture
def city_restored(transactional_db):
    """The demo city for a transactional test: pytest-django runs those last and empties every
    table after each, so one that runs after another (e.g. when a subset of files is run) finds
    no city. Ask for it before the fixtures that read the city."""
    city_restore()


#: Models trained in this test session, by their training data and options (see ``trainings_reused``).
_TRAININGS: dict[bytes, object] = {}


@pytest.fixture
def trainings_reused(monkeypatch):
    """``classifier.services.model_train`` trains once per session per data set: a second training on
    the same texts, labels and options gets a copy of the first one's model.

    Training is deterministic (fixed random state), so the copy is the model the second training
    would have made; everything around it (saving, registering, measuring, promoting) runs as
    usual. For tests that run ``zhiwang demo`` again and again: it trains the same demo model
    (about 10 s) every time.
    """
    import copy
    import pickle

    from zhiwang.classifier import services

    real = services.train

    def train(texts, labels, **options):
        progress = options.pop("progress", None)
        key = pickle.dumps((list(texts), list(labels), sorted(options.items())))
        if key not in _TRAININGS:
            _TRAININGS[key] = real(texts, labels, progress=progress, **options)
        return copy.deepcopy(_TRAININGS[key])

    monkeypatch.setattr(services, "train", train)


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
