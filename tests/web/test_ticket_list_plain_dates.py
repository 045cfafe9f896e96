# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""The REST ticket list with plain dates: the analytics API's links give ``open_at=2026-11-24``.

A date (or a date-time without an offset) used to reach the open-at and overdue-at filters as a
naive moment and the list answered 500 (comparing it with the aware "now"); the web list was
fine because its form makes local midnights. Now every moment without an offset is read in the
city's time zone (Asia/Shanghai), as the web list and the ORM's other date filters read it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.tickets.conftest import (  # noqa: F401  (fixtures reused as they are)
    accepted,
    dispatched,
    frozen_now,
    hotline,
    in_follow_up,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
WED = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


def numbers(client, **params):
    response = client.get("/api/v1/tickets/", params)
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["items"]}


def test_plain_dates_open_at_and_overdue_at(frozen_now, in_follow_up, accepted, nanshan_dispatcher, viewer):
    from zhiwang.tickets.services import ticket_follow_up, ticket_urge

    frozen_now(MON)
    closed = in_follow_up()
    frozen_now(WED)
    closed = ticket_follow_up(
        ticket=closed, actor=nanshan_dispatcher, resolved=True, satisfaction="satisfied"
    )
    urged = accepted()
    ticket_urge(ticket_id=urged.pk, actor=nanshan_dispatcher, now=urged.due_at + timedelta(minutes=1))

    # the same answers as with explicit local midnights (tests/web/test_ticket_list_filters.py)
    assert numbers(viewer, open_at="2026-11-24") == {closed.number}
    assert numbers(viewer, open_at="2026-11-24T00:00:00") == {closed.number}
    assert numbers(viewer, open_at="2026-11-26") == {urged.number}
    assert numbers(viewer, overdue_at="2026-11-26") == {urged.number}
    # a date still to come: open now
    assert numbers(viewer, open_at="2099-01-01") == {urged.number}


def test_plain_received_dates_are_local_midnights(frozen_now, in_follow_up, viewer):
    # received on Monday 10:00 Beijing time = 02:00 UTC: "from Monday" includes it, "to Monday" not
    frozen_now(MON)
    ticket = in_follow_up()
    assert numbers(viewer, received_from="2026-11-23", received_to="2026-11-24") == {ticket.number}
    assert numbers(viewer, received_to="2026-11-23") == set()
    # 2026-11-23T09:00 local is before it, 11:00 after
    assert numbers(viewer, received_from="2026-11-23T09:00:00") == {ticket.number}
    assert numbers(viewer, received_from="2026-11-23T11:00:00") == set()
