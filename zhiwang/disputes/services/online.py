"""Online mediation (在线调解) without an external service.

* A session is **scheduled online**: it gets an unguessable meeting room code and, when a
  video service is configured (``ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE``, e.g.
  ``https://meet.example.gov.cn/{room}``), the room's link. The parties with a phone are
  texted the time and the room through the notification adapters (``tickets.notify``),
  after the transaction commits.
* Each party **confirms the agreement online** through a one-time, expiring, signed link
  (``django.core.signing`` over the link's id and a random secret, of which only a hash is
  stored). Confirming writes a ``party_confirm`` row on the case timeline with the time and
  the IP address. A used, expired, superseded or forged link confirms nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.disputes import texts
from zhiwang.disputes.models import ConfirmationLink, DisputeCase, OnlineMeeting, Party
from zhiwang.disputes.services.casekit import A, _agreement, _apply
from zhiwang.disputes.services.common import clean
from zhiwang.disputes.texts import SystemText
from zhiwang.tickets.notify import city_language

#: Salt of the signed confirmation tokens (a token signed for another purpose never validates here).
TOKEN_SALT = "zhiwang.disputes.agreement-confirmation"


def _text_party(phone: str, body: str, *, secret: str = "") -> None:
    """An SMS to a party through the project's outbound adapters (recorded in ``OutboundMessage``,
    without ``secret``), after commit: a rolled-back action never texts anybody."""
    from zhiwang.tickets.notify import notify_phone

    notify_phone(phone=phone, body=body, redact=(secret,) if secret else ())


def _room_code() -> str:
    """12 random hex digits in groups of four: typed by hand, unguessable (48 bits)."""
    raw = secrets.token_hex(6)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _when(value) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = clean(value)
        try:
            moment = parse_datetime(text) if text else None
        except ValueError:
            moment = None
        if moment is None:
            raise ServiceError(
                "disputes.date_invalid", _("Give the time as YYYY-MM-DD HH:MM."), field="scheduled_at"
            )
    if timezone.is_naive(moment):  # a local time without zone (forms, API clients)
        moment = timezone.make_aware(moment)
    return moment


@transaction.atomic
def online_session_schedule(*, case: DisputeCase, actor, scheduled_at, note: str = "") -> OnlineMeeting:
    """Schedule an online mediation session: a meeting room (and its video link), parties texted.

    Raises ``disputes.date_invalid``, ``disputes.session_in_past`` (field ``scheduled_at``)
    and the workflow's errors (only the case's mediator, on an assigned or mediating case).
    """
    when = _when(scheduled_at)
    if when <= timezone.now():
        raise ServiceError(
            "disputes.session_in_past",
            _("An online session is scheduled for a time still to come."),
            field="scheduled_at",
        )
    room = _room_code()
    while OnlineMeeting.objects.filter(room=room).exists():  # 48 bits: practically never loops
        room = _room_code()
    meeting = OnlineMeeting(case=case, scheduled_at=when, room=room, note=clean(note)[:255], created_by=actor)
    _apply(
        case,
        A.SCHEDULE_ONLINE,
        actor=actor,
        note=meeting.note,
        payload={"room": room, "scheduled_at": when, "video": bool(meeting.video_url)},
    )
    meeting.save()
    local = timezone.localtime(when)
    with city_language():  # a text to the parties: in the city's language, whoever schedules it
        where = (
            _("video link %(url)s") % {"url": meeting.video_url}
            if meeting.video_url
            else _("meeting room %(room)s (the mediator tells you how to join)") % {"room": room}
        )
        body = _("Online mediation of dispute %(number)s on %(when)s: %(where)s.") % {
            "number": case.number,
            "when": local.strftime("%Y-%m-%d %H:%M"),
            "where": where,
        }
    for party in case.parties.exclude(phone=""):
        _text_party(party.phone, body)
    return meeting


# --- confirming the agreement online ----------------------------------------------------------


@dataclass
class IssuedLink:
    """A link just issued: its URL is shown once to the mediator and texted to the party."""

    party: Party
    url: str
    expires_at: datetime
    texted: bool


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_days() -> int:
    return max(1, int(getattr(settings, "ZHIWANG_DISPUTE_CONFIRM_LINK_DAYS", 7)))


@transaction.atomic
def confirmation_links_send(*, case: DisputeCase, actor, build_url: Callable[[str], str]) -> list[IssuedLink]:
    """Issue each party that has not confirmed yet a one-time link to confirm the agreement online.

    ``build_url(token)`` makes the absolute URL of the public confirmation page. Earlier
    unused links of the agreement end now (only the newest link of a party works). Parties
    with a phone are texted their link. Raises ``disputes.no_agreement``,
    ``disputes.all_confirmed`` and the workflow's errors (the case's mediator, agreed cases).
    """
    agreement = _agreement(case)
    now = timezone.now()
    confirmed = set(
        ConfirmationLink.objects.filter(agreement=agreement, used_at__isnull=False).values_list(
            "party_id", flat=True
        )
    )
    parties = [p for p in case.parties.order_by("role", "pk") if p.pk not in confirmed]
    if not parties:
        raise ServiceError("disputes.all_confirmed", _("Every party has already confirmed the agreement."))
    expires = now + timedelta(days=link_days())
    _apply(
        case,
        A.SEND_CONFIRMATION,
        actor=actor,
        payload={"parties": [p.pk for p in parties], "expires_at": expires},
    )
    ConfirmationLink.objects.filter(agreement=agreement, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    issued = []
    for party in parties:
        secret = secrets.token_urlsafe(24)
        link = ConfirmationLink.objects.create(
            agreement=agreement,
            party=party,
            secret_hash=_secret_hash(secret),
            expires_at=expires,
            created_by=actor,
        )
        token = signing.dumps({"l": link.pk, "s": secret}, salt=TOKEN_SALT)
        url = build_url(token)
        with city_language():  # a text to the party: in the city's language, whoever sends it
            body = _(
                "Please read and confirm the mediation agreement %(number)s (valid until %(date)s): %(url)s"
            ) % {
                "number": agreement.number,
                "date": timezone.localtime(expires).strftime("%Y-%m-%d %H:%M"),
                "url": url,
            }
        # whoever reads the outbound record (an administrator) must not be able to confirm for the party
        _text_party(party.phone, body, secret=token)
        issued.append(IssuedLink(party=party, url=url, expires_at=expires, texted=bool(party.phone)))
    return issued


def _link_of(token: str, *, lock: bool = False) -> ConfirmationLink:
    """The link a token names, when its signature and secret are right; else ``disputes.link_invalid`` (404)."""
    invalid = NotFound("disputes.link_invalid", _("This confirmation link is not valid."))
    try:
        data = signing.loads(str(token or ""), salt=TOKEN_SALT)
        pk, secret = int(data["l"]), str(data["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise invalid from None
    links = ConfirmationLink.objects.select_related("agreement__case", "party")
    if lock:
        links = links.select_for_update()
    link = links.filter(pk=pk).first()
    if link is None or not hmac.compare_digest(link.secret_hash, _secret_hash(secret)):
        raise invalid
    return link


def confirmation_link_check(token: str, *, lock: bool = False) -> ConfirmationLink:
    """The usable link of ``token``. Raises ``disputes.link_invalid`` (404), ``disputes.link_used``
    and ``disputes.link_expired`` (410, with the link on ``error.link``)."""
    link = _link_of(token, lock=lock)
    if link.used_at is not None:
        error = ServiceError(
            "disputes.link_used",
            _("This link has already been used: the agreement was confirmed on %(when)s.")
            % {"when": timezone.localtime(link.used_at).strftime("%Y-%m-%d %H:%M")},
            status=410,
        )
        error.link = link
        raise error
    if link.expires_at <= timezone.now():
        error = ServiceError(
            "disputes.link_expired",
            _("This link has expired. Ask your mediator for a new one."),
            status=410,
        )
        error.link = link
        raise error
    return link


@transaction.atomic
def agreement_confirm_online(*, token: str, ip: str | None) -> ConfirmationLink:
    """A party confirms the agreement through their link: once, before it expires.

    Writes a ``party_confirm`` row (time, IP, which party) on the case's timeline. The
    link is spent by a conditional update, so two simultaneous clicks confirm once.
    """
    link = confirmation_link_check(token, lock=True)
    now = timezone.now()
    spent = ConfirmationLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now, used_ip=ip or None
    )
    if not spent:
        confirmation_link_check(token)  # raises used / expired as it is now
    case = DisputeCase.objects.get(pk=link.agreement.case_id)
    party = link.party
    confirmed = SystemText(
        texts.PARTY_CONFIRMED,
        {"role": party.role, "name": party.masked_name, "number": link.agreement.number},
    )
    _apply(
        case,
        A.PARTY_CONFIRM,
        actor=None,
        note=confirmed.stored,
        payload={
            "party": party.pk,
            "role": party.role,
            "at": now,
            "ip": ip or "",
            "link": link.pk,
            **confirmed.note_keys(),
        },
    )
    link.used_at, link.used_ip = now, ip or None
    return link
