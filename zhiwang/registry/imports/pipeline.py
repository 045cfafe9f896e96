"""The import pipeline: create a batch from a file, then run it chunk by chunk.

Each chunk (``batch.chunk_size`` data rows) is cleaned, matched and upserted in ONE
transaction together with its checkpoint row (``ImportChunk``), its report lines and
the batch counters. A crash (even ``kill -9``) loses at most the chunk being written,
and never half of it; running the batch again skips the committed chunks. Memory is
flat: one chunk of rows at a time, plus a bounded cache of matched addresses.

A record created by an import gets no history row of its own: its provenance
(``import_batch`` + ``import_row`` + ``source``) and the batch are that history, and the
pages show it as the first line. Every later change appends a ``RecordChange`` row.

Duplicates inside one file are found without keeping every key in memory: a record
already stamped with this batch (``import_batch``/``import_row``) was written by an
earlier row of the same file.

On PostgreSQL new people are written with ``COPY`` into a temporary staging table and
one ``INSERT … SELECT`` (``imports.copy``); elsewhere with batched inserts.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.geo.addressing import match_many
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.hashing import hasher
from zhiwang.registry.imports.copy import existing_hashes, insert_rows
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.registry.models import (
    EntitySource,
    Housing,
    ImportBatch,
    ImportChunk,
    ImportIssue,
    ImportStatus,
    IssueSeverity,
    LegalEntity,
    MappingTemplate,
    Operation,
    Person,
    PersonSource,
    RecordChange,
    RecordKind,
    Residence,
)
from zhiwang.registry.services import (
    CONFLICT_FIELDS,
    ENTITY_FIELDS,
    HOUSING_FIELDS,
    PERSON_FIELDS,
    change_row,
    diff,
    may_import,
    resolve_address,
)
from zhiwang.registry.validation import CLEANERS, FIELDS, REQUIRED, masked

ADDRESS_CACHE_SIZE = 20_000
MATCH_LEVELS = (AddressLevel.ROOM, AddressLevel.UNIT, AddressLevel.BUILDING)


def import_dir() -> Path:
    path = Path(getattr(settings, "ZHIWANG_REGISTRY_IMPORT_DIR", "") or Path(settings.DATA_DIR) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(batch_or_path, columns: dict, kind: str) -> SourceFile:
    return SourceFile(batch_or_path, columns, FIELDS[kind].keys())


def import_batch_create(
    *,
    actor,
    kind: str,
    source,
    file_path: Path | str,
    file_name: str = "",
    template: MappingTemplate | None = None,
    columns: dict[str, str] | None = None,
    chunk_size: int = 1000,
) -> ImportBatch:
    """Check the file's header against the template and register a batch (nothing imported yet).

    The file is copied into the import folder under its SHA-256, so the batch can be run
    (and resumed) later by a worker. The same file from the same department for the same
    kind answers the existing batch: uploading it again resumes, never duplicates.
    """
    if actor is not None and not may_import(actor):
        raise ServiceError("registry.permission_denied", _("Only data stewards import files."), status=403)
    if kind not in FIELDS:
        raise ServiceError("import.kind", _("Choose people, legal entities or housing."), field="kind")
    if source is None:
        raise ServiceError(
            "import.source_required", _("Choose the department the file comes from."), field="source"
        )
    mapping = dict(template.columns if template else {})
    mapping.update(columns or {})
    path = Path(file_path)
    sha = _sha256(path)
    existing = (
        ImportBatch.objects.filter(file_sha256=sha, kind=kind, source=source)
        .exclude(status=ImportStatus.FAILED)
        .first()
    )
    if existing is not None:
        return existing
    stored = import_dir() / f"{sha}{path.suffix.lower()}"
    if not stored.exists():
        shutil.copyfile(path, stored)
    source_file = _open(stored, mapping, kind)
    missing = [name for name in REQUIRED[kind] if name not in source_file.header.fields.values()]
    if missing:
        labels = "、".join(str(FIELDS[kind][m]) for m in missing)
        raise ServiceError(
            "import.missing_columns",
            _("The file has no column for: %(fields)s. Add them or fix the mapping template.")
            % {"fields": labels},
            field="file",
        )
    if chunk_size < 1 or chunk_size > 50_000:
        raise ServiceError(
            "import.chunk_size", _("Rows per chunk must be between 1 and 50,000."), field="chunk_size"
        )
    return ImportBatch.objects.create(
        kind=kind,
        source=source,
        template=template,
        columns=mapping,
        file_name=(file_name or path.name)[:255],
        file_path=str(stored),
        file_sha256=sha,
        chunk_size=chunk_size,
        encoding=source_file.encoding,
        rows_total=source_file.count_rows(),
        created_by=actor,
    )


def header_summary(batch: ImportBatch) -> dict:
    """Which file column went to which field, and which columns were ignored (for the report)."""
    source_file = _open(batch.file_path, batch.columns, batch.kind)
    return {
        "mapped": [
            (label, str(FIELDS[batch.kind][source_file.header.fields[col]]))
            for col, label in source_file.header.labels.items()
        ],
        "ignored": source_file.header.ignored,
        "header_row": source_file.header.row,
    }


class _Run:
    """State of one run of a batch: the address cache, the keyed hashers and the time stamp."""

    def __init__(self, batch: ImportBatch):
        self.batch = batch
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.addresses: OrderedDict[str, StandardAddress | None] = OrderedDict()
        self.labels: dict[str, str] = {}
        self.id_hash = hasher("id")
        phone = hasher("phone")
        self.phone_hash = lambda value: phone(value) if value else ""

    def prefetch(self, texts) -> None:
        """Resolve the chunk's distinct new address texts at once: codes by one query, the rest
        by ``match_many`` (one index pass, two bulk queries), as ``resolve_address`` would."""
        todo = list(dict.fromkeys(t for t in texts if t and t not in self.addresses))
        if not todo:
            return
        found: dict[str, StandardAddress | None] = {}
        stripped = {t: t.strip() for t in todo}
        codes = list(set(stripped.values()))
        by_code = {}
        for start in range(0, len(codes), 900):
            by_code.update(
                (a.code, a) for a in StandardAddress.objects.filter(code__in=codes[start : start + 900])
            )
        free = [t for t in todo if stripped[t] not in by_code]
        for text, match in zip(free, match_many([stripped[t] for t in free]), strict=True):
            ok = match.address is not None and match.level in MATCH_LEVELS
            found[text] = match.address if ok else None
        for text in todo:
            self.remember(text, by_code[stripped[text]] if stripped[text] in by_code else found[text])

    def remember(self, text: str, address: StandardAddress | None) -> None:
        self.addresses[text] = address
        if len(self.addresses) > ADDRESS_CACHE_SIZE:
            self.addresses.popitem(last=False)

    def address(self, text: str) -> StandardAddress | None:
        if text in self.addresses:
            self.addresses.move_to_end(text)
            return self.addresses[text]
        found = resolve_address(text)
        self.remember(text, found)
        return found


def import_batch_run(
    *,
    batch: ImportBatch,
    progress: Callable[[ImportBatch], None] | None = None,
    max_chunks: int | None = None,
) -> ImportBatch:
    """Import (or resume) a batch. ``max_chunks`` stops early (tests, step-wise workers)."""
    committed = set(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True))
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.RUNNING)
    try:
        source_file = _open(batch.file_path, batch.columns, batch.kind)
    except ServiceError as error:
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, error=error.message)
        batch.refresh_from_db()
        return batch
    run = _Run(batch)
    run.labels = {name: source_file.header.labels[col] for col, name in source_file.header.fields.items()}
    chunk: list[tuple[int, dict]] = []
    number, done = 0, 0
    try:
        for row in source_file.rows():
            chunk.append(row)
            if len(chunk) >= batch.chunk_size:
                number += 1
                if number not in committed:
                    _write_chunk(run, number, chunk)
                    done += 1
                    if progress:
                        batch.refresh_from_db()
                        progress(batch)
                    if max_chunks is not None and done >= max_chunks:
                        batch.refresh_from_db()
                        return batch
                chunk = []
        if chunk:
            number += 1
            if number not in committed:
                _write_chunk(run, number, chunk)
    except ServiceError as error:  # e.g. an encoding error half-way through the file
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, error=error.message)
        batch.refresh_from_db()
        return batch
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    batch.refresh_from_db()
    if progress:
        progress(batch)
    return batch


class _Chunk:
    """The outcome of one chunk, written in one go."""

    def __init__(self, run: _Run, rows: list[tuple[int, dict]]):
        self.run = run
        self.batch = run.batch
        self.rows = rows
        self.issues: list[ImportIssue] = []
        self.history: list[RecordChange] = []
        self.created = self.updated = self.unchanged = self.rejected = 0
        self.columns = {}

    def issue(self, row: int, error: FieldError, severity: str, raw: dict) -> None:
        self.issues.append(
            ImportIssue(
                batch=self.batch,
                row=row,
                field=error.field or "",
                column=self.run.labels.get(error.field or "", "")[:64],
                severity=severity,
                code=error.code,
                message=str(error.message)[:500],
                value=masked(error.field, raw.get(error.field)) if error.field else "",
            )
        )

    def duplicate(self, row: int, first_row: int | None, raw: dict, key_field: str) -> None:
        self.rejected += 1
        self.issue(
            row,
            FieldError(
                key_field,
                "row.duplicate",
                _("The same record is already in row %(row)s of this file; this row was skipped.")
                % {"row": first_row or "?"},
            ),
            IssueSeverity.ERROR,
            raw,
        )

    def clean(self) -> list[tuple[int, dict, object]]:
        good = []
        cleaner = CLEANERS[self.batch.kind]
        for row, raw in self.rows:
            cleaned = cleaner(raw)
            for error in cleaned.errors:
                self.issue(row, error, IssueSeverity.ERROR, raw)
            for warning in cleaned.warnings:
                self.issue(row, warning, IssueSeverity.WARNING, raw)
            if cleaned.errors:
                self.rejected += 1
            else:
                good.append((row, raw, cleaned.values))
        return good

    def place(self, row: int, raw: dict, values: dict, *, required: bool = False) -> StandardAddress | None:
        text = values.get("address") or ""
        if not text:
            return None
        found = self.run.address(text)
        if found is None:
            error = FieldError(
                "address",
                "address.unmatched",
                _("No standard address (building, unit or room) matches this address."),
            )
            self.issue(row, error, IssueSeverity.ERROR if required else IssueSeverity.WARNING, raw)
        return found

    def merge(self, row: int, raw: dict, record, values: dict) -> None:
        """Another department says something else about a protected field: keep it, report it."""
        if record.source_id is None or record.source_id == self.batch.source_id:
            return
        for name in CONFLICT_FIELDS[self.batch.kind]:
            if name in values and values[name] and values[name] != getattr(record, name):
                self.issue(
                    row,
                    FieldError(
                        name,
                        "merge.conflict",
                        _("%(source)s records “%(kept)s” here; kept it. A data steward decides.")
                        % {
                            "source": record.source.name if record.source else "?",
                            "kept": getattr(record, name),
                        },
                    ),
                    IssueSeverity.WARNING,
                    raw,
                )
                self.issues[-1].record_id = record.pk
                values.pop(name)

    def keep_first_source(self, record) -> None:
        """A record created by one import has no source rows (its own provenance says it all);
        when a second department speaks, the first one's statement is written down too."""
        if record.source_id is None or record.source_id == self.batch.source_id:
            return
        model, key = (PersonSource, "person") if isinstance(record, Person) else (EntitySource, "entity")
        model.objects.get_or_create(
            **{key: record, "source_id": record.source_id},
            defaults={
                "import_batch_id": record.import_batch_id,
                "last_confirmed_at": record.last_confirmed_at,
            },
        )

    def stamp(self, record, row: int) -> None:
        # *_id, not the relation descriptors: this runs once per row.
        record.import_batch_id = self.batch.pk
        record.import_row = row
        record.last_confirmed_at = self.run.now
        record.source_id = self.batch.source_id

    def count_update(self, kind: str, record, changes: dict) -> None:
        """An existing record seen again: a new version and a history row if anything changed."""
        if changes:
            record.version += 1
            self.history.append(
                change_row(
                    kind, record.pk, "import", changes=changes, source=self.batch.source, batch=self.batch
                )
            )
            self.updated += 1
        else:
            self.unchanged += 1

    def save(self, number: int) -> None:
        ImportIssue.objects.bulk_create(self.issues, batch_size=1000)
        RecordChange.objects.bulk_create(self.history, batch_size=1000)
        first, last = self.rows[0][0], self.rows[-1][0]
        ImportChunk.objects.create(
            batch=self.batch,
            number=number,
            first_row=first,
            last_row=last,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            rejected=self.rejected,
        )
        ImportBatch.objects.filter(pk=self.batch.pk).update(
            rows_read=F("rows_read") + len(self.rows),
            rows_created=F("rows_created") + self.created,
            rows_updated=F("rows_updated") + self.updated,
            rows_unchanged=F("rows_unchanged") + self.unchanged,
            rows_rejected=F("rows_rejected") + self.rejected,
        )


