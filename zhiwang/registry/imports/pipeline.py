"""The import pipeline: create a batch from a file, then run it chunk by chunk.

Each chunk (``batch.chunk_size`` data rows) is cleaned, matched and upserted together
with its checkpoint row (``ImportChunk``), its report lines and the batch counters, whole
or not at all: one transaction per chunk on PostgreSQL, a savepoint per chunk inside a
commit group of several chunks on SQLite (``imports.groups``). A crash (even ``kill -9``)
loses at most the chunk (SQLite: the group) being written, never half of a chunk, nothing
committed; running the batch again skips the committed chunks. Memory is flat: one chunk
of rows at a time, plus a bounded cache of matched addresses. One run at a time: a run claims
the batch first and writes a chunk only while it still holds it (``imports.claim``).

A record created by an import gets no history row of its own: its provenance
(``import_batch`` + ``import_row`` + ``source``) and the batch are that history, and the
pages show it as the first line. Every later change appends a ``RecordChange`` row.

Duplicates inside one file are found without keeping every key in memory: a record
already stamped with this batch (``import_batch``/``import_row``) was written by an
earlier row of the same file.

New records of every kind are written as plain rows (``imports.writers``, ``imports.copy``):
on PostgreSQL ``COPY`` into a temporary staging table and one ``INSERT … SELECT … ON
CONFLICT``; on SQLite one ``executemany``. A people file is read, cleaned and hashed ahead
by a forked worker (``imports.prepare``) while this process writes. A ``validate_only``
batch writes nothing to the registry until a data steward publishes it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.registry.imports import claim, prepare, seen
from zhiwang.registry.imports.chunk import Chunk, Run
from zhiwang.registry.imports.claim import ClaimLost
from zhiwang.registry.imports.collect import ChunkCollector
from zhiwang.registry.imports.copy import RaceLost, bulk_session
from zhiwang.registry.imports.groups import CommitGroup
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.registry.imports.seen import SeenKeys
from zhiwang.registry.imports.writers import _entities, _housing, _people
from zhiwang.registry.models import (
    SOURCE_UNIT_KINDS,
    ImportBatch,
    ImportChunk,
    ImportIssue,
    ImportStatus,
    MappingTemplate,
    RecordKind,
)
from zhiwang.registry.services import (
    may_import,
)
from zhiwang.registry.validation import FIELDS, REQUIRED

RACE_RETRIES = 3
#: SQLite: rows per chunk when the caller names none (``default_chunk_size``).
SQLITE_CHUNK_ROWS = 10_000


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


def _copy_hashed(path: Path, folder: Path) -> tuple[Path, str]:
    """Copy ``path`` into ``folder`` under a temporary name; the copy and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    # Created as the stored file was before (the process's umask, not mkstemp's 0600): web
    # nodes and task workers share the import folder.
    copy = folder / f".upload-{uuid.uuid4().hex}{path.suffix.lower()}"
    try:
        with open(copy, "xb") as target, open(path, "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                target.write(block)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy, digest.hexdigest()


def file_purged_error() -> ServiceError:
    return ServiceError(
        "import.file_purged",
        _("The file of this import was deleted at the end of its keeping period; upload it again."),
        status=409,
    )


def _open(batch_or_path, columns: dict, kind: str) -> SourceFile:
    return SourceFile(batch_or_path, columns, FIELDS[kind].keys())


def default_chunk_size() -> int:
    """Rows per chunk when the caller names none: ``SQLITE_CHUNK_ROWS`` on SQLite, else 2,000.

    SQLite inserts a chunk's people in ID-hash order (``writers._people``): the longer the
    sorted run, the fewer pages of the random-hash index it visits (measured at 100k people:
    42 % of the raw driver with chunks of 2,000, 48 % with 10,000). A chunk of 10,000 rows
    holds ≈ 10 MB of Python objects; PostgreSQL gains nothing from larger ones."""
    return SQLITE_CHUNK_ROWS if connection.vendor == "sqlite" else 2_000


def import_batch_create(
    *,
    actor,
    kind: str,
    source,
    file_path: Path | str,
    file_name: str = "",
    template: MappingTemplate | None = None,
    columns: dict[str, str] | None = None,
    chunk_size: int | None = None,
    validate_only: bool = False,
) -> ImportBatch:
    """Check the file's header against the template and register a batch (nothing imported yet).

    The file is copied into the import folder under its SHA-256, so the batch can be run
    (and resumed) later by a worker; a refused file leaves nothing there (it is checked as a
    temporary copy, named only with its batch), and two uploads of one file at the same
    moment make one batch (``claim.lock_file``). The same import again — same file, kind, department
    and column mapping — answers the existing batch: uploading it again resumes, never
    duplicates (``_same_import``); once that batch's file was purged it makes a new batch.
    Another mapping (a fixed template, extra ``columns``) reads the file differently, so it
    makes a new batch. With ``validate_only`` the batch only checks the file (see
    ``import_batch_run``).
    """
    if actor is not None and not may_import(actor):
        raise ServiceError("registry.permission_denied", _("Only data stewards import files."), status=403)
    if kind not in FIELDS:
        raise ServiceError("import.kind", _("Choose people, legal entities or housing."), field="kind")
    if source is None:
        raise ServiceError(
            "import.source_required", _("Choose the department the file comes from."), field="source"
        )
    if source.kind not in SOURCE_UNIT_KINDS:  # a mediation committee, a command center: never a source
        raise ServiceError(
            "import.source_kind",
            _("%(unit)s does not supply registry data. Choose the department the file comes from.")
            % {"unit": source.name},
            field="source",
        )
    mapping = dict(template.columns if template else {})
    mapping.update(columns or {})
    if chunk_size is None:
        chunk_size = default_chunk_size()
    if chunk_size < 1 or chunk_size > 50_000:
        raise ServiceError(
            "import.chunk_size", _("Rows per chunk must be between 1 and 50,000."), field="chunk_size"
        )
    path = Path(file_path)
    sha = _sha256(path)
    existing = _same_import(sha=sha, kind=kind, source=source, mapping=mapping, validate_only=validate_only)
    if existing is not None:  # uploaded again: nothing is copied
        return existing
    # The file is checked as a copy under a temporary name in the import folder (the bytes
    # checked are the bytes kept), and takes its name ``<sha256>.<ext>`` only with its batch:
    # a refused file (header, encoding, a refused workbook) leaves nothing behind.
    folder = import_dir()
    copy, sha = _copy_hashed(path, folder)
    made: Path | None = None
    try:
        source_file = _open(copy, mapping, kind)
        missing = [name for name in REQUIRED[kind] if name not in source_file.header.fields.values()]
        if missing:
            labels = "、".join(str(FIELDS[kind][m]) for m in missing)
            raise ServiceError(
                "import.missing_columns",
                _("The file has no column for: %(fields)s. Add them or fix the mapping template.")
                % {"fields": labels},
                field="file",
            )
        rows_total = source_file.count_rows()
        with transaction.atomic():
            # Two uploads of one file at the same moment: the second waits here, then finds the
            # first's batch. The lock also keeps a purge from deleting the stored file meanwhile.
            claim.lock_file(sha)
            existing = _same_import(
                sha=sha, kind=kind, source=source, mapping=mapping, validate_only=validate_only
            )
            if existing is not None:
                return existing
            stored = folder / f"{sha}{path.suffix.lower()}"
            batch = ImportBatch.objects.create(
                kind=kind,
                source=source,
                template=template,
                columns=mapping,
                file_name=(file_name or path.name)[:255],
                file_path=str(stored),
                file_sha256=sha,
                chunk_size=chunk_size,
                validate_only=validate_only,
                encoding=source_file.encoding,
                rows_total=rows_total,
                created_by=actor,
            )
            # Another batch of the same bytes (another department, another mapping) may keep the
            # stored file already: it is shared, never replaced nor removed here.
            if not stored.exists():
                os.replace(copy, stored)
                made = stored
        return batch
    except BaseException:
        if made is not None:  # renamed, then the batch's transaction failed: nobody names it
            made.unlink(missing_ok=True)
        raise
    finally:
        copy.unlink(missing_ok=True)


def _same_import(*, sha: str, kind: str, source, mapping: dict, validate_only: bool) -> ImportBatch | None:
    """The batch (not failed, file kept) that already imports this file the same way, or None.

    Same file, kind, department and effective column mapping (template and ``columns``
    together: a steward who fixes a wrong mapping imports again). A validation answers only a
    validation batch (never the import of the file, which would check nothing). An import
    answers an outstanding validation of the same file and mapping first — publishing it is
    how that file goes in (the wizard's page and ``import_registry`` say so), so no second
    batch competes with it — else the import itself. Newest first; a file has few batches.

    A batch whose file was deleted at the end of its keeping period (``file_purged_at``) answers
    nothing: it can no longer run, be published nor give its report's values, so the file
    uploaded again makes a new batch, which the steward can validate, publish or run; the
    purged one stays in the history as it is.
    """
    same = [
        batch
        for batch in ImportBatch.objects.filter(
            file_sha256=sha, kind=kind, source=source, file_purged_at__isnull=True
        ).exclude(status=ImportStatus.FAILED)
        if batch.columns == mapping
    ]
    validations = [batch for batch in same if batch.validate_only]
    if validate_only:
        return validations[0] if validations else None
    return (validations or same or [None])[0]


def header_summary(batch: ImportBatch) -> dict:
    """Which file column went to which field, and which columns were ignored (for the report)."""
    if batch.file_purged_at is not None:
        raise file_purged_error()
    source_file = _open(batch.file_path, batch.columns, batch.kind)
    return {
        "mapped": [
            (label, str(FIELDS[batch.kind][source_file.header.fields[col]]))
            for col, label in source_file.header.labels.items()
        ],
        "ignored": source_file.header.ignored,
        "header_row": source_file.header.row,
    }


def import_batch_run(
    *,
    batch: ImportBatch,
    progress: Callable[[ImportBatch], None] | None = None,
    max_chunks: int | None = None,
) -> ImportBatch:
    """Import (or resume) a batch. ``max_chunks`` stops early (tests, step-wise workers).

    A ``validate_only`` batch runs every chunk exactly as an import would (cleaning, address
    matching, upsert, merge checks) inside a savepoint that is rolled back, then keeps only
    the report lines, the counters (what *would* be created, updated, unchanged, rejected)
    and the checkpoint: nothing reaches the registry, and it ends ``validated``. A data
    steward then publishes it (``import_batch_publish``). A duplicate of a row in an earlier
    chunk is reported as the import would report it: the validation keeps the natural keys
    it has met on disk (``imports.seen``), flat in memory, and a resumed validation keeps
    the keys of its committed chunks.

    One run at a time: the run claims the batch first (``imports.claim``); a batch running
    elsewhere, finished, validated (publish it first) or whose file was deleted at the end of
    its keeping period is returned as it is, nothing done.
    """
    runner = claim.claim(batch)
    if runner is None:
        batch.refresh_from_db()
        return batch
    try:
        batch.refresh_from_db()
        committed = set(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True))
        try:
            source_file = _open(batch.file_path, batch.columns, batch.kind)
        except ServiceError as error:
            _finish(batch, runner, status=ImportStatus.FAILED, error=error.message)
            return batch
        except OSError as error:  # the stored file is gone or unreadable
            _mark_failed(batch, error, runner)
            batch.refresh_from_db()
            return batch
        with bulk_session(), ChunkCollector() as collector:
            return _run_chunks(batch, source_file, committed, progress, max_chunks, collector, runner)
    finally:
        claim.ended(runner)


