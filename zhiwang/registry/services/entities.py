"""Writes about legal entities: register, locate (where it operates), correct."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models import LegalEntity, Operation, RecordKind
from zhiwang.registry.services.access import _check_version, _denied, _insert_or_existing, may_edit
from zhiwang.registry.services.history import ENTITY_FIELDS, _tidy_source, change_row, diff
from zhiwang.registry.services.places import _address_or_error, _check_place_allowed, _place, move_end
from zhiwang.registry.services.registering import RegisterRefused, check_may_update, fill_empty, refused
from zhiwang.registry.validation import clean_entity


def entity_register(*, actor, source=None, data: dict, note: str = "") -> tuple[LegalEntity, bool]:
    """Create a legal entity, or answer the one with this credit code; ``address`` sets where it operates.

    The same rules as ``person_register`` (``services.registering``): a known credit code is never
    overwritten — empty fields are filled, another value answers ``registry.already_registered``
    (409, the record's id) — and a record the caller may not change answers
    ``registry.register_refused`` (409, the same wherever it is, nothing written, an ``AccessLog``
    row ``register_refused`` on the entity for the data stewards).
    """
    try:
        return _entity_register(actor=actor, source=source, data=data, note=note)
    except RegisterRefused as error:
        raise refused(
            error,
            actor=actor,
            message=_("This entity cannot be registered here. A data steward will check the record."),
        ) from None


@transaction.atomic
def _entity_register(*, actor, source, data: dict, note: str) -> tuple[LegalEntity, bool]:
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_entity(data)
    cleaned.raise_if_errors()
    values = cleaned.values
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    same_key = LegalEntity.objects.filter(credit_code=values["credit_code"])
    entity = same_key.select_for_update().first()
    created = False
    if entity is None:
        entity = LegalEntity(credit_code=values["credit_code"], source=source)
        for name in ENTITY_FIELDS:
            if name in values:
                setattr(entity, name, values[name])
        _place(entity, address)
        entity, created = _insert_or_existing(entity, same_key)
    if created:
        change_row(RecordKind.ENTITY, entity.pk, "create", actor=actor, source=source, note=note).save()
    else:
        check_may_update(actor, entity, kind=RecordKind.ENTITY, address=address)
        changes = fill_empty(
            entity,
            values,
            ENTITY_FIELDS,
            actor=actor,
            kind=RecordKind.ENTITY,
            message=_(
                "This credit code is already registered with other details. Read the record and correct "
                "it instead (a correction needs a note and the version you read)."
            ),
        )
        entity.last_confirmed_at = timezone.now()
        if entity.source_id is None and source is not None:
            entity.source = source  # provenance is filled, never replaced (the statement is below)
        if changes:
            entity.version += 1
            change_row(
                RecordKind.ENTITY,
                entity.pk,
                "update",
                changes=changes,
                actor=actor,
                source=source,
                note=note,
            ).save()
        entity.save()
    _tidy_source(entity, source, None, RecordKind.ENTITY)
    if address is not None:
        entity_locate(entity=entity, address=address, since=values.get("since"), actor=actor, source=source)
    return entity, created


@transaction.atomic
def entity_locate(
    *, entity: LegalEntity, address: StandardAddress, since=None, actor=None, source=None
) -> Operation:
    """The entity now operates at ``address`` from ``since`` (today when not known): the current
    operation ends the day before (``places.move_end``, as a person's residence), a ``move``
    history row names both addresses."""
    current = list(
        Operation.objects.filter(entity=entity, until__isnull=True).select_related("address").order_by("pk")
    )
    for operation in current:
        if operation.address_id == address.pk:
            return operation
    since = since or timezone.localdate()
    for operation in current:
        Operation.objects.filter(pk=operation.pk).update(
            until=move_end(since, operation.since), updated_at=timezone.now()
        )
    operation = Operation(entity=entity, address=address, since=since, source=source)
    _place(operation, address)
    operation.save()
    _place(entity, address)
    LegalEntity.objects.filter(pk=entity.pk).update(community_id=entity.community_id, grid_id=entity.grid_id)
    change_row(
        RecordKind.ENTITY,
        entity.pk,
        "move",
        changes={"address": [current[0].address.full_name if current else "", address.full_name]},
        actor=actor,
        source=source,
    ).save()
    return operation


@transaction.atomic
def entity_correct(
    *,
    entity: LegalEntity,
    actor,
    data: dict,
    note: str,
    expected_version: int | None = None,
    source=None,
) -> LegalEntity:
    """A correction on the spot of a legal entity's fields (not its credit code).

    ``expected_version`` is the version the editor saw and is required, as for people
    (``registry.version_required`` without it, ``registry.version_conflict`` for an old one).
    ``source``: the department whose value the correction takes (a settled merge conflict), named
    on the history row as who set it (``value_sources``).
    """
    if not may_edit(actor, entity):
        raise _denied(_("You may not change this record."))
    if not (note or "").strip():
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    entity = LegalEntity.objects.select_for_update().get(pk=entity.pk)
    _check_version(entity, expected_version)  # required: registry.version_required without one
    raw = {k: v for k, v in data.items() if k in ENTITY_FIELDS}
    raw.setdefault("name", entity.name)
    raw["credit_code"] = entity.credit_code
    cleaned = clean_entity(raw)
    cleaned.raise_if_errors()
    changes = diff(entity, cleaned.values, ENTITY_FIELDS)
    if not changes:
        raise ServiceError("registry.nothing_changed", _("Nothing was changed."))
    entity.version += 1
    entity.last_confirmed_at = timezone.now()
    entity.save()
    change_row(
        RecordKind.ENTITY,
        entity.pk,
        "correct",
        changes=changes,
        actor=actor,
        source=source,
        note=note.strip(),
    ).save()
    return entity