def _write_chunk(run: _Run, number: int, rows: list[tuple[int, dict]]) -> None:
    with transaction.atomic():
        chunk = _Chunk(run, rows)
        {RecordKind.PERSON: _people, RecordKind.ENTITY: _entities, RecordKind.HOUSING: _housing}[
            run.batch.kind
        ](chunk)
        chunk.save(number)


# --- people -------------------------------------------------------------------------


def _people(chunk: _Chunk) -> None:
    run, batch, now = chunk.run, chunk.batch, chunk.run.now
    id_hash, phone_hash = run.id_hash, run.phone_hash
    good = chunk.clean()
    run.prefetch(values.get("address") for _row, _raw, values in good)
    by_key: dict[str, tuple[int, dict, dict]] = {}
    for row, raw, values in good:
        key = id_hash(values["id_number"])
        if key in by_key:
            chunk.duplicate(row, by_key[key][0], raw, "id_number")
            continue
        by_key[key] = (row, raw, values)
    known = existing_hashes(list(by_key))
    existing = (
        {
            p.id_number_hash: p
            for p in Person.objects.filter(pk__in=list(known.values())).select_related("source")
        }
        if known
        else {}
    )
    # New people are plain rows (no model objects): the fields below, the rest shared or default.
    new: list[dict] = []
    new_moves: list[tuple[str, StandardAddress, object]] = []
    changed, moves = [], []
    for key, (row, raw, values) in by_key.items():
        address = chunk.place(row, raw, values)
        person = existing.get(key)
        if person is None:
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
            record["phone_hash"] = phone_hash(record.get("phone", ""))
            if address is not None:
                record["community_id"], record["grid_id"] = address.community_id, address.grid_id
                new_moves.append((key, address, values.get("since")))
            new.append(record)
            chunk.created += 1
            continue
        if person.import_batch_id == batch.pk:
            chunk.duplicate(row, person.import_row, raw, "id_number")
            continue
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
    if new:
        ids = insert_rows(
            Person,
            new,
            shared={
                "created_at": now,
                "updated_at": now,
                "last_confirmed_at": now,
                "source_id": batch.source_id,
                "import_batch_id": batch.pk,
            },
            key="id_number_hash" if new_moves else None,
        )
        for key, address, since in new_moves:
            # A new person has no residence yet and already carries the address's community and grid.
            moves.append((_Placed(ids[key], address.community_id, address.grid_id), address, since))
    if changed:
        Person.objects.bulk_update(
            changed,
            [
                *PERSON_FIELDS,
                "phone_hash",
                "import_batch",
                "import_row",
                "last_confirmed_at",
                "source",
                "version",
                "updated_at",
            ],
            batch_size=500,
        )
    _residences(chunk, moves)
    PersonSource.objects.bulk_create(
        [
            PersonSource(person=p, source=batch.source, import_batch=batch, last_confirmed_at=now)
            for p in changed
        ],
        update_conflicts=True,
        unique_fields=["person", "source"],
        update_fields=["import_batch", "last_confirmed_at"],
        batch_size=1000,
    )


