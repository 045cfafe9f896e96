from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts import services


class LoginForm(AuthenticationForm):
    """The standard form, with a clear message while a username is locked."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins. This account is locked for %(minutes)s minutes."),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and services.login_is_locked(username=username):
            from django.conf import settings

            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": settings.ZHIWANG_LOGIN_LOCK_MINUTES},
            )
        return super().clean()
