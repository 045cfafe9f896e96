"""One run of an import batch (``Run``: address cache, hashers, clock) and one chunk of it
(``Chunk``: cleaning, address matching, merge checks, report lines and counters, saved with
its checkpoint in the chunk's transaction). The record writers (``imports.writers``) fill
a chunk; ``imports.pipeline`` runs them.
"""

from __future__ import annotations

from collections import OrderedDict

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError
from zhiwang.geo.addressing import match_many
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.hashing import hasher
from zhiwang.registry.imports import prepare
from zhiwang.registry.imports.claim import ClaimLost
from zhiwang.registry.imports.fast_clean import fast_person_cleaner
from zhiwang.registry.imports.seen import SeenKeys
from zhiwang.registry.models import (
    EntitySource,
    ImportBatch,
    ImportChunk,
    ImportIssue,
    IssueSeverity,
    Person,
    PersonSource,
    RecordChange,
    RecordKind,
)
from zhiwang.registry.services import CONFLICT_FIELDS, change_row, resolve_address, value_sources
from zhiwang.registry.validation import CLEANERS, masked

ADDRESS_CACHE_SIZE = 20_000
MATCH_LEVELS = (AddressLevel.ROOM, AddressLevel.UNIT, AddressLevel.BUILDING)


def _differs(record, values: dict, name: str) -> bool:
    """The row gives ``name`` a value other than the record's."""
    value = values.get(name)
    return bool(value) and value != getattr(record, name)


class Run:
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
        # Plainly valid rows skip the full cleaner (which reports every problem precisely).
        self.fast_clean = fast_person_cleaner() if batch.kind == RecordKind.PERSON else None
        # Validate-only: the natural keys earlier chunks would have written (set by the pipeline).
        self.seen: SeenKeys | None = None
        # The claim this run holds on the batch (``imports.claim``; set by the pipeline): a chunk
        # is written only while the batch is still held by it.
        self.runner = ""

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


class Chunk:
    """The outcome of one chunk, written in one go."""

    def __init__(
        self,
        run: Run,
        rows: list[tuple[int, dict]],
        prepared: prepare.Prepared | None = None,
        number: int = 0,
    ):
        self.run = run
        self.number = number
        self.batch = run.batch
        self.rows = rows
        # Rows cleaned and hashed ahead by the reading worker: {row: (values, id hash, phone hash)}.
        self.prepared = {row: (values, key, phone) for row, values, key, phone in prepared or ()}
        self.issues: list[ImportIssue] = []
        self.history: list[RecordChange] = []
        self.created = self.updated = self.unchanged = self.rejected = 0
        self.columns = {}
        # {protected field: {record id: ValueSource}} for the rows that would change it (merge_prepare).
        self.setters: dict[str, dict] = {}

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

    def earlier(self, keys) -> dict:
        """Validate-only: ``{key: first row}`` for the chunk's natural keys that an earlier chunk
        of the file holds. A real import finds those records stamped with this batch and reports
        the row as a duplicate; a validation rolled the earlier chunks back, so it asks here."""
        seen = self.run.seen
        return seen.earlier(keys, self.number) if seen is not None else {}

    def hold(self, by_key: dict) -> None:
        """Validate-only: remember the first row of each natural key this chunk would write."""
        if self.run.seen is not None:
            self.run.seen.add(self.number, ((key, entry[0]) for key, entry in by_key.items()))

    def clean(self) -> list[tuple[int, dict, object]]:
        good = []
        cleaner = CLEANERS[self.batch.kind]
        fast = None if self.prepared else self.run.fast_clean
        prepared = self.prepared
        for row, raw in self.rows:
            if row in prepared:
                good.append((row, raw, prepared[row][0]))
                continue
            if fast is not None:
                values = fast(raw)
                if values is not None:
                    good.append((row, raw, values))
                    continue
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

    def merge_prepare(self, pairs) -> None:
        """Who set the current value of each protected field these ``(record, values)`` would
        change, asked once for the chunk (``value_sources``); rows that say what the record
        already holds ask nothing."""
        kind = self.batch.kind
        for name in CONFLICT_FIELDS[kind]:
            records = [record for record, values in pairs if _differs(record, values, name)]
            if records:
                self.setters[name] = value_sources(kind=kind, records=records, field=name)

    def merge(self, row: int, raw: dict, record, values: dict) -> None:
        """Another department says something else about a protected field: keep it, report it.

        "Another" is measured against the department whose statement set the field's current
        value (``value_sources``), which the report names too — not the record's ``source``, the
        last department that confirmed the record: a department confirming the police's name
        neither owns that name (so its own later file cannot overwrite it unseen) nor is named
        as having recorded it. A value a user set with no department (a correction by hand) is
        kept from every file; a value nothing speaks for (a record loaded without a source) is
        not protected."""
        kind = self.batch.kind
        for name in CONFLICT_FIELDS[kind]:
            if not _differs(record, values, name):
                continue
            setter = self.setters.get(name, {}).get(record.pk)
            if setter is None:  # not prepared: ask for this record alone
                setter = value_sources(kind=kind, records=[record], field=name)[record.pk]
            if not setter.known or setter.unit_id == self.batch.source_id:
                continue
            self.issue(
                row,
                FieldError(
                    name,
                    "merge.conflict",
                    _("%(source)s records “%(kept)s” here; kept it. A data steward decides.")
                    % {"source": setter.label, "kept": getattr(record, name)},
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
        # First, in the chunk's transaction: the counters and the heartbeat, only while this run
        # still holds the batch (PostgreSQL: the row lock makes a takeover wait or this fail).
        batch = ImportBatch.objects.filter(pk=self.batch.pk)
        if self.run.runner:
            batch = batch.filter(runner=self.run.runner)
        counted = batch.update(
            rows_read=F("rows_read") + len(self.rows),
            rows_created=F("rows_created") + self.created,
            rows_updated=F("rows_updated") + self.updated,
            rows_unchanged=F("rows_unchanged") + self.unchanged,
            rows_rejected=F("rows_rejected") + self.rejected,
            heartbeat_at=timezone.now(),
        )
        if not counted:
            raise ClaimLost(f"import batch {self.batch.pk} is held by another run")
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
