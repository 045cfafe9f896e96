# ruff: noqa: F811 (the pytest fixture imported from tests.tickets.conftest)
"""Each api_key may post ``ZHIWANG_OPEN311_REQUESTS_PER_HOUR`` requests an hour: a runaway
integration (a retry loop, a stuck queue) is answered 429 with ``Retry-After`` in the spec's
error format, and writes nothing; other keys are not affected."""

import pytest

from tests.tickets.conftest import fresh_cache  # noqa: F401 (fixture)
from zhiwang.open311.services import open311_client_create
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The per-key counters live in the cache."""


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_key_past_its_hourly_limit_gets_429_and_writes_nothing(o311, rubbish, settings, fmt):
    settings.ZHIWANG_OPEN311_REQUESTS_PER_HOUR = 2
    for n in range(2):
        assert o311.post(fmt, **{**rubbish, "external_id": f"x{n}"}).status_code == 200
    before = Ticket.objects.count()
    refused = o311.post(fmt, **{**rubbish, "external_id": "x9"})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert [e["code"] for e in o311.doc(refused, fmt)] == ["open311.rate_limited"]
    assert Ticket.objects.count() == before
    # another client's key still posts
    other = open311_client_create(name="另一个客户端", contact="other@example.org").key
    assert o311.post(fmt, **{**rubbish, "api_key": other, "external_id": "y1"}).status_code == 200


def test_zero_turns_the_limit_off(o311, rubbish, settings):
    settings.ZHIWANG_OPEN311_REQUESTS_PER_HOUR = 0
    for n in range(3):
        assert o311.post("json", **{**rubbish, "external_id": f"z{n}"}).status_code == 200


def test_a_bad_key_is_refused_before_it_is_counted(o311, rubbish, settings):
    settings.ZHIWANG_OPEN311_REQUESTS_PER_HOUR = 1
    assert o311.post("json", **{**rubbish, "api_key": "nope"}).status_code == 403
    assert o311.post("json", **rubbish).status_code == 200
