"""One run at a time per batch: a run claims its batch before it reads a row, and writes a chunk
only while it still holds it.

Upload twice, Resume twice, a task queued twice: each run starts by claiming the batch with one
conditional ``UPDATE`` (the batch as this run read it → ``running``, held by this run's
``runner``). Only one of two runs at the same moment can match; the other returns without work.
Each chunk's counters are written only where the batch is still held by the same runner (in the
chunk's own transaction), so a run whose batch was taken over stops at its next chunk with
nothing written, and a run never marks failed or done a batch another run holds.

A batch may be claimed when it waits (``pending``), failed, or is "running" with nobody behind
it: its run let it go (``max_chunks``, an interrupted worker), its run's process is gone (same
machine and boot, no such process: ``kill -9``, a restarted worker), or it showed no sign of life
for ``STALE_MINUTES`` (another machine's worker died: the heartbeat is written with every chunk).
A batch whose file was deleted at the end of its keeping period is never claimed again.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone

from zhiwang.registry.models import ImportBatch, ImportStatus

#: A running batch whose heartbeat is older than this is abandoned (its worker died elsewhere).
#: A live run writes its heartbeat with every chunk (SQLite: every commit group, at most 5 s).
STALE_MINUTES = 10

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
#: The runners of the runs alive in this process (a run in another thread of it is not dead).
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()


class ClaimLost(Exception):
    """Another run took the batch over (this one was taken for dead): the chunk is rolled back."""


def _boot_id() -> str:
    try:
        return _BOOT_ID_PATH.read_text().strip()[:8]
    except OSError:
        return ""


def _here() -> tuple[str, str]:
    return socket.gethostname()[:64], _boot_id()


def new_runner() -> str:
    """``host/boot/pid/token``: where the run lives, and a token of its own (two runs of one process differ)."""
    host, boot = _here()
    return f"{host}/{boot}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def runner_is_gone(runner: str) -> bool:
    """The run is known to be dead: it lived on this machine and its process (or, in this
    process, the run itself) no longer exists, or the machine rebooted since. A run elsewhere
    is never known dead here (``STALE_MINUTES`` decides for it)."""
    parts = runner.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return not runner
    host, boot, pid = parts[0], parts[1], int(parts[2])
    my_host, my_boot = _here()
    if host != my_host or not boot or not my_boot:
        return False
    if boot != my_boot:
        return True  # this machine restarted since: every process of before is gone
    if pid == os.getpid():
        with _LIVE_LOCK:
            return runner not in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: a process of another user holds that pid
        return False
    return False


def is_stale(heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    if heartbeat_at is None:
        return True
    return (now or timezone.now()) - heartbeat_at > timedelta(minutes=STALE_MINUTES)


def may_claim(batch: ImportBatch, now: datetime | None = None) -> bool:
    """A run may start on the batch now (see the module's docstring)."""
    if batch.file_purged_at is not None:
        return False
    if batch.status in (ImportStatus.PENDING, ImportStatus.FAILED):
        return True
    if batch.status == ImportStatus.RUNNING:
        return not batch.runner or is_stale(batch.heartbeat_at, now) or runner_is_gone(batch.runner)
    return False  # done, or validated (publish it first)


def claim(batch: ImportBatch) -> str | None:
    """Take the batch for a new run; its runner, or None when it may not run now (running
    elsewhere, finished, purged) or another run claimed it first."""
    now = timezone.now()
    current = ImportBatch.objects.filter(pk=batch.pk).first()
    if current is None or not may_claim(current, now):
        return None
    runner = new_runner()
    claimed = ImportBatch.objects.filter(
        pk=current.pk,
        status=current.status,
        runner=current.runner,
        heartbeat_at=current.heartbeat_at,
        file_purged_at__isnull=True,
    ).update(status=ImportStatus.RUNNING, runner=runner, heartbeat_at=now, error="")
    if not claimed:
        return None
    with _LIVE_LOCK:
        _LIVE.add(runner)
    return runner


def ended(runner: str) -> None:
    """The run is over in this process (whatever became of the batch)."""
    with _LIVE_LOCK:
        _LIVE.discard(runner)


def held(batch: ImportBatch, runner: str):
    """The batch's row while ``runner`` still holds it (for a conditional ``update``)."""
    return ImportBatch.objects.filter(pk=batch.pk, runner=runner)


def release(batch: ImportBatch, runner: str) -> None:
    """The run stops early (``max_chunks``, an interrupted worker): the batch stays "running" as
    far as it got, held by nobody, so the next run resumes it at once."""
    held(batch, runner).update(runner="", heartbeat_at=timezone.now())


def lock_file(sha256: str) -> None:
    """Inside a transaction: the creations and purges of one stored file take turns until it
    commits (PostgreSQL: a transaction advisory lock on the file's hash; SQLite writes one at a
    time anyway, its transactions start ``IMMEDIATE``)."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:8]), "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5A52, key])
