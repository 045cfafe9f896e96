from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from zhiwang.accounts import backends, services


class LockAwareLogin:
    """Says how long a lock still holds and warns before one (a mixin for the sign-in forms).

    The refusals come from ``accounts.backends``; the warning after a wrong password is added here,
    for the site's sign-in page and the admin's alike.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        # Locked from every address: refused before the backend counts the address (as before).
        if username and services.login_is_locked(username=username):
            lock = services.login_lock(username=username, ip=services.client_ip(self.request))
            if lock is not None:  # None: the lock ended between the two reads
                raise backends.lock_refusal(lock)
        return super().clean()

    def get_invalid_login_error(self):
        """ "Wrong username or password", and after it the lock just caused or the tries left."""
        error = super().get_invalid_login_error()
        notice = backends.failure_notice(request=self.request, username=self.cleaned_data["username"])
        return forms.ValidationError([error, notice]) if notice is not None else error


class LoginForm(LockAwareLogin, AuthenticationForm):
    """The site's sign-in form."""


class AdminLoginForm(LockAwareLogin, AdminAuthenticationForm):
    """The admin's sign-in form (staff only, as Django's), with the same warnings."""
