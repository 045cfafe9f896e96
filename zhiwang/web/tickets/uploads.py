"""Photos and documents attached to tickets: checked by content (not by the name a browser sends).

There is no attachment service in ``tickets.services`` yet, so the rows are written
here, inside the caller's transaction, right after the service that made the ticket
or the reply.
"""

from __future__ import annotations

import os
import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from zhiwang.tickets.models import Attachment

MB = 1024 * 1024
IMAGE_MAX_BYTES = 5 * MB
DOCUMENT_MAX_BYTES = 10 * MB
MAX_FILES = 9

#: content type → (extension, magic prefixes); WebP is checked separately (RIFF....WEBP).
_SIGNATURES = {
    "image/jpeg": (".jpg", (b"\xff\xd8\xff",)),
    "image/png": (".png", (b"\x89PNG\r\n\x1a\n",)),
    "image/gif": (".gif", (b"GIF87a", b"GIF89a")),
    "application/pdf": (".pdf", (b"%PDF-",)),
}


def sniff(upload) -> str | None:
    """The content type the file's first bytes show, or None when it is none we accept."""
    head = upload.read(16)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for content_type, (_ext, prefixes) in _SIGNATURES.items():
        if any(head.startswith(p) for p in prefixes):
            return content_type
    return None


def validate_uploads(files, *, allow_documents: bool = False) -> list[tuple[object, str]]:
    """(file, content type) for each upload, or ``ValidationError`` naming every bad file."""
    files = [f for f in files or [] if f]
    if len(files) > MAX_FILES:
        raise ValidationError(_("Attach at most %(n)s files.") % {"n": MAX_FILES}, code="too_many")
    problems, accepted = [], []
    for upload in files:
        content_type = sniff(upload)
        is_image = content_type is not None and content_type.startswith("image/")
        if content_type is None or (not is_image and not allow_documents):
            allowed = _("JPEG, PNG, GIF, WebP or PDF") if allow_documents else _("JPEG, PNG, GIF or WebP")
            problems.append(
                _("%(name)s is not an accepted file (%(allowed)s).")
                % {"name": upload.name, "allowed": allowed}
            )
            continue
        limit = IMAGE_MAX_BYTES if is_image else DOCUMENT_MAX_BYTES
        if upload.size > limit:
            problems.append(
                _("%(name)s is larger than %(mb)s MB.") % {"name": upload.name, "mb": limit // MB}
            )
            continue
        if upload.size == 0:
            problems.append(_("%(name)s is empty.") % {"name": upload.name})
            continue
        accepted.append((upload, content_type))
    if problems:
        raise ValidationError(problems, code="invalid_file")
    return accepted


def attach(
    *, ticket, uploads: list[tuple[object, str]], user=None, is_reply: bool = False
) -> list[Attachment]:
    """Store checked uploads under a random name (the original name is kept for display)."""
    rows = []
    for upload, content_type in uploads:
        extension = next((ext for ct, (ext, _p) in _SIGNATURES.items() if ct == content_type), ".webp")
        original = os.path.basename(upload.name or "file")[:200] or "file"
        attachment = Attachment(
            ticket=ticket,
            name=original,
            content_type=content_type,
            size=upload.size,
            uploaded_by=user if getattr(user, "pk", None) else None,
            is_reply=is_reply,
        )
        attachment.file.save(f"{uuid.uuid4().hex}{extension}", upload, save=False)
        attachment.save()
        rows.append(attachment)
    return rows
