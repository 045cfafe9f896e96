"""Sign-in limits per client address, per username and address, per username; old attempts purged.

The review's findings: 40 failed sign-ins with different usernames from one address were all
checked (a password hash each, ~0.24 s of CPU), and five bad posts from anywhere locked any known
username, an administrator's too, from everywhere.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone

from tests.accounts.messages import address_limited, locked_everywhere, locked_here
from zhiwang.accounts import services
from zhiwang.accounts.backends import LoginRefused, ThrottledModelBackend
from zhiwang.accounts.models import LoginAttempt

pytestmark = pytest.mark.django_db

SPRAYER = "203.0.113.9"
OFFICE = "198.51.100.20"
# The address's message as the sign-in page says it, the window just begun. (Not worded with
# ``str(lazy) % …``: for a lazy plural message that gives "", and every check would pass.)
ADDRESS_LIMITED = address_limited(minutes=15)


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # the per-address counters live in the cache, which tests share
    yield
    cache.clear()


@pytest.fixture
def checked(monkeypatch):
    """The passwords actually checked (hashed) by the model backend."""
    seen = []
    real = ModelBackend.authenticate

    def spy(self, request, username=None, password=None, **kwargs):
        seen.append(username)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", spy)
    return seen


def login(client, username, password, address, path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_sprayer_is_refused_before_any_password_is_hashed(client, checked):
    # given 20 failed sign-ins from one address, each with another username (the default limit)
    for i in range(20):
        assert login(client, f"nobody{i}", "Spring2026!", SPRAYER).status_code == 200
    assert len(checked) == 20
    rows = LoginAttempt.objects.count()
    # when the sprayer goes on, with a real username and even its right password
    for username, password in (("nobody20", "x"), ("demo_ns_dispatcher", "pw-for-tests")):
        response = login(client, username, password, SPRAYER)
        # then it is refused with the address's message, unchecked and unrecorded
        assert response.status_code == 200
        assert ADDRESS_LIMITED in response.content.decode()
    assert len(checked) == 20
    assert LoginAttempt.objects.count() == rows
    # and another address is not affected
    assert login(client, "demo_ns_dispatcher", "pw-for-tests", OFFICE).status_code == 302


def test_the_admin_login_counts_the_same_address(client, settings, checked):
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3
    for i in range(3):
        login(client, f"nobody{i}", "x", SPRAYER)  # the web login …
    response = login(client, "demo_admin", "pw-for-tests", SPRAYER, path="/admin/login/")  # … then the admin
    assert response.status_code == 200  # the form again, not a redirect into the admin
    assert ADDRESS_LIMITED in response.content.decode()
    assert len(checked) == 3


def test_successes_do_not_count_against_the_address(client, settings):
    """An office behind one address: its people's sign-ins are not failures."""
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3
    for _ in range(5):
        login(client, "demo_ns_dispatcher", "pw-for-tests", OFFICE)
        client.logout()
    for i in range(3):
        login(client, f"nobody{i}", "x", OFFICE)
    assert ADDRESS_LIMITED in login(client, "demo_ns_dispatcher", "pw-for-tests", OFFICE).content.decode()


