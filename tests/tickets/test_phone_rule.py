"""The platform's phone rule (``core.phones``) at ticket intake, and tickets stored before it.

A mainland number from 1 is a mobile of 11 digits: "1381234567" is refused as
``tickets.phone_invalid`` on ``reporter_phone`` by the service and the API. A ticket stored with
such a number before the rule is still the citizen's to follow, and still in the caller's history.
"""

from __future__ import annotations

import pytest

from tests.tickets.conftest import SANITATION
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db

MISTYPED = ["1381234567", "138 1234 567", "+86 138-1234-567", "138123456789"]


def _data(building, **overrides):
    return {
        "channel": "hotline",
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区垃圾站满溢，请尽快清运。",
        "address_code": building.code,
        "reporter_name": "林晓",
        **overrides,
    }


@pytest.mark.parametrize("phone", MISTYPED)
def test_the_service_refuses_a_mistyped_mobile(nanshan_building, phone):
    with pytest.raises(ServiceError) as caught:
        ticket_submit(**_data(nanshan_building, reporter_phone=phone))
    assert {(f.field, f.code) for f in caught.value.fields} == {("reporter_phone", "tickets.phone_invalid")}
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("138 1234 5678", "13812345678"),
        ("0755-8888 8888", "075588888888"),
        ("+44 20 7946 0958", "+442079460958"),  # tickets keep a foreign number's "+"
        ("2688 1234", "26881234"),
    ],
)
def test_the_service_stores_numbers_as_before(nanshan_building, phone, stored):
    ticket = ticket_submit(**_data(nanshan_building, reporter_phone=phone)).ticket
    assert ticket.reporter_phone == stored


def test_the_api_refuses_a_mistyped_mobile(as_user, hotline, nanshan_building, fresh_cache):
    response = as_user(hotline).post(
        "/api/v1/tickets/",
        _data(nanshan_building, reporter_phone="1381234567"),
        content_type="application/json",
        headers={"Idempotency-Key": "call-phone-rule"},
    )
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "tickets.invalid"
    assert [(f["field"], f["code"]) for f in error["fields"]] == [("reporter_phone", "tickets.phone_invalid")]
    assert not Ticket.objects.exists()


def test_a_ticket_stored_before_the_rule_is_still_found_by_its_number(make_ticket, hotline):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(reporter_phone="1381234567")  # accepted before the rule
    found = selectors.public_ticket_lookup(number=ticket.number, phone="138 1234 567")
    assert found is not None and found.number == ticket.number
    assert selectors.public_ticket_lookup(number=ticket.number, phone="13812345670") is None
    assert [t.pk for t in selectors.caller_history(user=hotline, phone="1381234567")] == [ticket.pk]