class _Placed:
    """A just-inserted person as ``_residences`` needs it: id, community and grid."""

    __slots__ = ("pk", "community_id", "grid_id")

    def __init__(self, pk: int, community_id, grid_id):
        self.pk, self.community_id, self.grid_id = pk, community_id, grid_id


def _residences(chunk: _Chunk, moves: list[tuple[Person | _Placed, StandardAddress, object]]) -> None:
    """Current residence per person: unchanged → confirmed; moved → the old one ends, a new one starts.

    Just-inserted people (``_Placed``) have no residence yet: they are not looked up."""
    if not moves:
        return
    batch, now, today = chunk.batch, chunk.run.now, chunk.run.today
    current: dict[int, list[Residence]] = {}
    known = [p.pk for p, _a, _s in moves if not isinstance(p, _Placed)]
    for start in range(0, len(known), 900):
        for residence in Residence.objects.filter(
            person_id__in=known[start : start + 900], until__isnull=True
        ).only("pk", "person_id", "address_id"):
            current.setdefault(residence.person_id, []).append(residence)
    new, ended, confirmed, placed = [], [], [], []
    for person, address, since in moves:
        mine = current.get(person.pk, [])
        if any(r.address_id == address.pk for r in mine):
            confirmed.extend(r.pk for r in mine if r.address_id == address.pk)
            continue
        ended.extend(r.pk for r in mine)
        new.append(
            {
                "person_id": person.pk,
                "address_id": address.pk,
                "since": since or today,
                "community_id": address.community_id,
                "grid_id": address.grid_id,
            }
        )
        if person.community_id != address.community_id or person.grid_id != address.grid_id or mine:
            person.community_id, person.grid_id = address.community_id, address.grid_id
            placed.append(person)
        if mine:
            chunk.history.append(
                change_row(
                    RecordKind.PERSON,
                    person.pk,
                    "move",
                    changes={"address": ["", address.full_name]},
                    source=batch.source,
                    batch=batch,
                )
            )
    for start in range(0, len(ended), 900):
        Residence.objects.filter(pk__in=ended[start : start + 900]).update(until=today, updated_at=now)
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


