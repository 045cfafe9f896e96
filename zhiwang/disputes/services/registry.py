"""The link from visitors and parties to the registry (``registry.Person`` / ``registry.LegalEntity``).

Two ways a visitor or party is linked:

* **picked**: the operator searched the registry (``disputes.selectors.registry_candidates``,
  which calls the registry's own scoped selectors) and chose a record by its id. The id is
  resolved again here through the registry's scope, so a user cannot pick a person outside
  their jurisdiction by posting an id; the name, ID number and phone are copied on the
  server and never travel through the page in plain.
* **matched**: a typed ID number is hashed with the *registry's* keyed hash
  (``registry.hashing.id_number_hash``, purpose ``id``) and looked up on
  ``Person.id_number_hash``. Disputes' own ``keyed_hash`` is the same HMAC under the same key
  (``core.keyed_hash``) with another purpose (``disputes``), so it never equals the registry's
  hash of the same number: a visitor's ``id_hash`` cannot be joined to the registry. A typed credit
  code is looked up on ``LegalEntity.credit_code`` (the registry keeps credit codes in plain:
  they are public). Matching is not scoped: it only records that both rows are the same
  person, and the registry page behind the link applies its own scope.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.disputes.selectors import may_use_registry
from zhiwang.registry import selectors as registry_selectors
from zhiwang.registry.hashing import id_number_hash
from zhiwang.registry.models import LegalEntity, Person


def _pk(value) -> int | None:
    """The picked id, or None when ``value`` is not one (ASCII digits only: ``str.isdigit()``
    also accepts "²", which ``int()`` refuses)."""
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _picked(value) -> bool:
    """Whether anything was picked at all (a pick that is no id is refused, not ignored)."""
    return bool(str(value or "").strip())


def picked_person(*, actor, pk, field: str) -> Person | None:
    """The registry person ``pk`` as ``actor`` may see it (None when nothing was picked); a pick
    that is no id answers like one outside the actor's scope."""
    if not _picked(pk):
        return None
    if _pk(pk) is not None and may_use_registry(actor):
        try:
            return registry_selectors.person_get(user=actor, pk=_pk(pk))
        except NotFound:
            pass
    raise ServiceError(
        "disputes.registry_not_found",
        _("This person is not in the registry you may search."),
        field=field,
    )


def picked_entity(*, actor, pk, field: str) -> LegalEntity | None:
    """The registry legal entity ``pk`` as ``actor`` may see it (None when nothing was picked); a
    pick that is no id answers like one outside the actor's scope."""
    if not _picked(pk):
        return None
    if _pk(pk) is not None and may_use_registry(actor):
        try:
            return registry_selectors.entity_get(user=actor, pk=_pk(pk))
        except NotFound:
            pass
    raise ServiceError(
        "disputes.registry_not_found",
        _("This legal entity is not in the registry you may search."),
        field=field,
    )


def person_for_id_number(id_number: str) -> Person | None:
    """The registry person with this (validated, normalized) ID number, through the registry's hash."""
    if not id_number:
        return None
    return Person.objects.filter(id_number_hash=id_number_hash(id_number)).first()


def entity_for_credit_code(credit_code: str) -> LegalEntity | None:
    if not credit_code:
        return None
    return LegalEntity.objects.filter(credit_code=credit_code).first()
