"""Writes about housing: register a room (or a whole building), correct it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.registry.models import Housing, RecordKind
from zhiwang.registry.services.access import _check_version, _denied, _insert_or_existing, may_edit
from zhiwang.registry.services.history import HOUSING_FIELDS, change_row, diff
from zhiwang.registry.services.places import _address_or_error, _check_place_allowed, _place
from zhiwang.registry.validation import clean_housing


@transaction.atomic
def housing_register(*, actor, source=None, data: dict, note: str = "") -> tuple[Housing, bool]:
    """Create or update the housing record of one standard address (room, or a whole building)."""
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_housing(data)
    cleaned.raise_if_errors()
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    same_key = Housing.objects.filter(address=address)
    housing = same_key.select_for_update().first()
    created = False
    if housing is None:
        housing = Housing(address=address, source=source)
        _place(housing, address)
        diff(housing, cleaned.values, HOUSING_FIELDS)
        housing, created = _insert_or_existing(housing, same_key)
    if created:
        change_row(RecordKind.HOUSING, housing.pk, "create", actor=actor, source=source, note=note).save()
    else:
        changes = diff(housing, cleaned.values, HOUSING_FIELDS)
        housing.last_confirmed_at = timezone.now()
        if changes:
            housing.version += 1
            change_row(
                RecordKind.HOUSING,
                housing.pk,
                "update",
                changes=changes,
                actor=actor,
                source=source,
                note=note,
            ).save()
        housing.save()
    return housing, created


@transaction.atomic
def housing_correct(
    *, housing: Housing, actor, data: dict, note: str, expected_version: int | None = None
) -> Housing:
    """A correction on the spot of a room's use, owner, rental flag or occupancy.

    ``expected_version`` is required, as for people and entities (``_check_version``)."""
    if not may_edit(actor, housing):
        raise _denied(_("You may not change this record."))
    if not (note or "").strip():
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    housing = Housing.objects.select_for_update().get(pk=housing.pk)
    _check_version(housing, expected_version)
    raw = {k: v for k, v in data.items() if k in HOUSING_FIELDS}
    raw["address"] = housing.address.code
    cleaned = clean_housing(raw)
    cleaned.raise_if_errors()
    changes = diff(housing, cleaned.values, HOUSING_FIELDS)
    if not changes:
        raise ServiceError("registry.nothing_changed", _("Nothing was changed."))
    housing.version += 1
    housing.last_confirmed_at = timezone.now()
    housing.save()
    change_row(
        RecordKind.HOUSING, housing.pk, "correct", changes=changes, actor=actor, note=note.strip()
    ).save()
    return housing
