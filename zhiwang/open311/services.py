"""Every write of the Open311 app: client keys, and a posted service request becoming a ticket.

A service request goes through ``tickets.services.ticket_submit`` like every other
channel (channel ``open311``). The client's request id, namespaced by the client, is the
channel's external id, so a retry returns the ticket the first call made. The ticket and
its ``Open311Submission`` are written in one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.fingerprint import fingerprint as input_fingerprint
from zhiwang.core.sentences import headline
from zhiwang.geo.crs import check_point
from zhiwang.open311.attributes import clean_attributes, summary_lines
from zhiwang.open311.models import Open311Client, Open311Submission
from zhiwang.open311.selectors import service_attributes, service_get
from zhiwang.tickets.models import Channel, Ticket, TicketKind
from zhiwang.tickets.services import ticket_submit

KEY_PREFIX = "o311_"
#: The kind a posted request gets when the client does not send our ``kind`` extension: the
#: first of these the category allows (a citizen's report of a problem is a complaint).
PREFERRED_KINDS = (
    TicketKind.COMPLAINT,
    TicketKind.HELP,
    TicketKind.INCIDENT,
    TicketKind.SUGGESTION,
    TicketKind.INQUIRY,
    TicketKind.REPORT,
    TicketKind.PRAISE,
)
MAX_DESCRIPTION = 4000
#: What of the description stays at least when the attribute answers alone nearly fill the ticket's
#: description (a ``text`` attribute may take 4,000 characters itself).
MIN_DESCRIPTION_KEPT = 500
#: The column's limit, which is also the longest address RFC 5321 lets through (a 256-octet path
#: with its angle brackets); Django's ``validate_email`` lets up to 320 characters through.
MAX_EMAIL = Open311Submission._meta.get_field("email").max_length
MAX_CLIENT_REQUEST_ID = 100
#: ``ticket_submit``'s limit on the reporter's name, which first_name and last_name make together.
MAX_REPORTER_NAME = 64
#: ``ticket_submit`` names its fields after the ticket; a client knows the Open311 parameters.
PARAMETER_OF_FIELD = {
    "category": "service_code",
    "reporter_phone": "phone",
    "reporter_name": "first_name",
    "address_text": "address_string",
    "address_code": "address_id",
    "lon": "long",
    "external_id": "external_id",
}


# --- client keys --------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedKey:
    """A client and its new key: the only moment the key exists outside the client's hands."""

    client: Open311Client
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_key() -> tuple[str, str, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_key(key)


@transaction.atomic
def open311_client_create(*, name: str, contact: str = "") -> IssuedKey:
    """Register a client application and issue its key (shown once, stored as a hash)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("open311.client_name_required", _("Give the client a name."), field="name")
    if len(name) > 128:
        raise ServiceError(
            "open311.client_name_long", _("The name may have at most 128 characters."), field="name"
        )
    if Open311Client.objects.filter(name=name).exists():
        raise ServiceError(
            "open311.client_exists",
            _("There is already an Open311 client named %(name)s.") % {"name": name},
            field="name",
        )
    key, prefix, digest = _new_key()
    client = Open311Client.objects.create(
        name=name,
        contact=(contact or "").strip()[:255],
        key_prefix=prefix,
        key_hash=digest,
        key_issued_at=timezone.now(),
    )
    return IssuedKey(client, key)


@transaction.atomic
def open311_key_reissue(*, client: Open311Client) -> IssuedKey:
    """Give the client a new key; the old one stops working now. A revoked client becomes active."""
    key, prefix, digest = _new_key()
    client.key_prefix, client.key_hash = prefix, digest
    client.key_issued_at = timezone.now()
    client.revoked_at = None
    client.save(update_fields=["key_prefix", "key_hash", "key_issued_at", "revoked_at"])
    return IssuedKey(client, key)


def open311_client_revoke(*, client: Open311Client) -> Open311Client:
    """Stop the client's key from working, now (idempotent)."""
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
    return client


def open311_client_authenticate(*, key: str) -> Open311Client:
    """The client holding ``key``; ``PermissionDeniedError`` (HTTP 403) when missing, unknown or revoked.

    Records the last use at most once a minute.
    """
    key = (key or "").strip()
    if not key:
        raise PermissionDeniedError(
            "open311.api_key_missing", _("Send your api_key with the request."), field="api_key"
        )
    client = Open311Client.objects.filter(key_hash=hash_key(key)).first()
    if client is None:
        raise PermissionDeniedError(
            "open311.api_key_invalid", _("The api_key is not valid."), field="api_key"
        )
    if client.revoked_at is not None:
        raise PermissionDeniedError(
            "open311.api_key_revoked", _("The api_key has been revoked."), field="api_key"
        )
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        Open311Client.objects.filter(pk=client.pk).update(last_used_at=now)
    return client


# --- posting a service request ------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    ticket: Ticket
    created: bool
    submission: Open311Submission


def _reporter_name(first_name: str, last_name: str) -> str:
    """Chinese names are family name first, with no space; others "first last"."""
    if any(unicodedata.east_asian_width(ch) == "W" for ch in first_name + last_name):
        return f"{last_name}{first_name}"
    return " ".join(part for part in (first_name, last_name) if part)


def _renamed(exc: ServiceError) -> ServiceError:
    """The same error with the ticket's field names replaced by the Open311 parameters."""
    fields = exc.fields
    for f in fields:
        f.field = PARAMETER_OF_FIELD.get(f.field, f.field)
    field = PARAMETER_OF_FIELD.get(exc.field, exc.field) if exc.field else None
    return type(exc)(exc.code, exc.message, field=field, fields=fields, status=exc.status)


def with_answers(description: str, answers: str) -> str:
    """The ticket's description: the citizen's description, a blank line, the attribute answers,
    within ``MAX_DESCRIPTION`` characters (what ``ticket_submit`` takes).

    The answers are what handlers act on (how much, what kind), so when both do not fit the
    description is cut, with a marker, rather than the answers dropped; only answers that
    alone leave less than ``MIN_DESCRIPTION_KEPT`` of the description are cut too. Every answer
    is also kept whole in ``Open311Submission.attributes``.
    """
    composed = f"{description}\n\n{answers}"
    if len(composed) <= MAX_DESCRIPTION:
        return composed
    marker = _("… (shortened)")
    room = MAX_DESCRIPTION - len(answers) - 2 - len(marker)
    if room >= MIN_DESCRIPTION_KEPT:
        return f"{description[:room]}{marker}\n\n{answers}"
    if len(description) > MIN_DESCRIPTION_KEPT:
        description = description[: MIN_DESCRIPTION_KEPT - len(marker)] + marker
    room = MAX_DESCRIPTION - len(description) - 2 - len(marker)
    return f"{description}\n\n{answers[:room]}{marker}"


def _kind(category, requested: str, errors: ErrorList) -> str:
    allowed = category.kinds or list(TicketKind.values)
    if requested:
        if requested not in TicketKind.values or requested not in allowed:
            errors.add(
                "kind",
                "open311.kind_invalid",
                _("This service takes the kinds %(kinds)s.") % {"kinds": ", ".join(allowed)},
            )
        return requested
    return next((k for k in PREFERRED_KINDS if k in allowed), allowed[0])


def _replay(client: Open311Client, client_request_id: str, fingerprint: str) -> Submitted | None:
    submission = (
        Open311Submission.objects.select_related("ticket")
        .filter(client=client, client_request_id=client_request_id)
        .first()
    )
    if submission is None:
        return None
    _check_same(submission, fingerprint)
    return Submitted(submission.ticket, False, submission)


def _check_same(submission: Open311Submission, fingerprint: str) -> None:
    if submission.fingerprint != fingerprint:
        raise ServiceError(
            "open311.idempotency_key_reused",
            _("This request id was already used for a different request (%(number)s).")
            % {"number": submission.ticket.number},
            field="external_id",
        )


def open311_request_submit(
    *,
    client: Open311Client,
    service_code: str,
    lat: str = "",
    long: str = "",
    address_string: str = "",
    address_id: str = "",
    attributes: dict[str, list[str]] | None = None,
    description: str = "",
    email: str = "",
    device_id: str = "",
    account_id: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    media_url: str = "",
    kind: str = "",
    client_request_id: str = "",
) -> Submitted:
    """Turn a posted service request into a ticket, or return the ticket of an earlier identical post.

    Raises ``NotFound`` (404) for an unknown service, ``ServiceError`` (400) with one field
    error per problem otherwise; nothing is written then.
    """
    attributes = attributes or {}
    fields = {
        "service_code": service_code,
        "lat": lat,
        "long": long,
        "address_string": address_string,
        "address_id": address_id,
        "attributes": {code: sorted(values) for code, values in attributes.items()},
        "description": description,
        "email": email,
        "device_id": device_id,
        "account_id": account_id,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "media_url": media_url,
        "kind": kind,
    }
    fingerprint = input_fingerprint(fields)
    if len(client_request_id) > MAX_CLIENT_REQUEST_ID:
        raise ServiceError(
            "open311.external_id_long",
            _("The request id may have at most %(max)s characters.") % {"max": MAX_CLIENT_REQUEST_ID},
            field="external_id",
        )
    if client_request_id and (replayed := _replay(client, client_request_id, fingerprint)):
        return replayed

    if not service_code:
        raise ServiceError(
            "open311.service_code_missing", _("Say which service: send service_code."), field="service_code"
        )
    service = service_get(service_code)
    if service is None:
        raise NotFound(
            "open311.service_not_found",
            _("There is no service %(code)s.") % {"code": service_code},
            field="service_code",
        )
    category = service.category
    definition = service_attributes(category)

    errors = ErrorList()
    if lat or long:
        if not (lat and long):
            errors.add(
                "long" if lat else "lat", "open311.location_incomplete", _("Send lat and long together.")
            )
        else:
            try:
                check_point(long, lat, lon_field="long", lat_field="lat")
            except ServiceError as exc:
                errors.add(exc.field or "lat", exc.code, exc.message)
    elif not (address_string or address_id):
        errors.add(
            "",
            "open311.location_missing",
            _("Say where: send lat and long, an address_string or an address_id."),
        )
    values = clean_attributes(definition, attributes, errors)
    if len(description) > MAX_DESCRIPTION:
        errors.add(
            "description",
            "open311.description_long",
            _("The description may have at most %(max)s characters.") % {"max": MAX_DESCRIPTION},
        )
    if email:
        try:
            validate_email(email)
            if len(email) > MAX_EMAIL:
                raise ValidationError("long")  # PostgreSQL would refuse the row (a 500)
        except ValidationError:
            errors.add("email", "open311.email_invalid", _("The e-mail address is not valid."))
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
            if len(media_url) > 500:
                raise ValidationError("long")
        except ValidationError:
            errors.add(
                "media_url", "open311.media_url_invalid", _("Give an http(s) URL of at most 500 characters.")
            )
    for name, text in (("device_id", device_id), ("account_id", account_id)):
        if len(text) > 128:
            errors.add(name, "open311.too_long", _("At most %(max)s characters.") % {"max": 128})
    for name, text in (("first_name", first_name), ("last_name", last_name)):
        if len(text) > 32:
            errors.add(name, "open311.too_long", _("At most %(max)s characters.") % {"max": 32})
    reporter_name = _reporter_name(first_name, last_name)
    if len(first_name) <= 32 and len(last_name) <= 32 and len(reporter_name) > MAX_REPORTER_NAME:
        # a Western name takes a space between its parts: 32 + 1 + 32 is one too many
        errors.add(
            "first_name",
            "tickets.reporter_name_long",
            _(
                "The name (first_name and last_name together, with the space between them) may have "
                "at most %(max)s characters (%(length)s given)."
            )
            % {"max": MAX_REPORTER_NAME, "length": len(reporter_name)},
        )
    ticket_kind = _kind(category, kind, errors)
    errors.raise_if_any("open311.invalid", _("The service request has invalid fields."))

    text = description or _("%(service)s, reported through Open311.") % {"service": category.name}
    if len(text) < 5:
        text = _("%(service)s: %(text)s") % {"service": category.name, "text": text}
    if lines := summary_lines(definition, values):
        text = with_answers(text, "\n".join(lines))
    try:
        with transaction.atomic():
            result = ticket_submit(
                channel=Channel.OPEN311,
                kind=ticket_kind,
                category=category,
                title=headline(description or category.name),
                description=text,
                external_id=f"{client.pk}:{client_request_id}" if client_request_id else "",
                reporter_name=reporter_name,
                reporter_phone=phone,
                address_text=address_string,
                address_code=address_id,
                lon=long or None,
                lat=lat or None,
            )
            submission = Open311Submission.objects.filter(ticket=result.ticket).first()
            if submission is None:
                submission = Open311Submission.objects.create(
                    ticket=result.ticket,
                    client=client,
                    client_request_id=client_request_id,
                    fingerprint=fingerprint,
                    attributes=values,
                    email=email,
                    device_id=device_id,
                    account_id=account_id,
                    media_url=media_url,
                )
    except ServiceError as exc:
        raise _renamed(exc) from exc
    if not result.created:
        # a concurrent twin of this post won the race: answer like a replay
        _check_same(submission, fingerprint)
    return Submitted(result.ticket, result.created, submission)
