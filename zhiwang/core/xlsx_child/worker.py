"""The child side of ``zhiwang.core.xlsx_child``: openpyxl reads one workbook, rows go out as frames.

Run as a script by the parent (``python -I worker.py OPTIONS``), so it imports nothing of
Django or of the project: only the standard library and openpyxl. The parent's in-process
fallback (no ``resource`` module) imports it as a module and iterates ``produce`` directly.

Before anything else the script limits its own address space (``RLIMIT_AS``), CPU time
(``RLIMIT_CPU``: SIGXCPU ends it) and core dumps (none: a killed child leaves no file).
Setting the limits here, not in a ``preexec_fn`` of the parent, keeps the parent's fork free
of Python code (``preexec_fn`` is unsafe in a process with threads, as a web worker is).

Protocol on standard output (standard output proper is moved to standard error first, so a
stray print of a library cannot corrupt it): frames of a 4-byte big-endian length and a
pickle of ``(kind, payload)``:

* ``("head", {"worksheets": n, "max_row": int | None, "sheet_path": str | None})`` once,
  after the workbook is open (``max_row`` as the sheet's ``<dimension>`` states it);
* ``("rows", [tuple, …])`` batches of the first sheet's rows, values only;
* ``("unreadable", {"row": int | None, "detail": str})``: openpyxl failed opening the
  workbook (``row`` None) or reading row ``row``; the last frame;
* ``("end", None)``: every row was sent (or ``max_rows + 1`` of them: more is refused).

A ``MemoryError`` anywhere, or a failed allocation the XML parsers report as a parse error
(``out_of_memory``), ends the script with ``EXIT_MEMORY`` at once (``os._exit``: nothing more
to allocate).

A frame holds at most ``BATCH_ROWS`` rows, ``BATCH_CELLS`` cells and about ``BATCH_BYTES`` of
text (a row beyond that goes alone): the parent holds a frame whole while it unpickles it, and
refuses one beyond its own cap.

The child runs in a session of its own, so a signal that ends the parent without its
finalizers (SIGTERM's default action) does not reach it; it looks every
``PARENT_CHECK_SECONDS`` (a SIGALRM timer, which also covers a long parse that yields no row)
whether its parent is still the process that started it, and exits with ``EXIT_ORPHANED``
if not.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import struct
import sys
import zipfile
from collections.abc import Iterator
from xml.parsers import expat

#: Exit status of a child that ran out of memory (``MemoryError`` caught, nothing sent after).
EXIT_MEMORY = 3
#: Exit status of a child whose parent died before it finished (nobody reads its frames).
EXIT_ORPHANED = 4
#: How often the child looks whether its parent is still alive.
PARENT_CHECK_SECONDS = 0.5
#: The length that precedes each frame.
FRAME_HEADER = struct.Struct(">I")
#: Rows per frame, and cells per frame (a wide sheet sends fewer rows at a time).
BATCH_ROWS = 1_000
BATCH_CELLS = 50_000
#: Text per frame, in (an upper bound of) UTF-8 bytes: 800 rows of 12 cells of 32,000
#: characters are 300 MB, which the parent would otherwise receive, and hold, as one frame.
BATCH_BYTES = 4 << 20
#: libxml2's XML_ERR_NO_MEMORY (lxml) and expat's XML_ERROR_NO_MEMORY (ElementTree, which
#: openpyxl uses for the sheets and shared strings): a failed allocation, told as a parse error.
_LIBXML2_NO_MEMORY = 2
_EXPAT_NO_MEMORY = expat.errors.codes[expat.errors.XML_ERROR_NO_MEMORY]

_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Za-z]+[0-9]+:[A-Za-z]+[0-9]+)\"")
_SCAN_CHUNK = 1 << 20


def produce(
    path: str,
    *,
    reset_dimensions: bool = False,
    fill_merged: bool = False,
    max_rows: int = 1_048_576,
    max_columns: int = 16_384,
) -> Iterator[tuple[str, object]]:
    """``("head", …)``, then ``("row", tuple)`` for each row, then ``("end", None)`` or
    ``("unreadable", …)``: the frames of the protocol, one row at a time.

    ``reset_dimensions``: read every row and column, whatever the sheet's ``<dimension>``
    claims (some exporters write a wrong one). ``fill_merged``: a merged range's value fills
    every cell of the range (Excel keeps it in the top-left cell only). At most
    ``max_rows + 1`` rows are produced: the reader refuses the file at the one beyond.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a broken or foreign file
        if out_of_memory(exc):
            raise MemoryError from exc
        yield "unreadable", {"row": None, "detail": str(exc)}
        return
    try:
        sheets = book.worksheets
        sheet = sheets[0] if sheets else None
        sheet_path = getattr(sheet, "_worksheet_path", None)
        yield (
            "head",
            {
                "worksheets": len(sheets),
                "max_row": getattr(sheet, "max_row", None),
                "sheet_path": sheet_path,
            },
        )
        if sheet is None:
            yield "end", None
            return
        if reset_dimensions and hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        merged = _MergedFill(_merged_ranges(path, sheet_path), max_columns) if fill_merged else None
        rows = sheet.iter_rows(values_only=True)
        read = 0
        while read <= max_rows:
            try:
                row = next(rows)
            except StopIteration:
                break
            except MemoryError:
                raise
            except Exception as exc:  # a damaged cell or sheet: openpyxl and its XML parser raise many kinds
                if out_of_memory(exc):
                    raise MemoryError from exc
                yield "unreadable", {"row": read + 1, "detail": str(exc)}
                return
            read += 1
            yield "row", merged.fill(read, row) if merged else row
        yield "end", None
    finally:
        book.close()


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a failed allocation.

    Besides ``MemoryError``, the XML parsers report their own failed allocations as parse
    errors: lxml (libxml2) as ``XMLSyntaxError`` "Memory allocation failed", expat as
    ``ParseError``/``ExpatError`` "out of memory". Those are the memory limit, not a damaged file.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return True
        code = getattr(exc, "code", None)
        if type(exc).__module__.startswith("lxml"):
            if code == _LIBXML2_NO_MEMORY or "memory allocation failed" in str(exc).lower():
                return True
        elif isinstance(exc, (SyntaxError, expat.ExpatError)) and code == _EXPAT_NO_MEMORY:
            return True  # ElementTree's ParseError is a SyntaxError; a Python SyntaxError has no code
        exc = exc.__cause__ or exc.__context__
    return False


