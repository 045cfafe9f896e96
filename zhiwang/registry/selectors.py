"""Reads of the registry, always scoped to who is asking (``visible_to(user)``).

Answers carry masked values by default (the ``masked_*`` properties of the models);
the unmasked ones come only from ``services.person_reveal`` (permissioned, logged).
Search by ID number or phone hashes the query and looks the hash up: the plain
column is never scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat
from django.utils import timezone

from zhiwang.core.validators import normalize_identifier
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, Division, StandardAddress
from zhiwang.registry.hashing import id_number_hash, normalize_phone, phone_hash
from zhiwang.registry.models import (
    SENSITIVE_KEY_GROUPS,
    AccessLog,
    EligibilityRule,
    EntitySource,
    Housing,
    ImportBatch,
    ImportIssue,
    LegalEntity,
    Operation,
    Person,
    PersonSource,
    PersonTag,
    RecordChange,
    Residence,
)
from zhiwang.registry.services import may_edit, may_reveal, not_found, role_of  # noqa: F401 (re-exported for views)

#: Roles that see sensitive key-group tags (need-to-know); others see the harmless ones.
SENSITIVE_TAG_ROLES = frozenset({"administrator", "grid_worker"})


def _current(qs: QuerySet, today: date | None = None) -> QuerySet:
    today = today or timezone.localdate()
    return qs.filter(Q(until__isnull=True) | Q(until__gte=today))


# --- people -------------------------------------------------------------------------


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


def person_search(*, user, q: str = "", limit: int | None = 50) -> QuerySet[Person]:
    """People by name (prefix), ID number or phone (exact, through the keyed hash); ``limit=None``: all."""
    qs = person_visible(user=user).select_related("community")
    q = (q or "").strip()
    ident = normalize_identifier(q)
    if not q:
        qs = qs.order_by("name", "pk")
    elif len(ident) == 18 and ident[:17].isdigit():
        qs = qs.filter(id_number_hash=id_number_hash(ident))
    elif (phone := normalize_phone(q)) and len(phone) >= 7:
        qs = qs.filter(phone_hash=phone_hash(phone))
    else:
        qs = qs.filter(name__startswith=q).order_by("name", "pk")
    return qs if limit is None else qs[:limit]


def person_residences(*, user, person: Person) -> list[Residence]:
    return list(Residence.objects.filter(person=person).select_related("address").order_by("-since", "-pk"))


def visible_tags(*, user, person: Person) -> list[PersonTag]:
    tags = list(_current(PersonTag.objects.filter(person=person)))
    if role_of(user) not in SENSITIVE_TAG_ROLES:
        tags = [t for t in tags if t.group not in SENSITIVE_KEY_GROUPS]
    return tags


def record_history(*, user, kind: str, record_id: int) -> QuerySet[RecordChange]:
    """The change history of one record (the caller has already fetched the record through its scope)."""
    return (
        RecordChange.objects.filter(record_kind=kind, record_id=record_id)
        .select_related("actor", "source", "import_batch")
        .order_by("-at", "-pk")
    )


def access_log(*, user, kind: str, record_id: int) -> QuerySet[AccessLog]:
    """Who saw this record's full data; only data stewards and administrators read the log."""
    if role_of(user) not in ("data_steward", "administrator"):
        return AccessLog.objects.none()
    return (
        AccessLog.objects.filter(record_kind=kind, record_id=record_id)
        .select_related("actor")
        .order_by("-at")
    )


def _sources(rows: list, record) -> list:
    """Each department's statement; a record only one department ever sent answers its own provenance."""
    if rows or record.source_id is None:
        return rows
    return [
        SimpleNamespace(
            source=record.source,
            last_confirmed_at=record.last_confirmed_at,
            import_batch_id=record.import_batch_id,
        )
    ]


def person_sources(*, person: Person) -> list:
    rows = list(
        PersonSource.objects.filter(person=person).select_related("source").order_by("-last_confirmed_at")
    )
    return _sources(rows, person)


# --- entities -----------------------------------------------------------------------


def entity_get(*, user, pk: int) -> LegalEntity:
    entity = (
        LegalEntity.objects.visible_to(user)
        .select_related("community", "grid", "source")
        .filter(pk=pk)
        .first()
    )
    if entity is None:
        raise not_found()
    return entity


#: A "contains" text needs this many characters before the trigram index can narrow it.
TRIGRAM_MIN_CHARS = 3


