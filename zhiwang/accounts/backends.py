"""Authentication backend that throttles repeated failures per username."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from zhiwang.accounts import services


class ThrottledModelBackend(ModelBackend):
    """Django's model backend, locked for a while after too many failures.

    Used by the web login and the admin login alike. While a username is locked,
    even the right password is refused, so guessing gains nothing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self.get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        ip = services.client_ip(request)
        # Recorded as a failure *before* the password is checked (hashing takes a while): guesses
        # sent in parallel then count one another, so a burst cannot slip past the limit.
        attempt = services.login_attempt_record(username=username, ip=ip, succeeded=False)
        if services.login_is_locked(username=username, before=attempt.pk):
            attempt.delete()  # refused unchecked: not an attempt (the lock does not slide)
            # PermissionDenied stops Django from trying other backends.
            raise PermissionDenied("login locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            type(attempt).objects.filter(pk=attempt.pk).update(succeeded=True)
        return user
