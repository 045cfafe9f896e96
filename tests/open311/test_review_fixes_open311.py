"""Regression tests for the Open311 review: every free-text parameter of POST requests fits its
column or is a 400 naming the parameter, never a 500.

Django's ``validate_email`` lets addresses of up to 320 characters through while the submission
keeps at most 254: PostgreSQL refused the row (``DataError``, a 500); SQLite kept it whole. The
tests post each parameter one character over its limit (400, nothing written) and at its limit
(stored whole), so on PostgreSQL they also prove the column holds what the check lets through.
"""

from __future__ import annotations

import pytest
from django.utils.translation import gettext

from zhiwang.open311.models import Open311Submission
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def email_of(length: int) -> str:
    """An address Django's validator accepts, ``length`` characters long (labels of at most 63)."""
    local = "a" * 64
    labels, left = [], length - len(local) - 1 - len(".org")
    while left > 0:
        label = min(63, left)
        if left - label == 1:  # a label needs one character besides its dot
            label -= 1
        labels.append("d" * label)
        left -= label + 1
    domain = ".".join(labels)
    address = f"{local}@{domain}.org"
    assert len(address) == length, (len(address), length)
    return address


def _written() -> tuple[int, int]:
    return Ticket.objects.count(), Open311Submission.objects.count()


def test_an_email_longer_than_the_column_is_400_on_its_parameter(o311, rubbish):
    from django.core.validators import validate_email

    address = email_of(255)
    validate_email(address)  # what let it through before
    errors = o311.errors(o311.post(**{**rubbish, "email": address}), 400)
    assert [e["code"] for e in errors] == ["open311.email_invalid"]
    assert errors[0]["description"].startswith("email: ")
    assert _written() == (0, 0)


def test_an_email_of_254_characters_is_kept_whole(o311, rubbish):
    address = email_of(254)
    response = o311.post(**{**rubbish, "email": address})
    assert response.status_code == 200, response.content.decode()
    assert Open311Submission.objects.get().email == address


@pytest.mark.parametrize(
    ("parameter", "value", "code"),
    [
        ("first_name", "F" * 33, "open311.too_long"),
        ("last_name", "L" * 33, "open311.too_long"),
        ("phone", "1" * 21, "tickets.phone_invalid"),
        ("address_string", "深圳市南山区" + "路" * 250, "tickets.address_text_long"),
        ("address_id", "4403" * 100, "tickets.address_unknown"),
        ("description", "垃" * 4001, "open311.description_long"),
        ("device_id", "d" * 129, "open311.too_long"),
        ("account_id", "a" * 129, "open311.too_long"),
        ("media_url", "https://img.example.org/" + "p" * 477, "open311.media_url_invalid"),
        ("external_id", "e" * 101, "open311.external_id_long"),
        ("kind", "complaint" * 20, "open311.kind_invalid"),
        ("attribute[waste_type][]", "k" * 300, "open311.attribute_value"),
    ],
)
def test_a_parameter_over_its_column_is_400_naming_it(o311, rubbish, parameter, value, code):
    errors = o311.errors(o311.post(**{**rubbish, parameter: value}), 400)
    assert code in [e["code"] for e in errors]
    name = parameter.split("[")[0] if parameter.startswith("attribute") else parameter
    assert any(e["description"].startswith(name) for e in errors if e["code"] == code)
    assert _written() == (0, 0)


def test_a_service_code_over_its_column_is_404(o311, rubbish):
    errors = o311.errors(o311.post(**{**rubbish, "service_code": "G" * 300}), 404)
    assert [e["code"] for e in errors] == ["open311.service_not_found"]


def test_every_parameter_at_its_limit_is_kept_whole(o311, rubbish):
    values = {
        "first_name": "三" * 32,  # a Chinese name: family name and given name without a space, 64
        "last_name": "张" * 32,
        "address_string": "深圳市南山区" + "路" * 249,  # 255; the point places the request
        "description": "垃" * 4000,
        "device_id": "d" * 128,
        "account_id": "a" * 128,
        "media_url": "https://img.example.org/" + "p" * 476,  # 500
        "external_id": "e" * 100,
        "phone": "+86 138-1234-5678",
    }
    response = o311.post(**{**rubbish, **values})
    assert response.status_code == 200, response.content.decode()
    submission = Open311Submission.objects.select_related("ticket").get()
    ticket = submission.ticket
    assert ticket.reporter_name == "张" * 32 + "三" * 32
    assert ticket.address_text == values["address_string"]
    # the attribute answers are kept: the description gives way, with a marker, to fit 4,000
    answers = "\n\n垃圾大约有多少？ 一堆（需要手推车）\n是哪类垃圾？ 生活垃圾、大件垃圾（家具、家电）"
    assert ticket.description.endswith(gettext("… (shortened)") + answers)
    assert ticket.description.startswith("垃" * 3900)
    assert len(ticket.description) == 4000
    assert ticket.reporter_phone == "13812345678"
    assert (submission.device_id, submission.account_id) == (values["device_id"], values["account_id"])
    assert submission.media_url == values["media_url"]
    assert submission.client_request_id == values["external_id"]
