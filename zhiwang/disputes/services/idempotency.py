"""Idempotency keys of the disputes' registrations: how long a key may be, and what a retry must repeat.

A caller's key makes a retry return the first record instead of registering the matter twice.
That is only right when the retry asks for the same thing: each record keeps a fingerprint of
the cleaned input (``zhiwang.core.fingerprint``) and a key sent again with other content is
refused (``disputes.idempotency_key_reused``), as Open311 does with its request ids
(``open311.services._check_same``). Records written before fingerprints existed have none and
replay as they always did.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.fingerprint import same_input
from zhiwang.disputes.services.common import clean, parse_amount

#: The longest key a caller may send; the stored key adds a namespace (``case:<user id>:``,
#: ``visit:<centre id>:``) and must fit the 160-character column whole, never cut: two long
#: keys that differ only at the end would otherwise name the same record. Tickets' external ids
#: take as many characters.
MAX_IDEMPOTENCY_KEY = 120
CENT = Decimal("0.01")
#: The API's name of the key (the pages send it as the form's hidden ``token``).
KEY_FIELD = "idempotency_key"


def idempotency_key_clean(value) -> str:
    """The caller's key, stripped; ``disputes.idempotency_key_long`` when it is too long to keep whole."""
    key = clean(value)
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ServiceError(
            "disputes.idempotency_key_long",
            _("The idempotency key may have at most %(max)s characters (%(length)s given).")
            % {"max": MAX_IDEMPOTENCY_KEY, "length": len(key)},
            field=KEY_FIELD,
        )
    return key


def amount_text(value) -> str:
    """An amount as the case would store it ("100", 100 and Decimal("100.00") are one amount, and
    so are "", 0 and "0");
    a value that is no amount stays as written (registering it fails anyway)."""
    try:
        return str(parse_amount(value).quantize(CENT))  # an empty amount is 0 unquantized
    except ServiceError:
        return clean(value)


def parties_input(parties) -> list[dict]:
    """The parties as sent, cleaned for comparison: the rows ``validate_parties`` would keep, each
    with its typed values and registry picks (not the registry's values: a record updated between
    the first call and its retry does not make the retry "different")."""
    rows = []
    for party in parties or []:
        if not any(clean(party.get(k)) for k in ("name", "identifier", "phone", "person_id", "entity_id")):
            continue
        rows.append(
            {
                "role": clean(party.get("role")),
                "kind": clean(party.get("kind")) or "person",
                "name": clean(party.get("name")),
                "identifier": clean(party.get("identifier")).upper(),
                "phone": clean(party.get("phone")),
                "address": clean(party.get("address")),
                "representative": clean(party.get("representative")),
                "person_id": clean(party.get("person_id")),
                "entity_id": clean(party.get("entity_id")),
            }
        )
    return rows


def check_same_request(stored: str, fingerprint_now: str, key: str) -> None:
    """Refuse a key sent again with other content (422, as the IETF Idempotency-Key draft advises).

    ``stored`` is the record's fingerprint; empty (a record older than fingerprints) replays.
    The message names the caller's key, never the record: it may have left the caller's scope.
    """
    if not same_input(stored, fingerprint_now):
        raise ServiceError(
            "disputes.idempotency_key_reused",
            _(
                "The idempotency key “%(key)s” was already used with different content: "
                "send a new key to register another matter."
            )
            % {"key": key},
            field=KEY_FIELD,
            status=422,
        )
