"""Writers of one chunk per record kind: people (with residences), legal entities (with
operations) and housing. Each reads the chunk's existing records once by natural key,
inserts the new ones as plain rows (``imports.copy.insert_rows``: COPY + one INSERT … ON
CONFLICT on PostgreSQL, one ``executemany`` on SQLite) and updates the existing ones
with ``bulk_update`` and history rows. They run inside the chunk's transaction.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.imports.copy import (
    RaceLost,
    existing_hashes,
    existing_keys,
    insert_rows,
    insert_skipping,
)
from zhiwang.registry.models import (
    EntitySource,
    Housing,
    IssueSeverity,
    LegalEntity,
    Operation,
    Person,
    PersonSource,
    RecordKind,
    Residence,
)
from zhiwang.registry.services import ENTITY_FIELDS, HOUSING_FIELDS, PERSON_FIELDS, change_row, diff
from zhiwang.registry.services.places import (
    SINCE_BEFORE_CURRENT,
    SINCE_BEFORE_PREVIOUS,
    SinceBeforePrevious,
    cut_short,
    latest_start,
    move_end,
)

if TYPE_CHECKING:
    from zhiwang.registry.imports.chunk import Chunk


_ID_HASH = itemgetter("id_number_hash")

#: What an update by an import rewrites besides the record's own fields (provenance and version).
PROVENANCE_UPDATE = ("import_batch", "import_row", "last_confirmed_at", "source", "version", "updated_at")


def _sources_confirm(model, field: str, records, batch, now) -> None:
    """Record that ``batch``'s department confirmed ``records`` now (one row per record and source)."""
    model.objects.bulk_create(
        [
            model(**{field: record}, source=batch.source, import_batch=batch, last_confirmed_at=now)
            for record in records
        ],
        update_conflicts=True,
        unique_fields=[field, "source"],
        update_fields=["import_batch", "last_confirmed_at"],
        batch_size=1000,
    )


# --- people -------------------------------------------------------------------------


