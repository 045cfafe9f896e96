# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""The ticket list's filters behind the dashboards' figures, and what the list does with a bad one.

A filter value the list cannot read used to drop every filter: the viewer saw their whole list
under a link that asked for part of it (``overdue=true`` from the "overdue now" figure). Now the
error shows next to its field and nothing is listed. The event, open-at and overdue-at filters
are tested against the dashboards' figures in ``tests/analytics/test_click_through.py``; here,
their refusals and the REST list (which shares the filter code).
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


@pytest.fixture
def closed_on_wed(frozen_now, in_follow_up, nanshan_dispatcher):
    from zhiwang.tickets.services import ticket_follow_up

    frozen_now(MON)
    ticket = in_follow_up()
    frozen_now(WED)
    return ticket_follow_up(ticket=ticket, actor=nanshan_dispatcher, resolved=True, satisfaction="satisfied")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"overdue": "maybe"}, "overdue"),
        ({"status": "lost"}, "status"),
        ({"event": "exploded"}, "event"),
        ({"open_at": "2026-13-01"}, "open_at"),
        ({"overdue_at": "0001-01-01"}, "overdue_at"),
        ({"event_from": "9999-12-31", "event": "closed"}, "event_from"),
        ({"division": "999999999999"}, "division"),  # the selector's error (an unknown code)
        ({"event_unit": "NOPE", "event": "closed"}, "event_unit"),
        ({"event_from": "2026-11-23"}, "event"),  # a window of what? (tickets.event_required)
    ],
)
def test_a_bad_filter_shows_its_error_and_lists_nothing(make_ticket, viewer, query, field):
    """Was: the form (or the selector) refused it and the list showed every ticket, unfiltered."""
    make_ticket(), make_ticket()
    response = viewer.get("/tickets/", {"channel": "hotline", **query})
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert response.context["page"].paginator.count == 0
    html = response.content.decode()
    assert 'data-testid="form-errors"' in html and 'data-testid="no-tickets"' in html
    assert f'id="id_{field}_errors"' in html and f'aria-describedby="id_{field}_errors"' in html


def test_the_error_reads_in_chinese_first(make_ticket, viewer):
    make_ticket()
    html = viewer.get("/tickets/", {"overdue": "maybe"}).content.decode()
    assert "选择一个有效的选项" in html and "请更正" in html


@pytest.mark.parametrize(("value", "expected"), [("true", 1), ("1", 1), ("false", 1), ("0", 1), ("", 2)])
def test_overdue_takes_the_apis_words_too(frozen_now, dispatched, make_ticket, viewer, value, expected):
    """``overdue=true`` (as the REST list and the old dashboard link wrote it) is ``overdue=1``."""
    frozen_now(MON)
    late = dispatched(kind="inquiry")  # 2 working days
    make_ticket()
    frozen_now(MON + timedelta(days=7))
    response = viewer.get("/tickets/", {"overdue": value})
    assert not response.context["form"].errors
    assert response.context["page"].paginator.count == expected
    listed = {t.pk for t in response.context["page"].object_list}
    assert (late.pk in listed) == (value != "false" and value != "0")


def test_an_unfiltered_list_still_lists(make_ticket, viewer):
    ticket = make_ticket()
    response = viewer.get("/tickets/")
    assert not response.context["form"].is_bound and response.context["page"].paginator.count == 1
    assert ticket.number in response.content.decode()


def test_the_closed_window_on_the_page(closed_on_wed, make_ticket, viewer):
    make_ticket()
    response = viewer.get(
        "/tickets/", {"event": "closed", "event_from": "2026-11-25", "event_to": "2026-11-26"}
    )
    assert [t.pk for t in response.context["page"].object_list] == [closed_on_wed.pk]
    assert '<details class="more-filters" open>' in response.content.decode()


# --- the REST list shares the filters --------------------------------------------------------


def api(client, **params):
    return client.get("/api/v1/tickets/", params)


def test_the_api_lists_by_event_open_at_and_overdue_at(
    closed_on_wed, frozen_now, accepted, make_ticket, nanshan_dispatcher, sub_handler, viewer
):
    from zhiwang.tickets.services import ticket_transfer, ticket_urge

    transferred = accepted()
    ticket_transfer(ticket=transferred, actor=nanshan_dispatcher, target="调解", reference="TJ-1")
    urged = accepted()
    # past the deadline: an urge before it is not overdue (tests/analytics/test_urge_before_deadline.py)
    ticket_urge(ticket_id=urged.pk, actor=nanshan_dispatcher, now=urged.due_at + timedelta(minutes=1))

    def numbers(**params):
        response = api(viewer, **params)
        assert response.status_code == 200, response.content
        return {row["number"] for row in response.json()["items"]}

    wed, thu = "2026-11-25T00:00:00+08:00", "2026-11-26T00:00:00+08:00"
    assert numbers(event="closed", event_from=wed, event_to=thu) == {closed_on_wed.number}  # not the transfer
    assert numbers(event="transferred", event_from=wed, event_to=thu) == {transferred.number}
    assert numbers(event="dispatched", event_unit=sub_handler.org_unit.code, event_from=wed) == {
        transferred.number,
        urged.number,
    }
    assert numbers(open_at="2026-11-24T00:00:00+08:00") == {closed_on_wed.number}
    assert numbers(open_at=thu) == {urged.number}
    assert numbers(overdue_at=thu) == {urged.number}
    assert numbers(event="overdue", event_from=wed) == {urged.number}


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"event": "exploded"}, "tickets.event_unknown", "event"),
        ({"event_to": "2026-11-25T00:00:00+08:00"}, "tickets.event_required", "event"),
        ({"event": "closed", "event_unit": "NOPE"}, "tickets.unit_unknown", "event_unit"),
        ({"open_at": "0001-01-02T00:00:00+00:00"}, "tickets.date_out_of_range", "open_at"),
    ],
)
def test_the_api_refuses_a_bad_event_filter(viewer, params, code, field):
    response = api(viewer, **params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert field in {f["field"] for f in error.get("fields", [])} | {error.get("field")}


# --- plain dates: the analytics API's links give "open_at=2026-11-24" -------------------------
# A date (or a time without an offset) reached the open-at and overdue-at filters as a naive moment
# and the REST list answered 500; now a moment without an offset is Beijing time, as on the web list.


def _numbers(client, **params):
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
    assert _numbers(viewer, open_at="2026-11-24") == {closed.number}
    assert _numbers(viewer, open_at="2026-11-24T00:00:00") == {closed.number}
    assert _numbers(viewer, open_at="2026-11-26") == {urged.number}
    assert _numbers(viewer, overdue_at="2026-11-26") == {urged.number}
    # a date still to come: open now
    assert _numbers(viewer, open_at="2099-01-01") == {urged.number}


def test_plain_received_dates_are_local_midnights(frozen_now, in_follow_up, viewer):
    # received on Monday 10:00 Beijing time = 02:00 UTC: "from Monday" includes it, "to Monday" not
    frozen_now(MON)
    ticket = in_follow_up()
    assert _numbers(viewer, received_from="2026-11-23", received_to="2026-11-24") == {ticket.number}
    assert _numbers(viewer, received_to="2026-11-23") == set()
    # 2026-11-23T09:00 local is before it, 11:00 after
    assert _numbers(viewer, received_from="2026-11-23T09:00:00") == {ticket.number}
    assert _numbers(viewer, received_from="2026-11-23T11:00:00") == set()
