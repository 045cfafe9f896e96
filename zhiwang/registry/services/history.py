"""How a write is recorded: the fields it may change, its history rows, its sources, a confirmation.

Every create and change appends a ``RecordChange`` row (``change_row``; ``diff`` applies the
changed values and answers them masked); each department that supplied a record keeps its own
statement (``PersonSource``/``EntitySource``). The import pipeline uses the same helpers in bulk.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.registry.models import (
    EntitySource,
    Housing,
    LegalEntity,
    Person,
    PersonSource,
    RecordChange,
    RecordKind,
)
from zhiwang.registry.services.access import _denied, may_edit
from zhiwang.registry.validation import masked

PERSON_FIELDS = ("name", "household_type", "phone", "ethnicity", "household_address")
ENTITY_FIELDS = ("name", "entity_type", "legal_representative", "industry", "phone")
HOUSING_FIELDS = ("use", "owner_name", "owner_phone", "is_rental", "occupancy", "area_m2")
#: A different department naming a person differently is not overwritten: the steward decides.
CONFLICT_FIELDS = {RecordKind.PERSON: ("name",), RecordKind.ENTITY: ("name",), RecordKind.HOUSING: ()}


def change_row(
    kind: str, record_id: int, action: str, *, changes=None, actor=None, source=None, batch=None, note=""
) -> RecordChange:
    """An unsaved history row (bulk paths create many at once)."""
    return RecordChange(
        record_kind=kind,
        record_id=record_id,
        action=action,
        from_state="",
        to_state="",
        actor=actor,
        source=source,
        import_batch=batch,
        note=note,
        payload={"changes": changes or {}},
        at=timezone.now(),
    )


def diff(record, values: dict, fields) -> dict:
    """``{field: [old, new]}`` (masked) for the given fields whose value changes; applies them."""
    changes = {}
    for name in fields:
        if name not in values:
            continue
        old, new = getattr(record, name), values[name]
        if old != new:
            changes[name] = [masked(name, old), masked(name, new)]
            setattr(record, name, new)
    return changes


def _tidy_source(person_or_entity, source, batch, kind: str) -> None:
    if source is None:
        return
    model, key = (PersonSource, "person") if kind == RecordKind.PERSON else (EntitySource, "entity")
    model.objects.update_or_create(
        **{key: person_or_entity, "source": source},
        defaults={"import_batch": batch, "last_confirmed_at": timezone.now()},
    )


@transaction.atomic
def record_confirm(*, record, actor) -> None:
    """Somebody checked the record on the spot and it is still right: only ``last_confirmed_at`` moves."""
    if not may_edit(actor, record):
        raise _denied(_("You may not change this record."))
    type(record).objects.filter(pk=record.pk).update(last_confirmed_at=timezone.now())
    kind = {Person: RecordKind.PERSON, LegalEntity: RecordKind.ENTITY, Housing: RecordKind.HOUSING}[
        type(record)
    ]
    change_row(kind, record.pk, "confirm", actor=actor).save()
