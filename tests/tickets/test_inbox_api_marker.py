"""``GET /api/v1/tickets/inbox`` marks, as the web inbox does, the tickets whose return or extension
waits for the dispatcher's decision (``awaiting_decision``, ``awaiting_decision_kind``), read in
the list's own statement (``selectors.handler_inbox``): no query per row.

Personas: the handler of the first Nanshan subdistrict office (the inbox's unit), the Nanshan
dispatcher (decides).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.tickets import services

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/inbox"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The API's rate limits live in the cache."""


def rows_by_number(client) -> dict[str, dict]:
    answer = client.get(URL)
    assert answer.status_code == 200
    return {row["number"]: row for row in answer.json()["items"]}


def test_the_api_inbox_marks_a_return_or_extension_awaiting_decision(
    as_user, accepted, sub_handler, nanshan_dispatcher
):
    returning, extending, suspended, decided, plain = (accepted() for _n in range(5))
    services.ticket_request(
        ticket=returning, kind="return", actor=sub_handler, reason="不属于本单位职责", wrong_dispatch=True
    )
    services.ticket_request(
        ticket=extending, kind="extension", actor=sub_handler, reason="需协调", extra_days=3
    )
    services.ticket_request(ticket=suspended, kind="suspension", actor=sub_handler, reason="等待业主")
    refused = services.ticket_request(
        ticket=decided, kind="extension", actor=sub_handler, reason="需协调", extra_days=2
    )
    services.ticket_decide(request=refused, approve=False, actor=nanshan_dispatcher, note="按期办理")
    rows = rows_by_number(as_user(sub_handler))
    marks = {n: (r["awaiting_decision"], r["awaiting_decision_kind"]) for n, r in rows.items()}
    assert marks[returning.number] == (True, "return")
    assert marks[extending.number] == (True, "extension")
    assert marks[suspended.number] == (False, None)  # a suspension is not this mark's (as on the web)
    assert marks[decided.number] == (False, None)  # decided: nothing waits
    assert marks[plain.number] == (False, None)


def test_the_api_inbox_agrees_with_the_web_inbox(client, accepted, sub_handler):
    waiting, plain = accepted(), accepted()
    services.ticket_request(
        ticket=waiting, kind="extension", actor=sub_handler, reason="需协调", extra_days=3
    )
    client.force_login(sub_handler)
    web = {row["ticket"].number: row["awaiting_decision"] for row in client.get("/inbox/").context["rows"]}
    api = {n: r["awaiting_decision_kind"] or "" for n, r in rows_by_number(client).items()}
    assert web == api == {waiting.number: "extension", plain.number: ""}


def test_the_marks_cost_no_query_per_row(as_user, accepted, sub_handler):
    client = as_user(sub_handler)
    first = accepted()
    services.ticket_request(
        ticket=first, kind="return", actor=sub_handler, reason="不属于本单位职责", wrong_dispatch=True
    )
    rows_by_number(client)  # warm: the session, the user's scope
    with CaptureQueriesContext(connection) as one:
        assert len(rows_by_number(client)) == 1
    for _n in range(3):
        services.ticket_request(
            ticket=accepted(), kind="extension", actor=sub_handler, reason="需协调", extra_days=3
        )
    with CaptureQueriesContext(connection) as four:
        rows = rows_by_number(client)
    assert sum(r["awaiting_decision"] for r in rows.values()) == 4
    assert len(four.captured_queries) == len(one.captured_queries)