def entity_search(*, user, q: str = "", limit: int = 50) -> QuerySet[LegalEntity]:
    """Entities by credit code (exact) or name (contains)."""
    qs = LegalEntity.objects.visible_to(user).select_related("community")
    q = (q or "").strip()
    if not q:
        return qs.order_by("name", "pk")[:limit]
    code = normalize_identifier(q)
    if len(code) == 18 and code.isalnum():
        return qs.filter(credit_code=code)[:limit]
    matches = qs.filter(name__contains=q)
    if connection.vendor == "postgresql" and len(q) >= TRIGRAM_MIN_CHARS:
        # Ordered by an expression no b-tree provides, so the planner cannot walk the name
        # index filtering row after row (a rare text would scan millions): it reads the
        # trigram GIN index (migration 0006) and sorts the matches. Same order as by name.
        return matches.order_by(Concat("name", Value("")), "pk")[:limit]
    if connection.vendor == "postgresql" and len(q) == 2:
        # No whole trigram in two characters: the bigram GIN index (migration 0006) narrows a
        # rare pair; for a common one the planner still walks the name index (LIMIT stops early).
        matches = matches.filter(
            RawSQL(
                "registry_name_bigrams(registry_legalentity.name) @> ARRAY[%s]::text[]",
                [q],
                output_field=BooleanField(),
            )
        )
    # SQLite, one character, two on PostgreSQL: LIKE in name order.
    return matches.order_by("name", "pk")[:limit]


def entity_operations(*, entity: LegalEntity) -> list[Operation]:
    return list(Operation.objects.filter(entity=entity).select_related("address").order_by("-since", "-pk"))


def entity_sources(*, entity: LegalEntity) -> list:
    rows = list(
        EntitySource.objects.filter(entity=entity).select_related("source").order_by("-last_confirmed_at")
    )
    return _sources(rows, entity)


# --- places -------------------------------------------------------------------------


def address_visible(*, user) -> QuerySet[StandardAddress]:
    return StandardAddress.objects.visible_to(user)


def address_get(*, user, code: str) -> StandardAddress:
    address = (
        address_visible(user=user)
        .select_related("community", "grid", "parent", "parent__parent")
        .filter(code=code)
        .first()
    )
    if address is None:
        raise not_found()
    return address


def place_search(*, user, q: str) -> tuple[object, StandardAddress | None]:
    """Free-text address → (the match, the standard address if the user may see it)."""
    result = match_address(q or "")
    address = result.address
    if address is not None and not address_visible(user=user).filter(pk=address.pk).exists():
        address = None
    return result, address


def building_of(address: StandardAddress) -> StandardAddress:
    while address.parent_id is not None:
        address = address.parent
    return address


@dataclass
class RoomView:
    room: StandardAddress
    housing: Housing | None
    residents: list[Residence] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)


@dataclass
class UnitView:
    unit: StandardAddress | None
    rooms: list[RoomView] = field(default_factory=list)


@dataclass
class BuildingView:
    building: StandardAddress
    units: list[UnitView]
    building_housing: Housing | None
    building_operations: list[Operation]
    people: int
    migrants: int
    rentals: int
    entities: int


def building_view(*, user, building: StandardAddress, today: date | None = None) -> BuildingView:
    """Units, rooms, who lives in each, entities operating there, rental status: a fixed number of queries.

    The caller fetched ``building`` through ``address_get`` (scoped). Residents are the
    current residences at the building's rooms, read through the person scope.
    """
    today = today or timezone.localdate()
    # Descendants through the parent links (indexed), not a code prefix: on PostgreSQL a
    # LIKE 'code-%' cannot use the code's unique index and scans every address of the city.
    children = list(StandardAddress.objects.filter(parent_id=building.pk))
    unit_ids = [a.pk for a in children if a.level == AddressLevel.UNIT]
    grandchildren = list(StandardAddress.objects.filter(parent_id__in=unit_ids)) if unit_ids else []
    places = sorted([building, *children, *grandchildren], key=lambda a: a.code)
    ids = [a.pk for a in places]
    housing = {h.address_id: h for h in Housing.objects.filter(address_id__in=ids)}
    visible_people = person_visible(user=user)
    residences: dict[int, list[Residence]] = {}
    for r in (
        _current(Residence.objects.filter(address_id__in=ids), today)
        .filter(person__in=visible_people)
        .select_related("person")
        .order_by("person__name", "pk")
    ):
        residences.setdefault(r.address_id, []).append(r)
    operations: dict[int, list[Operation]] = {}
    for o in (
        _current(Operation.objects.filter(address_id__in=ids), today)
        .filter(entity__in=LegalEntity.objects.visible_to(user))
        .select_related("entity")
    ):
        operations.setdefault(o.address_id, []).append(o)
    units: dict[int | None, UnitView] = {}
    for a in places:
        if a.level == AddressLevel.UNIT:
            units[a.pk] = UnitView(unit=a)
    for a in places:
        if a.level == AddressLevel.ROOM:
            view = RoomView(
                room=a,
                housing=housing.get(a.pk),
                residents=residences.get(a.pk, []),
                operations=operations.get(a.pk, []),
            )
            unit = units.get(a.parent_id)
            if unit is None:
                unit = units.setdefault(None, UnitView(unit=None))
            unit.rooms.append(view)
    for unit in units.values():
        unit.rooms.sort(key=lambda v: (v.room.floor or 0, v.room.name))
    all_res = [r for rs in residences.values() for r in rs]
    return BuildingView(
        building=building,
        units=[units[k] for k in units if k is not None] + ([units[None]] if None in units else []),
        building_housing=housing.get(building.pk),
        building_operations=operations.get(building.pk, [])
        + [o for a in places if a.level == AddressLevel.UNIT for o in operations.get(a.pk, [])],
        people=len({r.person_id for r in all_res}),
        migrants=len({r.person_id for r in all_res if r.person.household_type == "migrant"}),
        rentals=sum(1 for h in housing.values() if h.is_rental),
        entities=len({o.entity_id for os in operations.values() for o in os}),
    )


