"""Accept now, submit a moment later: the queued path of ``POST /api/v1/tickets/``.

``submission_queue`` checks a submission's fields (the same rules as ``ticket_submit``, except
those that need the place or the routing), stores it as a ``QueuedSubmission`` and returns its
receipt: one short transaction, no day counter, no routing. ``queued_submissions_process``
(the task worker) claims queued rows a hundred at a time and writes them through
``ticket_submit_many``, the batch path: one transaction per hundred tickets instead of one each.

Exactly once: the queue row's key is the ticket's idempotency key, so a client's retry finds
the row (or the ticket it became), and a batch written twice (a worker that died after writing,
before marking the rows) finds its tickets by key and marks them done. A row claimed by a worker
that died goes back to the queue after ``STALE_AFTER``.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.geo.crs import check_crs, check_point
from zhiwang.tickets.models import QueuedStatus, QueuedSubmission, Urgency
from zhiwang.tickets.services.intake_place import point_given
from zhiwang.tickets.services.intake_validation import (
    _validate,
    check_same_submission,
    submission_fingerprint,
    submission_texts,
)
from zhiwang.tickets.services.submit_batch import MAX_BATCH, ticket_submit_many

log = logging.getLogger(__name__)

#: A row claimed longer ago than this by a worker that never finished goes back to the queue.
STALE_AFTER = timedelta(minutes=5)
#: After this many claims a row that keeps failing (not a refusal: a crash) is refused for good.
MAX_ATTEMPTS = 3
#: Receipts are kept this long after they were processed, then deleted (the ticket stays).
RECEIPT_KEEP = timedelta(days=7)
#: Set while a drain is scheduled, so a burst of submissions schedules one task, not one each.
DRAIN_FLAG = "tickets:queued:drain-scheduled"
DRAIN_FLAG_SECONDS = 2
#: A drain keeps looking for new rows this long after it started (see ``schedule_drain``).
DRAIN_LINGER_SECONDS = DRAIN_FLAG_SECONDS + 0.5
#: Within this long after this process last asked for a drain it does not ask the cache again:
#: that drain (or the one already scheduled) still looks for rows until after this window.
#: Must stay below ``DRAIN_LINGER_SECONDS - DRAIN_FLAG_SECONDS``.
LOCAL_ASK_SECONDS = 0.4
_last_ask = {"at": float("-inf")}
#: How long a process trusts its last count of the queue (``submission_queue_has_room``).
DEPTH_CHECK_SECONDS = 1.0
_depth = {"at": float("-inf"), "full": False}


def submission_queue_has_room() -> bool:
    """Whether the queue takes another submission: fewer than ``ZHIWANG_INTAKE_QUEUE_LIMIT`` waiting.

    When it does not, ``POST /`` writes the submission before answering, as without
    ``Prefer: respond-async`` (RFC 7240 lets a server ignore a preference): callers are slowed
    instead of a backlog growing past what the worker can catch up on, or while it is down.
    Counted at most once a second per process, and never past the limit (the claim index).
    """
    now = time.monotonic()
    if now - _depth["at"] >= DEPTH_CHECK_SECONDS:
        limit = settings.ZHIWANG_INTAKE_QUEUE_LIMIT
        waiting = QueuedSubmission.objects.filter(status=QueuedStatus.QUEUED).order_by()[:limit].count()
        full = waiting >= limit
        if full and not _depth["full"]:  # said once per process when it fills, for the operators
            log.warning(
                "intake queue full (%s waiting): Prefer: respond-async is not honoured until the task "
                "worker catches up (ZHIWANG_INTAKE_QUEUE_LIMIT)",
                waiting,
            )
        _depth.update(at=now, full=full)
    return not _depth["full"]


def submission_queue_room_reset() -> None:
    """Forget the last count (tests: each starts with an empty queue)."""
    _depth.update(at=float("-inf"), full=False)


@dataclass
class Queued:
    """What the caller gets back: the queue row, and whether this call stored it."""

    submission: QueuedSubmission
    accepted: bool = False  # False: a retry of a stored one (its receipt, as it stands)


def submission_queue(
    *,
    actor,
    channel: str,
    kind: str,
    description: str,
    external_id: str,
    category: str = "",
    title: str = "",
    urgency: str = Urgency.NORMAL,
    reporter=None,
    reporter_name: str = "",
    reporter_phone: str = "",
    address_code: str = "",
    address_text: str = "",
    lon: float | None = None,
    lat: float | None = None,
    crs: str = "wgs84",
    received_at: datetime | None = None,
) -> Queued:
    """Check the fields and queue the submission (``external_id`` required: it makes retries safe).

    The time received is now unless given, so the deadlines run from when the citizen was heard,
    not from when the worker got to it. Field errors are raised at once, as by ``ticket_submit``;
    an address that does not resolve or a place that is missing is told on the receipt later.
    A retry with the same content answers the stored receipt (with the ticket once written);
    other content is refused at once, nothing stored (422 ``tickets.idempotency_key_reused``, as
    ``POST /`` answers it), unless the receipt was refused (nothing was written): then the retry
    is queued in its place. A key that is already a ticket's (sent before without the header) is
    processed to that ticket, unless its content differs from that ticket's: then it is refused
    on the receipt with the same code.
    """
    texts = submission_texts(
        description=description,
        title=title,
        reporter_name=reporter_name,
        address_text=address_text,
        external_id=external_id,
        # the fields that are not free text, checked for control characters alike
        channel=channel,
        kind=kind,
        category=category,
        urgency=urgency,
        reporter_phone=reporter_phone,
        address_code=address_code,
        crs=crs,
    )
    now = timezone.now()
    if not texts["external_id"]:
        raise ServiceError(
            "tickets.external_id_required",
            _(
                "A queued submission needs an external_id (or an Idempotency-Key header): it makes a retry safe."
            ),
            field="external_id",
        )
    _category, phone = _validate(
        channel=channel,
        kind=kind,
        category=(category or "").strip(),
        urgency=urgency,
        texts=texts,
        reporter_phone=reporter_phone,
        received_at=received_at,
        now=now,
        category_required=False,
        category_from_snapshot=True,  # checked against the table again when written
    )
    # The content as the ticket will keep it (``intake_prepare`` computes the same from the same
    # fields), so a retry is compared alike whether it finds this row or the ticket.
    content = submission_fingerprint(
        kind=kind,
        category=category,
        urgency=urgency,
        texts=texts,
        phone=phone,
        address_code=address_code,
        lon=lon,
        lat=lat,
        crs=crs,
    )
    if point_given(lon, lat):  # the point's rules need no lookup either: NaN or 200° is refused now
        lon, lat = check_point(lon, lat)
        check_crs(crs)
    key = f"{channel}:{texts['external_id']}"
    # No look-up of the key among the tickets here: a retry of a submission already written is
    # queued and found by its key when processed (``done``, ``created`` false); the retry of a
    # queued one finds its row (the ``IntegrityError`` below).
    payload = {
        "channel": channel,
        "kind": kind,
        "category": (category or "").strip(),
        "description": description,
        "title": title,
        "urgency": urgency,
        "external_id": texts["external_id"],
        "reporter_name": reporter_name,
        "reporter_phone": reporter_phone,
        "address_code": address_code,
        "address_text": address_text,
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "received_at": (received_at or now).isoformat(),
    }
    reporter = reporter if getattr(reporter, "pk", None) else None

    def store() -> QueuedSubmission:
        return QueuedSubmission.objects.create(
            key=key, submitted_by=actor, reporter=reporter, payload=payload, idempotency_fingerprint=content
        )

    try:
        if connection.in_atomic_block:  # a savepoint: a duplicate key must not spoil the caller's transaction
            with transaction.atomic():
                row = store()
        else:
            # Autocommit (the API): the one INSERT is its own transaction. No BEGIN and COMMIT
            # round trips, a third of this request's waits on PostgreSQL under load.
            row = store()
    except IntegrityError:
        row = QueuedSubmission.objects.filter(key=key).first()
        if row is None:  # not the key (the only unique value the caller sends): a real failure
            raise
        taken = 0
        if row.status == QueuedStatus.REFUSED:
            # Refused before (nothing was written): a retry with the same key is a new attempt,
            # with whatever content, as it is for ``ticket_submit``. Only a refused row is taken
            # back, so a retry cannot overwrite a submission being processed.
            taken = QueuedSubmission.objects.filter(pk=row.pk, status=QueuedStatus.REFUSED).update(
                status=QueuedStatus.QUEUED,
                payload=payload,
                idempotency_fingerprint=content,
                reporter=reporter,
                error={},
                attempts=0,
                claim="",
                claimed_at=None,
                finished_at=None,
                accepted_at=now,
            )
            row.refresh_from_db()
        if not taken:
            # Queued, being processed or done: the receipt answers only a retry of the same
            # content, as ``POST /`` answers with the ticket (422, nothing stored, otherwise).
            check_same_submission(stored=row.idempotency_fingerprint, fresh=content)
            return Queued(row)
    transaction.on_commit(schedule_drain)
    return Queued(row, accepted=True)


def schedule_drain() -> None:
    """Ask the task worker to process the queue, unless a drain was asked for a moment ago.

    The flag lives ``DRAIN_FLAG_SECONDS``; the drain it scheduled keeps looking for new rows
    until ``DRAIN_LINGER_SECONDS`` after it started (``linger``), so a submission stored while the flag was
    up — in this process or, with a shared cache, in any — is claimed by that drain. This holds
    with a per-process cache too (the embedded default), since nothing but time clears the flag.
    The periodic task catches anything else within a minute.
    """
    now = time.monotonic()
    inline = settings.HUEY.get("immediate", False)  # tasks run here and now: no drain lingers
    if not inline and now - _last_ask["at"] < LOCAL_ASK_SECONDS:
        return  # asked a moment ago (in this process): that drain lingers past this moment
    _last_ask["at"] = now
    # The row is stored (committed) before this runs: a cache or queue that is down (Redis)
    # must not turn the caller's 202 into a 500 for a submission that will be processed. The
    # periodic drain takes it within a minute; the next submission asks again.
    try:
        asked = cache.add(DRAIN_FLAG, 1, timeout=DRAIN_FLAG_SECONDS)
    except Exception:
        log.warning(
            "queued submissions: the cache is unreachable; the periodic drain will take them", exc_info=True
        )
        _last_ask["at"] = 0.0
        return
    if not asked:
        return
    from zhiwang.tickets.tasks import queued_submissions_task

    if inline:
        queued_submissions_task()  # runs here: its own errors are the caller's
        return
    try:
        queued_submissions_task()
    except Exception:
        log.warning(
            "queued submissions: the task queue is unreachable; the periodic drain will take them",
            exc_info=True,
        )
        _last_ask["at"] = 0.0
        try:
            cache.delete(DRAIN_FLAG)  # no drain was scheduled: let the next submission ask again
        except Exception:
            pass


def _payload_in(row: QueuedSubmission) -> dict:
    data = dict(row.payload)
    received = data.get("received_at")
    data["received_at"] = datetime.fromisoformat(received) if received else None
    return {**data, "actor": row.submitted_by, "reporter": row.reporter}


def _claim(limit: int) -> list[QueuedSubmission]:
    """Take up to ``limit`` queued rows, oldest first, for this worker alone."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(
            QueuedSubmission.objects.select_for_update(skip_locked=True)
            .filter(status=QueuedStatus.QUEUED)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        QueuedSubmission.objects.filter(id__in=ids, status=QueuedStatus.QUEUED).update(
            status=QueuedStatus.PROCESSING,
            claim=token,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    return list(
        QueuedSubmission.objects.filter(claim=token, status=QueuedStatus.PROCESSING)
        .select_related("submitted_by", "reporter")
        .order_by("id")
    )


def _finish(rows: list[QueuedSubmission], outcomes: list) -> None:
    now = timezone.now()
    for row, outcome in zip(rows, outcomes, strict=True):
        row.payload, row.finished_at, row.claim = {}, now, ""
        if isinstance(outcome, ServiceError):
            row.status, row.error, row.ticket, row.created = (
                QueuedStatus.REFUSED,
                outcome.as_dict(),
                None,
                False,
            )
        else:
            row.status, row.error, row.ticket, row.created = (
                QueuedStatus.DONE,
                {},
                outcome.ticket,
                outcome.created,
            )
    QueuedSubmission.objects.bulk_update(
        rows, ["status", "payload", "finished_at", "claim", "error", "ticket", "created"]
    )


def _give_back(rows: list[QueuedSubmission]) -> None:
    """A batch that crashed: back to the queue, or refused for good after ``MAX_ATTEMPTS``."""
    ids = [r.pk for r in rows]
    QueuedSubmission.objects.filter(pk__in=ids, attempts__lt=MAX_ATTEMPTS).update(
        status=QueuedStatus.QUEUED, claim="", claimed_at=None
    )
    error = ServiceError(
        "tickets.submit_failed", _("The submission could not be processed. Send it again later.")
    ).as_dict()
    QueuedSubmission.objects.filter(pk__in=ids, attempts__gte=MAX_ATTEMPTS).update(
        status=QueuedStatus.REFUSED, claim="", payload={}, error=error, finished_at=timezone.now()
    )


#: How often a lingering drain looks for new rows.
LINGER_POLL_SECONDS = 0.2


def queued_submissions_process(
    *, batch: int = MAX_BATCH, max_rows: int | None = None, linger: float = 0.0
) -> int:
    """Write queued submissions as tickets until the queue is empty (or ``max_rows``); returns rows done.

    Each claimed batch goes through ``ticket_submit_many``: a refused submission gets its error
    on the receipt and does not stop the others. A batch that crashes goes back to the queue.
    ``linger``: once the queue is empty, keep looking until this many seconds after the start
    (see ``schedule_drain``).
    """
    done = 0
    until = time.monotonic() + linger
    while max_rows is None or done < max_rows:
        rows = _claim(min(batch, MAX_BATCH) if max_rows is None else min(batch, MAX_BATCH, max_rows - done))
        if not rows:
            if time.monotonic() >= until:
                break
            time.sleep(LINGER_POLL_SECONDS)
            continue
        try:
            # only the API queues: its retries must repeat the first call's content
            outcomes = ticket_submit_many([_payload_in(r) for r in rows], strict_replay=True)
        except Exception:
            log.exception("queued submissions %s-%s failed; given back to the queue", rows[0].pk, rows[-1].pk)
            _give_back(rows)
            break
        _finish(rows, outcomes)
        done += len(rows)
    return done


def queued_submissions_maintain(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic safety net: requeue rows of workers that died, delete old receipts."""
    now = now or timezone.now()
    stale = QueuedSubmission.objects.filter(status=QueuedStatus.PROCESSING, claimed_at__lt=now - STALE_AFTER)
    given_up = list(stale.filter(attempts__gte=MAX_ATTEMPTS))
    if given_up:
        _give_back(given_up)  # they took a worker down every time: refused for good
    requeued = stale.filter(attempts__lt=MAX_ATTEMPTS).update(
        status=QueuedStatus.QUEUED, claim="", claimed_at=None
    )
    deleted, _by_model = QueuedSubmission.objects.filter(
        status__in=(QueuedStatus.DONE, QueuedStatus.REFUSED), finished_at__lt=now - RECEIPT_KEEP
    ).delete()
    return {"requeued": requeued, "deleted": deleted}