def _people(chunk: Chunk) -> None:
    """People: new ones inserted as plain rows, existing ones updated (history, merge, sources).

    Every candidate is inserted at once (``INSERT … ON CONFLICT DO NOTHING``, see
    ``copy.insert_skipping``): the unique index is probed once instead of twice, and the rows
    it refused are the existing people, which are then read and updated."""
    run, batch, now = chunk.run, chunk.batch, chunk.run.now
    id_hash, phone_hash = run.id_hash, run.phone_hash
    good = chunk.clean()
    run.prefetch(values.get("address") for _row, _raw, values in good)
    by_key: dict[str, tuple[int, dict, dict]] = {}
    prepared = chunk.prepared  # hashed ahead by the reading worker
    for row, raw, values in good:
        key = prepared[row][1] if row in prepared else id_hash(values["id_number"])
        if key in by_key:
            chunk.duplicate(row, by_key[key][0], raw, "id_number")
            continue
        by_key[key] = (row, raw, values)
    earlier = chunk.earlier(by_key)  # validate-only: keys an earlier (rolled-back) chunk holds
    existing: dict[str, Person] = {}
    # New people are plain rows (no model objects): the fields below, the rest shared or default.
    new: list[dict] = []
    places: dict[str, StandardAddress] = {}
    for key, (row, raw, values) in by_key.items():
        address = chunk.place(row, raw, values) if values.get("address") else None
        if address is not None:
            places[key] = address
        if key in earlier:  # reported as a duplicate below
            continue
        record = {
            "id_number": values["id_number"],
            "id_number_hash": key,
            "name": values["name"],
            "gender": values["gender"],
            "birth_date": values["birth_date"],
            "import_row": row,
        }
        for name in PERSON_FIELDS:
            if name in values:
                record[name] = values[name]
        record["phone_hash"] = prepared[row][2] if row in prepared else phone_hash(record.get("phone", ""))
        if address is not None:
            record["community_id"], record["grid_id"] = address.community_id, address.grid_id
        new.append(record)
    ids: dict[str, int] = {}
    refused: list[str] = []
    if new:
        # In key order: the unique index is a random hash, and consecutive keys share its pages
        # (fewer pages visited and written per chunk; the person ids follow this order).
        new.sort(key=_ID_HASH)
        ids, refused = insert_skipping(
            Person,
            new,
            shared={
                "created_at": now,
                "updated_at": now,
                "last_confirmed_at": now,
                "source_id": batch.source_id,
                "import_batch_id": batch.pk,
            },
            key="id_number_hash",
            want_ids=bool(places),
        )
    if refused:
        existing = _people_by_hash(existing_hashes(refused).values())
        if len(existing) != len(refused):  # refused, yet gone (deleted meanwhile): redo the chunk
            raise RaceLost(Person._meta.label)
    chunk.created += len(new) - len(refused)
    if existing:
        chunk.merge_prepare([(existing[key], entry[2]) for key, entry in by_key.items() if key in existing])
    # The current residences of the existing people the file places: read before any is updated,
    # so a row dated on or before its person's current residence leaves the residence as it is.
    placed_ids = [person.pk for key, person in existing.items() if key in places]
    current = _current_residences(placed_ids)
    starts = [by_key[key][2].get("since") or run.today for key in existing if key in places]
    ended = _ended_residences(placed_ids, min(starts)) if starts else {}
    changed, moves = [], []
    for key, (row, raw, values) in by_key.items():
        if key in earlier:  # as a real import reports a person this batch already stamped
            chunk.duplicate(row, earlier[key], raw, "id_number")
            continue
        address = places.get(key)
        person = existing.get(key)
        if person is None:
            if address is not None:
                # A new person has no residence yet and already carries the address's community and grid.
                moves.append(
                    (_Placed(ids[key], address.community_id, address.grid_id), address, values.get("since"))
                )
            continue
        if person.import_batch_id == batch.pk:
            chunk.duplicate(row, person.import_row, raw, "id_number")
            continue
        if address is not None and (
            _moves_before_current(chunk, row, raw, values, address, current.get(person.pk))
            or _starts_before_ended(
                chunk, row, raw, values, address, current.get(person.pk), ended.get(person.pk)
            )
        ):
            address = None  # the row lands; its older address is not taken
        chunk.merge(row, raw, person, values)
        chunk.keep_first_source(person)
        changes = diff(person, values, PERSON_FIELDS)
        person.phone_hash = phone_hash(person.phone)
        chunk.stamp(person, row)
        person.updated_at = now
        chunk.count_update(RecordKind.PERSON, person, changes)
        changed.append(person)
        if address is not None:
            moves.append((person, address, values.get("since")))
    if changed:
        Person.objects.bulk_update(
            changed,
            [*PERSON_FIELDS, "phone_hash", *PROVENANCE_UPDATE],
            batch_size=500,
        )
    _residences(chunk, moves, current, ended)
    _sources_confirm(PersonSource, "person", changed, batch, now)
    chunk.hold(by_key)


def _people_by_hash(pks) -> dict[str, Person]:
    pks = list(pks)
    if not pks:
        return {}
    return {p.id_number_hash: p for p in Person.objects.filter(pk__in=pks).select_related("source")}


class _Placed:
    """A just-inserted person as ``_residences`` needs it: id, community and grid."""

    __slots__ = ("pk", "community_id", "grid_id")

    def __init__(self, pk: int, community_id, grid_id):
        self.pk, self.community_id, self.grid_id = pk, community_id, grid_id


def _current_residences(person_ids: list[int]) -> dict[int, list[Residence]]:
    """The current (open) residences of these people, by person."""
    current: dict[int, list[Residence]] = {}
    for start in range(0, len(person_ids), 900):
        for residence in (
            Residence.objects.filter(person_id__in=person_ids[start : start + 900], until__isnull=True)
            .select_related("address")
            .only("pk", "person_id", "address_id", "since", "address__full_name")
        ):
            current.setdefault(residence.person_id, []).append(residence)
    return current


def _ended_residences(person_ids: list[int], earliest) -> dict[int, list[Residence]]:
    """The ended residences of these people whose last day is on or after ``earliest`` (the
    earliest start a row of the chunk gives them), by person: those a new residence may overlap."""
    ended: dict[int, list[Residence]] = {}
    for start in range(0, len(person_ids), 900):
        for residence in (
            Residence.objects.filter(person_id__in=person_ids[start : start + 900], until__gte=earliest)
            .select_related("address")
            .only("pk", "person_id", "address_id", "since", "until", "address__full_name")
            .order_by("-until", "-pk")
        ):
            ended.setdefault(residence.person_id, []).append(residence)
    return ended


