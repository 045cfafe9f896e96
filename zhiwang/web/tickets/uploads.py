"""Photos and documents on the ticket pages: the forms' side of ``tickets.services.attachments``.

The checks and the writes are the service's; here a form gets its ``ValidationError``
and the views call ``attach`` right after the service that made the ticket or the reply.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import Attachment
from zhiwang.tickets.services.attachments import (
    DOCUMENT_MAX_BYTES,
    IMAGE_MAX_BYTES,
    MAX_FILES,
    MB,
    check_uploads,
    sniff,
    ticket_attach,
)

__all__ = ["DOCUMENT_MAX_BYTES", "IMAGE_MAX_BYTES", "MAX_FILES", "MB", "attach", "sniff", "validate_uploads"]


def validate_uploads(files, *, allow_documents: bool = False) -> list[tuple[object, str]]:
    """(file, content type) for each upload, or ``ValidationError`` naming every bad file."""
    try:
        return check_uploads(files, allow_documents=allow_documents)
    except ServiceError as error:
        messages = [f.message for f in error.fields] or [error.message]
        raise ValidationError(messages, code="invalid_file") from None


def attach(
    *, ticket, uploads: list[tuple[object, str]], user=None, is_reply: bool = False
) -> list[Attachment]:
    """Store uploads the form checked (through the service: one transaction, all or none)."""
    return ticket_attach(ticket=ticket, files=None, checked=uploads, actor=user, is_reply=is_reply)