def _entities(chunk: _Chunk) -> None:
    batch, now = chunk.batch, chunk.run.now
    by_key: dict[str, tuple[int, dict, dict]] = {}
    for row, raw, values in chunk.clean():
        key = values["credit_code"]
        if key in by_key:
            chunk.duplicate(row, by_key[key][0], raw, "credit_code")
            continue
        by_key[key] = (row, raw, values)
    existing = {
        e.credit_code: e
        for e in LegalEntity.objects.filter(credit_code__in=list(by_key)).select_related("source")
    }
    new, changed, places = [], [], []
    for key, (row, raw, values) in by_key.items():
        address = chunk.place(row, raw, values)
        entity = existing.get(key)
        if entity is None:
            entity = LegalEntity(credit_code=key, created_at=now, updated_at=now)
            diff(entity, values, ENTITY_FIELDS)
            if address is not None:
                entity.community_id, entity.grid_id = address.community_id, address.grid_id
            chunk.stamp(entity, row)
            new.append(entity)
            chunk.created += 1
        else:
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
    LegalEntity.objects.bulk_create(new, batch_size=1000)
    if changed:
        LegalEntity.objects.bulk_update(
            changed,
            [
                *ENTITY_FIELDS,
                "import_batch",
                "import_row",
                "last_confirmed_at",
                "source",
                "version",
                "updated_at",
            ],
            batch_size=500,
        )
    if places:
        current: dict[int, list[Operation]] = {}
        for op in Operation.objects.filter(entity_id__in=[e.pk for e, _a, _s in places], until__isnull=True):
            current.setdefault(op.entity_id, []).append(op)
        new_ops, ended, moved = [], [], []
        for entity, address, since in places:
            mine = current.get(entity.pk, [])
            if any(o.address_id == address.pk for o in mine):
                continue
            ended.extend(o.pk for o in mine)
            new_ops.append(
                Operation(
                    entity=entity,
                    address=address,
                    since=since or timezone.localdate(),
                    community_id=address.community_id,
                    grid_id=address.grid_id,
                    source=batch.source,
                    import_batch=batch,
                    last_confirmed_at=now,
                )
            )
            entity.community_id, entity.grid_id = address.community_id, address.grid_id
            moved.append(entity)
        if ended:
            Operation.objects.filter(pk__in=ended).update(until=timezone.localdate(), updated_at=now)
        Operation.objects.bulk_create(new_ops, batch_size=1000)
        if moved:
            LegalEntity.objects.bulk_update(moved, ["community", "grid"], batch_size=500)
    EntitySource.objects.bulk_create(
        [
            EntitySource(entity=e, source=batch.source, import_batch=batch, last_confirmed_at=now)
            for e in changed
        ],
        update_conflicts=True,
        unique_fields=["entity", "source"],
        update_fields=["import_batch", "last_confirmed_at"],
        batch_size=1000,
    )


