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
* **Registrations by a number the caller cannot see** (``services.registering``): registering an
  ID number that is not on record in the caller's jurisdiction — new, or held elsewhere — answers
  alike either way, but a registration is still a question about the number. For a caller who does
  not see the whole city each one writes a row (``identifier_register`` on the new record, or
  ``register_referred`` on the record held elsewhere, with the steward's ``RegistrationReview``)
  and counts against its own hourly limit, ``ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR``
  (120), refused beyond it with ``registry.register_limit`` (429, logged) — whatever the role: a
  grid worker's searches are free (they may reveal what they find, and only in their area), their
  registrations of numbers outside it are not. Its own limit, higher than the searches': a grid
  worker's door-to-door registration of newcomers is the registry's daily work, and every
  registration leaves a record or a steward's review with the caller's name, which a search does
  not.
* **Refused registrations**: registering a credit code that belongs to a legal entity the caller
  may not change leaves a row on that entity for the data stewards.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
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
#: A registration of an ID number that was on record nowhere (the new record's row) ...
REGISTER_NEW_ACTION = "identifier_register"
#: ... or on a record the caller may not change (that record's row; a steward decides).
REGISTER_REFERRED_ACTION = "register_referred"
#: The rows that count against ``IDENTIFIER_SEARCH_LIMIT``: each says "this user asked about this number".
LIMITED_ACTIONS = (SEARCH_ACTION,)
#: The rows that count against the registration limit (``registration_limit``).
REGISTER_LIMITED_ACTIONS = (REGISTER_NEW_ACTION, REGISTER_REFERRED_ACTION)
REGISTER_REFUSED_LIMIT_ACTION = "identifier_register_refused"
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


def identifier_searches_recent(user, actions: tuple[str, ...] = LIMITED_ACTIONS) -> set[str]:
    """The keyed hashes of the identifiers ``user`` searched (``actions``: or registered unseen)
    within the window."""
    since = timezone.now() - IDENTIFIER_SEARCH_WINDOW
    # ``registry_access_actor_recent``; no order (a set), so no sort of the hour's rows
    rows = (
        AccessLog.objects.filter(actor=user, action__in=actions, at__gte=since)
        .order_by()
        .values_list("payload", flat=True)
    )
    return {row.get("hash") for row in rows if isinstance(row, dict) and row.get("hash")}


def registration_limit() -> int:
    """Distinct ID numbers not on record in their area a caller may register per window."""
    return int(getattr(settings, "ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR", 120))


def registration_limit_reached(user, key: str) -> bool:
    """``user`` registered ``registration_limit()`` other numbers they could not see within the
    window (registering one of those again is free: it tells nothing new)."""
    recent = identifier_searches_recent(user, REGISTER_LIMITED_ACTIONS)
    return key not in recent and len(recent) >= registration_limit()


def registration_limit_error(field: str = "id_number") -> ServiceError:
    """The one refusal beyond the registration limit, whether the number is on record or not."""
    return ServiceError(
        "registry.register_limit",
        _(
            "You have registered %(limit)s people not yet on record in your area within the hour, "
            "the most one account may. Try again later, or ask a data steward to import the list."
        )
        % {"limit": registration_limit()},
        field=field,
        status=429,
    )


def identifier_limit_reached(user, key: str) -> bool:
    """``user`` asked about ``IDENTIFIER_SEARCH_LIMIT`` other identifiers within the window (asking
    about one of those again is free: it tells nothing new)."""
    recent = identifier_searches_recent(user)
    return key not in recent and len(recent) >= IDENTIFIER_SEARCH_LIMIT


def identifier_limit_error(field: str = "q") -> ServiceError:
    """The one refusal beyond the identifier-search limit (registrations have their own:
    ``registration_limit_error``)."""
    return ServiceError(
        "registry.search_limit",
        _(
            "You have reached the hourly limit of searches by ID number or phone number. "
            "Search by name, or try again later."
        ),
        field=field,
        status=429,
    )


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
    if identifier_limit_reached(user, key):
        _entry(actor=user, record_id=0, action=SEARCH_REFUSED_ACTION, payload=payload).save()
        raise identifier_limit_error()
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


def identifier_register_logged(
    *, actor, action: str, record_id: int, key: str, shown: str, review=None
) -> None:
    """One registration of an ID number the caller cannot see (``REGISTER_NEW_ACTION`` on the new
    record, ``REGISTER_REFERRED_ACTION`` on the record held elsewhere): it counts against the limit."""
    payload = {"kind": "id_number", "value": shown, "hash": key, "via": "register"}
    if review is not None:
        payload["review"] = review.pk
        payload["why"] = review.why
    _entry(actor=actor, record_id=record_id, action=action, payload=payload).save()


def identifier_register_refused_logged(*, actor, key: str, shown: str) -> None:
    """A registration refused beyond the limit (written after its rollback): nothing says whether
    the number is on record."""
    payload = {"kind": "id_number", "value": shown, "hash": key, "via": "register"}
    _entry(actor=actor, record_id=0, action=REGISTER_REFUSED_LIMIT_ACTION, payload=payload).save()
