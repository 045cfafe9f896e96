# ruff: noqa: F811 (the pytest fixture imported from tests.tickets.conftest)
"""Reads of service requests without an api_key are limited per client address
(``ZHIWANG_OPEN311_READS_PER_MINUTE``) and come in pages of 100: a 1,000-row page costs about
1.4 s of CPU and 3.7 MB, which anybody could otherwise ask for in a loop. A client that sends
its api_key reads pages of 1,000 and is not counted by address. Answers may be reused a minute."""

import pytest

from tests.open311.conftest import make_tickets
from tests.tickets.conftest import fresh_cache  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The per-address counters live in the cache."""


def codes(errors):
    return [e["code"] for e in errors]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_address_past_its_limit_gets_429_in_the_spec_format(o311, settings, fmt):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 3
    [ticket] = make_tickets(1)
    assert o311.get("requests", fmt).status_code == 200
    assert o311.get(f"requests/{ticket.number}", fmt).status_code == 200  # one request counts too
    assert o311.get("requests", fmt, service_request_id=ticket.number).status_code == 200
    refused = o311.get("requests", fmt)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    errors = o311.errors(refused, 429, fmt)
    assert codes(errors) == ["open311.rate_limited"]
    assert "Cache-Control" not in refused  # a refusal is not to be reused
    assert o311.errors(o311.get(f"requests/{ticket.number}", fmt), 429, fmt)


def test_the_limit_is_per_address(o311, client, settings):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 1
    assert o311.get("requests").status_code == 200
    assert o311.get("requests").status_code == 429
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.1.2.3").status_code == 200
    # an IPv6 client is one /64: another address in it is the same client
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="2001:db8:1:2::99").status_code == 429


def test_zero_turns_the_limit_off(o311, settings):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 0
    for _ in range(3):
        assert o311.get("requests").status_code == 200


def test_a_client_with_its_key_is_not_counted_and_reads_full_pages(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 1
    make_tickets(150)
    for _ in range(3):
        response = o311.get("requests", api_key=api_key)
        assert response.status_code == 200
        assert len(o311.doc(response)) == 150
    assert len(o311.doc(o311.get("requests", api_key=api_key, page_size="1000"))) == 150
    # without it, the same address gets a page of 100 and is counted
    assert len(o311.doc(o311.get("requests"))) == 100
    assert o311.get("requests").status_code == 429


@pytest.mark.parametrize("key", ["o311_nope", "wrong"])
def test_a_bad_key_on_a_read_is_403_like_on_a_post(o311, key):
    errors = o311.errors(o311.get("requests", api_key=key), 403)
    assert codes(errors) == ["open311.api_key_invalid"]


def test_anonymous_lists_of_ids_are_pages_too(o311, api_key):
    ids = ",".join(f"ZW{n:014d}" for n in range(101))
    errors = o311.errors(o311.get("requests", service_request_id=ids), 400)
    assert codes(errors) == ["open311.too_many_ids"]
    assert "api_key" in errors[0]["description"]
    assert o311.get("requests", service_request_id=ids, api_key=api_key).status_code == 200


def test_answers_may_be_reused_for_a_minute_by_the_client_only(o311):
    [ticket] = make_tickets(1)
    for response in (o311.get("requests"), o311.get(f"requests/{ticket.number}", "xml")):
        assert response.status_code == 200
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert directives == {"private", "max-age=60"}
    assert "Cache-Control" not in o311.get("requests/ZW-NONE")  # a 404 is not kept


def test_the_service_list_and_definitions_may_be_reused_for_ten_minutes(o311):
    listed = o311.get("services")
    assert listed.status_code == 200
    assert {d.strip() for d in listed["Cache-Control"].split(",")} == {"private", "max-age=600"}
    code = listed.json()[0]["service_code"]
    definition = o311.get(f"services/{code}")
    assert definition.status_code == 200
    assert {d.strip() for d in definition["Cache-Control"].split(",")} == {"private", "max-age=600"}
    assert "Cache-Control" not in o311.get("services/NO-SUCH-SERVICE")  # a 404 is not kept
