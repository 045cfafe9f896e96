"""The platform's phone rule (``core.phones``) on Open311: a mistyped mobile is a 400 on ``phone``.

A mainland number from 1 is a mobile of 11 digits; "1381234567" is refused with the pipeline's
``tickets.phone_invalid``, named after the Open311 parameter, and nothing is written.
"""

from __future__ import annotations

import pytest

from zhiwang.open311.models import Open311Submission
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("phone", ["1381234567", "+86 138 1234 567", "１３８１２３４５６７"])
def test_a_mistyped_mobile_is_400_on_phone(o311, rubbish, phone):
    errors = o311.errors(o311.post(**{**rubbish, "phone": phone}), 400)
    assert [e["code"] for e in errors] == ["tickets.phone_invalid"]
    assert errors[0]["description"].startswith("phone: ")
    assert (Ticket.objects.count(), Open311Submission.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("+86 138-1234-5678", "13812345678"),
        ("0755 8888 8888", "075588888888"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_a_phone_is_stored_as_tickets_store_it(o311, rubbish, phone, stored):
    response = o311.post(**{**rubbish, "phone": phone})
    assert response.status_code == 200, response.content.decode()
    assert Ticket.objects.get().reporter_phone == stored
