# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The home page counts what the signed-in role must act on (web/home_work.py): the dispatcher's
queue, the handler unit's inbox, the grid worker's checks and open tickets per grid; each count
links to the page that lists it, and counts only what that user may see."""

from __future__ import annotations

import re

import pytest
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    accepted,
    dispatched,
    handler,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)

pytestmark = pytest.mark.django_db


def tiles(client, user) -> dict[str, tuple[int, str]]:
    """{label: (count, link)} of the home page's work tiles, as ``user`` sees them."""
    client.force_login(user)
    html = client.get("/").content.decode()
    found = re.findall(
        r'<a class="tile[^"]*" href="([^"]+)"><span>([^<]+)</span><strong>([\d,]+)</strong>', html
    )
    return {label: (int(count.replace(",", "")), link.replace("&amp;", "&")) for link, label, count in found}


def test_the_dispatcher_sees_the_queue_counted(client, make_ticket, nanshan_dispatcher, luohu_dispatcher):
    first, second = make_ticket(), make_ticket()
    mine = tiles(client, nanshan_dispatcher)
    assert mine[gettext("Awaiting dispatch")] == (2, "/dispatch/?tab=pending")
    assert mine[gettext("Handler requests")][0] == 0
    # the Luohu dispatcher's home does not count Nanshan's tickets
    assert tiles(client, luohu_dispatcher)[gettext("Awaiting dispatch")][0] == 0
    # and the count is what the queue page lists
    client.force_login(nanshan_dispatcher)
    page = client.get("/dispatch/?tab=pending").content.decode()
    assert first.number in page and second.number in page


def test_the_handler_sees_the_units_inbox_counted(client, dispatched, accepted, sub_handler, handler):
    dispatched()
    dispatched()
    accepted()
    mine = tiles(client, sub_handler)
    assert mine[gettext("To sign for")] == (2, "/inbox/")
    assert mine[gettext("Being handled")][0] == 1
    assert mine[gettext("Past the deadline")][0] == 0
    # a handler of another unit: nothing of this unit's work
    other = tiles(client, handler)
    assert other[gettext("To sign for")][0] == 0 and other[gettext("Being handled")][0] == 0


def test_the_grid_worker_sees_open_tickets_per_grid(client, make_ticket, grid_worker, nanshan_building):
    make_ticket()  # at the building in the worker's first grid
    mine = tiles(client, grid_worker)
    grid = nanshan_building.grid
    count, link = mine[gettext("Open in %(grid)s") % {"grid": grid.name}]
    assert count == 1 and link == f"/tickets/?grid={grid.code}&status=open"
    assert mine[gettext("On-site checks to do")] == (0, "/patrol/verify/")
    # the list behind the tile shows that one ticket
    assert "ticket-table" in client.get(link).content.decode()


def test_roles_without_a_work_list_get_no_tiles(client, city_leader):
    assert tiles(client, city_leader) == {}
