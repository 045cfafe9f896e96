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

from zhiwang.tickets import lookup_limits
from zhiwang.tickets.lookup_limits import (
    ADDRESS_FAILURE_LIMIT,
    ADDRESS_FAILURE_WINDOW,
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


def phone_locked(hours: int) -> str:
    """The phone lock's message as the citizen reads it (Chinese once the catalogue has it)."""
    with translation.override("zh-hans"):
        return ngettext(
            "Too many attempts with this phone number. Try again in %(hours)s hour.",
            "Too many attempts with this phone number. Try again in %(hours)s hours.",
            hours,
        ) % {"hours": hours}


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
        assert message == "尝试次数过多，请 15 分钟后再试。"  # the web page's message
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
    assert "尝试次数过多，请 15 分钟后再试。" in html and 'data-testid="form-errors"' in html
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
    assert message == "Too many attempts with this phone number. Try again in 24 hours."


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
    assert 3500 <= wait <= 3600 and message == "该工单编号的尝试次数过多，请一小时后再试。"


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
    assert refusal.value.message == "尝试次数过多，请 15 分钟后再试。"
