"""Photos and documents on a ticket: checked by their content (not the name a browser sends), stored once.

``ticket_attach`` checks every file first (count, type by the first bytes, size, not
empty) and names every bad one together; then it stores the files under random names
and writes the rows in one transaction. If anything fails, no row stays and the files
already stored are removed again.
"""

from __future__ import annotations

import os
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.tickets.models import Attachment, Ticket

MB = 1024 * 1024
IMAGE_MAX_BYTES = 5 * MB
DOCUMENT_MAX_BYTES = 10 * MB
MAX_FILES = 9

#: content type → (extension, magic prefixes); WebP is checked separately (RIFF....WEBP).
SIGNATURES = {
    "image/jpeg": (".jpg", (b"\xff\xd8\xff",)),
    "image/png": (".png", (b"\x89PNG\r\n\x1a\n",)),
    "image/gif": (".gif", (b"GIF87a", b"GIF89a")),
    "application/pdf": (".pdf", (b"%PDF-",)),
}
EXTENSIONS = {content_type: ext for content_type, (ext, _p) in SIGNATURES.items()} | {"image/webp": ".webp"}


def sniff(upload) -> str | None:
    """The content type the file's first bytes show, or None when it is none we accept."""
    head = upload.read(16)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for content_type, (_ext, prefixes) in SIGNATURES.items():
        if any(head.startswith(p) for p in prefixes):
            return content_type
    return None


def check_uploads(files, *, allow_documents: bool = False, field: str = "files") -> list[tuple[object, str]]:
    """(file, content type) for each upload, or ``ServiceError`` ``tickets.files_invalid`` naming every bad one.

    Images (JPEG, PNG, GIF, WebP) up to 5 MB; with ``allow_documents`` also PDF up to
    10 MB; at most 9 files.
    """
    files = [f for f in files or [] if f]
    if len(files) > MAX_FILES:
        raise ServiceError(
            "tickets.too_many_files", _("Attach at most %(n)s files.") % {"n": MAX_FILES}, field=field
        )
    errors, accepted = ErrorList(), []
    for upload in files:
        content_type = sniff(upload)
        is_image = content_type is not None and content_type.startswith("image/")
        if content_type is None or (not is_image and not allow_documents):
            allowed = _("JPEG, PNG, GIF, WebP or PDF") if allow_documents else _("JPEG, PNG, GIF or WebP")
            errors.add(
                field,
                "tickets.file_type",
                _("%(name)s is not an accepted file (%(allowed)s).")
                % {"name": upload.name, "allowed": allowed},
            )
            continue
        limit = IMAGE_MAX_BYTES if is_image else DOCUMENT_MAX_BYTES
        if upload.size > limit:
            errors.add(
                field,
                "tickets.file_too_large",
                _("%(name)s is larger than %(mb)s MB.") % {"name": upload.name, "mb": limit // MB},
            )
            continue
        if upload.size == 0:
            errors.add(field, "tickets.file_empty", _("%(name)s is empty.") % {"name": upload.name})
            continue
        accepted.append((upload, content_type))
    errors.raise_if_any("tickets.files_invalid", _("Some files cannot be attached."))
    return accepted


def ticket_attach(
    *,
    ticket: Ticket,
    files,
    actor=None,
    is_reply: bool = False,
    allow_documents: bool = False,
    checked: list[tuple[object, str]] | None = None,
) -> list[Attachment]:
    """Attach files to ``ticket`` (the reporter's photos, or part of the unit's reply).

    ``checked`` takes the result of an earlier ``check_uploads`` (a form that checked
    them already); otherwise ``files`` are checked here. Stored under a random name,
    the original name kept for display. One transaction: all files or none.
    """
    uploads = checked if checked is not None else check_uploads(files, allow_documents=allow_documents)
    stored: list[Attachment] = []
    try:
        with transaction.atomic():
            for upload, content_type in uploads:
                original = os.path.basename(upload.name or "file")[:200] or "file"
                attachment = Attachment(
                    ticket=ticket,
                    name=original,
                    content_type=content_type,
                    size=upload.size,
                    uploaded_by=actor if getattr(actor, "pk", None) else None,
                    is_reply=is_reply,
                )
                attachment.file.save(f"{uuid.uuid4().hex}{EXTENSIONS[content_type]}", upload, save=False)
                stored.append(attachment)
                attachment.save()
    except Exception:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return stored
