"""Who may read, change, reveal and import registry records, and the guards every write shares."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of

#: Roles that open the registry at all, pages and API alike (``may_read``); scoping does the rest.
READER_ROLES = frozenset(
    {"grid_worker", "data_steward", "leader", "administrator", "dispatcher", "intake_operator"}
)
#: Roles that keep records current (grid workers on patrol, data stewards); administrators too.
EDIT_ROLES = frozenset({"grid_worker", "data_steward", "administrator"})
#: Roles that may see an unmasked ID number or phone (with a reason, logged).
REVEAL_ROLES = frozenset({"grid_worker", "data_steward", "administrator"})
#: Roles that may import department files.
IMPORT_ROLES = frozenset({"data_steward", "administrator"})


def role_of(user) -> str:
    if user is None or not getattr(user, "is_active", False):
        return ""
    return "administrator" if getattr(user, "is_superuser", False) else getattr(user, "role", "")


def in_scope(user, record) -> bool:
    """The record's place is inside the user's jurisdiction (the same rule as ``visible_to``)."""
    scope = scope_of(user)
    if scope.everything:
        return True
    if record.grid_id is not None and record.grid_id in scope.grid_ids:
        return True
    return record.community_id is not None and record.community_id in scope.division_ids


def may_read(user) -> bool:
    """The user's role opens the registry: its pages (``views.readers_only``) and every endpoint
    of its API (``api.readers_only``). The one definition both use; scoping (``visible_to``)
    then decides which records."""
    return role_of(user) in READER_ROLES


def may_edit(user, record=None) -> bool:
    return role_of(user) in EDIT_ROLES and (record is None or in_scope(user, record))


def may_reveal(user, record) -> bool:
    """A full view needs the role (or the ``registry.reveal_personal_data`` permission) and the place."""
    if not in_scope(user, record):
        return False
    return role_of(user) in REVEAL_ROLES or bool(user.has_perm("registry.reveal_personal_data"))


def may_reveal_any(user) -> bool:
    """The user may see full data somewhere (a reveal role or the permission): their searches by
    ID number or phone are neither logged nor limited (``services.audit``)."""
    if role_of(user) in REVEAL_ROLES:
        return True
    return bool(getattr(user, "is_active", False) and user.has_perm("registry.reveal_personal_data"))


def may_import(user) -> bool:
    return role_of(user) in IMPORT_ROLES


def _denied(message: str) -> PermissionDeniedError:
    return PermissionDeniedError("registry.permission_denied", message)


def _check_version(record, expected_version: int | None) -> None:
    """Every correction names the version the editor saw: without it a correction made on an
    old copy would silently overwrite a newer one; with an old one nothing is written."""
    if expected_version is None:
        raise ServiceError(
            "registry.version_required",
            _("Say which version of the record you corrected (expected_version); reload it to see it."),
            field="expected_version",
        )
    if record.version != expected_version:
        raise Conflict(
            "registry.version_conflict",
            _("Somebody changed this record after you opened it; reload and try again."),
        )


def _insert_or_existing(record, same_key):
    """Insert ``record``, or answer the row with its natural key that a request registering the
    same key at the same moment committed first (locked, to be updated): (record, created).

    The ``select_for_update`` before locks nothing while the row does not exist, so both
    requests may try the insert; the second waits on the unique index, then fails: inside a
    savepoint, so the transaction goes on with the update branch (the documented idempotent
    answer, not an IntegrityError)."""
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        existing = same_key.select_for_update().first()
        if existing is None:  # another constraint: not the race
            raise
        return existing, False
    return record, True


def not_found() -> NotFound:
    """The house's 404 (``not_found``, docs/api.md): a record outside the jurisdiction answers
    exactly like one that does not exist, with the same code as every other app's."""
    return NotFound("not_found", _("No such record in your jurisdiction."))
