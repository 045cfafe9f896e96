"""The sign-in page's messages as a user reads them (zh-hans, the default language).

Worded through the catalogs, so the tests hold before the lead fills in a new msgid (the
English then) and after (the Chinese); ``test_login_lock_messages.py`` pins the Chinese.
"""

from __future__ import annotations

import re

from django.contrib.auth.forms import AuthenticationForm
from django.utils import translation
from django.utils.html import escape

from zhiwang.accounts import backends


def _zh(message, **params) -> str:
    with translation.override("zh-hans"):
        return escape(str(message % params if params else message))


def address_limited(minutes: int) -> str:
    return _zh(backends.ADDRESS_LIMITED, minutes=minutes)


def locked_here(minutes: int) -> str:
    return _zh(backends.LOCKED_HERE, minutes=minutes)


def locked_everywhere(minutes: int) -> str:
    return _zh(backends.LOCKED_EVERYWHERE, minutes=minutes)


def failures_left(count: int, minutes: int = 15) -> str:
    return _zh(backends.FAILURES_LEFT, count=count, minutes=minutes)


def wrong_password() -> str:
    """Django's "enter a correct username and password", for our username field."""
    with translation.override("zh-hans"):
        return escape(AuthenticationForm().get_invalid_login_error().messages[0])


def errors(response) -> list[str]:
    """The messages of the sign-in page's error box (web login), in order."""
    box = re.search(r'<div class="errors" role="alert">(.*?)</div>', response.content.decode(), re.S)
    return re.findall(r"<p>(.*?)</p>", box.group(1), re.S) if box else []
