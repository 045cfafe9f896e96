"""Read the first sheet of a person's Excel file in a child process under a memory and time limit.

``core.xlsx_guard`` refuses, from the zip's directory and a count of tags, what would make
openpyxl spend far more memory than a file weighs; what it cannot count (merged ranges,
conditional formats, data validations: a million merged ranges in 4.6 MB cost 650 MB when
read) only a limit on the process that parses can bound. ``open_xlsx`` runs the guard first
(cheap), then openpyxl in a child process (``worker.py``, run as ``python -I worker.py``: no
fork of a Django process with its database connections and threads, no Django in the child)
whose address space and CPU time are limited. The child streams the rows back through a pipe
in batches, as they are read: the caller's process never holds openpyxl's objects, and a
200,000-row file is never whole in either process (the child runs ahead by at most a pipe's
buffer and one batch).

Limits (settings, read when a file is opened):

* ``ZHIWANG_XLSX_CHILD_MEMORY_MB`` (default 1024): the child's address space (``RLIMIT_AS``);
  the interpreter and openpyxl take about 60 MB of it before reading anything;
* ``ZHIWANG_XLSX_CHILD_SECONDS`` (default 300): how long the reader may wait on the child, in
  all (the time the caller spends on the rows it was given is not counted), and the child's
  CPU time (``RLIMIT_CPU``).

A child that exceeds either is stopped and the reader raises ``ServiceError``
``file.xlsx_too_complex`` on the caller's ``field``; the caller's process is not harmed and no
file is left behind (rows go through a pipe, not a file; the child may dump no core). So it is
when the child announces a frame over ``MAX_FRAME_BYTES`` (the child splits its batches at a
few MB of text; only one row larger than the cap makes such a frame): the caller holds a frame
whole while it unpickles it, and its memory is bounded by the cap, not by the file.

A child whose parent dies (even without its finalizers: SIGTERM's default action) exits within
about half a second (``worker.PARENT_CHECK_SECONDS``). Its standard error (a traceback whose
message may quote a cell: personal data) is never logged: only the exception's class name.

Where there is no ``resource`` module (Windows), the child cannot be limited: the workbook is
read in the caller's process, after the guard, with the same results and the same errors
except ``file.xlsx_too_complex`` (the guard's bound is then the only one).

Startup costs about 0.1 s (an interpreter and openpyxl's import); ``benchmarks/xlsx_child_bench.py``
measures the whole read against the in-process one.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import pickle
import re
import selectors
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.xlsx_child import worker
from zhiwang.core.xlsx_guard import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, check_xlsx, too_many_rows

try:
    import resource
except ImportError:  # Windows: no limits, the workbook is read in-process
    resource = None

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 1024
DEFAULT_SECONDS = 300
#: How long a child that sent its last frame (or was killed) may take to be gone.
EXIT_SECONDS = 10
#: Bytes of the child's standard error kept for the log (tracebacks, openpyxl's warnings).
STDERR_TAIL = 8192
WORKER_SCRIPT = Path(worker.__file__)
_READ_BYTES = 1 << 20
#: The largest frame the caller accepts (it holds a frame and its unpickled rows at once); the
#: child sends frames of about ``worker.BATCH_BYTES``, or one row that is larger.
MAX_FRAME_BYTES = 64 << 20
#: The line of a traceback that names the exception (its class, dotted, then ": message" or nothing).
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]{0,199})(?::|$)")
#: Signals a child dies of when it runs short of memory: killed by the kernel's OOM killer,
#: or a crash of C code (the XML parser) that met a failed allocation.
_OUT_OF_MEMORY = frozenset({signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS})


class XlsxUnreadable(Exception):
    """openpyxl could not open the workbook (``row`` None) or read row ``row`` (1-based).

    ``detail`` is openpyxl's own text, for the reader's message. Not a ``ServiceError``: each
    reader words an unreadable file its own way (and keeps its own error codes).
    """

    def __init__(self, detail: str, row: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.row = row


def child_limits() -> tuple[int, float]:
    """(memory in MB, seconds) for a child, from the settings."""
    memory = int(getattr(settings, "ZHIWANG_XLSX_CHILD_MEMORY_MB", DEFAULT_MEMORY_MB))
    seconds = float(getattr(settings, "ZHIWANG_XLSX_CHILD_SECONDS", DEFAULT_SECONDS))
    return memory, seconds


def isolated() -> bool:
    """Whether workbooks are read in a limited child here (``resource`` exists, and an interpreter)."""
    return resource is not None and bool(sys.executable)


def open_xlsx(
    path: Path | str,
    *,
    field: str | None,
    reset_dimensions: bool = False,
    fill_merged: bool = False,
    guard: bool = True,
    memory_mb: int | None = None,
    seconds: float | None = None,
    in_process: bool | None = None,
) -> XlsxSheet:
    """The first sheet of the workbook at ``path``, opened: its head read, its rows to iterate.

    Runs ``check_xlsx`` first unless ``guard`` is False (only for a file the caller has just
    checked). Raises ``ServiceError`` on ``field`` (the guard's ``file.xlsx_*``, or
    ``file.xlsx_too_complex`` when the child runs out of memory or time) and ``XlsxUnreadable``
    when openpyxl cannot open the workbook. ``reset_dimensions``: read every row and column,
    whatever the sheet's ``<dimension>`` claims. ``fill_merged``: a merged range's value fills
    each of its cells. ``memory_mb`` and ``seconds`` default to the settings; ``in_process``
    (tests, the benchmark) forces one way or the other, else the child wherever it can be
    limited.

    Close the sheet (``with``, or iterate it to the end): that ends the child. One left open is
    ended when it is garbage-collected.
    """
    if guard:
        check_xlsx(path, field=field)
    default_memory, default_seconds = child_limits()
    memory_mb = default_memory if memory_mb is None else memory_mb
    seconds = default_seconds if seconds is None else seconds
    options = {
        "reset_dimensions": reset_dimensions,
        "fill_merged": fill_merged,
        "max_rows": EXCEL_MAX_ROWS,
        "max_columns": EXCEL_MAX_COLUMNS,
    }
    if in_process is None:
        in_process = not isolated()
    if in_process:
        frames = worker.produce(str(path), **options)
        sheet = XlsxSheet(frames, field=field)
    else:
        sheet = XlsxSheet(
            _Child(path, options, field=field, memory_mb=memory_mb, seconds=seconds), field=field
        )
    sheet._read_head()
    return sheet


class XlsxSheet:
    """The first sheet of an open workbook: ``worksheets``, ``max_row``, ``sheet_path``, rows.

    ``worksheets`` is the workbook's number of worksheets (0: only chart sheets, no rows);
    ``max_row`` the last row as the sheet's ``<dimension>`` states it (None when it states none,
    a guess at best: some exporters write a wrong one); ``sheet_path`` the sheet's part in the
    archive. Iterating gives each row as a tuple of values (None for an empty cell), once;
    raises ``XlsxUnreadable`` (with its row) on a damaged row, ``ServiceError``
    ``file.xlsx_too_many_rows`` beyond Excel's last row and ``file.xlsx_too_complex``.
    """

    def __init__(self, frames, *, field: str | None):
        self._frames = frames
        self._field = field
        self.worksheets = 0
        self.max_row: int | None = None
        self.sheet_path: str | None = None
        self._started = False

    def _read_head(self) -> None:
        try:
            kind, payload = next(self._frames)
            if kind == "unreadable":
                raise XlsxUnreadable(payload["detail"], payload["row"])
            if kind != "head":
                raise RuntimeError(f"the Excel reading child sent {kind!r} first")
        except BaseException:
            self.close()
            raise
        self.worksheets = payload["worksheets"]
        self.max_row = payload["max_row"]
        self.sheet_path = payload["sheet_path"]

    def __iter__(self) -> Iterator[tuple]:
        if self._started:
            raise RuntimeError("the rows of an XlsxSheet are read once")
        self._started = True
        return self._rows()

    def _rows(self) -> Iterator[tuple]:
        read = 0
        try:
            for kind, payload in self._frames:
                if kind == "rows" or kind == "row":
                    batch = payload if kind == "rows" else (payload,)
                    for row in batch:
                        read += 1
                        if read > EXCEL_MAX_ROWS:  # the child stops there, and says nothing more
                            raise too_many_rows(self._field)
                        yield row
                elif kind == "end":
                    return
                elif kind == "unreadable":
                    raise XlsxUnreadable(payload["detail"], payload["row"])
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> XlsxSheet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Child:
    """The child process and its pipes: the frames it sends, each as ``(kind, payload)``.

    Every wait for a frame counts against ``seconds`` (time the child spends while the caller
    works on earlier rows does not: a slow consumer is no slow file). A death without a last
    frame is the memory limit (``MemoryError``, or killed), SIGXCPU the CPU limit.
    """

    def __init__(self, path: Path | str, options: dict, *, field: str | None, memory_mb: int, seconds: float):
        self.path = Path(path)
        self.field = field
        self.memory_mb = memory_mb
        self.seconds = seconds
        arguments = {
            **options,
            "path": str(path),
            "memory_mb": memory_mb,
            "seconds": _cpu_seconds(seconds),
            # the child exits when its parent is no longer this process
            "parent": os.getpid(),
        }
        # -I: no environment variables, user site or current folder in the child's imports.
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER_SCRIPT), json.dumps(arguments)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            # its own session: a Ctrl-C or a signal to the caller's process group is the
            # caller's to handle (which ends the child), not a death to explain
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _stop, self.process)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.selector.register(self.process.stderr, selectors.EVENT_READ)
        self.buffer = bytearray()
        self.stderr = b""
        self.waited = 0.0
        self.eof = False
        self.done = False

    def __iter__(self):
        return self

    def __next__(self) -> tuple[str, object]:
        if self.done:
            raise StopIteration
        try:
            frame = self._frame()
        except BaseException:
            self.close()
            raise
        if frame[0] in ("end", "unreadable"):  # the last frame: the child is done
            self.close()
        return frame

    def _frame(self) -> tuple[str, object]:
        header = worker.FRAME_HEADER.size
        self._fill(header)
        if len(self.buffer) < header:
            raise self._died()
        (length,) = worker.FRAME_HEADER.unpack_from(self.buffer)
        if length > MAX_FRAME_BYTES:  # refused before it is read: the caller never holds it
            self._stop()
            raise self._too_complex(time_out=False, code=self.process.returncode, frame=length)
        end = header + length
        self._fill(end)
        if len(self.buffer) < end:
            raise self._died()
        # Unpickled from the buffer itself: no copy of the frame besides its rows.
        with memoryview(self.buffer) as view, view[header:end] as data:
            try:
                frame = _CellUnpickler(_FrameReader(data)).load()
            except (pickle.UnpicklingError, EOFError) as exc:
                self._stop()
                error = RuntimeError(
                    f"the Excel reading child sent a frame that is no rows: {type(exc).__name__}"
                )
            else:
                error = None
        if error is not None:
            raise error
        del self.buffer[:end]  # after the views are released: a viewed bytearray cannot shrink
        return frame

    def _fill(self, size: int) -> None:
        """Read from the pipes until the buffer holds ``size`` bytes or the child closed its output."""
        while len(self.buffer) < size and not self.eof:
            remaining = self.seconds - self.waited
            if remaining <= 0:
                self._stop()
                raise self._too_complex(time_out=True, code=self.process.returncode)
            started = time.monotonic()
            events = self.selector.select(remaining)
            self.waited += time.monotonic() - started
            for key, _mask in events:
                data = os.read(key.fd, _READ_BYTES)
                if key.fileobj is self.process.stdout:
                    if data:
                        self.buffer += data
                    else:
                        self.eof = True
                elif data:
                    self.stderr = (self.stderr + data)[-STDERR_TAIL:]
                else:
                    self.selector.unregister(key.fileobj)

    def _died(self) -> Exception:
        """The error for a child whose output ended before its last frame."""
        try:
            code = self.process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._stop()
            code = self.process.returncode
        self._drain_stderr()
        if code == -signal.SIGXCPU:  # its CPU time ran out
            return self._too_complex(time_out=True, code=code)
        exception = _exception_name(self.stderr)
        if (
            code == worker.EXIT_MEMORY
            or (code is not None and -code in _OUT_OF_MEMORY)
            or exception == "MemoryError"
        ):
            return self._too_complex(time_out=False, code=code)
        # stopped from outside (SIGTERM of a stopping worker…), or a bug of ours: not the file's
        # fault. The exception's class only: its message may quote a cell (personal data).
        logger.error("the Excel reading child failed (exit %s, %s)", code, exception or "no traceback")
        return RuntimeError(f"the Excel reading child failed (exit {code}, {exception or 'no traceback'})")

    def _too_complex(
        self, *, time_out: bool, code: int | None = None, frame: int | None = None
    ) -> ServiceError:
        if frame is not None:
            reason = f"memory: a frame of {frame} bytes"
        else:
            reason = "time" if time_out else "memory"
        logger.warning(
            "the Excel file %s was too complex to read (%s, exit %s, %s, limits %d MB, %s s)",
            self.path.name,
            reason,
            code,
            _exception_name(self.stderr) or "no traceback",
            self.memory_mb,
            self.seconds,
        )
        if time_out:
            message = _(
                "The Excel file is too complex to read: reading it took more than %(seconds)d seconds; "
                "split it into smaller files, or save it as CSV."
            ) % {"seconds": self.seconds}
        else:
            message = _(
                "The Excel file is too complex to read: it needs more than %(limit)d MB of memory "
                "(merged cells, formats or validations in great number); save it again in Excel or WPS, "
                "or as CSV."
            ) % {"limit": self.memory_mb}
        return ServiceError("file.xlsx_too_complex", message, field=self.field)

    def _drain_stderr(self) -> None:
        try:
            rest = self.process.stderr.read()
        except (OSError, ValueError):
            return
        self.stderr = (self.stderr + (rest or b""))[-STDERR_TAIL:]

    def _stop(self) -> None:
        _stop(self.process)

    def close(self) -> None:
        """End the child (killed if it still runs) and close the pipes; once is enough."""
        if self.done:
            return
        self.done = True
        self._finalizer.detach()
        self.selector.close()
        _stop(self.process)


def _cpu_seconds(seconds: float) -> int:
    """The child's CPU limit: whole seconds (``RLIMIT_CPU``), at least one."""
    return max(1, math.ceil(seconds))


