"""What the access log records besides full views: identifier searches, key-group reads, refused registrations.

* **Identifier searches.** A search by an exact ID number or phone answers "this number
  belongs to somebody here" or not. Somebody who reads the masked values and may not
  reveal them (``440***********1234``, ``138****5678``) could try the hidden digits one by
  one (an ID number has about 30 candidates that pass the check digit once the birth date
  is known; a mobile number 10,000). So, for users who may not reveal (neither a reveal
  role nor the ``registry.reveal_personal_data`` permission), every such search writes an
  ``AccessLog`` row (the kind, the masked value and the keyed hash, never the plain
  value; ``record_id`` is the first match or 0), and at most
  ``IDENTIFIER_SEARCH_LIMIT`` distinct identifiers per ``IDENTIFIER_SEARCH_WINDOW`` are
  searched, found or not. Searching the same number again is free (it tells nothing
  new). Beyond the limit the search is refused (logged too) with
  ``registry.search_limit`` (HTTP 429).
* **Sensitive key groups** (need-to-know): each read of a sensitive tag, or of an
  eligibility suggestion that reveals one, writes an ``AccessLog`` row.
* **Refused registrations**: registering an ID number or a credit code that belongs to a record
  the caller may not change leaves a row on that record for the data stewards.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.registry.models import AccessLog, RecordKind
from zhiwang.registry.services.access import may_reveal_any

#: Distinct ID numbers or phones a user who may not reveal may search per window.
IDENTIFIER_SEARCH_LIMIT = 20
IDENTIFIER_SEARCH_WINDOW = timedelta(hours=1)
#: ``AccessLog.action`` values written here.
SEARCH_ACTION = "identifier_search"
SEARCH_REFUSED_ACTION = "identifier_search_refused"
SENSITIVE_READ_ACTION = "key_group_read"
REGISTER_REFUSED_ACTION = "register_refused"
#: How many matching ids a search row keeps.
SEARCH_LOG_MATCHES = 10


def _entry(
    *, actor, record_id: int, action: str, payload: dict, note: str = "", kind: str = RecordKind.PERSON
) -> AccessLog:
    return AccessLog(
        record_kind=kind,
        record_id=record_id,
        actor=actor,
        action=action,
        from_state="",
        to_state="",
        note=note,
        payload=payload,
    )


def identifier_searches_recent(user) -> set[str]:
    """The keyed hashes of the identifiers ``user`` searched within the window."""
    since = timezone.now() - IDENTIFIER_SEARCH_WINDOW
    rows = AccessLog.objects.filter(actor=user, action=SEARCH_ACTION, at__gte=since).values_list(
        "payload", flat=True
    )
    return {row.get("hash") for row in rows if isinstance(row, dict) and row.get("hash")}


def identifier_search_logged(*, user, kind: str, key: str, shown: str, found: QuerySet) -> None:
    """Log (and limit) one search by an exact identifier; nothing for users who may reveal.

    ``kind`` is ``id_number`` or ``phone``, ``key`` its keyed hash, ``shown`` the masked
    value, ``found`` the scoped queryset of the matches. Raises ``registry.search_limit``
    (status 429, the attempt logged) beyond ``IDENTIFIER_SEARCH_LIMIT`` distinct
    identifiers in ``IDENTIFIER_SEARCH_WINDOW``.
    """
    if user is None or may_reveal_any(user):
        return
    payload = {"kind": kind, "value": shown, "hash": key}
    recent = identifier_searches_recent(user)
    if key not in recent and len(recent) >= IDENTIFIER_SEARCH_LIMIT:
        _entry(actor=user, record_id=0, action=SEARCH_REFUSED_ACTION, payload=payload).save()
        raise ServiceError(
            "registry.search_limit",
            _(
                "You have reached the hourly limit of searches by ID number or phone number. "
                "Search by name, or try again later."
            ),
            field="q",
            status=429,
        )
    matches = list(found.order_by().values_list("pk", flat=True)[:SEARCH_LOG_MATCHES])
    payload["matches"] = matches
    _entry(actor=user, record_id=matches[0] if matches else 0, action=SEARCH_ACTION, payload=payload).save()


def sensitive_read_logged(*, user, groups_by_person: dict[int, set[str]], via: str) -> None:
    """One row per person whose sensitive key groups ``user`` was shown (``via``: tags or eligibility)."""
    entries = [
        _entry(
            actor=user if getattr(user, "pk", None) else None,
            record_id=person_id,
            action=SENSITIVE_READ_ACTION,
            payload={"groups": sorted(groups), "via": via},
        )
        for person_id, groups in groups_by_person.items()
        if groups
    ]
    if entries:
        AccessLog.objects.bulk_create(entries)


def register_refused_logged(
    *, actor, record_id: int, why: str, address_code: str = "", kind: str = RecordKind.PERSON
) -> None:
    """A trace for the data stewards: ``actor`` tried to register a record (a person or a legal
    entity, ``kind``) they may not change."""
    _entry(
        actor=actor,
        kind=kind,
        record_id=record_id,
        action=REGISTER_REFUSED_ACTION,
        payload={"why": why, "address": address_code},
    ).save()