def _finish(batch: ImportBatch, runner: str, **fields) -> None:
    """The run ends: the batch takes ``fields`` and is let go, if this run still holds it."""
    now = timezone.now()
    if fields.get("status") in (ImportStatus.DONE, ImportStatus.VALIDATED):
        fields["finished_at"] = now
    claim.held(batch, runner).update(runner="", heartbeat_at=now, **fields)
    batch.refresh_from_db()


def seen_keys_path(batch: ImportBatch) -> Path:
    """The scratch file of a validate-only batch's natural keys (``imports.seen``)."""
    return import_dir() / f"batch-{batch.pk}.keys.sqlite3"


def _run_chunks(
    batch, source_file, committed: set[int], progress, max_chunks, collector, runner: str
) -> ImportBatch:
    run = Run(batch)
    run.runner = runner
    run.labels = {name: source_file.header.labels[col] for col, name in source_file.header.fields.items()}
    if batch.validate_only:
        run.seen = SeenKeys(seen_keys_path(batch), committed)
    try:
        batch = _run_chunks_in(run, batch, source_file, committed, progress, max_chunks, collector)
    finally:
        if run.seen is not None:
            run.seen.close(delete=batch.status == ImportStatus.VALIDATED)
    return batch


def _run_chunks_in(
    run: Run, batch, source_file, committed: set[int], progress, max_chunks, collector: ChunkCollector
) -> ImportBatch:
    done = 0
    group = CommitGroup()
    try:
        # closing(): an early return or a crash stops the reading worker at once.
        with closing(prepare.chunks(batch, source_file, committed)) as chunks:
            for number, rows, prepared in chunks:
                if rows is None:  # committed by an earlier run
                    continue
                group.open()
                _write_chunk(run, number, rows, prepared)
                group.wrote(len(rows))
                del rows, prepared
                collector.chunk_done()
                done += 1
                if progress:
                    batch.refresh_from_db()
                    progress(batch)
                if max_chunks is not None and done >= max_chunks:
                    group.commit()
                    claim.release(batch, run.runner)  # still "running": the next run resumes it
                    batch.refresh_from_db()
                    return batch
        group.commit()
    except ServiceError as error:  # e.g. an encoding error half-way through the file
        group.commit()  # the chunks written so far are whole: keep them
        _finish(batch, run.runner, status=ImportStatus.FAILED, error=error.message)
        return batch
    except ClaimLost as error:  # taken for dead and taken over: the other run goes on
        group.rollback(error)
        batch.refresh_from_db()
        return batch
    except BaseException as error:  # a crash: the open group's chunks were never committed
        group.rollback(error)
        if isinstance(error, Exception):  # a bug or a lost database, not an interrupted worker
            _mark_failed(batch, error, run.runner)
        else:  # interrupted (a worker stopping): let the batch go, Resume takes it up at once
            with suppress(Exception):
                claim.release(batch, run.runner)
        raise
    finished = ImportStatus.VALIDATED if batch.validate_only else ImportStatus.DONE
    _finish(batch, run.runner, status=finished)
    if progress:
        progress(batch)
    return batch