def _exception_name(stderr: bytes) -> str | None:
    """The class of the exception that ended the child, from its standard error, or None.

    Only the name (``zipfile.BadZipFile``): the message, like the rest of the output, may quote
    a cell. The last traceback's exception line is the first unindented line after it.
    """
    text = stderr.decode("utf-8", errors="replace")
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    for line in text[start:].splitlines()[1:]:
        if line[:1].isspace():
            continue  # a frame of the traceback, or its source line
        match = _EXCEPTION_LINE.match(line)
        return match.group(1) if match else None
    return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:  # unkillable (stopped in the kernel): let it go
        pass
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


class _FrameReader:
    """A frame in the parent's buffer, read as a file by the unpickler: no copy of it whole."""

    def __init__(self, data: memoryview):
        self.data = data
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else min(len(self.data), self.position + size)
        chunk = bytes(self.data[self.position : end])
        self.position = end
        return chunk

    def readinto(self, buffer) -> int:
        with memoryview(buffer) as target:
            size = min(len(target), len(self.data) - self.position)
            target[:size] = self.data[self.position : self.position + size]
        self.position += size
        return size

    def readline(self, size: int = -1) -> bytes:
        """Up to the next newline (only the text opcodes of the old protocols read lines)."""
        limit = len(self.data) if size is None or size < 0 else min(len(self.data), self.position + size)
        end = self.position
        while end < limit:  # looked for in pieces: no copy of the rest of the frame
            step = min(limit, end + (1 << 16))
            found = bytes(self.data[end:step]).find(b"\n")
            if found >= 0:
                end += found + 1
                break
            end = step
        return self.read(end - self.position)


class _CellUnpickler(pickle.Unpickler):
    """Unpickles rows of cell values and nothing else: no class but datetime's can be named."""

    ALLOWED = frozenset({"datetime", "date", "time", "timedelta", "timezone"})

    def find_class(self, module: str, name: str):
        if module == "datetime" and name in self.ALLOWED:
            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"{module}.{name} is no cell value")
