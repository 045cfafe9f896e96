"""Notifications: the in-app inbox for staff, and outbound SMS/e-mail to citizens through adapters.

Outbound messages are sent after the transaction commits (a rolled-back action
never texts anybody) through the adapter named in ``ZHIWANG_NOTIFY_ADAPTERS``;
the default adapter only logs. Every message is recorded in ``OutboundMessage``, whatever
happens: an adapter that fails to send, or even to start (a missing key, a wrong path), leaves
a ``failed`` row and a warning in the log; it never fails the action that was committed, nor
keeps the other after-commit work from running.

**Language.** Inbox messages and outbound texts are written in the city's language
(``settings.LANGUAGE_CODE``), not in the language of whoever triggered them: a dispatcher
browsing in English must not leave English messages in a Chinese handler's inbox, nor text a
citizen in English. A writer passes the text as a callable (``lambda: _("…") % {…}``) or a
lazy string; it is evaluated here, in the city's language (``city_language``). A plain string
is stored as it is.

**Secrets.** ``notify_phone(redact=…)`` names secrets the text carries (a one-time link's token):
the person texted gets them; the record, the log and the error text of a failing gateway
(which often echoes the request) get ``REDACTED`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from urllib.parse import quote, quote_plus

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.module_loading import import_string

from zhiwang.core.masking import mask_phone
from zhiwang.tickets.models import Notification, OutboundMessage, Ticket

logger = logging.getLogger("zhiwang.notify")

#: A notification's or a text's words: a callable or a lazy string, written in the city's language.
Text = str | Callable[[], str]

DEFAULT_ADAPTER = "zhiwang.tickets.notify.LogAdapter"
#: What stands in the record for a secret the message carried (``notify_phone(redact=…)``).
REDACTED = "[…]"


def city_language():
    """``with city_language():`` — what is written inside is in the city's language (``LANGUAGE_CODE``)."""
    return translation.override(settings.LANGUAGE_CODE)


def written(text: Text) -> str:
    """``text`` as stored and sent: evaluated (a callable, a lazy string) in the city's language."""
    with city_language():
        return str(text() if callable(text) else text)


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without the ``secrets``: as given, and URL-encoded (as a gateway's error may echo them)."""
    for secret in secrets:
        if not secret:
            continue
        for form in dict.fromkeys((secret, quote(secret, safe=""), quote(secret), quote_plus(secret))):
            text = text.replace(form, REDACTED)
    return text


def _recipient(channel: str, to: str) -> str:
    return mask_phone(to) if channel == "sms" else to


class LogAdapter:
    """Writes the message to the log instead of sending it (the embedded default).

    It delivers nothing, so it gets the text as recorded (``records_only``): a secret the text
    carried is not written to the log, which more people read than the person texted.
    """

    name = "log"
    records_only = True

    def send(self, *, channel: str, to: str, body: str) -> None:
        logger.info("%s to %s: %s", channel, _recipient(channel, to), body)


def _adapter_path(channel: str) -> str:
    return getattr(settings, "ZHIWANG_NOTIFY_ADAPTERS", {}).get(channel, DEFAULT_ADAPTER)


def _adapter(channel: str):
    return import_string(_adapter_path(channel))()


def _send(ticket_id: int | None, channel: str, to: str, body: str, redact: tuple[str, ...] = ()) -> None:
    """Send one message through the channel's adapter and record it (after commit)."""
    record = _redact(body, redact)  # the person texted holds the secret; the record and its readers do not
    adapter_name, status, error = _adapter_path(channel), "sent", ""
    try:
        adapter = _adapter(channel)  # inside: an adapter that cannot even start is a failed message
        adapter_name = getattr(adapter, "name", type(adapter).__name__)
        adapter.send(channel=channel, to=to, body=record if getattr(adapter, "records_only", False) else body)
    except Exception as exc:  # a failing gateway must not break the workflow; the row records it
        status, error = "failed", _redact(str(exc) or type(exc).__name__, redact)
        logger.warning(
            "outbound %s to %s through %s failed: %s", channel, _recipient(channel, to), adapter_name, error
        )
    OutboundMessage.objects.create(
        ticket_id=ticket_id,
        channel=channel,
        to=to,
        body=record,
        adapter=str(adapter_name)[:64],
        status=status,
        error=error[:255],
    )


def _after_commit(
    ticket_id: int | None, channel: str, to: str, body: str, redact: tuple[str, ...] = ()
) -> None:
    # robust: whatever goes wrong here is logged, and the callbacks registered after it still run
    transaction.on_commit(partial(_send, ticket_id, channel, to, body, tuple(redact)), robust=True)


def notify_citizen(*, ticket: Ticket, body: Text) -> None:
    """Text the reporter (if a phone is known), after commit."""
    if ticket.reporter_phone:
        _after_commit(ticket.pk, "sms", ticket.reporter_phone, written(body))


def notify_phone(
    *, phone: str, body: Text, ticket: Ticket | None = None, redact: tuple[str, ...] = ()
) -> None:
    """Text any phone number (a dispute party, a visitor), after commit; recorded like the rest.

    ``redact``: secrets the text carries (a one-time link's token) — sent, but replaced by
    ``REDACTED`` in the recorded ``OutboundMessage`` (which administrators can read), in the log
    and in a failing gateway's error.
    """
    if phone:
        _after_commit(ticket.pk if ticket else None, "sms", phone, written(body), tuple(redact))


def notify_unit(*, unit_id: int | None, ticket: Ticket | None, kind: str, message: Text) -> None:
    """An in-app message to everybody of a unit (in the caller's transaction: rolled back with it)."""
    if unit_id is not None:
        Notification.objects.create(unit_id=unit_id, ticket=ticket, kind=kind, message=written(message)[:500])


def notify_user(*, user_id: int | None, ticket: Ticket | None, kind: str, message: Text) -> None:
    """An in-app message to one user."""
    if user_id is not None:
        Notification.objects.create(
            recipient_id=user_id, ticket=ticket, kind=kind, message=written(message)[:500]
        )
