"""Notifications: the in-app inbox for staff, and outbound SMS/e-mail to citizens through adapters.

Outbound messages are sent after the transaction commits (a rolled-back action
never texts anybody) through the adapter named in ``ZHIWANG_NOTIFY_ADAPTERS``;
the default adapter only logs. Every message is recorded in ``OutboundMessage``.
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from zhiwang.core.masking import mask_phone
from zhiwang.tickets.models import Notification, OutboundMessage, Ticket

logger = logging.getLogger("zhiwang.notify")


class LogAdapter:
    """Writes the message to the log instead of sending it (the embedded default)."""

    name = "log"

    def send(self, *, channel: str, to: str, body: str) -> None:
        logger.info("%s to %s: %s", channel, mask_phone(to) if channel == "sms" else to, body)


def _adapter(channel: str):
    paths = getattr(settings, "ZHIWANG_NOTIFY_ADAPTERS", {})
    return import_string(paths.get(channel, "zhiwang.tickets.notify.LogAdapter"))()


#: What stands in the record for a secret the message carried (``notify_phone(redact=…)``).
REDACTED = "[…]"


def _send(ticket_id: int | None, channel: str, to: str, body: str, redact: tuple[str, ...] = ()) -> None:
    adapter = _adapter(channel)
    status, error = "sent", ""
    try:
        adapter.send(channel=channel, to=to, body=body)
    except Exception as exc:  # a failing gateway must not break the workflow; the row records it
        status, error = "failed", str(exc)[:255]
        logger.warning(
            "outbound %s to %s failed: %s", channel, mask_phone(to) if channel == "sms" else to, exc
        )
    record = body
    for secret in redact:  # the person texted holds the secret; the record and its readers do not
        if secret:
            record = record.replace(secret, REDACTED)
    OutboundMessage.objects.create(
        ticket_id=ticket_id,
        channel=channel,
        to=to,
        body=record,
        adapter=getattr(adapter, "name", type(adapter).__name__),
        status=status,
        error=error,
    )


def notify_citizen(*, ticket: Ticket, body: str) -> None:
    """Text the reporter (if a phone is known), after commit."""
    if ticket.reporter_phone:
        transaction.on_commit(partial(_send, ticket.pk, "sms", ticket.reporter_phone, body))


def notify_phone(
    *, phone: str, body: str, ticket: Ticket | None = None, redact: tuple[str, ...] = ()
) -> None:
    """Text any phone number (a dispute party, a visitor), after commit; recorded like the rest.

    ``redact``: secrets the text carries (a one-time link's token) — sent, but replaced by
    ``REDACTED`` in the recorded ``OutboundMessage``, which administrators can read.
    """
    if phone:
        transaction.on_commit(
            partial(_send, ticket.pk if ticket else None, "sms", phone, body, tuple(redact))
        )


def notify_unit(*, unit_id: int | None, ticket: Ticket, kind: str, message: str) -> None:
    """An in-app message to everybody of a unit (in the caller's transaction: rolled back with it)."""
    if unit_id is not None:
        Notification.objects.create(unit_id=unit_id, ticket=ticket, kind=kind, message=message[:500])


def notify_user(*, user_id: int | None, ticket: Ticket | None, kind: str, message: str) -> None:
    """An in-app message to one user."""
    if user_id is not None:
        Notification.objects.create(recipient_id=user_id, ticket=ticket, kind=kind, message=message[:500])