def _starts_before_ended(chunk: Chunk, row: int, raw: dict, values: dict, address, mine, theirs) -> bool:
    """The row would start its person's new residence (from ``since``, the import's day when the
    file gives none) inside an ended residence that began on or after that day
    (``services.places.cut_short``): the two would share days, the person listed in two rooms.
    Reported as a warning (``registry.since_before_previous``) and the address is not taken; the
    rest of the row lands, as for ``_moves_before_current``. An ended residence that began before
    is cut short instead (``_residences``). The same address as a current residence only confirms
    it, whatever the date."""
    if not theirs or any(r.address_id == address.pk for r in mine or ()):
        return False
    try:
        cut_short(values.get("since") or chunk.run.today, theirs, today=chunk.run.today)
    except SinceBeforePrevious as refused:
        start, until = refused.start, refused.until
    else:
        return False
    if values.get("since") is not None:
        message = _(
            "The previous residence began on %(start)s and ended on %(until)s; this row dates the new "
            "residence %(since)s, not after its start: the address was not taken (the rest of the row "
            "was)."
        ) % {"start": start.isoformat(), "until": until.isoformat(), "since": values["since"].isoformat()}
    else:
        message = _(
            "The previous residence began and ended on %(start)s, the day of this import, and the row "
            "gives no date: the address was not taken (the rest of the row was)."
        ) % {"start": start.isoformat()}
    error = FieldError(field="since", code=SINCE_BEFORE_PREVIOUS, message=message)
    chunk.issue(row, error, IssueSeverity.WARNING, raw)
    return True


def _moves_before_current(chunk: Chunk, row: int, raw: dict, values: dict, address, mine) -> bool:
    """The row would move its person from ``since`` (the import's day when the file gives none)
    not after their current residence began (``services.places.move_since``): the registry knows a
    newer place than the file. Reported as a warning (``registry.since_before_current``) and the
    move is not made; the rest of the row lands, as a merge conflict's does."""
    if not mine or any(r.address_id == address.pk for r in mine):
        return False
    latest = latest_start(mine)
    if latest is None or (values.get("since") or chunk.run.today) > latest:
        return False
    if values.get("since") is not None:
        message = _(
            "The current residence began on %(start)s; this row dates the move %(since)s, not after "
            "it: the address was not taken (the rest of the row was)."
        ) % {"start": latest.isoformat(), "since": values["since"].isoformat()}
    else:
        message = _(
            "The current residence began on %(start)s, the day of this import, and the row gives no "
            "date: the address was not taken (the rest of the row was)."
        ) % {"start": latest.isoformat()}
    error = FieldError(field="since", code=SINCE_BEFORE_CURRENT, message=message)
    chunk.issue(row, error, IssueSeverity.WARNING, raw)
    return True


def _residences(
    chunk: Chunk,
    moves: list[tuple[Person | _Placed, StandardAddress, object]],
    current: dict[int, list[Residence]],
    ended_before: dict[int, list[Residence]],
) -> None:
    """Current residence per person: unchanged → confirmed; moved → the old one ends, a new one starts.

    ``current``: the open residences of the existing people among ``moves``
    (``_current_residences``); just-inserted people (``_Placed``) have none. ``ended_before``: their
    ended residences a new one may overlap (``_ended_residences``): those reaching into it end the
    day before it too (``services.places.cut_short``; a row that may not cut one short was reported
    and dropped by ``_starts_before_ended``)."""
    if not moves:
        return
    batch, now, today = chunk.batch, chunk.run.now, chunk.run.today
    new, confirmed, placed = [], [], []
    ended: dict = {}  # end date → residences ending then (the day before each new one starts)
    for person, address, since in moves:
        mine = sorted(current.get(person.pk, []), key=lambda r: r.pk)
        if any(r.address_id == address.pk for r in mine):
            confirmed.extend(r.pk for r in mine if r.address_id == address.pk)
            continue
        # A row without 入住日期 says where the person lives, not since when: the new residence's
        # start stays unknown (None), never the import's day, so a later registration or file with
        # the person's real date is not refused as "before the current residence"
        # (``places.latest_start`` skips unknown starts). The residence it replaces ended by the
        # import's day at the latest: the day before.
        theirs = cut_short(since or today, ended_before.get(person.pk, []), today=today)
        for residence in [*mine, *theirs]:
            ended.setdefault(move_end(since or today, residence.since), []).append(residence.pk)
        new.append(
            {
                "person_id": person.pk,
                "address_id": address.pk,
                "since": since,
                "community_id": address.community_id,
                "grid_id": address.grid_id,
            }
        )
        if person.community_id != address.community_id or person.grid_id != address.grid_id or mine:
            person.community_id, person.grid_id = address.community_id, address.grid_id
            placed.append(person)
        previous = mine[0] if mine else (theirs[0] if theirs else None)
        if previous is not None:
            chunk.history.append(
                change_row(
                    RecordKind.PERSON,
                    person.pk,
                    "move",
                    changes={"address": [previous.address.full_name, address.full_name]},
                    source=batch.source,
                    batch=batch,
                )
            )
    for until, pks in ended.items():
        for start in range(0, len(pks), 900):
            Residence.objects.filter(pk__in=pks[start : start + 900]).update(until=until, updated_at=now)
    for start in range(0, len(confirmed), 900):
        Residence.objects.filter(pk__in=confirmed[start : start + 900]).update(last_confirmed_at=now)
    insert_rows(
        Residence,
        new,
        shared={
            "created_at": now,
            "updated_at": now,
            "last_confirmed_at": now,
            "source_id": batch.source_id,
            "import_batch_id": batch.pk,
        },
    )
    if placed:
        Person.objects.bulk_update(placed, ["community", "grid"], batch_size=500)