# --- housing ------------------------------------------------------------------------


def _housing(chunk: _Chunk) -> None:
    batch, now = chunk.batch, chunk.run.now
    by_key: dict[int, tuple[int, dict, dict, StandardAddress]] = {}
    for row, raw, values in chunk.clean():
        address = chunk.place(row, raw, values, required=True)
        if address is None:
            chunk.rejected += 1
            continue
        if address.pk in by_key:
            chunk.duplicate(row, by_key[address.pk][0], raw, "address")
            continue
        by_key[address.pk] = (row, raw, values, address)
    existing = {h.address_id: h for h in Housing.objects.filter(address_id__in=list(by_key))}
    new, changed = [], []
    for key, (row, raw, values, address) in by_key.items():
        housing = existing.get(key)
        if housing is None:
            housing = Housing(
                address=address,
                community_id=address.community_id,
                grid_id=address.grid_id,
                created_at=now,
                updated_at=now,
            )
            diff(housing, values, HOUSING_FIELDS)
            chunk.stamp(housing, row)
            new.append(housing)
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
    Housing.objects.bulk_create(new, batch_size=1000)
    if changed:
        Housing.objects.bulk_update(
            changed,
            [
                *HOUSING_FIELDS,
                "import_batch",
                "import_row",
                "last_confirmed_at",
                "source",
                "version",
                "updated_at",
            ],
            batch_size=500,
        )


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