def _merged_ranges(path: str, member: str | None) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of each merged range of a sheet, from its XML, in
    the order of their references' text (as the classifier always applied them).

    The read-only reader streams cells and does not give the merges; the sheet's XML is
    scanned for ``<mergeCell ref="…"/>`` instead (in chunks: it comes after the cells).
    """
    from openpyxl.utils.cell import range_boundaries

    if not member:
        return []
    refs: set[bytes] = set()
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member.lstrip("/")) as handle:
            tail = b""
            while chunk := handle.read(_SCAN_CHUNK):
                block = tail + chunk
                refs.update(_MERGE_REF.findall(block))
                tail = block[-256:]  # a tag cut by the chunk boundary is found in the next block
    except (KeyError, OSError, zipfile.BadZipFile):
        return []
    ranges = []
    for ref in sorted(refs):
        try:
            bounds = range_boundaries(ref.decode("ascii").upper())
        except ValueError:
            continue
        if all(bounds) and bounds[0] >= 1 and bounds[1] >= 1:
            ranges.append(bounds)
    return ranges


class _MergedFill:
    """Fills merged ranges row by row, as the rows stream past: the same cells, with the same
    values, as filling the whole grid range after range in their order.

    A range takes the value of its top-left cell when its first row passes; on each row the
    ranges that cover it are applied in their order, so a range sees the cells an earlier one
    filled, as on the whole grid. Rows beyond the sheet's last row are never made. Only the
    ranges that cover the current row are looked at.
    """

    def __init__(self, ranges: list[tuple[int, int, int, int]], max_columns: int):
        self.starts: dict[int, list[int]] = {}
        for order, (_min_col, min_row, _max_col, _max_row) in enumerate(ranges):
            self.starts.setdefault(min_row, []).append(order)
        # a bound beyond Excel's last column only widened rows nobody can read
        self.ranges = [(c1, r1, min(c2, max_columns), r2) for c1, r1, c2, r2 in ranges]
        self.active: list[int] = []  # orders of the ranges that cover the current row, sorted
        self.values: dict[int, object] = {}

    def fill(self, number: int, row: tuple) -> tuple:
        started = self.starts.pop(number, None)
        if started:
            self.active = sorted(self.active + started)
        if not self.active:
            return row
        cells = list(row)
        keep = []
        for order in self.active:
            min_col, min_row, max_col, max_row = self.ranges[order]
            if max_row < number:
                continue
            if min_row == number:
                value = cells[min_col - 1] if min_col <= len(cells) else None
                if value is None:
                    continue  # nothing to fill, on any row of the range
                self.values[order] = value
            value = self.values[order]
            if max_row > number:
                keep.append(order)
            else:
                del self.values[order]
            if len(cells) < max_col:
                cells.extend([None] * (max_col - len(cells)))
            for col in range(min_col - 1, max_col):
                if cells[col] is None:
                    cells[col] = value
        self.active = keep
        return tuple(cells)


def _limit(memory_mb: int, seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_mb:
        size = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if seconds:
        # SIGXCPU at the soft limit ends the child (its default action); the hard one kills it
        # should SIGXCPU be ignored.
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))


def _watch_parent(parent: int) -> None:
    """Exit (``EXIT_ORPHANED``) as soon as the process that started the child is gone.

    A SIGALRM timer rather than a look between rows: openpyxl may spend seconds inside one
    row (a sheet's merged ranges are parsed after its last row). A system call the signal
    interrupts is resumed (PEP 475).
    """

    def check(_signum=None, _frame=None) -> None:
        if os.getppid() != parent:
            os._exit(EXIT_ORPHANED)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, PARENT_CHECK_SECONDS, PARENT_CHECK_SECONDS)
    check()  # it may have died before the timer was set


def _text_bytes(row: tuple) -> int:
    """At least the UTF-8 size of a row's texts (a character takes at most 4 bytes)."""
    size = 0
    for value in row:
        if type(value) is str:
            size += len(value) if value.isascii() else 4 * len(value)
    return size


def _write(out, kind: str, payload: object) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(FRAME_HEADER.pack(len(data)))
    out.write(data)


def _send(out, frames: Iterator[tuple[str, object]]) -> None:
    batch: list[tuple] = []
    cells = size = 0
    for kind, payload in frames:
        if kind == "row":
            batch.append(payload)
            cells += len(payload) + 1
            size += _text_bytes(payload)
            if len(batch) >= BATCH_ROWS or cells >= BATCH_CELLS or size >= BATCH_BYTES:
                _write(out, "rows", batch)
                out.flush()
                batch, cells, size = [], 0, 0
            continue
        if batch:
            _write(out, "rows", batch)
            batch, cells, size = [], 0, 0
        _write(out, kind, payload)
        out.flush()  # the head at once: the reader may want only the first rows


def main(argv: list[str]) -> None:
    options = json.loads(argv[1])
    # The frames go to the standard output the parent reads; anything else printed goes to
    # standard error.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # openpyxl imports numpy when it can, for numpy's number types (used only when writing):
    # with it comes OpenBLAS, whose threads and buffers take over 100 MB of address space.
    sys.modules["numpy"] = None
    parent = options.pop("parent", None)
    if parent is not None:
        _watch_parent(parent)
    try:
        _limit(options.pop("memory_mb"), options.pop("seconds"))
        path = options.pop("path")
        _send(out, produce(path, **options))
        out.close()
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except BrokenPipeError:
        os._exit(0)  # the reader had what it wanted and stopped reading


if __name__ == "__main__":
    main(sys.argv)
