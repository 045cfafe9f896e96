"""``POST /api/v1/tickets/batch``: many tickets per request, one result per item, retry-safe, staff only."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import RUBBISH, SANITATION
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets/batch"


def _items(building):
    base = {"kind": "complaint", "category": SANITATION, "description": "小区垃圾站满溢，请尽快清运。"}
    return [
        {**base, "channel": "department", "external_id": "d-1", "address_code": building.code},
        {**base, "channel": "department", "external_id": "d-2", "reporter_phone": "call me"},
        {
            "channel": "department",
            "kind": "incident",
            "category": RUBBISH,
            "description": "路边暴露垃圾一堆。",
            "external_id": "d-3",
            "address_code": building.code,
        },
    ]


def _post(client, body):
    return client.post(URL, body, content_type="application/json")


def test_every_item_gets_its_result_and_a_retry_creates_nothing(client, hotline, nanshan_building):
    client.force_login(hotline)
    answer = _post(client, {"tickets": _items(nanshan_building)})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["created"], body["existing"], body["refused"]) == (2, 0, 1)
    first, refused, incident = body["results"]
    assert first["created"] is True and first["ticket"]["status"] == "pending_dispatch"
    assert first["ticket"]["links"]["self"] == f"/api/v1/tickets/{first['ticket']['number']}"
    assert client.get(first["ticket"]["links"]["self"]).status_code == 200
    assert refused["error"]["code"] == "tickets.invalid" and refused["ticket"] is None
    assert [f["field"] for f in refused["error"]["fields"]] == ["reporter_phone"]
    assert incident["ticket"]["status"] == "dispatched"
    # ids are the caller's own, as for POST /
    assert Ticket.objects.filter(idempotency_key=f"department:u{hotline.pk}:d-1").exists()

    again = _post(client, {"tickets": _items(nanshan_building)}).json()
    assert (again["created"], again["existing"], again["refused"]) == (0, 2, 1)
    assert again["results"][0]["ticket"]["number"] == first["ticket"]["number"]
    assert Ticket.objects.count() == 2


def test_citizens_cannot_push_batches(client, citizen, nanshan_building):
    client.force_login(citizen)
    answer = _post(client, {"tickets": _items(nanshan_building)})
    assert answer.status_code == 403
    assert not Ticket.objects.exists()


def test_empty_and_oversized_batches_are_refused_with_the_field(client, hotline, nanshan_building):
    client.force_login(hotline)
    empty = _post(client, {"tickets": []})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "tickets.batch_empty"
    big = _post(client, {"tickets": _items(nanshan_building)[:1] * 501})
    assert big.status_code == 400 and big.json()["error"]["field"] == "tickets"
    assert not Ticket.objects.exists()
