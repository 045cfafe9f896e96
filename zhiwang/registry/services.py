"""Every write of the registry: one function per use case, in one transaction, with history.

Records are keyed by their natural keys (the keyed hash of the ID number, the credit
code, the standard address). Every create and change appends a ``RecordChange`` row;
every unmasked view appends an ``AccessLog`` row. The import pipeline
(``registry.imports``) uses the same helpers in bulk.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, FieldError, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import (
    AccessLog,
    EligibilityRule,
    EntitySource,
    Housing,
    LegalEntity,
    Operation,
    Person,
    PersonSource,
    PersonTag,
    RecordChange,
    RecordKind,
    Residence,
)
from zhiwang.registry.validation import clean_entity, clean_housing, clean_person, masked

#: Roles that open registry pages at all; scoping does the rest.
READER_ROLES = frozenset(
    {"grid_worker", "data_steward", "leader", "administrator", "dispatcher", "intake_operator"}
)
#: Roles that keep records current (grid workers on patrol, data stewards); administrators too.
EDIT_ROLES = frozenset({"grid_worker", "data_steward", "administrator"})
#: Roles that may see an unmasked ID number or phone (with a reason, logged).
REVEAL_ROLES = frozenset({"grid_worker", "data_steward", "administrator"})
#: Roles that may import department files.
IMPORT_ROLES = frozenset({"data_steward", "administrator"})

PERSON_FIELDS = ("name", "household_type", "phone", "ethnicity", "household_address")
ENTITY_FIELDS = ("name", "entity_type", "legal_representative", "industry", "phone")
HOUSING_FIELDS = ("use", "owner_name", "owner_phone", "is_rental", "occupancy", "area_m2")
#: A different department naming a person differently is not overwritten: the steward decides.
CONFLICT_FIELDS = {RecordKind.PERSON: ("name",), RecordKind.ENTITY: ("name",), RecordKind.HOUSING: ()}


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


def may_edit(user, record=None) -> bool:
    return role_of(user) in EDIT_ROLES and (record is None or in_scope(user, record))


def may_reveal(user, record) -> bool:
    """A full view needs the role (or the ``registry.reveal_personal_data`` permission) and the place."""
    if not in_scope(user, record):
        return False
    return role_of(user) in REVEAL_ROLES or bool(user.has_perm("registry.reveal_personal_data"))


def may_import(user) -> bool:
    return role_of(user) in IMPORT_ROLES


def _denied(message: str) -> PermissionDeniedError:
    return PermissionDeniedError("registry.permission_denied", message)


# --- history ------------------------------------------------------------------------


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


# --- places -------------------------------------------------------------------------


def resolve_address(value) -> StandardAddress | None:
    """A standard address from its code, a StandardAddress, or free text (at least a building)."""
    if value is None or value == "":
        return None
    if isinstance(value, StandardAddress):
        return value
    text = str(value).strip()
    found = StandardAddress.objects.filter(code=text).first()
    if found is not None:
        return found
    result = match_address(text)
    if result.address is not None and result.level in (
        AddressLevel.ROOM,
        AddressLevel.UNIT,
        AddressLevel.BUILDING,
    ):
        return result.address
    return None


def _address_or_error(value, field: str = "address") -> StandardAddress | None:
    if value in (None, ""):
        return None
    address = resolve_address(value)
    if address is None:
        raise ServiceError(
            "address.unmatched",
            _("No standard address (building, unit or room) matches “%(text)s”.") % {"text": str(value)[:80]},
            field=field,
        )
    return address


def _place(record, address: StandardAddress | None) -> None:
    record.community_id = address.community_id if address else None
    record.grid_id = address.grid_id if address else None


def _check_place_allowed(actor, address: StandardAddress | None) -> None:
    if actor is None or address is None:
        return
    scope = scope_of(actor)
    if not (scope.everything or scope.allows_grid(address.grid_id, address.community_id)):
        raise _denied(_("This address is outside your jurisdiction."))


def _check_version(record, expected_version: int | None) -> None:
    if expected_version is not None and record.version != expected_version:
        raise Conflict(
            "registry.version_conflict",
            _("Somebody changed this record after you opened it; reload and try again."),
        )


# --- people -------------------------------------------------------------------------


def _tidy_source(person_or_entity, source, batch, kind: str) -> None:
    if source is None:
        return
    model, key = (PersonSource, "person") if kind == RecordKind.PERSON else (EntitySource, "entity")
    model.objects.update_or_create(
        **{key: person_or_entity, "source": source},
        defaults={"import_batch": batch, "last_confirmed_at": timezone.now()},
    )


@transaction.atomic
def person_register(*, actor, source=None, data: dict, note: str = "") -> tuple[Person, bool]:
    """Create a person, or update the one with this ID number (idempotent by the ID number's hash).

    ``data`` holds raw values (see ``validation.FIELDS``); ``address`` (code or text) sets the
    current residence. Answers (person, created).
    """
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_person(data)
    cleaned.raise_if_errors()
    values = cleaned.values
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    key = id_number_hash(values["id_number"])
    person = Person.objects.select_for_update().filter(id_number_hash=key).first()
    created = person is None
    if created:
        person = Person(
            id_number=values["id_number"],
            id_number_hash=key,
            name=values["name"],
            gender=values["gender"],
            birth_date=values["birth_date"],
            source=source,
        )
        for name in PERSON_FIELDS:
            if name in values:
                setattr(person, name, values[name])
        person.phone_hash = phone_hash(person.phone)
        _place(person, address)
        person.save()
        RecordChange.objects.bulk_create(
            [change_row(RecordKind.PERSON, person.pk, "create", actor=actor, source=source, note=note)]
        )
    else:
        if actor is not None and not in_scope(actor, person) and person.community_id is not None:
            raise _denied(_("This person is recorded outside your jurisdiction."))
        changes = diff(person, values, PERSON_FIELDS)
        person.phone_hash = phone_hash(person.phone)
        person.last_confirmed_at = timezone.now()
        if source is not None:
            person.source = source
        if changes:
            person.version += 1
            RecordChange.objects.bulk_create(
                [
                    change_row(
                        RecordKind.PERSON,
                        person.pk,
                        "update",
                        changes=changes,
                        actor=actor,
                        source=source,
                        note=note,
                    )
                ]
            )
        person.save()
    _tidy_source(person, source, None, RecordKind.PERSON)
    if address is not None:
        person_move(person=person, address=address, actor=actor, since=values.get("since"), source=source)
    return person, created


@transaction.atomic
def person_correct(
    *, person: Person, actor, data: dict, note: str, expected_version: int | None = None
) -> Person:
    """A correction on the spot (grid worker, data steward): changed fields and a reason, history kept.

    The ID number is the natural key and cannot be corrected here (register the right
    number and end the wrong record's residence instead).
    """
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    if not (note or "").strip():
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    person = Person.objects.select_for_update().get(pk=person.pk)
    _check_version(person, expected_version)
    raw = {k: v for k, v in data.items() if k in (*PERSON_FIELDS, "id_number")}
    raw["id_number"] = person.id_number
    raw.setdefault("name", person.name)
    cleaned = clean_person(raw)
    cleaned.raise_if_errors()
    changes = diff(person, cleaned.values, PERSON_FIELDS)
    if not changes:
        raise ServiceError("registry.nothing_changed", _("Nothing was changed."))
    person.phone_hash = phone_hash(person.phone)
    person.version += 1
    person.last_confirmed_at = timezone.now()
    person.save()
    change_row(
        RecordKind.PERSON, person.pk, "correct", changes=changes, actor=actor, note=note.strip()
    ).save()
    return person


@transaction.atomic
def person_move(
    *,
    person: Person,
    address: StandardAddress,
    actor=None,
    since: date | None = None,
    kind: str = "living",
    source=None,
) -> Residence:
    """The person now lives at ``address``: the previous current residence ends, a new one starts."""
    today = timezone.localdate()
    current = list(Residence.objects.filter(person=person, until__isnull=True))
    for residence in current:
        if residence.address_id == address.pk:
            residence.last_confirmed_at = timezone.now()
            residence.save(update_fields=["last_confirmed_at"])
            return residence
    Residence.objects.filter(pk__in=[r.pk for r in current]).update(until=today, updated_at=timezone.now())
    residence = Residence(person=person, address=address, kind=kind, since=since or today, source=source)
    _place(residence, address)
    residence.save()
    _place(person, address)
    Person.objects.filter(pk=person.pk).update(
        community_id=person.community_id, grid_id=person.grid_id, version=F("version") + 1
    )
    person.version += 1
    change_row(
        RecordKind.PERSON,
        person.pk,
        "move",
        changes={"address": [current[0].address.full_name if current else "", address.full_name]},
        actor=actor,
        source=source,
    ).save()
    return residence


@transaction.atomic
def person_move_out(*, person: Person, actor, note: str = "") -> int:
    """The person no longer lives at the current address (moved away, unknown where)."""
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    ended = Residence.objects.filter(person=person, until__isnull=True).update(
        until=timezone.localdate(), updated_at=timezone.now()
    )
    change_row(RecordKind.PERSON, person.pk, "move_out", actor=actor, note=note).save()
    return ended


@transaction.atomic
def person_reveal(*, person: Person, actor, reason: str) -> dict[str, str]:
    """The unmasked ID number and phone, for somebody allowed, with a reason; logged (who, whom, when, why)."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("registry.reason_required", _("Say why you need the full data."), field="reason")
    if not may_reveal(actor, person):
        raise _denied(_("You may not see this person's full data."))
    AccessLog.objects.create(
        record_kind=RecordKind.PERSON,
        record_id=person.pk,
        actor=actor,
        action="reveal",
        from_state="",
        to_state="",
        note=reason,
        payload={"fields": ["id_number", "phone"]},
    )
    return {"id_number": person.id_number, "phone": person.phone}


@transaction.atomic
def person_tag(*, person: Person, actor, group: str, since: date | None = None, note: str = "") -> PersonTag:
    """Tag a person with a key group (for the care modules)."""
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    tag, created = PersonTag.objects.get_or_create(
        person=person, group=group, defaults={"since": since or timezone.localdate(), "note": note}
    )
    if created:
        change_row(RecordKind.PERSON, person.pk, "tag", changes={"tag": ["", group]}, actor=actor).save()
    return tag


# --- legal entities -----------------------------------------------------------------


@transaction.atomic
def entity_register(*, actor, source=None, data: dict, note: str = "") -> tuple[LegalEntity, bool]:
    """Create a legal entity, or update the one with this credit code; ``address`` sets where it operates."""
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_entity(data)
    cleaned.raise_if_errors()
    values = cleaned.values
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    entity = LegalEntity.objects.select_for_update().filter(credit_code=values["credit_code"]).first()
    created = entity is None
    if created:
        entity = LegalEntity(credit_code=values["credit_code"], source=source)
        for name in ENTITY_FIELDS:
            if name in values:
                setattr(entity, name, values[name])
        _place(entity, address)
        entity.save()
        change_row(RecordKind.ENTITY, entity.pk, "create", actor=actor, source=source, note=note).save()
    else:
        if actor is not None and not in_scope(actor, entity) and entity.community_id is not None:
            raise _denied(_("This entity is recorded outside your jurisdiction."))
        changes = diff(entity, values, ENTITY_FIELDS)
        entity.last_confirmed_at = timezone.now()
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
    """The entity now operates at ``address`` (the previous current operation ends)."""
    current = list(Operation.objects.filter(entity=entity, until__isnull=True))
    for operation in current:
        if operation.address_id == address.pk:
            return operation
    Operation.objects.filter(pk__in=[o.pk for o in current]).update(
        until=timezone.localdate(), updated_at=timezone.now()
    )
    operation = Operation(entity=entity, address=address, since=since or timezone.localdate(), source=source)
    _place(operation, address)
    operation.save()
    _place(entity, address)
    LegalEntity.objects.filter(pk=entity.pk).update(community_id=entity.community_id, grid_id=entity.grid_id)
    change_row(
        RecordKind.ENTITY,
        entity.pk,
        "move",
        changes={"address": ["", address.full_name]},
        actor=actor,
        source=source,
    ).save()
    return operation


@transaction.atomic
def entity_correct(
    *, entity: LegalEntity, actor, data: dict, note: str, expected_version: int | None = None
) -> LegalEntity:
    """A correction on the spot of a legal entity's fields (not its credit code)."""
    if not may_edit(actor, entity):
        raise _denied(_("You may not change this record."))
    if not (note or "").strip():
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    entity = LegalEntity.objects.select_for_update().get(pk=entity.pk)
    _check_version(entity, expected_version)
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
        RecordKind.ENTITY, entity.pk, "correct", changes=changes, actor=actor, note=note.strip()
    ).save()
    return entity


# --- housing ------------------------------------------------------------------------


@transaction.atomic
def housing_register(*, actor, source=None, data: dict, note: str = "") -> tuple[Housing, bool]:
    """Create or update the housing record of one standard address (room, or a whole building)."""
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_housing(data)
    cleaned.raise_if_errors()
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    housing = Housing.objects.select_for_update().filter(address=address).first()
    created = housing is None
    if created:
        housing = Housing(address=address, source=source)
        _place(housing, address)
        diff(housing, cleaned.values, HOUSING_FIELDS)
        housing.save()
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
    """A correction on the spot of a room's use, owner, rental flag or occupancy."""
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


# --- eligibility rules --------------------------------------------------------------


@transaction.atomic
def eligibility_rule_save(*, actor, rule: EligibilityRule | None = None, **fields) -> EligibilityRule:
    """Create or change an eligibility rule (administrators)."""
    if role_of(actor) != "administrator":
        raise _denied(_("Only administrators edit eligibility rules."))
    rule = rule or EligibilityRule()
    for name, value in fields.items():
        setattr(rule, name, value)
    errors = []
    if rule.min_age is not None and rule.max_age is not None and rule.min_age > rule.max_age:
        errors.append(FieldError("max_age", "rule.age_range", _("The maximum age is below the minimum age.")))
    if not (rule.service or "").strip():
        errors.append(FieldError("service", "required", _("Name the service.")))
    if errors:
        raise ServiceError(errors[0].code, errors[0].message, field=errors[0].field, fields=errors)
    rule.save()
    return rule


@transaction.atomic
def merge_conflict_resolve(*, issue, actor, accept: bool) -> None:
    """A data steward settles a merge conflict: keep the stored value, or take the other department's."""
    from zhiwang.registry.models import ImportIssue

    if not may_import(actor):
        raise _denied(_("Only data stewards settle merge conflicts."))
    issue = ImportIssue.objects.select_for_update().select_related("batch__source").get(pk=issue.pk)
    if issue.code != "merge.conflict" or issue.record_id is None:
        raise ServiceError("registry.not_a_conflict", _("This line is not a merge conflict."))
    if issue.resolved_at is not None:
        raise Conflict("registry.already_resolved", _("Somebody settled this conflict already."))
    if accept:
        model = Person if issue.batch.kind == RecordKind.PERSON else LegalEntity
        record = model.objects.get(pk=issue.record_id)
        note = _("Merge conflict settled: value of %(source)s (import #%(batch)s, row %(row)s).") % {
            "source": issue.batch.source.name,
            "batch": issue.batch_id,
            "row": issue.row,
        }
        correct = person_correct if model is Person else entity_correct
        kwargs = {"person": record} if model is Person else {"entity": record}
        correct(**kwargs, actor=actor, data={issue.field: issue.value}, note=note)
    issue.resolved_at = timezone.now()
    issue.resolved_by = actor
    issue.resolution = "accepted" if accept else "kept"
    issue.save(update_fields=["resolved_at", "resolved_by", "resolution"])


def not_found() -> NotFound:
    return NotFound("registry.not_found", _("No such record in your jurisdiction."))