def _mark_failed(batch, error: Exception, runner: str) -> None:
    """An unexpected error stopped the run: the batch is failed, not left "running" for ever.

    The chunks committed before stay (on SQLite the open commit group was rolled back whole,
    as after a crash); Resume runs the batch again from the first chunk not committed. The
    error is raised again afterwards, for the task worker's log. Only while this run holds
    the batch: one that another run took over is that run's to finish."""
    failed = _("The import stopped on an unexpected error (%(error)s); Resume runs it again from there.") % {
        "error": type(error).__name__
    }
    with suppress(Exception):  # the database is gone too: the original error is raised all the same
        claim.held(batch, runner).update(
            status=ImportStatus.FAILED, error=failed, runner="", heartbeat_at=timezone.now()
        )


class _DryRun(Exception):
    """Rolls a validate-only chunk's registry writes back."""


def _write_chunk(
    run: Run, number: int, rows: list[tuple[int, dict]], prepared: prepare.Prepared | None = None
) -> None:
    write = {RecordKind.PERSON: _people, RecordKind.ENTITY: _entities, RecordKind.HOUSING: _housing}[
        run.batch.kind
    ]
    for attempt in range(RACE_RETRIES + 1):
        try:
            with transaction.atomic():
                chunk = Chunk(run, rows, prepared, number)
                if not run.batch.validate_only:
                    write(chunk)
                else:
                    try:
                        with transaction.atomic():
                            write(chunk)
                            raise _DryRun
                    except _DryRun:
                        pass
                    chunk.history = []  # the changes were not made
                chunk.save(number)
            return
        except RaceLost:
            # Another import inserted one of this chunk's "new" records meanwhile: the whole
            # chunk was rolled back; read it again (the record now exists) and write it again.
            if attempt == RACE_RETRIES:
                raise


