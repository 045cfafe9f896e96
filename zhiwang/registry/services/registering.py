"""Registering a number the registry already knows: the rules people and entities share.

``POST /people`` and ``POST /entities`` (``person_register``, ``entity_register``) are idempotent
by natural key, but a registration is not a correction: it carries no note and no version, so a
client holding an old copy would silently undo a newer correction. A known record is therefore
never overwritten by a registration:

* a person outside the caller's jurisdiction (or with no known place, the caller no data steward)
  is left unchanged and the registration goes to the data stewards (``RegistrationReferred``, a
  ``RegistrationReview`` holding what the caller gave): a steward decides whether the person moved
  to the given address. The caller is answered exactly as for a number on record nowhere
  (``POST /people``: 202, the same body), so registering tells nobody whether a number they cannot
  see exists anywhere in the city; each such registration by a caller who does not see the whole
  city counts against the hourly registration limit (``ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR``,
  its own, apart from the identifier searches') and is in the access log (``services.audit``);
* a legal entity there is refused — 409 ``registry.register_refused``, the same wherever the
  record is, traced in the access log (``RegisterRefused``, ``refused``): a credit code and the
  company it names are public (the national enterprise credit publicity system), so that one
  exists hides nothing, where it is does;
* inside it, fields empty on the record are filled and equal ones confirm it; a field given with
  another value than the record's is ``AlreadyRegistered`` (409 ``registry.already_registered``,
  the record's id, the differing fields) and nothing is written: the client reads the record and
  corrects it (``PATCH`` with a note and ``expected_version``).

An empty value in the registration says nothing (it never clears a field). The address is not a
field: registering at another address records a move (the old residence or operation ends, history
appended), as an import does.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, FieldError
from zhiwang.core.scoping import scope_of
from zhiwang.registry.services.access import IMPORT_ROLES, in_scope, role_of
from zhiwang.registry.services.audit import register_refused_logged
from zhiwang.registry.services.history import diff

EMPTY = ("", None)


class RegisterRefused(Exception):
    """The key belongs to a record the caller may not change (rolled back, then traced)."""

    def __init__(self, kind: str, record_id: int, why: str, address_code: str):
        super().__init__(why)
        self.kind, self.record_id, self.why, self.address_code = kind, record_id, why, address_code


class RegistrationReferred(Exception):
    """Not an error for the caller: the registration names a person they may not change, so it was
    kept for a data steward (``review``, committed) and the record left as it was. Entry points
    answer it exactly like the registration of a new number (``api.person_register``)."""

    def __init__(self, review):
        super().__init__("registration referred to a data steward")
        self.review = review


class RegisterLimited(Exception):
    """The caller reached the hourly limit of registrations of numbers they cannot see
    (``services.audit.registration_limit``; not the identifier searches' limit)."""

    def __init__(self, key: str, shown: str):
        super().__init__("registration limit reached")
        self.key, self.shown = key, shown


def sees_whole_city(actor) -> bool:
    """Nothing is outside the caller's sight (the system, administrators, city-wide users): their
    registrations ask nothing the registry would not tell them anyway."""
    return actor is None or scope_of(actor).everything


class AlreadyRegistered(Conflict):
    """A registration names a known record with other values: nothing was written.

    The API answer carries ``record`` (``{"kind", "id"}``) besides the house error shape, so the
    client can read the record and correct it; ``fields`` lists the fields that differ."""

    def __init__(self, message: str, *, kind: str, record_id: int | None, fields: list[str]):
        differs = _("Differs from the registered value; correct the record to change it.")
        super().__init__(
            "registry.already_registered",
            message,
            field=fields[0],
            fields=[
                FieldError(field=name, code="registry.already_registered", message=str(differs))
                for name in fields
            ],
        )
        self.record_kind, self.record_id = kind, record_id

    def as_dict(self) -> dict:
        body = super().as_dict()
        body["record"] = {"kind": self.record_kind, "id": self.record_id} if self.record_id else None
        return body


def may_update_on_register(actor, record) -> bool:
    """A registration may fill a known record inside the caller's jurisdiction; a record with no
    known place (seen by city-wide roles only) is placed by a data steward, never taken over by
    whoever registers its number first."""
    if actor is None or in_scope(actor, record):
        return True
    return record.community_id is None and record.grid_id is None and role_of(actor) in IMPORT_ROLES


def check_may_update(actor, record, *, kind: str, address) -> None:
    """Raise ``RegisterRefused`` unless the registration may touch ``record``."""
    if not may_update_on_register(actor, record):
        why = "unplaced" if record.community_id is None and record.grid_id is None else "outside"
        raise RegisterRefused(kind, record.pk, why, address.code if address is not None else "")


def refused(error: RegisterRefused, *, actor, message: str) -> Conflict:
    """Trace a refused registration (after its rollback) and answer it: the same answer wherever
    the record is, saying nothing about it."""
    register_refused_logged(
        actor=actor,
        kind=error.kind,
        record_id=error.record_id,
        why=error.why,
        address_code=error.address_code,
    )
    return Conflict("registry.register_refused", message)


def fill_empty(record, values: dict, fields, *, actor, kind: str, message: str) -> dict:
    """Fill the fields empty on ``record`` from ``values`` and answer the changes (masked, as
    ``diff``); a field given with another value than the record's raises ``AlreadyRegistered``
    before anything is set."""
    given = {name: values[name] for name in fields if name in values and values[name] not in EMPTY}
    differing = [
        name
        for name, value in given.items()
        if getattr(record, name) not in EMPTY and getattr(record, name) != value
    ]
    if differing:
        visible = actor is None or in_scope(actor, record)
        raise AlreadyRegistered(
            message, kind=kind, record_id=record.pk if visible else None, fields=differing
        )
    return diff(
        record, {name: value for name, value in given.items() if getattr(record, name) in EMPTY}, fields
    )
