"""Group commit for single submissions arriving at the same moment in one process.

Under load, many API clients submit at once, and each ``ticket_submit`` pays its own queries,
its own wait for the day counter and its own commit flush. Here concurrent callers in one
process join a group: the first caller leads and writes, through ``ticket_submit_many``, its
own submission and every one that queued meanwhile, in one transaction; the others wait and get
their own outcome (a ``SubmitResult``, or their own ``ServiceError`` raised in their thread), as
if each had called ``ticket_submit``. Nobody waits on a timer: a group is whatever queued while
the previous group was being written, so a lone caller is written at once.

After writing its group, a leader hands the lead to the first caller still queued (that thread
wakes and writes the next group), so no request carries other requests' work for long.

Used by ``POST /api/v1/tickets/`` (``ZHIWANG_INTAKE_GROUP_COMMIT``, default on). A caller
already inside a transaction is written on its own (``ticket_submit``): its transaction must
contain its ticket.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import cast

from django.conf import settings
from django.db import connection

from zhiwang.core.errors import ServiceError
from zhiwang.tickets.services.submit import SubmitResult, ticket_submit
from zhiwang.tickets.services.submit_batch import MAX_BATCH, ticket_submit_many

#: The most submissions one group writes (the rest wait for the next group).
MAX_GROUP = 100


@dataclass
class _Slot:
    submission: dict
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next group, not with an outcome
    outcome: object = None


class _Intake:
    """The queue of one process and who leads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue: deque[_Slot] = deque()
        self.leading = False
        self.groups = 0  # written groups and submissions (observability, tests)
        self.grouped = 0


_intake = _Intake()


def ticket_submit_grouped(*, actor=None, **submission) -> SubmitResult:
    """``ticket_submit(**submission, actor=actor)``, written together with concurrent callers (see above)."""
    if not getattr(settings, "ZHIWANG_INTAKE_GROUP_COMMIT", True) or connection.in_atomic_block:
        return ticket_submit(**submission, actor=actor)
    slot = _Slot({**submission, "actor": actor})
    with _intake.lock:
        _intake.queue.append(slot)
        lead = not _intake.leading
        if lead:
            _intake.leading = True
    if not lead:
        slot.done.wait()
        if slot.lead:  # handed the lead: this slot is still queued
            _lead()
    else:
        _lead()
    if isinstance(slot.outcome, BaseException):
        raise slot.outcome
    return cast(SubmitResult, slot.outcome)


def _lead() -> None:
    """Write one group (the queue's head, this caller's slot among it), then hand the lead on."""
    with _intake.lock:
        group = [_intake.queue.popleft() for _ in range(min(MAX_GROUP, MAX_BATCH, len(_intake.queue)))]
    try:
        if len(group) == 1:  # alone: the single path is cheaper than a batch of one
            outcomes = [_submit_alone(group[0].submission)]
        else:
            outcomes = ticket_submit_many([s.submission for s in group])
    except BaseException as error:  # the whole group failed (e.g. the database is gone): each caller sees it
        outcomes = [error] * len(group)
    finally:
        with _intake.lock:
            if _intake.queue:
                successor = _intake.queue[0]
                successor.lead = True
                successor.done.set()
            else:
                _intake.leading = False
            _intake.groups += 1
            _intake.grouped += len(group)
    for slot, outcome in zip(group, outcomes, strict=True):
        slot.outcome = outcome
        slot.lead = False
        slot.done.set()


def _submit_alone(submission: dict):
    try:
        return ticket_submit(**submission)
    except ServiceError as error:
        return error


def group_stats() -> tuple[int, int]:
    """(groups written, submissions in them) by this process."""
    return _intake.groups, _intake.grouped


__all__ = ["group_stats", "ticket_submit_grouped"]
