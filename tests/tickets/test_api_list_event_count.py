# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""``GET /tickets/`` under an ``event`` filter says how many timeline rows its tickets have, as the
web list does ("9 件工单（10 次评价“不满意”）"): a dashboard figure counts events (a ticket rated
unsatisfied twice counts twice), the list counts tickets. ``event_count`` (bounded like ``count``,
with ``event_count_exact``) is in the answer only when an ``event`` filter is set."""

from __future__ import annotations

import pytest

from tests.tickets.test_list_event_rows import rated_twice, window  # noqa: F401 (fixtures)
from zhiwang.api import api

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def _listed(client, user, window, **params):
    client.force_login(user)
    start, end = window
    query = {"event": "unsatisfied", "event_from": start.isoformat(), "event_to": end.isoformat(), **params}
    return client.get(URL, {k: v for k, v in query.items() if v is not None})


def _counts(response) -> tuple:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["count"], body.get("event_count"), body.get("event_count_exact")


def test_the_events_behind_the_listed_tickets(client, rated_twice, window, nanshan_dispatcher, city_leader):
    # Nanshan: two tickets, three unsatisfied ratings in the window (one ticket rated twice; the
    # row the day before and Luohu's row are not counted)
    assert _counts(_listed(client, nanshan_dispatcher, window)) == (2, 3, True)
    # the city sees Luohu's too
    assert _counts(_listed(client, city_leader, window)) == (3, 4, True)
    # another event, its own rows: "twice" was also rated satisfied once
    assert _counts(_listed(client, nanshan_dispatcher, window, event="follow_ups")) == (2, 4, True)


def test_the_events_follow_the_list_s_other_filters_not_its_page(
    client, rated_twice, window, nanshan_dispatcher, sub_handler
):
    twice = rated_twice["twice"]
    assert _counts(_listed(client, nanshan_dispatcher, window, q=twice.number)) == (1, 2, True)
    unit = sub_handler.org_unit.code
    assert _counts(_listed(client, nanshan_dispatcher, window, event_unit=unit)) == (1, 1, True)
    # a page of one ticket still says how many rows the whole list's tickets have
    response = _listed(client, nanshan_dispatcher, window, limit=1, offset=1)
    assert len(response.json()["items"]) == 1 and _counts(response) == (2, 3, True)


def test_without_an_event_filter_there_is_no_event_count(client, rated_twice, window, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    body = client.get(URL, {"kind": "complaint"}).json()
    assert body["count"] == 2
    assert "event_count" not in body and "event_count_exact" not in body
    # an event's window without the event is the list's error, not a count
    start, _end = window
    response = client.get(URL, {"event_from": start.isoformat()})
    assert response.status_code == 400 and response.json()["error"]["code"] == "tickets.event_required"
    response = _listed(client, nanshan_dispatcher, window, event="late_closures")
    assert response.status_code == 400 and response.json()["error"]["code"] == "tickets.event_unknown"


def test_a_capped_count_says_so(client, rated_twice, window, city_leader, monkeypatch):
    monkeypatch.setattr("zhiwang.core.pagination.COUNT_CAP", 2)
    body = _listed(client, city_leader, window).json()
    assert (body["count"], body["count_exact"]) == (2, False)
    assert (body["event_count"], body["event_count_exact"]) == (2, False)


def test_the_document_describes_the_count_as_optional():
    page = api.get_openapi_schema()["components"]["schemas"]["PagedTicketOut"]
    assert page["properties"]["event_count"]["type"] == "integer"
    assert page["properties"]["event_count_exact"]["type"] == "boolean"
    assert "event_count" not in page["required"] and {"items", "count", "count_exact"} <= set(
        page["required"]
    )
    assert "default" not in page["properties"]["event_count"]