def import_batch_publish(*, batch: ImportBatch, actor) -> ImportBatch:
    """Turn a validated batch into a real import: its report and counters start again and the
    next ``import_batch_run`` writes the records (resumable as any import). Data stewards only."""
    if actor is not None and not may_import(actor):
        raise ServiceError("registry.permission_denied", _("Only data stewards import files."), status=403)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.file_purged_at is not None:
            raise file_purged_error()
        if locked.status != ImportStatus.VALIDATED:
            raise ServiceError(
                "import.not_validated",
                _("Only a validated batch can be published; this one is “%(status)s”.")
                % {"status": locked.get_status_display()},
                status=409,
            )
        ImportIssue.objects.filter(batch=locked).delete()
        ImportChunk.objects.filter(batch=locked).delete()
        seen.discard(seen_keys_path(locked))
        ImportBatch.objects.filter(pk=locked.pk).update(
            validate_only=False,
            status=ImportStatus.PENDING,
            rows_read=0,
            rows_created=0,
            rows_updated=0,
            rows_unchanged=0,
            rows_rejected=0,
            finished_at=None,
            published_by=actor,
            published_at=timezone.now(),
            heartbeat_at=timezone.now(),
            runner="",
        )
    batch.refresh_from_db()
    return batch


def import_batch_resume(*, batch: ImportBatch, actor) -> ImportBatch:
    """Check that a batch may be run again now (the caller then queues ``import_batch_run``).

    A failed batch, one waiting, and one "running" that nobody runs any more (``imports.claim``)
    may; one running now (``import.running``), a finished or validated one
    (``import.not_resumable``) and one whose file was deleted at the end of its keeping period
    (``import.file_purged``: upload the file again) may not."""
    if actor is not None and not may_import(actor):
        raise ServiceError("registry.permission_denied", _("Only data stewards import files."), status=403)
    batch.refresh_from_db()
    if batch.file_purged_at is not None:
        raise file_purged_error()
    if claim.may_claim(batch):
        return batch
    if batch.status == ImportStatus.RUNNING:
        raise ServiceError("import.running", _("This import is still running."), status=409)
    raise ServiceError(
        "import.not_resumable",
        _("Only a failed or interrupted import can be resumed; this one is “%(status)s”.")
        % {"status": batch.get_status_display()},
        status=409,
    )
