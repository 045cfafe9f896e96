# ruff: noqa: F811 (the pytest fixture imported from tests.clock)
"""The citizen's look-up by number and phone: one rule of limits for the API and the /track/ page.

The review's finding (M2): the API's look-up had only a per-request rate and per-number
counters. Someone who knows a citizen's phone tried every number of a day, one try each, from
one address (25 wrong look-ups in a row, all 404, never 429), and would have read every ticket
that phone reported. Now failed look-ups are counted per client address (shared by the web page
and the API), per number, and per phone from all addresses (``tickets.lookup_limits``).
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import ngettext

from tests.clock import cache_clock  # noqa: F401  (the counters' clock)
from zhiwang.tickets import lookup_limits
from zhiwang.tickets.lookup_limits import (
    ADDRESS_FAILURE_LIMIT,
    ADDRESS_FAILURE_WINDOW,
    NUMBER_FAILURE_LIMIT,
    PHONE_FAILURE_LIMIT,
    PHONE_FAILURE_WINDOW,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"
VICTIM = "13800138000"  # make_ticket's reporter phone


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The counters live in the cache, which tests share (``tickets.conftest.fresh_cache``)."""


def lookup(client, number, phone, address="203.0.113.7", path="/public/lookup", **extra):
    return client.post(
        f"{URL}{path}",
        {"number": number, "phone": phone, **extra},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def track(client, number, phone, address="203.0.113.7"):
    return client.post("/track/", {"number": number, "phone": phone}, REMOTE_ADDR=address)


def unknown_numbers(count, day="20260101"):
    return [f"ZW{day}{i:06d}" for i in range(1, count + 1)]


HOTLINE = "You can also call the 12345 hotline to ask how your request is progressing."


def _zh(singular: str, plural: str, **params) -> str:
    """A refusal as the citizen reads it (zh-hans: Chinese once the catalogue has it)."""
    with translation.override("zh-hans"):
        return ngettext(f"{singular} {HOTLINE}", f"{plural} {HOTLINE}", next(iter(params.values()))) % params


def address_limited(minutes: int) -> str:
    return _zh(
        "Too many attempts from your network. Try again in %(minutes)s minute.",
        "Too many attempts from your network. Try again in %(minutes)s minutes.",
        minutes=minutes,
    )


def number_locked(minutes: int) -> str:
    return _zh(
        "Too many attempts for this request number. Try again in %(minutes)s minute.",
        "Too many attempts for this request number. Try again in %(minutes)s minutes.",
        minutes=minutes,
    )


def phone_locked(hours: int | None = None, minutes: int | None = None) -> str:
    if hours is not None:
        return _zh(
            "Too many attempts with this phone number. Try again in %(hours)s hour.",
            "Too many attempts with this phone number. Try again in %(hours)s hours.",
            hours=hours,
        )
    return _zh(
        "Too many attempts with this phone number. Try again in %(minutes)s minute.",
        "Too many attempts with this phone number. Try again in %(minutes)s minutes.",
        minutes=minutes,
    )


def cache_keys() -> str:
    if not hasattr(cache, "_cache"):
        pytest.skip("the keys are read from the local-memory cache")
    return " ".join(str(key) for key in cache._cache)


def refused(response, code, field):
    body = response.json()["error"]
    assert response.status_code == 429, response.content
    assert body["code"] == code and body["field"] == field
    assert body["fields"] == ([{"field": field, "code": code, "message": body["message"]}] if field else [])
    return int(response["Retry-After"]), body["message"]


# --- per client address -----------------------------------------------------------------------


def test_the_review_scenario_one_address_guessing_numbers_is_stopped(client, make_ticket):
    """Wrong look-ups from one address, each with another number and phone: the 11th is 429."""
    ticket = make_ticket()
    numbers = unknown_numbers(ADDRESS_FAILURE_LIMIT + 5)
    for i, number in enumerate(numbers[:ADDRESS_FAILURE_LIMIT]):
        assert lookup(client, number, f"1390000{i:04d}").status_code == 404
    for i, number in enumerate(numbers[ADDRESS_FAILURE_LIMIT:]):
        wait, message = refused(lookup(client, number, f"1391111{i:04d}"), "tickets.lookup_limited", None)
        assert 0 < wait <= ADDRESS_FAILURE_WINDOW
        assert message == address_limited(minutes=15)  # the web page's message
    # even the right number and phone: refused before the ticket is read
    response = lookup(client, ticket.number, VICTIM)
    assert response.status_code == 429 and ticket.title not in response.content.decode()
    # another address is not affected
    assert lookup(client, ticket.number, VICTIM, address="198.51.100.20").status_code == 200


def test_the_web_page_and_the_api_count_the_same_failures(client, make_ticket):
    ticket = make_ticket()
    numbers = unknown_numbers(ADDRESS_FAILURE_LIMIT + 1)
    half = ADDRESS_FAILURE_LIMIT // 2
    for i, number in enumerate(numbers[:half]):
        assert track(client, number, f"1390000{i:04d}").status_code == 200
    for i, number in enumerate(numbers[half:ADDRESS_FAILURE_LIMIT]):
        assert lookup(client, number, f"1392222{i:04d}").status_code == 404
    refused(lookup(client, ticket.number, VICTIM), "tickets.lookup_limited", None)
    html = track(client, ticket.number, VICTIM).content.decode()
    assert address_limited(minutes=15) in html and 'data-testid="form-errors"' in html
    # and the rating endpoint is held by the same rule
    rate = lookup(client, ticket.number, VICTIM, path="/public/rate", resolved=True, satisfaction="satisfied")
    refused(rate, "tickets.lookup_limited", None)


def test_successful_look_ups_do_not_count(client, make_ticket):
    ticket = make_ticket()
    for _ in range(ADDRESS_FAILURE_LIMIT + 5):
        assert lookup(client, ticket.number, VICTIM).status_code == 200
    assert lookup(client, "ZW20260101000001", "13900000000").status_code == 404


def test_a_refused_look_up_counts_nowhere(client, make_ticket):
    """Refusals cost a cache read: they neither lengthen a lock nor fill another counter."""
    for i, number in enumerate(unknown_numbers(ADDRESS_FAILURE_LIMIT)):
        assert lookup(client, number, f"1390000{i:04d}").status_code == 404
    for _ in range(PHONE_FAILURE_LIMIT + 3):  # refused for the address, with one phone
        refused(lookup(client, "ZW20260102000001", "13977777777"), "tickets.lookup_limited", None)
    # that phone was tried by nobody: from elsewhere it is not locked
    assert lookup(client, "ZW20260102000001", "13977777777", address="198.51.100.20").status_code == 404


# --- per phone, from all addresses -------------------------------------------------------------


def test_a_known_phone_cannot_be_tried_against_every_number(client, make_ticket):
    """The attack: one try per number from ever new addresses, the victim's phone each time."""
    ticket = make_ticket()
    other_reporter = make_ticket(reporter_phone="13911112222")
    spellings = [VICTIM, "+86 138 0013 8000", "138-0013-8000", "0086 13800138000", "１３８００１３８０００"]
    for i, number in enumerate(unknown_numbers(PHONE_FAILURE_LIMIT)):
        response = lookup(client, number, spellings[i % len(spellings)], address=f"10.0.{i}.1")
        assert response.status_code == 404
    # the next number, even the victim's real ticket, from a fresh address and in any spelling
    for i, spelling in enumerate(spellings):
        response = lookup(client, ticket.number, spelling, address=f"10.1.{i}.1")
        wait, message = refused(response, "tickets.lookup_phone_locked", "phone")
        assert ticket.title not in response.content.decode()
        assert PHONE_FAILURE_WINDOW - 60 <= wait <= PHONE_FAILURE_WINDOW
        assert message == phone_locked(hours=24)
    rate = lookup(
        client, ticket.number, VICTIM, address="10.2.0.1", path="/public/rate", resolved=True,
        satisfaction="satisfied",
    )  # fmt: skip
    refused(rate, "tickets.lookup_phone_locked", "phone")
    html = track(client, ticket.number, VICTIM, address="10.3.0.1").content.decode()
    assert 'data-testid="form-errors"' in html
    # other citizens' look-ups are not affected
    assert lookup(client, other_reporter.number, "13911112222", address="10.4.0.1").status_code == 200


def test_the_phone_lock_message_in_english(client):
    client.cookies["django_language"] = "en"
    for i, number in enumerate(unknown_numbers(PHONE_FAILURE_LIMIT)):
        lookup(client, number, VICTIM, address=f"10.0.{i}.1")
    response = lookup(client, "ZW20260101000099", VICTIM, address="10.9.0.1")
    _wait, message = refused(response, "tickets.lookup_phone_locked", "phone")
    assert message == f"Too many attempts with this phone number. Try again in 24 hours. {HOTLINE}"


def test_a_phone_is_never_in_a_cache_key(client):
    """The phone counter's key holds a keyed hash: not the phone, nor its plain SHA-256 (which
    anybody reading the cache could reverse by hashing every phone number)."""
    lookup(client, "ZW20260101000001", VICTIM)
    keys = cache_keys()
    assert "lookup-phone" in keys
    for spelled in (VICTIM, "8613800138000"):
        assert spelled not in keys
        assert hashlib.sha256(spelled.encode()).hexdigest()[:32] not in keys
        assert hashlib.sha256(f"lookup-phone\x1f{spelled}".encode()).hexdigest()[:32] not in keys


def test_a_value_that_is_no_phone_gets_no_phone_counter(client):
    for i, number in enumerate(unknown_numbers(3)):
        assert lookup(client, number, "not a phone", address=f"10.0.{i}.1").status_code == 404
    assert "lookup-phone" not in cache_keys()


# --- the number's locks keep working, and answer when to come back ----------------------------


def test_a_locked_number_says_when_to_come_back(client, make_ticket):
    ticket = make_ticket()
    for i in range(lookup_limits.NUMBER_FAILURE_LIMIT):
        assert lookup(client, ticket.number, f"1390000{i:04d}").status_code == 404
    wait, message = refused(lookup(client, ticket.number, VICTIM), "tickets.lookup_locked", "number")
    assert 3500 <= wait <= 3600 and message == number_locked(minutes=60)


def test_parallel_guesses_count_one_another():
    """Counted before the ticket is read, in one atomic step: a burst gets no more than the limit."""
    admitted, refusals = [], []
    start = threading.Barrier(30)

    def guess(i):
        start.wait()
        try:
            lookup_limits.lookup_admit(number=f"ZW20260101{i:06d}", phone=VICTIM, address=f"10.0.{i}.1")
        except lookup_limits.LookupRefused as refusal:
            refusals.append(refusal.code)
        else:
            admitted.append(i)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == PHONE_FAILURE_LIMIT
    assert refusals == ["tickets.lookup_phone_locked"] * (30 - PHONE_FAILURE_LIMIT)


def test_the_messages_are_chinese_by_default():
    with translation.override("zh-hans"):
        for _ in range(ADDRESS_FAILURE_LIMIT):
            lookup_limits.lookup_admit(number="ZW20260101000001", phone="x", address="10.0.0.1")
        with pytest.raises(lookup_limits.LookupRefused) as refusal:
            lookup_limits.lookup_admit(number="ZW20260101000002", phone="x", address="10.0.0.1")
    assert refusal.value.message == address_limited(minutes=15)
    assert (
        refusal.value.message
        == "您所在的网络尝试次数过多，请 15 分钟后再试。您也可以拨打12345热线查询办理进度。"
    )


# --- the time left, counting down, and the hotline ---------------------------------------------


def test_the_address_lock_says_the_minutes_left(client, cache_clock):
    """The message said "15 minutes" still 8 minutes into the lock: it says the time left now,
    as ``Retry-After`` does."""
    for i, number in enumerate(unknown_numbers(ADDRESS_FAILURE_LIMIT)):
        lookup(client, number, f"1390000{i:04d}")
    for at, minutes in ((0, 15), (8 * 60, 7), (14 * 60 + 30, 1)):
        cache_clock(at)
        wait, message = refused(lookup(client, "ZW20260102000001", VICTIM), "tickets.lookup_limited", None)
        assert wait == ADDRESS_FAILURE_WINDOW - at and message == address_limited(minutes)
    cache_clock(ADDRESS_FAILURE_WINDOW + 1)
    assert lookup(client, "ZW20260102000001", VICTIM).status_code == 404


def test_the_number_lock_says_the_minutes_left(client, make_ticket, cache_clock):
    ticket = make_ticket()
    for i in range(NUMBER_FAILURE_LIMIT):
        lookup(client, ticket.number, f"1390000{i:04d}")
    cache_clock(25 * 60)
    wait, message = refused(lookup(client, ticket.number, VICTIM), "tickets.lookup_locked", "number")
    assert wait == 35 * 60 and message == number_locked(minutes=35)


def test_the_phone_lock_says_minutes_in_its_last_hour(client, cache_clock):
    for i, number in enumerate(unknown_numbers(PHONE_FAILURE_LIMIT)):
        lookup(client, number, VICTIM, address=f"10.0.{i}.1")
    cache_clock(PHONE_FAILURE_WINDOW - 3 * 3600 - 1)
    _wait, message = refused(
        lookup(client, "ZW20260101000099", VICTIM, address="10.9.0.1"), "tickets.lookup_phone_locked", "phone"
    )
    assert message == phone_locked(hours=4)  # rounded up
    cache_clock(PHONE_FAILURE_WINDOW - 20 * 60)
    wait, message = refused(
        lookup(client, "ZW20260101000099", VICTIM, address="10.9.0.1"), "tickets.lookup_phone_locked", "phone"
    )
    assert wait == 20 * 60 and message == phone_locked(minutes=20)


@pytest.mark.parametrize(
    ("refusal", "seconds", "chinese"),
    [
        (
            lookup_limits._address_refused,
            7 * 60,
            "您所在的网络尝试次数过多，请 7 分钟后再试。您也可以拨打12345热线查询办理进度。",
        ),
        (
            lookup_limits._number_refused,
            35 * 60,
            "该工单编号的尝试次数过多，请 35 分钟后再试。您也可以拨打12345热线查询办理进度。",
        ),
        (
            lookup_limits._phone_refused,
            4 * 3600,
            "该电话号码的尝试次数过多，请 4 小时后再试。您也可以拨打12345热线查询办理进度。",
        ),
        (
            lookup_limits._phone_refused,
            20 * 60,
            "该电话号码的尝试次数过多，请 20 分钟后再试。您也可以拨打12345热线查询办理进度。",
        ),
    ],
)
def test_the_chinese_words(refusal, seconds, chinese):
    with translation.override("zh-hans"):
        message = refusal(seconds).message
    assert message == chinese


def test_the_per_request_rate_counts_an_ipv6_network_as_one_client(client, settings):
    """ninja's anonymous rate (30 a minute) keys on the client's /64 as every per-address limit
    does: rotating addresses inside one IPv6 network does not escape it."""
    from zhiwang.tickets.api.base import PUBLIC_RATE, PublicRateThrottle

    throttle = PublicRateThrottle(PUBLIC_RATE)
    first = client.get("/", REMOTE_ADDR="2001:db8:1:2::1").wsgi_request
    other = client.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9").wsgi_request
    elsewhere = client.get("/", REMOTE_ADDR="2001:db8:1:3::1").wsgi_request
    assert throttle.get_ident(first) == throttle.get_ident(other) != throttle.get_ident(elsewhere)
    assert throttle.get_ident(client.get("/", REMOTE_ADDR="10.0.0.7").wsgi_request) == "10.0.0.7"
