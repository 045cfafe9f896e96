"""Odd and hostile input answers 400 in the spec's error format, never a 500 or Django's HTML page.

Paging and dates at the edges of what integers and datetimes hold, the NUL character
(which PostgreSQL refuses in text), and bodies Django itself cannot parse.
"""

from __future__ import annotations

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

from tests.open311.conftest import BASE, make_tickets
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db

MAX_OFFSET = 10**7  # rows a page may skip (zhiwang.open311.params.MAX_OFFSET)


def codes(errors: list[dict]) -> list[str]:
    return [e["code"] for e in errors]


# --- paging and dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"page": "10000000000000000"}, "open311.too_large"),  # the offset overflowed the database integer
        ({"page": "1" * 19}, "open311.too_large"),
        ({"page": "9" * 5000}, "open311.too_large"),  # int() refuses 5,000 digits
        ({"page": "100002"}, "open311.too_large"),  # beyond 10,000,000 rows at page_size 100 (no key)
        ({"page": str(MAX_OFFSET + 2), "page_size": "1"}, "open311.too_large"),
        ({"page": "²"}, "open311.not_positive_integer"),  # str.isdigit() is true, int() raises
        ({"page_size": "³"}, "open311.not_positive_integer"),
        ({"page": "٣"}, "open311.not_positive_integer"),  # int() would read 3
        ({"page": "000"}, "open311.not_positive_integer"),
        ({"end_date": "0001-01-01T00:00:00Z"}, "open311.datetime_invalid"),  # 90 days back: OverflowError
        ({"start_date": "9999-12-31T00:00:00Z"}, "open311.datetime_invalid"),  # 90 days on: OverflowError
        ({"start_date": "0001-01-01T00:00:00+08:00"}, "open311.datetime_invalid"),  # before year 1 in UTC
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_paging_and_dates_beyond_the_edges_are_400(o311, query, code, fmt):
    errors = o311.errors(o311.get("requests", fmt, **query), 400, fmt)
    assert codes(errors) == [code]
    assert errors[0]["description"].startswith(f"{next(iter(query))}: ")


@pytest.mark.parametrize(
    "query",
    [
        {"page": "100001"},  # the last page at page_size 100 (a reader without an api_key)
        {"page": str(MAX_OFFSET + 1), "page_size": "1"},
        {"page": "0002", "page_size": "1"},
        {"start_date": "0002-01-01T00:00:00Z", "end_date": "0002-03-01T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00+23:59"},  # PostgreSQL refused the offset (DataError)
        {"end_date": "2026-01-01T00:00:00-23:59"},
    ],
)
def test_paging_and_dates_at_the_edges_are_answered(o311, query):
    assert o311.doc(o311.get("requests", **query)) == []


def test_an_offset_beyond_15_hours_finds_the_same_requests(o311):
    [ticket] = make_tickets(1)
    zone = dt_timezone(timedelta(hours=23, minutes=59))
    start = (ticket.received_at - timedelta(minutes=1)).astimezone(zone).isoformat(timespec="seconds")
    doc = o311.doc(o311.get("requests", start_date=start))
    assert [r["service_request_id"] for r in doc] == [ticket.number]


