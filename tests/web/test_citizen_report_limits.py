"""The public report form is limited per client address: reports per hour and per day, photo bytes per day.

The review's finding (M4): each visit of /report/ gives a fresh form token, so anyone could post
tickets without end, each with 9 photos of 5 MB. Now a client address gets
``ZHIWANG_CITIZEN_REPORTS_PER_HOUR`` (10) and ``ZHIWANG_CITIZEN_REPORTS_PER_DAY`` (30) tickets and
``ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY`` (200 MB) of photos; over a limit the form comes back
with what the citizen typed and a message saying when to come back.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext, ngettext

from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets.models import Attachment, Ticket
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

SANITATION = "010214"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 592  # 600 bytes
CITIZEN = "203.0.113.50"
NEIGHBOUR = "198.51.100.60"


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # the per-address counters live in the cache, which tests share
    yield
    cache.clear()


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def report(client, building, address=CITIZEN, photos=0, forwarded_for=None, **overrides):
    data = {
        "kind": "complaint",
        "category": SANITATION,
        "description": "路口的垃圾桶满了没人清运",
        "address_text": building.full_name,
        "lon": "",
        "lat": "",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
        "token": new_form_token(),
        **overrides,
    }
    if photos:
        data["photos"] = [
            SimpleUploadedFile(f"p{i}.png", PNG, content_type="image/png") for i in range(photos)
        ]
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    return client.post("/report/", data, REMOTE_ADDR=address, **headers)


def zh(singular: str, plural: str, n: int, **params) -> str:
    with translation.override("zh-hans"):
        return ngettext(singular, plural, n) % params


def reports_per_hour_message(minutes: int) -> str:
    return zh(
        "Too many reports were sent from your network address. Try again in %(minutes)s minute, "
        "or call the 12345 hotline.",
        "Too many reports were sent from your network address. Try again in %(minutes)s minutes, "
        "or call the 12345 hotline.",
        minutes,
        minutes=minutes,
    )


def web_tickets() -> int:
    return Ticket.objects.filter(channel="web").count()


def test_the_defaults_let_ten_reports_an_hour_through(client, building):
    for _ in range(10):
        assert report(client, building).status_code == 302
    response = report(client, building, description="第十一次反映：垃圾桶还是满的")
    assert response.status_code == 200
    html = response.content.decode()
    assert reports_per_hour_message(60) in html and 'data-testid="form-errors"' in html
    assert "第十一次反映：垃圾桶还是满的" in html  # what the citizen typed is kept
    assert 'value="13900001111"' in html
    assert web_tickets() == 10
    # another address is not affected
    assert report(client, building, address=NEIGHBOUR).status_code == 302


def test_reports_per_day(client, building, settings):
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 0  # off
    settings.ZHIWANG_CITIZEN_REPORTS_PER_DAY = 2
    assert report(client, building).status_code == 302
    assert report(client, building).status_code == 302
    response = report(client, building)
    assert response.status_code == 200
    message = zh(
        "Too many reports were sent from your network address today. Try again in %(hours)s hour, "
        "or call the 12345 hotline.",
        "Too many reports were sent from your network address today. Try again in %(hours)s hours, "
        "or call the 12345 hotline.",
        24,
        hours=24,
    )
    assert message in response.content.decode()
    assert web_tickets() == 2


def test_photo_bytes_per_day_and_the_report_may_go_without_them(client, building, settings):
    settings.ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY = 2000
    assert report(client, building, photos=3).status_code == 302  # 1,800 bytes
    response = report(client, building, photos=1, description="又有一堆垃圾")
    assert response.status_code == 200
    html = response.content.decode()
    message = zh(
        "Too many photos were sent from your network address today. Send your report without "
        "photos, or try again in %(hours)s hour.",
        "Too many photos were sent from your network address today. Send your report without "
        "photos, or try again in %(hours)s hours.",
        24,
        hours=24,
    )
    assert message in html and "又有一堆垃圾" in html
    # the "choose your photos again" hint would say the opposite
    with translation.override("zh-hans"):
        again = gettext(
            "Please choose your photos again: a browser cannot keep them when the form comes back."
        )
    assert again not in html
    assert web_tickets() == 1 and Attachment.objects.count() == 3
    # without photos it goes through, and so does a report from another address with photos
    assert report(client, building).status_code == 302
    assert report(client, building, address=NEIGHBOUR, photos=3).status_code == 302
    assert web_tickets() == 3


def test_a_form_sent_twice_counts_once(client, building, settings):
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 1
    token = new_form_token()
    first = report(client, building, token=token)
    second = report(client, building, token=token)  # a double click: the same ticket
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert report(client, building).status_code == 200  # a new form is the second report
    assert web_tickets() == 1


def test_a_refused_or_invalid_report_is_not_counted(client, building, settings):
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 1
    assert report(client, building, description="").status_code == 200  # the form's own check
    assert report(client, building, reporter_phone="12ab").status_code == 200  # the service's check
    assert web_tickets() == 0
    assert report(client, building).status_code == 302
    for _ in range(3):
        assert report(client, building).status_code == 200
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 2  # refusals did not fill the count
    assert report(client, building).status_code == 302


def test_the_address_is_read_behind_the_trusted_proxies(client, building, settings):
    settings.ZHIWANG_NUM_PROXIES = 1
    settings.ZHIWANG_CITIZEN_REPORTS_PER_HOUR = 1
    proxy = "10.0.0.2"
    assert report(client, building, address=proxy, forwarded_for=CITIZEN).status_code == 302
    assert report(client, building, address=proxy, forwarded_for=NEIGHBOUR).status_code == 302
    assert report(client, building, address=proxy, forwarded_for=CITIZEN).status_code == 200
