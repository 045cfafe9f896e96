"""The attachment service: files checked by content, all stored or none."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from tests.tickets.conftest import MONDAY_10
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import Attachment, ClockAlert, TicketEvent
from zhiwang.tickets.services import ticket_attach
from zhiwang.tickets.services.attachments import IMAGE_MAX_BYTES, MAX_FILES

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return tmp_path


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_photos_are_stored_under_a_random_name(make_ticket, hotline, _media):
    ticket = make_ticket()
    rows = ticket_attach(ticket=ticket, files=[_file("门口.png", PNG)], actor=hotline)
    (row,) = rows
    assert (row.name, row.content_type, row.size, row.uploaded_by) == (
        "门口.png",
        "image/png",
        len(PNG),
        hotline,
    )
    assert row.file.name.endswith(".png") and "门口" not in row.file.name
    assert (_media / row.file.name).read_bytes() == PNG


def test_every_bad_file_is_named_and_nothing_is_stored(make_ticket, _media):
    ticket = make_ticket()
    files = [
        _file("ok.png", PNG),
        _file("virus.exe", b"MZ\x90\x00" + b"\x00" * 32),
        _file("scan.pdf", PDF),  # documents only with allow_documents
        _file("empty.png", b""),
        _file("huge.png", PNG + b"\x00" * IMAGE_MAX_BYTES),
    ]
    with pytest.raises(ServiceError) as caught:
        ticket_attach(ticket=ticket, files=files)
    assert caught.value.code == "tickets.files_invalid"
    codes = [(f.field, f.code) for f in caught.value.fields]
    assert codes == [
        ("files", "tickets.file_type"),
        ("files", "tickets.file_type"),
        ("files", "tickets.file_type"),  # an empty file shows no type either
        ("files", "tickets.file_too_large"),
    ]
    assert not Attachment.objects.filter(ticket=ticket).exists()
    assert not any(_media.rglob("*.png"))


def test_documents_when_allowed_and_at_most_nine_files(make_ticket):
    ticket = make_ticket()
    (row,) = ticket_attach(ticket=ticket, files=[_file("回复.pdf", PDF)], allow_documents=True, is_reply=True)
    assert row.content_type == "application/pdf" and row.is_reply
    with pytest.raises(ServiceError) as caught:
        ticket_attach(ticket=ticket, files=[_file(f"{i}.png", PNG) for i in range(MAX_FILES + 1)])
    assert (caught.value.code, caught.value.field) == ("tickets.too_many_files", "files")


def test_a_failed_write_leaves_no_row_and_no_file(make_ticket, monkeypatch, _media):
    ticket = make_ticket()
    real_save = Attachment.save
    calls = []

    def fail_second(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Attachment, "save", fail_second)
    with pytest.raises(RuntimeError):
        ticket_attach(ticket=ticket, files=[_file("a.png", PNG), _file("b.png", PNG)])
    assert not Attachment.objects.filter(ticket=ticket).exists()
    assert not any(_media.rglob("*.png"))


# --- the frozen clock and the clock's words --------------------------------------


def test_the_frozen_clock_reaches_field_defaults(frozen_now, make_ticket, hotline):
    ticket = make_ticket()
    event = TicketEvent.objects.create(
        ticket=ticket, actor=hotline, action="note", from_state="x", to_state="x"
    )
    assert event.at == MONDAY_10  # ``at`` defaults to timezone.now, captured when the model was defined


def test_the_accept_alert_says_the_deadline_was_missed():
    # The sweep records it once accept_due_at has passed (services.clock): missed, not near.
    with translation.override("en"):
        assert str(ClockAlert.Kind.ACCEPT_WARNING.label) == "Accept deadline missed"
    with translation.override("zh-hans"):
        assert str(ClockAlert.Kind.ACCEPT_WARNING.label) == "签收超时"