# --- legal entities -----------------------------------------------------------------


def _entities(chunk: Chunk) -> None:
    batch, now, today = chunk.batch, chunk.run.now, chunk.run.today
    by_key: dict[str, tuple[int, dict, dict]] = {}
    for row, raw, values in chunk.clean():
        key = values["credit_code"]
        if key in by_key:
            chunk.duplicate(row, by_key[key][0], raw, "credit_code")
            continue
        by_key[key] = (row, raw, values)
    chunk.run.prefetch(values.get("address") for _row, _raw, values in by_key.values())
    earlier = chunk.earlier(by_key)  # validate-only: keys an earlier (rolled-back) chunk holds
    known = existing_keys(LegalEntity, "credit_code", list(by_key))
    existing = (
        {
            e.credit_code: e
            for e in LegalEntity.objects.filter(pk__in=list(known.values())).select_related("source")
        }
        if known
        else {}
    )
    # New entities are plain rows (no model objects), as new people are.
    new: list[dict] = []
    new_places: list[tuple[str, StandardAddress, object]] = []
    changed, places = [], []
    if existing:
        chunk.merge_prepare([(existing[key], entry[2]) for key, entry in by_key.items() if key in existing])
    for key, (row, raw, values) in by_key.items():
        address = chunk.place(row, raw, values)
        if key in earlier:  # as a real import reports an entity this batch already stamped
            chunk.duplicate(row, earlier[key], raw, "credit_code")
            continue
        entity = existing.get(key)
        if entity is None:
            record = {"credit_code": key, "import_row": row}
            for name in ENTITY_FIELDS:
                if name in values:
                    record[name] = values[name]
            if address is not None:
                record["community_id"], record["grid_id"] = address.community_id, address.grid_id
                new_places.append((key, address, values.get("since")))
            new.append(record)
            chunk.created += 1
            continue
        if entity.import_batch_id == batch.pk:
            chunk.duplicate(row, entity.import_row, raw, "credit_code")
            continue
        chunk.merge(row, raw, entity, values)
        chunk.keep_first_source(entity)
        changes = diff(entity, values, ENTITY_FIELDS)
        chunk.stamp(entity, row)
        entity.updated_at = now
        chunk.count_update(RecordKind.ENTITY, entity, changes)
        changed.append(entity)
        if address is not None:
            places.append((entity, address, values.get("since")))
    shared = {
        "created_at": now,
        "updated_at": now,
        "last_confirmed_at": now,
        "source_id": batch.source_id,
        "import_batch_id": batch.pk,
    }
    if new:
        ids = insert_rows(
            LegalEntity, new, shared=shared, key="credit_code" if new_places else None, conflict="credit_code"
        )
    if changed:
        LegalEntity.objects.bulk_update(
            changed,
            [*ENTITY_FIELDS, *PROVENANCE_UPDATE],
            batch_size=500,
        )
    current: dict[int, list[Operation]] = {}
    known_ids = [e.pk for e, _a, _s in places]
    for start in range(0, len(known_ids), 900):
        for op in (
            Operation.objects.filter(entity_id__in=known_ids[start : start + 900], until__isnull=True)
            .select_related("address")
            .only("pk", "entity_id", "address_id", "since", "address__full_name")
        ):
            current.setdefault(op.entity_id, []).append(op)
    # A new entity has no operation yet and already carries the address's community and grid.
    placed = [(_Placed(ids[key], a.community_id, a.grid_id), a, since) for key, a, since in new_places]
    new_ops, moved = [], []
    ended: dict = {}  # end date → operations ending then (the day before each new one starts)
    for entity, address, since in [*places, *placed]:
        mine = sorted(current.get(entity.pk, []), key=lambda o: o.pk)
        if any(o.address_id == address.pk for o in mine):
            continue
        # No date in the file: the start at this address is unknown (None), as a person's
        # residence's (``_residences``); the operation it replaces ends the day before the import's.
        for operation in mine:
            ended.setdefault(move_end(since or today, operation.since), []).append(operation.pk)
        new_ops.append(
            {
                "entity_id": entity.pk,
                "address_id": address.pk,
                "since": since,
                "community_id": address.community_id,
                "grid_id": address.grid_id,
            }
        )
        if not isinstance(entity, _Placed):
            entity.community_id, entity.grid_id = address.community_id, address.grid_id
            moved.append(entity)
        if mine:  # a move, recorded as a person's (``_residences``) and ``entity_locate``'s are
            chunk.history.append(
                change_row(
                    RecordKind.ENTITY,
                    entity.pk,
                    "move",
                    changes={"address": [mine[0].address.full_name, address.full_name]},
                    source=batch.source,
                    batch=batch,
                )
            )
    for until, pks in ended.items():
        for start in range(0, len(pks), 900):
            Operation.objects.filter(pk__in=pks[start : start + 900]).update(until=until, updated_at=now)
    insert_rows(Operation, new_ops, shared=shared)
    if moved:
        LegalEntity.objects.bulk_update(moved, ["community", "grid"], batch_size=500)
    _sources_confirm(EntitySource, "entity", changed, batch, now)
    chunk.hold(by_key)


