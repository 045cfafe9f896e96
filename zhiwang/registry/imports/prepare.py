"""Reading, cleaning and hashing people's rows in a second process while this one writes.

A people import spends more time in Python (reading the CSV, the GB 11643 check, two
keyed hashes per row) than in the database. On PostgreSQL (the server writes in its own
process meanwhile; not on SQLite, see ``WORKER_ON_SQLITE``), with a file of at least
``ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS`` rows (default 20,000; ``0`` turns it off),
a forked worker reads the file and prepares each chunk (plainly valid rows: values and
both hashes) while the importing process writes the previous one. The worker never
touches the database; the writer still does everything else (rows the fast path declines
go through the full cleaner there, so the report is the same), and each chunk is still
one transaction. A queue of two chunks bounds memory. Where ``fork`` is not available
(or the file is small) the same chunks are produced inline.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from zhiwang.core.errors import ServiceError
from zhiwang.registry.hashing import hasher
from zhiwang.registry.imports.collect import ChunkCollector
from zhiwang.registry.imports.fast_clean import fast_person_cleaner
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.registry.models import RecordKind
from zhiwang.registry.validation import FIELDS

DEFAULT_WORKER_MIN_ROWS = 20_000
QUEUE_CHUNKS = 2
_END, _ERROR, _CRASH = "end", "error", "crash"

#: (row number, cleaned values, ID-number hash, phone hash) of the rows the fast path took.
Prepared = list[tuple[int, dict, str, str]]


#: SQLite: no worker. There the importing process writes the rows itself (no server does it
#: meanwhile), its share of the work is small, and the worker — reading, cleaning, hashing and
#: sending every row twice (raw and cleaned) through a pipe — became the slower of the two:
#: measured at 100k people, 31–34 % of the raw driver with the worker, 41–47 % without.
WORKER_ON_SQLITE = False


def worker_wanted(batch) -> bool:
    minimum = getattr(settings, "ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS", DEFAULT_WORKER_MIN_ROWS)
    return (
        batch.kind == RecordKind.PERSON
        and (connection.vendor == "postgresql" or WORKER_ON_SQLITE)
        and bool(minimum)
        and (batch.rows_total or 0) >= minimum
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _prepare(rows: list[tuple[int, dict]], clean, id_hash, phone_hash) -> Prepared:
    out = []
    for row, raw in rows:
        values = clean(raw)
        if values is not None:
            phone = values.get("phone") or ""
            out.append((row, values, id_hash(values["id_number"]), phone_hash(phone) if phone else ""))
    return out


def _chunks(source_file: SourceFile, size: int) -> Iterator[tuple[int, list[tuple[int, dict]]]]:
    chunk, number = [], 0
    for row in source_file.rows():
        chunk.append(row)
        if len(chunk) >= size:
            number += 1
            yield number, chunk
            chunk = []
    if chunk:
        yield number + 1, chunk


def _produce(path, columns, kind, size, committed, out) -> None:
    """The worker: every chunk of the file, prepared (committed ones as their number only)."""
    try:
        source_file = SourceFile(path, columns, FIELDS[kind].keys())
        clean, id_hash, phone_hash = fast_person_cleaner(), hasher("id"), hasher("phone")
        with ChunkCollector() as collector:  # see imports.collect
            for number, rows in _chunks(source_file, size):
                if number in committed:
                    out.put((number, None, None))
                else:
                    out.put((number, rows, _prepare(rows, clean, id_hash, phone_hash)))
                    del rows
                    collector.chunk_done()
        out.put((_END, None, None))
    except ServiceError as error:  # an encoding error half-way through the file
        out.put((_ERROR, error.code, str(error.message)))
    except BaseException as error:
        out.put((_CRASH, repr(error), None))


def chunks(
    batch, source_file: SourceFile, committed: set[int]
) -> Iterator[tuple[int, list | None, Prepared | None]]:
    """``(number, rows, prepared)`` for every chunk of the batch's file, in order; ``rows`` is
    None for a chunk already committed. ``prepared`` is None when nothing was prepared ahead."""
    if not worker_wanted(batch):
        for number, rows in _chunks(source_file, batch.chunk_size):
            yield number, (None if number in committed else rows), None
        return
    context = multiprocessing.get_context("fork")
    out = context.Queue(maxsize=QUEUE_CHUNKS)
    worker = context.Process(
        target=_produce,
        args=(batch.file_path, batch.columns, batch.kind, batch.chunk_size, committed, out),
        daemon=True,
    )
    worker.start()
    try:
        while True:
            try:
                number, rows, prepared = out.get(timeout=5)
            except queue_module.Empty:
                if not worker.is_alive():
                    raise RuntimeError("the import's reading worker stopped") from None
                continue
            if number == _END:
                return
            if number == _ERROR:
                raise ServiceError(rows, prepared, field="file")
            if number == _CRASH:
                raise RuntimeError(f"the import's reading worker failed: {rows}")
            yield number, rows, prepared
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=5)
        out.close()
