"""Online mediation: scheduled online sessions with a meeting room, and parties confirming the
agreement through one-time, expiring, signed links (including every misuse of a link)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, RESPONDENT_ID
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.disputes.models import CaseEvent, ConfirmationLink, OnlineMeeting
from zhiwang.disputes.services import (
    agreement_confirm_online,
    case_refer,
    confirmation_links_send,
    online_session_schedule,
)
from zhiwang.disputes.services.online import TOKEN_SALT
from zhiwang.tickets.models import OutboundMessage

pytestmark = pytest.mark.django_db

PHONES = {"13800138001", "13900139002"}


def _later(hours=24):
    return timezone.now() + timedelta(hours=hours)


# --- scheduling ---------------------------------------------------------------------------------


def test_schedule_without_a_video_service_shows_the_room_and_texts_the_parties(
    assigned_case, world, client, settings, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE = ""
    case = assigned_case()
    with django_capture_on_commit_callbacks(execute=True):
        meeting = online_session_schedule(
            case=case, actor=world.mediator, scheduled_at=_later(), note="双方视频"
        )
    assert re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", meeting.room)
    assert meeting.video_url == ""
    texts = OutboundMessage.objects.filter(channel="sms")
    assert {m.to for m in texts} == PHONES and all(meeting.room in m.body for m in texts)
    event = case.events.get(action="schedule_online")
    assert event.payload["room"] == meeting.room and event.payload["video"] is False
    client.force_login(world.mediator)
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert (
        meeting.room in page and 'data-testid="no-video"' in page and 'data-testid="meeting-link"' not in page
    )


def test_schedule_with_a_video_service_builds_the_link(
    assigned_case, world, client, settings, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE = "https://meet.example.gov.cn/{room}"
    case = assigned_case()
    client.force_login(world.mediator)
    local = timezone.localtime(_later(48)).strftime("%Y-%m-%dT%H:%M")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:case_action", args=[case.number, "online"]),
            {"scheduled_at": local, "version": case.version},
        )
    assert response.status_code == 302
    meeting = OnlineMeeting.objects.get(case=case)
    url = f"https://meet.example.gov.cn/{meeting.room}"
    assert meeting.video_url == url
    assert all(url in m.body for m in OutboundMessage.objects.all()) and OutboundMessage.objects.count() == 2
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert f'href="{url}"' in page


def test_schedule_refuses_a_past_time_a_bad_time_and_other_roles(assigned_case, world, client):
    case = assigned_case()
    for value, code in (
        (timezone.now() - timedelta(hours=1), "disputes.session_in_past"),
        ("明天", "disputes.date_invalid"),
    ):
        with pytest.raises(ServiceError) as caught:
            online_session_schedule(case=case, actor=world.mediator, scheduled_at=value)
        assert (caught.value.code, caught.value.field) == (code, "scheduled_at")
    with pytest.raises(PermissionDeniedError):
        online_session_schedule(case=case, actor=world.sub_dispatcher, scheduled_at=_later())
    assert not OnlineMeeting.objects.exists() and not OutboundMessage.objects.exists()
    client.force_login(world.mediator)
    page = client.post(reverse("disputes:case_action", args=[case.number, "online"]), {"scheduled_at": ""})
    assert page.status_code == 400 and "field-error" in page.content.decode()


# --- confirmation links -------------------------------------------------------------------------


def _send(case, world, base="https://zw.example/c/"):
    return confirmation_links_send(
        case=case, actor=world.mediator, build_url=lambda token: base + token + "/"
    )


def _token(issued_link) -> str:
    return issued_link.url.rsplit("/c/", 1)[1].rstrip("/")


def test_a_party_confirms_once_through_the_public_page(
    agreed_case, world, client, django_capture_on_commit_callbacks
):
    case = agreed_case()
    client.force_login(world.mediator)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("disputes:case_action", args=[case.number, "confirm_links"]))
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    urls = re.findall(r'data-testid="issued-link"', answer.content.decode())
    assert len(urls) == 2
    texts = OutboundMessage.objects.all()
    assert {m.to for m in texts} == PHONES and all("/disputes/confirm/" in m.body for m in texts)
    link_url = re.search(r'value="(http[^"]+/disputes/confirm/[^"]+/)"', answer.content.decode()).group(1)
    path = link_url.split("testserver", 1)[1]
    stored = ConfirmationLink.objects.first()
    assert stored.secret_hash not in path  # only a hash is stored, the link carries the secret

    public = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.7")  # not signed in
    page = public.get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "张**" in text and "李**" in text
    assert (
        "张三丰" not in text
        and APPLICANT_ID not in text
        and RESPONDENT_ID not in text
        and "13800138001" not in text
    )
    assert public.post(path).status_code == 403  # no CSRF token: refused
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
    done = public.post(path, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200 and 'data-testid="confirmed"' in done.content.decode()
    event = case.events.get(action="party_confirm")
    assert event.actor is None and event.payload["ip"] == "203.0.113.7" and event.payload["at"]
    assert "张**" in event.note or "李**" in event.note
    # The same link again: a clear "already used" page, nothing more recorded.
    again = public.get(path)
    assert again.status_code == 410 and 'data-code="disputes.link_used"' in again.content.decode()
    assert public.post(path, {"csrfmiddlewaretoken": token}).status_code == 410
    assert case.events.filter(action="party_confirm").count() == 1
    # The case page shows who confirmed, when and from where.
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert "203.0.113.7" in page


def test_token_misuse(agreed_case, world, client):
    case = agreed_case()
    issued = _send(case, world)
    good = _token(issued[0])
    link = ConfirmationLink.objects.get(party=issued[0].party)

    def refused(token, code, status):
        with pytest.raises(ServiceError) as caught:
            agreement_confirm_online(token=token, ip="198.51.100.1")
        assert (caught.value.code, caught.value.status) == (code, status)
        page = client.get(reverse("disputes:confirm_agreement", args=[token]))
        assert page.status_code == status and f'data-code="{code}"' in page.content.decode()

    # A forged or altered token: invalid (404), whatever was changed.
    refused(good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "disputes.link_invalid", 404)
    refused("not-a-token", "disputes.link_invalid", 404)
    refused(signing.dumps({"l": link.pk, "s": "guessed"}, salt=TOKEN_SALT), "disputes.link_invalid", 404)
    refused(signing.dumps({"l": link.pk, "s": "x"}, salt="another.purpose"), "disputes.link_invalid", 404)
    refused(signing.dumps({"l": link.pk}, salt=TOKEN_SALT), "disputes.link_invalid", 404)
    # Expired: a clear page (410), nothing recorded.
    ConfirmationLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused(good, "disputes.link_expired", 410)
    # Sending again ends the older links: the second party's first link no longer works.
    second_old = _token(issued[1])
    case.refresh_from_db()
    renewed = _send(case, world)
    refused(second_old, "disputes.link_expired", 410)
    assert not case.events.filter(action="party_confirm").exists()
    # The new link works, once.
    agreement_confirm_online(token=_token(renewed[1]), ip="198.51.100.2")
    refused(_token(renewed[1]), "disputes.link_used", 410)
    # A party who confirmed gets no new link; when all confirmed, sending is refused.
    case.refresh_from_db()
    third = _send(case, world)
    assert [i.party.pk for i in third] == [renewed[0].party.pk]
    agreement_confirm_online(token=_token(third[0]), ip=None)
    case.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        _send(case, world)
    assert caught.value.code == "disputes.all_confirmed"


def test_a_link_spends_nothing_when_the_case_cannot_take_it(agreed_case, world):
    case = agreed_case()
    issued = _send(case, world)
    case.refresh_from_db()
    case_refer(case=case, actor=world.mediator, kind="litigation", reason="一方反悔")
    with pytest.raises(ServiceError):
        agreement_confirm_online(token=_token(issued[0]), ip="198.51.100.3")
    assert not ConfirmationLink.objects.filter(used_at__isnull=False).exists()
    assert not CaseEvent.objects.filter(case=case, action="party_confirm").exists()


def test_only_the_cases_mediator_sends_links(agreed_case, world):
    case = agreed_case()
    with pytest.raises(PermissionDeniedError):
        confirmation_links_send(case=case, actor=world.sub_dispatcher, build_url=lambda t: t)
    assert not ConfirmationLink.objects.exists()


def test_the_api_schedules_online_sessions_and_issues_links(
    assigned_case, agreed_case, world, client, settings
):
    import json

    settings.ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE = "https://meet.example.gov.cn/{room}"
    base = "/api/v1/disputes/cases/"

    def post(url, body):
        return client.post(base + url, data=json.dumps(body), content_type="application/json")

    case = assigned_case()
    client.force_login(world.mediator)
    made = post(f"{case.number}/online-sessions", {"scheduled_at": _later().isoformat()})
    assert made.status_code == 201
    assert made.json()["video_url"] == "https://meet.example.gov.cn/" + made.json()["room"]
    past = post(f"{case.number}/online-sessions", {"scheduled_at": "2020-01-01T10:00:00+08:00"})
    assert past.status_code == 400 and past.json()["error"]["code"] == "disputes.session_in_past"
    agreed = agreed_case()
    links = post(f"{agreed.number}/agreement/confirmation-links", {})
    assert links.status_code == 201 and len(links.json()) == 2
    token = links.json()[0]["url"].rsplit("/confirm/", 1)[1].rstrip("/")
    assert agreement_confirm_online(token=token, ip="192.0.2.9").used_ip == "192.0.2.9"
    client.force_login(world.sub_dispatcher)
    assert post(f"{agreed.number}/agreement/confirmation-links", {}).status_code == 403


class _Capture:
    """An outbound adapter that keeps what it was given to send."""

    name = "capture"
    sent: list[str] = []

    def send(self, *, channel, to, body):
        _Capture.sent.append(body)


def test_the_texted_link_is_sent_whole_but_recorded_without_its_token(
    agreed_case, world, settings, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_NOTIFY_ADAPTERS = {"sms": f"{__name__}._Capture"}
    _Capture.sent = []
    case = agreed_case()
    with django_capture_on_commit_callbacks(execute=True):
        issued = _send(case, world)
    tokens = {_token(link) for link in issued}
    assert len(tokens) == 2
    # the party gets the working link
    assert sorted(any(t in body for body in _Capture.sent) for t in tokens) == [True, True]
    # an administrator reading the record does not: the token is replaced
    records = list(OutboundMessage.objects.filter(channel="sms"))
    assert len(records) == 2
    assert all("https://zw.example/c/[…]/" in r.body for r in records)
    assert not any(t in r.body for r in records for t in tokens)