# --- housing ------------------------------------------------------------------------


def _housing(chunk: Chunk) -> None:
    batch, now = chunk.batch, chunk.run.now
    by_key: dict[int, tuple[int, dict, dict, StandardAddress]] = {}
    good = chunk.clean()
    chunk.run.prefetch(values.get("address") for _row, _raw, values in good)
    for row, raw, values in good:
        address = chunk.place(row, raw, values, required=True)
        if address is None:
            chunk.rejected += 1
            continue
        if address.pk in by_key:
            chunk.duplicate(row, by_key[address.pk][0], raw, "address")
            continue
        by_key[address.pk] = (row, raw, values, address)
    earlier = chunk.earlier(by_key)  # validate-only: keys an earlier (rolled-back) chunk holds
    known = existing_keys(Housing, "address_id", list(by_key))
    existing = {h.address_id: h for h in Housing.objects.filter(pk__in=list(known.values()))} if known else {}
    new: list[dict] = []
    changed = []
    for key, (row, raw, values, address) in by_key.items():
        if key in earlier:  # as a real import reports housing this batch already stamped
            chunk.duplicate(row, earlier[key], raw, "address")
            continue
        housing = existing.get(key)
        if housing is None:
            # A plain row, as new people and entities are.
            record = {
                "address_id": key,
                "community_id": address.community_id,
                "grid_id": address.grid_id,
                "import_row": row,
            }
            for name in HOUSING_FIELDS:
                if name in values:
                    record[name] = values[name]
            new.append(record)
            chunk.created += 1
        else:
            if housing.import_batch_id == batch.pk:
                chunk.duplicate(row, housing.import_row, raw, "address")
                continue
            changes = diff(housing, values, HOUSING_FIELDS)
            chunk.stamp(housing, row)
            housing.updated_at = now
            if changes:
                housing.version += 1
                chunk.history.append(
                    change_row(
                        RecordKind.HOUSING,
                        housing.pk,
                        "import",
                        changes=changes,
                        source=batch.source,
                        batch=batch,
                    )
                )
                chunk.updated += 1
            else:
                chunk.unchanged += 1
            changed.append(housing)
    insert_rows(
        Housing,
        new,
        shared={
            "created_at": now,
            "updated_at": now,
            "last_confirmed_at": now,
            "source_id": batch.source_id,
            "import_batch_id": batch.pk,
        },
        conflict="address_id",
    )
    if changed:
        Housing.objects.bulk_update(
            changed,
            [*HOUSING_FIELDS, *PROVENANCE_UPDATE],
            batch_size=500,
        )
    chunk.hold(by_key)
