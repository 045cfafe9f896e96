"""A hotline import of an Excel file that unzips to far more than it weighs is refused on the
upload form, before openpyxl reads it (``core.xlsx_guard``), and nothing is kept."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from tests.xlsx_bombs import shared_strings_bomb
from zhiwang.accounts.models import User
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import TicketImport
from zhiwang.web.tickets import import_runs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_check_file_refuses_the_bomb_on_the_file_field(tmp_path):
    path = shared_strings_bomb(tmp_path / "calls.xlsx", header=("诉求类型", "诉求内容"))
    with pytest.raises(ServiceError) as caught:
        import_runs.check_file(path)
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_large_unzipped", "file")


def test_the_upload_form_shows_the_refusal_and_keeps_nothing(
    client, settings, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(User.objects.get(username="demo_hotline"))
    bomb = shared_strings_bomb(tmp_path / "calls.xlsx", header=("诉求类型", "诉求内容")).read_bytes()
    file = SimpleUploadedFile("calls.xlsx", bomb, content_type="application/octet-stream")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/call-imports/", {"file": file, "channel": "hotline"})
    assert response.status_code == 400
    with translation.override("zh-hans"):
        message = gettext(
            "The Excel file is compressed far more than real workbooks are (a part unpacks to more than "
            "%(ratio)d times its size), so it was not opened; save it again in Excel or WPS, or as CSV."
        ) % {"ratio": 100}
    assert message in response.content.decode()
    stored = [n for _d, _s, names in os.walk(settings.MEDIA_ROOT) for n in names]
    assert not TicketImport.objects.exists() and stored == []
