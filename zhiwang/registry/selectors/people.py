"""Reads about people: the scoped list, search, one person, residences, key-group tags, sources.

Search by ID number or phone goes through the keyed hash and, for users who may not reveal,
is logged and limited (``services.audit``); sensitive tags are need-to-know and each read of
one is logged.
"""

from __future__ import annotations

from django.db.models import QuerySet

from zhiwang.core.masking import mask_id_number, mask_phone
from zhiwang.core.phones import MOBILE_DIGITS, phone_digits
from zhiwang.core.validators import normalize_identifier
from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import (
    SENSITIVE_KEY_GROUPS,
    STAY_ORDER,
    Person,
    PersonSource,
    PersonTag,
    Residence,
)
from zhiwang.registry.selectors.common import _current, _sources
from zhiwang.registry.services import not_found, role_of
from zhiwang.registry.services.audit import identifier_search_logged, sensitive_read_logged

#: Roles that see sensitive key-group tags (need-to-know); others see the harmless ones.
SENSITIVE_TAG_ROLES = frozenset({"administrator", "grid_worker"})


def person_visible(*, user) -> QuerySet[Person]:
    return Person.objects.visible_to(user)


def person_get(*, user, pk: int) -> Person:
    person = (
        person_visible(user=user)
        .select_related("community", "grid", "source", "import_batch")
        .filter(pk=pk)
        .first()
    )
    if person is None:
        raise not_found()
    return person


def complete_phone(digits: str) -> bool:
    """A whole phone number (``phone_digits`` form): a mobile (11 digits from 1), a landline with
    its area code (0 + 9–11 digits) or a local landline (7–8 digits, not from 0 or 1). Anything
    else is a number still being typed, or part of an ID number: stricter than ``core.phones``,
    which accepts any 7–15 digits but a mistyped mobile (a foreign number, once its "+" is gone)."""
    if digits.startswith("1"):
        return len(digits) == MOBILE_DIGITS
    if digits.startswith("0"):
        return 10 <= len(digits) <= 12
    return 7 <= len(digits) <= 8


def person_search(*, user, q: str = "", limit: int | None = 50) -> QuerySet[Person]:
    """People by name (prefix), ID number or phone (exact, through the keyed hash); ``limit=None``: all.

    A search by ID number or phone of a user who may not reveal is logged at once and may be
    refused (``registry.search_limit``, status 429): see ``services.audit``.
    """
    qs = person_visible(user=user).select_related("community")
    q = (q or "").strip()
    ident = normalize_identifier(q)
    if not q:
        qs = qs.order_by("name", "pk")
    elif len(ident) == 18 and ident[:17].isdigit():
        key = id_number_hash(ident)
        qs = qs.filter(id_number_hash=key)
        identifier_search_logged(user=user, kind="id_number", key=key, shown=mask_id_number(ident), found=qs)
    elif phone := phone_digits(q):
        if not complete_phone(phone):
            # a number still being typed (the pick lists search as the operator types) or an ID
            # number typed in groups: no search, so it neither answers nor uses up the limit
            return qs.none()
        key = phone_hash(phone)
        qs = qs.filter(phone_hash=key)
        identifier_search_logged(user=user, kind="phone", key=key, shown=mask_phone(phone), found=qs)
    else:
        qs = qs.filter(name__startswith=q).order_by("name", "pk")
    return qs if limit is None else qs[:limit]


def person_residences(*, user, person: Person) -> list[Residence]:
    return list(Residence.objects.filter(person=person).select_related("address").order_by(*STAY_ORDER))


def may_see_sensitive(user) -> bool:
    """The user's role cares for the sensitive key groups (need-to-know)."""
    return role_of(user) in SENSITIVE_TAG_ROLES


def visible_tags(*, user, person: Person) -> list[PersonTag]:
    """The person's current key-group tags; sensitive ones only for ``SENSITIVE_TAG_ROLES``, and logged."""
    tags = list(_current(PersonTag.objects.filter(person=person)))
    if not may_see_sensitive(user):
        return [t for t in tags if t.group not in SENSITIVE_KEY_GROUPS]
    sensitive = {t.group for t in tags if t.group in SENSITIVE_KEY_GROUPS}
    if sensitive:
        sensitive_read_logged(user=user, groups_by_person={person.pk: sensitive}, via="tags")
    return tags


def person_sources(*, person: Person) -> list:
    rows = list(
        PersonSource.objects.filter(person=person).select_related("source").order_by("-last_confirmed_at")
    )
    return _sources(rows, person)
