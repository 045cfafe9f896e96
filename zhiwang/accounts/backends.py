"""Authentication backend that throttles repeated failures per address, per username and per both."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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


LOCKED = _("Too many failed sign-ins. This account is locked for %(minutes)s minutes.")
ADDRESS_LIMITED = _("Too many failed sign-ins from your network address. Try again in %(minutes)s minutes.")


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
        minutes = services.login_limits().window_minutes
        # No request (a call from code): no address to count.
        address = client_address(request) if request is not None else None
        if address is not None and not services.login_address_admit(address=address):
            raise LoginRefused(ADDRESS_LIMITED, code="address_limited", params={"minutes": minutes})
        ip = services.client_ip(request)
        # Recorded as a failure *before* the password is checked (hashing takes a while): guesses
        # sent in parallel then count one another, so a burst cannot slip past the limit.
        attempt = services.login_attempt_record(username=username, ip=ip, succeeded=False)
        locked = services.login_is_locked_from(username=username, ip=ip, before=attempt.pk)
        if locked or services.login_is_locked(username=username, before=attempt.pk):
            # Refused unchecked: not an attempt of the username (its lock does not slide), but
            # still one of the address (a client that keeps knocking is soon refused at step 1).
            attempt.delete()
            raise LoginRefused(LOCKED, code="locked", params={"minutes": minutes})
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            type(attempt).objects.filter(pk=attempt.pk).update(succeeded=True)
            if address is not None:
                services.login_address_forgive(address=address)
        return user
