"""The public suggestion panel's hourly limit per client address is a setting,
``ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR`` (default 1200, 0: no limit), read at each load.

Before, it was the module constant ``SUGGESTIONS_PER_HOUR``: a city whose citizens sit behind
one carrier address could not raise it without a code change.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from tests.tickets.conftest import RUBBISH

pytestmark = pytest.mark.django_db

REPORT_SUGGEST = "/report/panels/suggest/"
BODY = {"description": "小区门口垃圾堆了好几天没人清运", "kind": "complaint"}
PICKED = f'data-pick-category="{RUBBISH}"'


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _shown(client: Client) -> bool:
    answer = client.post(REPORT_SUGGEST, BODY)
    assert answer.status_code == 200
    return PICKED in answer.content.decode()


def test_the_limit_is_read_at_each_load():
    client = Client(REMOTE_ADDR="203.0.113.20")
    with override_settings(ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR=1):
        assert [_shown(client), _shown(client)] == [True, False]
    with override_settings(ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR=3):  # raised: the same count, more room
        assert [_shown(client), _shown(client)] == [True, False]


@override_settings(ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR=0)
def test_zero_is_no_limit():
    client = Client(REMOTE_ADDR="203.0.113.21")
    assert all(_shown(client) for _ in range(5))


def test_without_the_setting_the_default_is_1200(settings):
    from zhiwang.core import throttle
    from zhiwang.core.client_address import rate_limit_key
    from zhiwang.web.tickets.views.citizen import HOUR, SUGGESTIONS

    if hasattr(settings, "ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR"):
        del settings.ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR
    client = Client(REMOTE_ADDR="203.0.113.22")
    throttle.count_add(SUGGESTIONS, rate_limit_key("203.0.113.22"), HOUR, 1199)
    assert [_shown(client), _shown(client)] == [True, False]