def room_view(*, user, room: StandardAddress) -> RoomView:
    housing = Housing.objects.filter(address=room).first()
    residents = list(
        _current(Residence.objects.filter(address=room))
        .filter(person__in=person_visible(user=user))
        .select_related("person")
    )
    operations = list(
        _current(Operation.objects.filter(address=room))
        .filter(entity__in=LegalEntity.objects.visible_to(user))
        .select_related("entity")
    )
    return RoomView(room=room, housing=housing, residents=residents, operations=operations)


def room_history(*, user, room: StandardAddress) -> list[Residence]:
    """Everybody who ever lived in the room (past residences too), within the person scope."""
    return list(
        Residence.objects.filter(address=room, person__in=person_visible(user=user))
        .select_related("person")
        .order_by("-since", "-pk")
    )


# --- eligibility --------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    rule: EligibilityRule
    person: Person
    reason: str


def _rules() -> list[EligibilityRule]:
    return list(EligibilityRule.objects.filter(is_active=True).select_related("division"))


def _rule_matches(
    rule: EligibilityRule, person: Person, tags: set[str], community_code: str | None, today: date
) -> bool:
    age = person.age_on(today)
    if rule.min_age is not None and age < rule.min_age:
        return False
    if rule.max_age is not None and age > rule.max_age:
        return False
    if rule.gender and person.gender != rule.gender:
        return False
    if rule.household_type and person.household_type != rule.household_type:
        return False
    if rule.key_group and rule.key_group not in tags:
        return False
    if rule.division_id is not None:
        if community_code is None or not community_code.startswith(rule.division.code_prefix):
            return False
    return True


def eligibility_for_people(
    *, people: list[Person], today: date | None = None
) -> dict[int, list[EligibilityRule]]:
    """Which active rules each person meets today (age from the birth date, tags, household type, place)."""
    today = today or timezone.localdate()
    rules = _rules()
    if not rules or not people:
        return {}
    tags: dict[int, set[str]] = {}
    for person_id, group in _current(PersonTag.objects.filter(person__in=[p.pk for p in people])).values_list(
        "person_id", "group"
    ):
        tags.setdefault(person_id, set()).add(group)
    communities = dict(
        Division.objects.filter(pk__in={p.community_id for p in people if p.community_id}).values_list(
            "pk", "code"
        )
    )
    answer: dict[int, list[EligibilityRule]] = {}
    for person in people:
        matched = [
            r
            for r in rules
            if _rule_matches(
                r, person, tags.get(person.pk, set()), communities.get(person.community_id), today
            )
        ]
        if matched:
            answer[person.pk] = matched
    return answer


def person_eligibility(*, user, person: Person, today: date | None = None) -> list[EligibilityRule]:
    return eligibility_for_people(people=[person], today=today).get(person.pk, [])


# --- imports ------------------------------------------------------------------------


def import_batches(*, user) -> QuerySet[ImportBatch]:
    """Stewards see every batch; others none (an import is a city-level act)."""
    if role_of(user) not in ("data_steward", "administrator"):
        return ImportBatch.objects.none()
    return ImportBatch.objects.select_related("source", "template", "created_by").annotate(
        issue_count=Count("issues")
    )


def import_batch_get(*, user, pk: int) -> ImportBatch:
    batch = import_batches(user=user).filter(pk=pk).first()
    if batch is None:
        raise not_found()
    return batch


def import_issues(*, batch: ImportBatch) -> QuerySet[ImportIssue]:
    return ImportIssue.objects.filter(batch=batch).order_by("row", "pk")


def merge_conflicts(*, user, open_only: bool = True) -> QuerySet[ImportIssue]:
    """Merge conflicts the importer could not decide (another department names a record differently)."""
    if role_of(user) not in ("data_steward", "administrator"):
        return ImportIssue.objects.none()
    qs = ImportIssue.objects.filter(
        code="merge.conflict", record_id__isnull=False, batch__validate_only=False
    ).select_related("batch__source")
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    return qs.order_by("batch_id", "row")


def counts(*, user) -> dict[str, int]:
    """Totals for the registry home page (scoped)."""
    return {
        "people": person_visible(user=user).count(),
        "entities": LegalEntity.objects.visible_to(user).count(),
        "housing": Housing.objects.visible_to(user).count(),
        "rentals": Housing.objects.visible_to(user).filter(is_rental=True).count(),
    }
