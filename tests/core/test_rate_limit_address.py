"""Per-address limits count an IPv6 client by its /64 (``core.client_address.rate_limit_key``).

The review's finding: every per-address counter used the full client address, and an IPv6
client is given a /64 and may use any address in it. It rotated through fresh addresses: past
the sign-in spray limit, past the look-up and report limits, and, five wrong passwords per
address, to the 20 failures that lock a username from everywhere, alone. Now each counts the
/64 (IPv4 as before; an IPv4-mapped address as its IPv4); logs and ``LoginAttempt`` keep the
full address.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import ngettext

from tests.accounts.messages import address_limited, locked_here
from zhiwang.accounts.models import LoginAttempt
from zhiwang.core.client_address import rate_limit_key
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets.lookup_limits import ADDRESS_FAILURE_LIMIT
from zhiwang.web.tickets.forms import new_form_token

#: One client's /64, and the addresses it rotates through.
NETWORK = "2001:db8:1:2"
NEIGHBOUR = "2001:db8:1:3::1"  # the next /64: another client
OFFICE = "198.51.100.20"


def rotating(n: int) -> str:
    """The n-th address of the client's /64, each spelled differently when compressed."""
    return f"{NETWORK}:{n:x}:{n * 7:x}:0:{n + 1:x}"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # the counters live in the cache, which tests share
    yield
    cache.clear()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # a dual-stack socket's view of an IPv4 client
        ("::ffff:cb00:7109", "203.0.113.9"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("unknown", "unknown"),  # no address (client_address's word for it)
        ("not an address", "not an address"),  # a forwarded header's junk: counted as it is
        ("", ""),
    ],
)
def test_the_key_of_an_address(address, key):
    assert rate_limit_key(address) == key


def test_addresses_of_one_64_share_a_key_and_the_next_64_does_not():
    keys = {rate_limit_key(rotating(n)) for n in range(1, 50)}
    assert keys == {"2001:db8:1:2::/64"}
    assert rate_limit_key(NEIGHBOUR) != "2001:db8:1:2::/64"


# --- sign-in ------------------------------------------------------------------------------------


def login(client, username, password, address, path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_a_sprayer_rotating_within_its_64_is_refused_as_one_address(client, settings, caplog):
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3
    for n in range(1, 4):
        assert login(client, f"nobody{n}", "Spring2026!", rotating(n)).status_code == 200
    with caplog.at_level(logging.WARNING, logger="zhiwang.accounts.services"):
        response = login(client, "demo_ns_dispatcher", "pw-for-tests", rotating(4))
    assert response.status_code == 200 and address_limited(minutes=15) in response.content.decode()
    # the log names the address that was refused, not its network
    assert any(rotating(4) in record.getMessage() for record in caplog.records)
    # the neighbouring /64 is another client
    assert login(client, "demo_ns_dispatcher", "pw-for-tests", NEIGHBOUR).status_code == 302


@pytest.mark.django_db
def test_rotating_within_a_64_cannot_lock_a_username_everywhere(client, settings):
    """Five wrong passwords lock the username for the /64, whichever of its addresses they came
    from; going on from fresh addresses of it is refused unrecorded, so it never reaches the 20
    that lock the username from everywhere, and the owner signs in from the office."""
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 5
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 20
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 100  # the pair's lock alone, not the spray limit
    for n in range(1, 25):
        login(client, "demo_admin", "wrong", rotating(n))
    failures = LoginAttempt.objects.filter(username="demo_admin", succeeded=False)
    assert failures.count() == 5
    # the rows keep each full address, for the audit trail
    assert set(failures.values_list("ip", flat=True)) == {rotating(n) for n in range(1, 6)}
    response = login(client, "demo_admin", "pw-for-tests", rotating(99))
    assert response.status_code == 200 and locked_here(minutes=15) in response.content.decode()
    assert login(client, "demo_admin", "pw-for-tests", NEIGHBOUR, path="/admin/login/").status_code == 302
    client.logout()
    assert login(client, "demo_admin", "pw-for-tests", OFFICE, path="/admin/login/").status_code == 302


@pytest.mark.django_db
def test_an_ipv4_client_seen_mapped_into_ipv6_is_the_same_client(client, settings):
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 2
    login(client, "demo_admin", "wrong", "::ffff:203.0.113.9")
    login(client, "demo_admin", "wrong", "203.0.113.9")
    for address in ("203.0.113.9", "::ffff:203.0.113.9"):
        response = login(client, "demo_admin", "pw-for-tests", address)
        assert response.status_code == 200 and locked_here(minutes=15) in response.content.decode()
    assert login(client, "demo_admin", "pw-for-tests", "203.0.113.10").status_code == 302


# --- the citizen's look-up ---------------------------------------------------------------------


def _lookup(client, number, phone, address):
    return client.post(
        "/api/v1/tickets/public/lookup",
        {"number": number, "phone": phone},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_look_ups_rotating_within_a_64_count_as_one_address(client):
    # each with another number and phone: only the address's counter fills
    for n in range(1, ADDRESS_FAILURE_LIMIT + 1):
        assert _lookup(client, f"ZW20260101{n:06d}", f"1390000{n:04d}", rotating(n)).status_code == 404
    refused = _lookup(client, "ZW20260101000099", "13900000099", rotating(99))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "tickets.lookup_limited"
    assert _lookup(client, "ZW20260101000099", "13900000099", NEIGHBOUR).status_code == 404


# --- the citizen's report form -------------------------------------------------------------------


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def _report(client, building, address):
    data = {
        "kind": "complaint",
        "category": "010214",
        "description": "路口的垃圾桶满了没人清运",
        "address_text": building.full_name,
        "lon": "",
        "lat": "",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
        "token": new_form_token(),
    }
    return client.post("/report/", data, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_reports_rotating_within_a_64_count_as_one_address(client, building, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 2
    for n in (1, 2):
        assert _report(client, building, rotating(n)).status_code == 302
    refused = _report(client, building, rotating(3))
    assert refused.status_code == 200
    with translation.override("zh-hans"):
        message = ngettext(
            "Too many reports were sent from your network address. Try again in %(minutes)s minute, "
            "or call the 12345 hotline.",
            "Too many reports were sent from your network address. Try again in %(minutes)s minutes, "
            "or call the 12345 hotline.",
            60,
        ) % {"minutes": 60}
    assert message in refused.content.decode()
    assert _report(client, building, NEIGHBOUR).status_code == 302
