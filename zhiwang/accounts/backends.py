"""Authentication backend that throttles repeated failures per address, per username and per both."""

from __future__ import annotations

import math

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import ngettext_lazy

from zhiwang.accounts import services
from zhiwang.core.client_address import client_address


class LoginRefused(ValidationError):
    """A sign-in refused without its password checked, with the reason to show.

    A ``ValidationError`` rather than Django's ``PermissionDenied``, which ``authenticate()``
    swallows into "wrong username or password": raised through ``authenticate()``, it reaches the
    sign-in form's ``clean()`` (``AuthenticationForm``: the web login and the admin login alike),
    which shows it as the form's error. ``PermissionDenied`` would also have stopped other
    backends; this one is the only backend (``AUTHENTICATION_BACKENDS``).
    """


# The refusals say what is locked and for how long it still is (the minutes left, rounded up),
# and who can help: there is no self-service password reset. Lazy and plural on "minutes", as
# Django's own validators are: worded when the form shows them, in the reader's language.
LOCKED_HERE = ngettext_lazy(
    "Too many failed sign-ins: this account is paused on your network. Try again in %(minutes)s "
    "minute. If you forgot your password, contact your system administrator.",
    "Too many failed sign-ins: this account is paused on your network. Try again in %(minutes)s "
    "minutes. If you forgot your password, contact your system administrator.",
    "minutes",
)
LOCKED_EVERYWHERE = ngettext_lazy(
    "This account has too many failed sign-ins and is paused. Try again in %(minutes)s minute. "
    "If you forgot your password, contact your system administrator.",
    "This account has too many failed sign-ins and is paused. Try again in %(minutes)s minutes. "
    "If you forgot your password, contact your system administrator.",
    "minutes",
)
ADDRESS_LIMITED = ngettext_lazy(
    "Too many failed sign-ins from your network. Try again in %(minutes)s minute. "
    "If you forgot your password, contact your system administrator.",
    "Too many failed sign-ins from your network. Try again in %(minutes)s minutes. "
    "If you forgot your password, contact your system administrator.",
    "minutes",
)
FAILURES_LEFT = ngettext_lazy(
    "%(count)s more failed sign-in and this account will be locked on this network for %(minutes)s minutes.",
    "%(count)s more failed sign-ins and this account will be locked on this network for %(minutes)s minutes.",
    "count",
)
#: Failures left before the lock from which a failed sign-in warns (the last ones before it).
WARN_WHEN_LEFT = 2


def minutes_left(seconds: int) -> int:
    """Whole minutes, rounded up, at least 1: "try again in 0 minutes" would be refused again."""
    return max(1, math.ceil(seconds / 60))


def lock_refusal(lock: services.LoginLock) -> LoginRefused:
    """The refusal of a locked username, saying where it is locked and for how long still."""
    message = LOCKED_EVERYWHERE if lock.everywhere else LOCKED_HERE
    return LoginRefused(message, code="locked", params={"minutes": minutes_left(lock.seconds_left())})


def failure_notice(*, request, username: str) -> LoginRefused | None:
    """What a wrong password adds to "wrong username or password": the lock it just caused, or,
    in the last ``WARN_WHEN_LEFT`` tries before the lock from this address, how many are left.

    Read from the attempts (``services.login_lock``, ``login_failures_left_from``), which
    unknown usernames have like any other: their warnings and locks are the same, so the page
    does not tell whether an account exists. Only the lock of the username from this address is
    announced (the one a user's own mistypes reach); the lock from every address comes from
    failures elsewhere, and is said when it refuses.
    """
    ip = services.client_ip(request)
    lock = services.login_lock(username=username, ip=ip)
    if lock is not None:
        return lock_refusal(lock)
    left = services.login_failures_left_from(username=username, ip=ip)
    if left > WARN_WHEN_LEFT:
        return None
    minutes = services.login_limits().window_minutes
    return LoginRefused(FAILURES_LEFT, code="failures_left", params={"count": left, "minutes": minutes})


class ThrottledModelBackend(ModelBackend):
    """Django's model backend, refusing for a while after too many failures.

    Used by the web login and the admin login alike (``services``, "Login throttling"):

    1. an address with too many failures, whatever the usernames, is refused first, for the
       price of a cache read (no row, no password hash: a password spray costs next to nothing);
    2. a username locked for this address, or from every address, is refused even with the
       right password, so guessing gains nothing;
    3. only then is the password hashed and checked.

    Refusals raise ``LoginRefused`` (the form shows why); a wrong password returns None.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self.get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        # No request (a call from code): no address to count.
        address = client_address(request) if request is not None else None
        if address is not None and not services.login_address_admit(address=address):
            minutes = minutes_left(services.login_address_wait(address=address))
            raise LoginRefused(ADDRESS_LIMITED, code="address_limited", params={"minutes": minutes})
        ip = services.client_ip(request)
        # Recorded as a failure *before* the password is checked (hashing takes a while): guesses
        # sent in parallel then count one another, so a burst cannot slip past the limit.
        attempt = services.login_attempt_record(username=username, ip=ip, succeeded=False)
        before = attempt.pk
        locked = services.login_is_locked_from(username=username, ip=ip, before=before)
        if locked or services.login_is_locked(username=username, before=before):
            # Refused unchecked: not an attempt of the username (its lock does not slide), but
            # still one of the address (a client that keeps knocking is soon refused at step 1).
            attempt.delete()
            lock = services.login_lock(username=username, ip=ip, before=before)
            if lock is None:  # the lock ended between the two reads: refused all the same
                lock = services.LoginLock(everywhere=not locked, until=timezone.now())
            raise lock_refusal(lock)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            type(attempt).objects.filter(pk=attempt.pk).update(succeeded=True)
            if address is not None:
                services.login_address_forgive(address=address)
        return user