def test_the_address_is_the_one_the_trusted_proxy_saw(client, settings):
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3

    def via_proxy(username, password, forwarded):
        return client.post(
            "/login/",
            {"username": username, "password": password},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    # Behind one proxy, two clients are two addresses …
    settings.ZHIWANG_NUM_PROXIES = 1
    for i in range(3):
        via_proxy(f"nobody{i}", "x", f"192.0.2.{i}, {SPRAYER}")  # the client's own part changes nothing
    assert ADDRESS_LIMITED in via_proxy("nobody", "x", f"192.0.2.9, {SPRAYER}").content.decode()
    assert via_proxy("demo_ns_dispatcher", "pw-for-tests", OFFICE).status_code == 302
    client.logout()
    # … without a trusted proxy, a forged header moves nobody to another address.
    settings.ZHIWANG_NUM_PROXIES = 0
    for i in range(3):
        via_proxy(f"other{i}", "x", f"192.0.2.{i + 100}")
    assert ADDRESS_LIMITED in via_proxy("demo_ns_dispatcher", "pw-for-tests", OFFICE).content.decode()


def test_one_address_locks_a_username_only_for_itself(client, settings, checked):
    """Five wrong passwords for the administrator from a stranger's address lock it there, not for
    the administrator at the office (the review: a lock from anywhere, repeatable forever)."""
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 5
    for _ in range(5):
        login(client, "demo_admin", "wrong", SPRAYER)
    response = login(client, "demo_admin", "pw-for-tests", SPRAYER)
    assert response.status_code == 200 and locked_here(minutes=15) in response.content.decode()
    assert len(checked) == 5  # the sixth was refused unchecked
    assert login(client, "demo_admin", "pw-for-tests", OFFICE, path="/admin/login/").status_code == 302


def test_many_addresses_lock_a_username_everywhere(client, settings):
    """The trade-off: failures from every address together lock the username from everywhere, at
    a higher count (``ZHIWANG_LOGIN_USERNAME_MAX_FAILURES``): a guesser with many addresses gets
    that many guesses a window, no more."""
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 5
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 12
    for n in range(12):
        login(
            client, "demo_admin", "wrong", f"192.0.2.{n // 4}"
        )  # 4 each from 3 addresses: none locked alone
    response = login(client, "demo_admin", "pw-for-tests", OFFICE)
    # said as the account's lock from everywhere, not as one on the office's network
    assert response.status_code == 200 and locked_everywhere(minutes=15) in response.content.decode()


def test_the_username_limit_is_never_below_the_address_one(settings):
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 8
    settings.ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = 3
    assert services.login_limits().per_username == 8


def test_a_success_from_an_address_resets_its_count_there(client, settings):
    settings.ZHIWANG_LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        login(client, "demo_ns_dispatcher", "wrong", OFFICE)
    assert login(client, "demo_ns_dispatcher", "pw-for-tests", OFFICE).status_code == 302
    client.logout()
    for _ in range(2):
        login(client, "demo_ns_dispatcher", "wrong", OFFICE)
    assert login(client, "demo_ns_dispatcher", "pw-for-tests", OFFICE).status_code == 302


def test_parallel_sprays_count_one_another(settings, monkeypatch):
    """Sign-ins that arrive while one is being checked see its count: the address counter is
    taken before the password is hashed, in one atomic step."""
    settings.ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = 3
    backend = ThrottledModelBackend()
    request = RequestFactory().post("/login/", REMOTE_ADDR=SPRAYER)
    outcomes = []
    real = ModelBackend.authenticate

    def slow_check(self, request_, username=None, password=None, **kwargs):
        if username == "first":
            for n in range(3):
                try:
                    outcomes.append(backend.authenticate(request, username=f"burst{n}", password="x"))
                except LoginRefused as refused:
                    outcomes.append(refused.code)
        return real(self, request_, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", slow_check)
    assert backend.authenticate(request, username="first", password="x") is None
    assert outcomes == [None, None, "address_limited"]


def test_old_attempts_are_purged(settings):
    settings.ZHIWANG_LOGIN_KEEP_DAYS = 30
    now = timezone.now()
    old = services.login_attempt_record(username="someone", ip=SPRAYER, succeeded=False)
    recent = services.login_attempt_record(username="someone", ip=SPRAYER, succeeded=True)
    LoginAttempt.objects.filter(pk=old.pk).update(at=now - timedelta(days=31))
    LoginAttempt.objects.filter(pk=recent.pk).update(at=now - timedelta(days=29))
    assert services.login_attempts_purge(now=now) == 1
    assert list(LoginAttempt.objects.filter(username="someone")) == [recent]


def test_the_purge_is_a_periodic_task():
    from huey.api import PeriodicTask
    from huey.contrib.djhuey import HUEY

    from zhiwang.accounts.tasks import login_attempts_purge_task

    assert issubclass(login_attempts_purge_task.task_class, PeriodicTask)
    assert login_attempts_purge_task.task_class in HUEY._registry._periodic_tasks
