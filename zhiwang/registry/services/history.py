"""How a write is recorded: the fields it may change, its history rows, its sources, a confirmation.

Every create and change appends a ``RecordChange`` row (``change_row``; ``diff`` applies the
changed values and answers them masked); each department that supplied a record keeps its own
statement (``PersonSource``/``EntitySource``). The import pipeline uses the same helpers in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
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
ENTITY_FIELDS = ("name", "entity_type", "legal_representative", "industry", "phone", "founded_on")
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


@dataclass(frozen=True)
class ValueSource:
    """Who set a field's current value: a department (``unit``), or a user with no department
    (``actor``); neither when nothing says (a record loaded without a source)."""

    unit_id: int | None = None
    unit_name: str = ""
    actor_name: str = ""

    @property
    def known(self) -> bool:
        return self.unit_id is not None or bool(self.actor_name)

    @property
    def label(self) -> str:
        return self.unit_name or self.actor_name


def _from_change(row: RecordChange) -> ValueSource:
    """A history row's author: its department; for a correction by hand (no department on the
    row), the department of the user who made it, as the API records a user's registration."""
    if row.source_id is not None:
        return ValueSource(row.source_id, row.source.name)
    unit = getattr(row.actor, "org_unit", None)
    if unit is not None:
        return ValueSource(unit.pk, unit.name)
    return ValueSource(actor_name=row.actor.display_name if row.actor is not None else "")


def value_sources(*, kind: str, records, field: str) -> dict[int, ValueSource]:
    """``{record id: ValueSource}``: whose statement set each record's current ``field`` value.

    Not the record's ``source``, which is the last department that *confirmed* the record (every
    import stamps it, whatever it said about this field). In order: the latest history row that
    changed the field (an import's department, a registration's, a steward's correction: their
    department, or the conflicting department when a steward took its value); else the row that
    created the record (a registration); else the record came from an import, and its first
    statement (``PersonSource`` / ``EntitySource``, the lowest id: ``Chunk.keep_first_source`` and
    ``_tidy_source`` write the first department's before a second one's) or, when only one
    department ever spoke, the record's own source. A few indexed queries per call, for many
    records at once (an import asks once per chunk, only for the rows that differ)."""
    records = {record.pk: record for record in records}
    found: dict[int, ValueSource] = {}
    created: dict[int, ValueSource] = {}
    ids = list(records)
    for start in range(0, len(ids), 900):
        rows = (
            RecordChange.objects.filter(record_kind=kind, record_id__in=ids[start : start + 900])
            .filter(Q(payload__changes__has_key=field) | Q(action="create"))
            .select_related("source", "actor__org_unit")
            .order_by("record_id", "-at", "-pk")
        )
        for row in rows:
            if row.record_id in found:
                continue
            if field in ((row.payload or {}).get("changes") or {}):
                found[row.record_id] = _from_change(row)
            elif row.action == "create":
                created.setdefault(row.record_id, _from_change(row))
    for pk, source in created.items():
        found.setdefault(pk, source)
    rest = [pk for pk in ids if pk not in found]
    if rest:
        model, key = (PersonSource, "person_id") if kind == RecordKind.PERSON else (EntitySource, "entity_id")
        for start in range(0, len(rest), 900):
            statements = (
                model.objects.filter(**{f"{key}__in": rest[start : start + 900]})
                .select_related("source")
                .order_by(key, "pk")
            )
            for statement in statements:
                found.setdefault(
                    getattr(statement, key), ValueSource(statement.source_id, statement.source.name)
                )
    for pk in rest:
        if pk not in found:
            record = records[pk]
            unit = record.source if record.source_id is not None else None
            found[pk] = ValueSource(unit.pk, unit.name) if unit is not None else ValueSource()
    return found


def _tidy_source(person_or_entity, source, batch, kind: str) -> None:
    """Write down ``source``'s statement about the record; when it is the record's first
    statement from a department other than the one that supplied it, that department's first
    (as ``Chunk.keep_first_source`` does for imports: the first statement names who supplied
    the record, see ``value_sources``)."""
    if source is None:
        return
    model, key = (PersonSource, "person") if kind == RecordKind.PERSON else (EntitySource, "entity")
    first = person_or_entity.source_id
    if first is not None and first != source.pk:
        model.objects.get_or_create(
            **{key: person_or_entity, "source_id": first},
            defaults={
                "import_batch_id": person_or_entity.import_batch_id,
                "last_confirmed_at": person_or_entity.last_confirmed_at,
            },
        )
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
