# ruff: noqa: F811 (pytest fixtures imported from tests.clock and tests.tickets.conftest)
"""What the sign-in page says about its limits: a warning before the lock, what is locked, and
for how long still.

The browser walkthrough's findings: five failures showed only "wrong username or password",
then the sixth said "this account is locked for 15 minutes" — always 15, and "the account"
though the lock held only for that username from that address.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import translation

from tests.accounts.messages import (
    address_limited,
    errors,
    failures_left,
    locked_everywhere,
    locked_here,
    wrong_password,
)
from tests.clock import cache_clock  # noqa: F401  (the cache counters' clock)
from tests.tickets.conftest import frozen_now  # noqa: F401  (timezone.now(), the attempts' clock)
from zhiwang.accounts import backends, services

pytestmark = pytest.mark.django_db

HOME = "198.51.100.20"
ELSEWHERE = "203.0.113.9"
OFFICE = "192.0.2.200"
RIGHT = "pw-for-tests"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 5
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 20
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 20
    settings.ZHIWANG_LOGIN_LOCK_MINUTES = 15
    cache.clear()  # the per-address counters live in the cache, which tests share
    yield
    cache.clear()


def login(client, username, password, address=HOME, path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


# --- the warning before the lock -----------------------------------------------------------------


def test_the_last_two_failures_before_the_lock_warn_and_the_locking_one_says_so(client):
    pages = [errors(login(client, "demo_ns_dispatcher", "wrong")) for _ in range(5)]
    assert pages == [
        [wrong_password()],
        [wrong_password()],
        [wrong_password(), failures_left(2)],
        [wrong_password(), failures_left(1)],
        [wrong_password(), locked_here(15)],  # no sixth try needed to learn it
    ]
    # the right password now: refused, unchecked, with the same words
    assert errors(login(client, "demo_ns_dispatcher", RIGHT)) == [locked_here(15)]


def test_the_warning_counts_this_network_since_its_last_success(client):
    for _ in range(3):
        login(client, "demo_ns_dispatcher", "wrong", ELSEWHERE)
    # failures elsewhere are not this network's: the first one here warns of nothing
    assert errors(login(client, "demo_ns_dispatcher", "wrong")) == [wrong_password()]
    for _ in range(3):
        login(client, "demo_ns_dispatcher", "wrong")
    assert login(client, "demo_ns_dispatcher", RIGHT).status_code == 302
    client.logout()
    # a success here starts the count again, and with it the warnings
    assert errors(login(client, "demo_ns_dispatcher", "wrong")) == [wrong_password()]


def test_another_username_from_the_same_network_is_not_warned(client):
    for _ in range(4):
        login(client, "demo_ns_dispatcher", "wrong")
    assert errors(login(client, "demo_lh_dispatcher", "wrong")) == [wrong_password()]


# --- unknown usernames are told the same --------------------------------------------------------


def test_an_unknown_username_is_told_exactly_what_a_real_one_is(client):
    """Attempts are recorded by the username typed, known or not: the warnings and the locks
    come from them, so the page never tells whether an account exists."""

    def pages(username, address):
        seen = [errors(login(client, username, "wrong", address)) for _ in range(6)]
        seen.append(errors(login(client, username, RIGHT, address)))
        return seen

    real = pages("demo_ns_dispatcher", HOME)
    assert pages("no_such_person", ELSEWHERE) == real
    assert real[2][-1] == failures_left(2) and real[-1] == [locked_here(15)]


@pytest.mark.parametrize("username", ["demo_admin", "no_such_admin"])
def test_the_lock_from_everywhere_says_so_with_its_minutes(client, settings, frozen_now, username):
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 8
    start = frozen_now.initial
    for n in range(8):  # one a minute, four each from two addresses: neither is locked alone
        frozen_now(start + timedelta(minutes=n))
        login(client, username, "wrong", f"192.0.2.{n % 2}")
    frozen_now(start + timedelta(minutes=10))
    # the lock ends as its oldest failure leaves the window: at start + 15
    assert errors(login(client, username, RIGHT, OFFICE)) == [locked_everywhere(5)]
    admin = login(client, username, RIGHT, OFFICE, path="/admin/login/")
    assert admin.status_code == 200 and locked_everywhere(5) in admin.content.decode()


# --- the minutes left, counting down ------------------------------------------------------------


def test_the_minutes_left_count_down(client, frozen_now):
    start = frozen_now.initial
    for _ in range(5):
        login(client, "demo_ns_dispatcher", "wrong")
    frozen_now(start + timedelta(minutes=6))
    assert errors(login(client, "demo_ns_dispatcher", RIGHT)) == [locked_here(9)]
    frozen_now(start + timedelta(minutes=14, seconds=30))
    assert errors(login(client, "demo_ns_dispatcher", RIGHT)) == [locked_here(1)]  # rounded up
    frozen_now(start + timedelta(minutes=15, seconds=1))
    assert login(client, "demo_ns_dispatcher", RIGHT).status_code == 302


def test_a_lock_of_spread_failures_ends_as_its_oldest_leaves_the_window(client, frozen_now):
    start = frozen_now.initial
    for minute in (0, 4, 8, 10, 12):
        frozen_now(start + timedelta(minutes=minute))
        login(client, "demo_ns_dispatcher", "wrong")
    frozen_now(start + timedelta(minutes=13))
    assert errors(login(client, "demo_ns_dispatcher", RIGHT)) == [locked_here(2)]
    frozen_now(start + timedelta(minutes=15, seconds=1))  # four failures left in the window
    assert login(client, "demo_ns_dispatcher", RIGHT).status_code == 302


def test_when_both_locks_hold_the_later_end_is_said(settings, frozen_now):
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 6
    start = frozen_now.initial
    services.login_attempt_record(username="demo_admin", ip=ELSEWHERE, succeeded=False)
    frozen_now(start + timedelta(minutes=5))
    for _ in range(5):
        services.login_attempt_record(username="demo_admin", ip=HOME, succeeded=False)
    frozen_now(start + timedelta(minutes=6))
    # from HOME: locked everywhere until start + 15, and here until start + 20
    assert services.login_lock(username="demo_admin", ip=HOME) == services.LoginLock(
        everywhere=False, until=start + timedelta(minutes=20)
    )
    # from anywhere else: the lock from everywhere only
    assert services.login_lock(username="demo_admin", ip=OFFICE) == services.LoginLock(
        everywhere=True, until=start + timedelta(minutes=15)
    )
    assert services.login_lock(username="demo_lh_dispatcher", ip=HOME) is None


def test_the_address_lock_counts_down(client, settings, cache_clock):
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3
    for i in range(3):
        login(client, f"nobody{i}", "x", ELSEWHERE)
    assert errors(login(client, "demo_ns_dispatcher", RIGHT, ELSEWHERE)) == [address_limited(15)]
    cache_clock(8 * 60)
    assert errors(login(client, "demo_ns_dispatcher", RIGHT, ELSEWHERE)) == [address_limited(7)]
    cache_clock(14 * 60 + 59)
    assert errors(login(client, "demo_ns_dispatcher", RIGHT, ELSEWHERE)) == [address_limited(1)]
    cache_clock(15 * 60 + 1)
    assert login(client, "demo_ns_dispatcher", RIGHT, ELSEWHERE).status_code == 302


def test_the_admin_login_says_the_minutes_too(client, frozen_now):
    start = frozen_now.initial
    for _ in range(5):
        login(client, "demo_admin", "wrong", path="/admin/login/")
    frozen_now(start + timedelta(minutes=3))
    response = login(client, "demo_admin", RIGHT, path="/admin/login/")
    assert response.status_code == 200 and locked_here(12) in response.content.decode()


def test_the_admin_login_warns_before_the_lock_too(client):
    pages = [login(client, "demo_admin", "wrong", path="/admin/login/").content.decode() for _ in range(4)]
    assert failures_left(2) not in pages[1] and failures_left(2) in pages[2] and failures_left(1) in pages[3]


# --- the words ---------------------------------------------------------------------------------

ZH = [
    (
        backends.LOCKED_HERE,
        {"minutes": 9},
        "登录失败次数过多，该账户在您所在的网络已暂停登录，请 9 分钟后再试。如忘记密码，请联系系统管理员。",
    ),
    (
        backends.LOCKED_EVERYWHERE,
        {"minutes": 1},
        "该账户登录失败次数过多，已暂停登录，请 1 分钟后再试。如忘记密码，请联系系统管理员。",
    ),
    (
        backends.ADDRESS_LIMITED,
        {"minutes": 7},
        "您所在的网络登录失败次数过多，请 7 分钟后再试。如忘记密码，请联系系统管理员。",
    ),
    (
        backends.FAILURES_LEFT,
        {"count": 2, "minutes": 15},
        "再失败 2 次，该账户将在本网络锁定 15 分钟。",
    ),
]


@pytest.mark.parametrize(("message", "params", "chinese"), ZH)
def test_the_chinese_words(message, params, chinese):
    with translation.override("zh-hans"):
        shown = message % params
    assert shown == chinese


def test_every_lock_message_points_to_the_administrator():
    with translation.override("en"):
        for message in (backends.LOCKED_HERE, backends.LOCKED_EVERYWHERE, backends.ADDRESS_LIMITED):
            for minutes in (1, 2):
                text = message % {"minutes": minutes}
                assert text.endswith("If you forgot your password, contact your system administrator.")
                assert f"Try again in {minutes} minute" in text