# --- the NUL character ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("services/%00", "service_code"),
        ("services/GI0101%00", "service_code"),
        ("requests/%00", "service_request_id"),
        ("tokens/%00", "token_id"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_nul_in_a_url_part_is_400(o311, path, parameter, fmt):
    errors = o311.errors(o311.client.get(f"{BASE}/{path}.{fmt}"), 400, fmt)
    assert codes(errors) == ["open311.invalid_character"]
    assert errors[0]["description"].startswith(f"{parameter}: ")


@pytest.mark.parametrize("name", ["service_code", "service_request_id", "status", "jurisdiction_id", "group"])
def test_a_nul_in_a_query_parameter_is_400(o311, name):
    resource = "services" if name == "group" else "requests"
    errors = o311.errors(o311.get(resource, **{name: "GI0101\x00"}), 400)
    assert codes(errors) == ["open311.invalid_character"]
    assert errors[0]["description"].startswith(f"{name}: ")


@pytest.mark.parametrize(
    "change",
    [
        {"description": "路边\x00有垃圾堆放很久"},
        {"first_name": "\x00"},
        {"service_code": "GI0101\x00"},
        {"external_id": "abc\x00"},
        {"address_string": "南山\x00"},
        {"attribute[amount]": "medium\x00"},
        {"attribute[amo\x00unt]": "medium"},
    ],
)
def test_a_nul_in_a_posted_field_is_400_and_nothing_is_written(o311, rubbish, change):
    before = Ticket.objects.count()
    errors = o311.errors(o311.post(**dict(rubbish, **change)), 400)
    assert codes(errors) == ["open311.invalid_character"]
    name = next(iter(change)).replace("\x00", "\\x00")
    assert errors[0]["description"].startswith(f"{name}: ")
    assert Ticket.objects.count() == before


def test_a_nul_in_the_idempotency_key_is_400(o311, rubbish):
    errors = o311.errors(o311.post(headers={"Idempotency-Key": "k\x00"}, **rubbish), 400)
    assert codes(errors) == ["open311.invalid_character"]


# --- bodies Django cannot parse ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_multipart_without_boundary_is_an_open311_error(o311, fmt):
    response = o311.client.generic(
        "POST", f"{BASE}/requests.{fmt}", b"a=b", content_type="multipart/form-data"
    )
    assert codes(o311.errors(response, 400, fmt)) == ["open311.bad_request"]


def test_too_many_fields_is_an_open311_error(o311, rubbish):
    data = dict(rubbish, **{"attribute[waste_type][]": ["household"] * 1001})
    assert codes(o311.errors(o311.post(**data), 400)) == ["open311.bad_request"]


def test_too_many_query_parameters_is_an_open311_error(o311):
    query = "&".join(f"p{i}=1" for i in range(1001))
    response = o311.client.get(f"{BASE}/requests.xml?{query}")
    assert codes(o311.errors(response, 400, "xml")) == ["open311.bad_request"]


def test_too_many_files_is_an_open311_error(o311, rubbish, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 1
    files = {
        f"photo{i}": SimpleUploadedFile(f"{i}.jpg", b"jpeg", content_type="image/jpeg") for i in range(2)
    }
    body = encode_multipart("BoUnDaRy", dict(rubbish, **files))
    response = o311.client.generic(
        "POST", f"{BASE}/requests.json", body, content_type="multipart/form-data; boundary=BoUnDaRy"
    )
    assert codes(o311.errors(response, 400)) == ["open311.bad_request"]


def test_a_body_too_large_is_an_open311_error(o311, rubbish, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = dict(rubbish, description="垃" * 400)
    assert codes(o311.errors(o311.post(**data), 400)) == ["open311.too_large"]


def test_a_form_not_in_utf8_is_an_open311_error(o311, rubbish):
    response = o311.client.generic(
        "POST",
        f"{BASE}/requests.json",
        "service_code=GI0101",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )
    assert codes(o311.errors(response, 400)) == ["open311.bad_request"]


# --- the reporter's name ------------------------------------------------------------------------------


def test_a_western_name_too_long_together_says_so(o311, rubbish):
    """32 + 32 characters are each allowed; with the space between them the name has 65."""
    errors = o311.errors(o311.post(**dict(rubbish, first_name="a" * 32, last_name="b" * 32)), 400)
    assert codes(errors) == ["tickets.reporter_name_long"]  # the code it always had
    assert "last_name" in errors[0]["description"] and "65" in errors[0]["description"]


def test_a_chinese_name_of_two_full_parts_fits(o311, rubbish):
    response = o311.post(**dict(rubbish, first_name="三" * 32, last_name="张" * 32))
    assert response.status_code == 200, response.content.decode()
