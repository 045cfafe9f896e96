"""Disputes read phones by the platform's rule (``core.phones``), as tickets do: a mistyped mobile
is ``disputes.phone_invalid`` on the field it came in (the case and visit entry points are tested in
``test_walkthrough_fixes_disputes``)."""

from __future__ import annotations

import pytest

from zhiwang.core.errors import ErrorList
from zhiwang.disputes.services.common import parse_phone
from zhiwang.tickets.models import normalize_phone


@pytest.mark.parametrize(
    "phone", ["1381234567", "１３８１２３４５６７", "0086 138 1234 567", "1234567", "abc"]
)
def test_a_mistyped_mobile_is_phone_invalid(phone):
    errors = ErrorList()
    assert parse_phone(phone, "visitor_phone", errors) == ""
    assert [(f.field, f.code) for f in errors.errors] == [("visitor_phone", "disputes.phone_invalid")]


@pytest.mark.parametrize(
    "phone",
    ["", "  ", "13812345678", "+86 138-1234-5678", "0755-2666 0001", "+44 20 7946 0958", "4008123123"],
)
def test_a_phone_is_what_tickets_store(phone):
    errors = ErrorList()
    assert parse_phone(phone, "parties.0.phone", errors) == normalize_phone(phone)
    assert not errors.errors
