# ruff: noqa: F811 (the pytest fixture imported from tests.tickets.conftest)
"""Reads of service requests with an api_key are limited per client
(``ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE``), whatever address they come from: a leaked or
runaway key cannot read the whole city at 1,000 rows a page without bound. Refused like the
anonymous limit (429 ``open311.rate_limited`` with ``Retry-After``), before any query of service
requests; other keys, anonymous readers and POSTs are counted apart."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.open311.conftest import BASE, make_tickets
from tests.tickets.conftest import fresh_cache  # noqa: F401 (fixture)
from zhiwang.core import throttle
from zhiwang.open311 import views
from zhiwang.open311.services import open311_client_create, open311_client_revoke, open311_key_reissue
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The per-client counters live in the cache."""


def codes(errors):
    return [e["code"] for e in errors]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_key_past_its_limit_gets_429_in_the_spec_format(o311, api_key, settings, fmt):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 3
    [ticket] = make_tickets(1)
    assert o311.get("requests", fmt, api_key=api_key).status_code == 200
    assert o311.get(f"requests/{ticket.number}", fmt, api_key=api_key).status_code == 200  # counts too
    assert o311.get("requests", fmt, api_key=api_key, service_request_id=ticket.number).status_code == 200
    refused = o311.get("requests", fmt, api_key=api_key)
    errors = o311.errors(refused, 429, fmt)
    assert codes(errors) == ["open311.rate_limited"]
    assert "api_key" in errors[0]["description"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Cache-Control" not in refused  # a refusal is not to be reused
    assert codes(o311.errors(o311.get(f"requests/{ticket.number}", fmt, api_key=api_key), 429, fmt)) == [
        "open311.rate_limited"
    ]


def test_a_refused_read_queries_no_service_request(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    make_tickets(3)
    assert o311.get("requests", api_key=api_key).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert o311.get("requests", api_key=api_key).status_code == 429
    ticket_table = Ticket._meta.db_table
    assert not [q["sql"] for q in queries if ticket_table in q["sql"]]


def test_the_limit_is_per_client_not_per_address(client, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 2
    url = f"{BASE}/requests.json"
    assert client.get(url, {"api_key": api_key}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(url, {"api_key": api_key}, REMOTE_ADDR="10.0.0.2").status_code == 200
    # a third address, and another IPv6 /64: the same client, already at its limit
    assert client.get(url, {"api_key": api_key}, REMOTE_ADDR="10.0.0.3").status_code == 429
    assert client.get(url, {"api_key": api_key}, REMOTE_ADDR="2001:db8:9::1").status_code == 429


def test_another_key_is_not_affected(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    other = open311_client_create(name="另一个读取客户端", contact="other@example.org").key
    assert o311.get("requests", api_key=api_key).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 429
    assert o311.get("requests", api_key=other).status_code == 200
    assert o311.get("requests", api_key=other).status_code == 429


def test_the_anonymous_limit_is_unchanged_and_counted_apart(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 2
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    assert o311.get("requests", api_key=api_key).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 429
    # the same address without the key: its own allowance of 2, untouched by the keyed reads
    assert o311.get("requests").status_code == 200
    assert o311.get("requests").status_code == 200
    refused = o311.get("requests")
    errors = o311.errors(refused, 429)
    assert codes(errors) == ["open311.rate_limited"]
    assert 0 < int(refused["Retry-After"]) <= 60


def test_the_anonymous_limit_does_not_hold_a_key(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 1
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 3
    assert o311.get("requests").status_code == 200
    assert o311.get("requests").status_code == 429
    for _ in range(3):
        assert o311.get("requests", api_key=api_key).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 429


def test_zero_turns_the_limit_off(o311, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 0
    settings.ZHIWANG_OPEN311_READS_PER_MINUTE = 1
    make_tickets(150)
    for _ in range(5):
        response = o311.get("requests", api_key=api_key, page_size="1000")
        assert response.status_code == 200
        assert len(o311.doc(response)) == 150


def test_the_default_allows_six_hundred_a_minute(o311, issued, api_key, settings):
    del settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE  # the view's default
    assert views.DEFAULT_KEYED_READS_PER_MINUTE == 600
    throttle.count_add("open311-client-read", str(issued.client.pk), 60, amount=599)
    assert o311.get("requests", api_key=api_key).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 429


def test_posts_are_not_counted_as_reads(o311, rubbish, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    for n in range(3):
        assert o311.post("json", **{**rubbish, "external_id": f"w{n}"}).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 200
    assert o311.get("requests", api_key=api_key).status_code == 429
    # and a key at its read limit still posts (reads are not counted as posts either)
    settings.ZHIWANG_OPEN311_REQUESTS_PER_HOUR = 4
    assert o311.post("json", **{**rubbish, "external_id": "w9"}).status_code == 200


def test_a_bad_or_revoked_key_is_403_and_not_counted(o311, issued, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    assert codes(o311.errors(o311.get("requests", api_key="o311_nope"), 403)) == ["open311.api_key_invalid"]
    assert codes(o311.errors(o311.get("requests", api_key="o311_nope"), 403)) == ["open311.api_key_invalid"]
    assert o311.get("requests", api_key=api_key).status_code == 200
    open311_client_revoke(client=issued.client)
    assert codes(o311.errors(o311.get("requests", api_key=api_key), 403)) == ["open311.api_key_revoked"]


def test_a_new_key_does_not_reset_the_clients_count(o311, issued, api_key, settings):
    settings.ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = 1
    assert o311.get("requests", api_key=api_key).status_code == 200
    new_key = open311_key_reissue(client=issued.client).key
    assert o311.get("requests", api_key=api_key).status_code == 403  # the old key stopped working
    assert o311.get("requests", api_key=new_key).status_code == 429  # the same client, counted on
