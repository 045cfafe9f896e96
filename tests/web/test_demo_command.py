"""`zhiwang demo`: deterministic for a seed, prints the accounts, idempotent with --if-empty."""

import hashlib
import logging
from io import StringIO

import pytest
from django.core.management import call_command

from zhiwang.analytics.models import Alert, RollupFact
from zhiwang.analytics.rollups import rollup_catch_up
from zhiwang.geo.demo import demo_geography_build
from zhiwang.geo.models import Grid, StandardAddress
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quicker_demo(settings, trainings_reused):
    # The histories' hourly clock sweeps make thousands of deadline computations, and the demo never
    # edits the calendar: keep it cached as in production (tests/conftest.py checks its tables on
    # every call, five queries each time).
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60
    # and every run trains the same demo model (see trainings_reused): once per session is enough.


def fingerprint() -> str:
    digest = hashlib.sha256()
    for row in Grid.objects.order_by("code").values_list("code", "geometry"):
        digest.update("|".join(row).encode())
    for row in StandardAddress.objects.order_by("code").values_list("code", "full_name", "house_code"):
        digest.update("|".join(row).encode())
    return digest.hexdigest()


def demo(*args):
    out = StringIO()
    call_command("demo", "--scale", "tiny", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_demo_builds_the_city_and_rebuilds_it_the_same(caplog):
    caplog.set_level(logging.INFO)
    output = demo("--seed", "7")
    # the histories' bulk sweep rows are counted before the dashboards are shown
    assert "caught up:" in output and rollup_catch_up() == 0
    # the history's hourly clock sweeps (1,440 of them at 60 days) do not flood the log of `make run`
    assert not [r for r in caplog.records if r.name == "zhiwang.tickets.services.clock"]
    assert "Governance index and indicators:" in output
    assert "5 the demo citizen's and grid worker's own" in output
    assert "merge conflicts and 2 registrations to check waiting" in output
    # ... so the demo's own people have work waiting when they sign in (tickets.history_events.persona_tickets)
    from zhiwang.accounts.models import User
    from zhiwang.tickets import selectors

    citizen, worker = (User.objects.get(username=name) for name in ("demo_citizen", "demo_grid_worker"))
    assert selectors.ticket_list(user=citizen).filter(status="follow_up").count() == 1
    assert selectors.ticket_list(user=worker, filters={"status": "verifying"}).count() >= 1
    first = fingerprint()

    def places():
        return set(Ticket.objects.exclude(address=None).values_list("pk", "address__code", "grid__code"))

    located = places()
    assert located
    # a second run over the first one's data (registry, disputes, tickets in place) rebuilds the same city
    output = demo("--seed", "7")
    assert fingerprint() == first
    assert "demo_ns_dispatcher" in output and "zhiwang-demo-2026" in output
    # the first city's tickets lost their grids with it: counted again where they are now, so no
    # alert (a grid's surge: the planted wage arrears) names a grid of the first city
    assert "rebuilt:" in output
    grids = set(Grid.objects.values_list("pk", flat=True))
    assert set(Alert.objects.exclude(grid=None).values_list("grid_id", flat=True)) <= grids
    assert set(RollupFact.objects.exclude(grid_id=0).values_list("grid_id", flat=True)) <= grids
    # ... and its tickets are back at their places (they were all left unlocated), so the grid
    # worker still has the check waiting
    worker = User.objects.get(username="demo_grid_worker")  # anew: the grids are new rows
    assert selectors.ticket_list(user=worker, filters={"status": "verifying"}).count() >= 1
    assert places() == located


def test_other_seed_other_city():
    # The seed reaches the city through the geography builder, so it is shown there: the full
    # command (~15 s a run, about a minute under CI's load) need not run a third time for it. The
    # session's city is the tiny one of seed 1 (tests/conftest.py).
    grids = Grid.objects.count()
    first = fingerprint()
    demo_geography_build(scale="tiny", seed=8)
    assert Grid.objects.count() == grids and fingerprint() != first


def test_if_empty_keeps_existing_data():
    before = fingerprint()
    output = demo("--if-empty", "--seed", "99")
    assert "nothing to do" in output
    assert fingerprint() == before


def test_house_codes_follow_the_shenzhen_layout():
    room = StandardAddress.objects.filter(level="room").select_related("grid", "community").first()
    assert len(room.house_code) == 25 and room.house_code.isdigit()
    assert room.house_code[:12] == room.community.code
    assert int(room.house_code[12:14]) == room.grid.sequence % 100
    building = room.parent.parent
    assert building.level == "building" and room.house_code.startswith(building.house_code)
    assert len(building.house_code) == 19
