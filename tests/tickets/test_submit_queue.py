"""Queued submissions: ``POST /api/v1/tickets/`` with ``Prefer: respond-async`` answers 202 with a
receipt at once, and the task worker writes the ticket a moment later (services.submit_queue)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.threads import needs_row_locks, run_in_threads
from tests.tickets.test_api import _submit_body
from zhiwang.tickets.models import QueuedStatus, QueuedSubmission, Ticket
from zhiwang.tickets.services import submit_queue
from zhiwang.tickets.services.submit_queue import (
    queued_submissions_maintain,
    queued_submissions_process,
    submission_queue,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The drain flag lives in the cache."""


def post(client, body, **headers):
    return client.post(f"{URL}/", body, content_type="application/json", headers={**ASYNC, **headers})


def body_for(building, **extra):
    """The tickets API tests' submission, with a call id (a queued submission needs one)."""
    return _submit_body(building, **{"external_id": "call-1", **extra})


def test_202_with_a_receipt_then_the_ticket_once_the_worker_ran(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    tickets_before = Ticket.objects.count()
    answer = post(api, body_for(nanshan_building))
    assert answer.status_code == 202, answer.json()
    receipt = answer.json()
    assert receipt["status"] == "queued" and receipt["ticket"] is None and receipt["error"] is None
    assert answer.headers["Location"] == receipt["links"]["self"] == f"{URL}/submissions/{receipt['receipt']}"
    assert answer.headers["Preference-Applied"] == "respond-async"
    assert Ticket.objects.count() == tickets_before  # nothing routed or numbered yet
    row = QueuedSubmission.objects.get(receipt=receipt["receipt"])
    assert row.payload["reporter_phone"] == "13800138000"

    assert queued_submissions_process() == 1
    done = api.get(receipt["links"]["self"]).json()
    assert done["status"] == "done" and done["created"] is True and done["error"] is None
    ticket = Ticket.objects.get(number=done["ticket"]["number"])
    assert ticket.reporter_phone == "13800138000" and ticket.suggested_unit.code == "DEMO-SUB-OFFICE"
    # deadlines run from when the citizen was heard, not from when the worker got to it
    assert abs(ticket.received_at - row.accepted_at) < timedelta(seconds=1)
    assert [e.action for e in ticket.events.all()] == ["receive"]
    assert QueuedSubmission.objects.get(pk=row.pk).payload == {}  # the personal data is the ticket's now
    # a retry once written: the same receipt, now with the ticket
    again = post(api, body_for(nanshan_building))
    assert again.status_code == 202 and again.json()["receipt"] == receipt["receipt"]
    assert again.json()["status"] == "done" and again.json()["ticket"]["number"] == ticket.number
    assert queued_submissions_process() == 0


def test_a_key_sent_before_without_the_header_is_processed_to_that_ticket(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    first = api.post(f"{URL}/", body_for(nanshan_building), content_type="application/json")
    assert first.status_code == 201
    queued = post(api, body_for(nanshan_building))
    assert queued.status_code == 202
    queued_submissions_process()
    done = api.get(queued.json()["links"]["self"]).json()
    assert done["status"] == "done" and done["created"] is False
    assert done["ticket"]["number"] == first.json()["ticket"]["number"]


def test_a_retry_while_queued_answers_the_same_receipt(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    first = post(api, body_for(nanshan_building)).json()
    # the same content, spelled as a retry may spell it (spaces around a text do not count)
    body = body_for(nanshan_building)
    body["description"] = f"  {body['description']} "
    second = post(api, body)
    assert second.status_code == 202 and second.json()["receipt"] == first["receipt"]
    assert QueuedSubmission.objects.count() == 1
    queued_submissions_process()
    assert Ticket.objects.filter(idempotency_key=f"hotline:u{hotline.pk}:call-1").count() == 1


@pytest.mark.parametrize("when", ["queued", "done"])
def test_a_retry_of_a_queued_key_with_other_content_is_refused(as_user, hotline, nanshan_building, when):
    api = as_user(hotline)
    first = post(api, body_for(nanshan_building)).json()
    if when == "done":
        queued_submissions_process()  # the payload is emptied: the fingerprint stays
    row = QueuedSubmission.objects.get()
    before = (row.status, row.payload, row.accepted_at)
    other = post(api, body_for(nanshan_building, description="重复发送的另一条记录，内容不同。"))
    assert other.status_code == 422
    error = other.json()["error"]
    assert error["code"] == "tickets.idempotency_key_reused" and error["field"] == "external_id"
    assert first["receipt"] not in other.content.decode()  # no receipt for the other content
    row.refresh_from_db()
    assert (row.status, row.payload, row.accepted_at) == before  # nothing stored
    assert QueuedSubmission.objects.count() == 1


def test_the_idempotency_key_header_serves_as_the_external_id(as_user, hotline, nanshan_building):
    body = body_for(nanshan_building)
    del body["external_id"]
    answer = post(as_user(hotline), body, **{"Idempotency-Key": "call-9"})
    assert answer.status_code == 202
    assert QueuedSubmission.objects.get().key == f"hotline:u{hotline.pk}:call-9"


def test_field_errors_are_answered_at_once_and_nothing_is_queued(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    bad = post(api, body_for(nanshan_building, kind="nonsense", description="短", reporter_phone="12"))
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "tickets.invalid"
    assert {f["field"] for f in error["fields"]} == {"kind", "description", "reporter_phone"}
    unknown = post(api, body_for(nanshan_building, category="NO-SUCH-CATEGORY"))
    assert (
        unknown.status_code == 400
        and unknown.json()["error"]["fields"][0]["code"] == "tickets.category_unknown"
    )
    no_key = body_for(nanshan_building)
    del no_key["external_id"]
    missing = post(api, no_key)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "tickets.external_id_required"
    assert missing.json()["error"]["field"] == "external_id"
    assert QueuedSubmission.objects.count() == 0


def test_without_a_category_the_classifier_chooses_later(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    answer = post(api, body_for(nanshan_building, category=""))
    assert answer.status_code == 202
    queued_submissions_process()
    done = api.get(answer.json()["links"]["self"]).json()
    assert done["status"] == "done" and done["ticket"]["category"]["code"]


def test_a_place_that_does_not_resolve_is_refused_on_the_receipt_and_a_fixed_retry_is_queued_again(
    as_user, hotline, nanshan_building
):
    api = as_user(hotline)
    receipt = post(api, body_for(nanshan_building, address_code="440305999999999999")).json()
    queued_submissions_process()
    refused = api.get(receipt["links"]["self"]).json()
    assert refused["status"] == "refused" and refused["ticket"] is None
    assert (
        refused["error"]["code"] == "tickets.address_unknown" and refused["error"]["field"] == "address_code"
    )
    assert not Ticket.objects.filter(idempotency_key__endswith=":call-1").exists()
    fixed = post(api, body_for(nanshan_building))
    assert fixed.status_code == 202 and fixed.json()["receipt"] == receipt["receipt"]
    assert fixed.json()["status"] == "queued" and fixed.json()["error"] is None
    queued_submissions_process()
    assert api.get(receipt["links"]["self"]).json()["status"] == "done"


def test_a_receipt_is_only_for_the_caller_who_submitted(
    as_user, hotline, nanshan_dispatcher, nanshan_building, client
):
    receipt = post(as_user(hotline), body_for(nanshan_building)).json()
    other = as_user(nanshan_dispatcher).get(receipt["links"]["self"])
    assert other.status_code == 404 and other.json()["error"]["code"] == "tickets.receipt_not_found"
    assert as_user(nanshan_dispatcher).get(f"{URL}/submissions/not-a-uuid").status_code == 404
    client.logout()
    assert client.get(receipt["links"]["self"]).status_code == 401


def test_a_citizen_queues_as_the_reporter(as_user, citizen, nanshan_building):
    api = as_user(citizen)
    answer = post(api, body_for(nanshan_building, channel="app", reporter_name="", reporter_phone=""))
    assert answer.status_code == 202
    refused_channel = post(api, body_for(nanshan_building, external_id="x2"))
    assert refused_channel.status_code == 403
    assert refused_channel.json()["error"]["code"] == "tickets.channel_not_allowed"
    queued_submissions_process()
    ticket = Ticket.objects.get(number=api.get(answer.json()["links"]["self"]).json()["ticket"]["number"])
    assert ticket.reporter_id == citizen.pk


def test_the_commit_schedules_the_worker(
    as_user, hotline, nanshan_building, django_capture_on_commit_callbacks
):
    api = as_user(hotline)
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(api, body_for(nanshan_building))
    # tasks run in-process in the tests (ZHIWANG_TASKS=immediate), so the drain has run
    assert api.get(answer.json()["links"]["self"]).json()["status"] == "done"


def test_a_crashing_batch_goes_back_to_the_queue_then_is_refused_for_good(
    monkeypatch, hotline, nanshan_building
):
    queued = submission_queue(actor=hotline, **body_for(nanshan_building))

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(submit_queue, "ticket_submit_many", crash)
    for attempt in range(1, submit_queue.MAX_ATTEMPTS):
        assert queued_submissions_process() == 0
        row = QueuedSubmission.objects.get(pk=queued.submission.pk)
        assert row.status == QueuedStatus.QUEUED and row.attempts == attempt
    queued_submissions_process()
    row = QueuedSubmission.objects.get(pk=queued.submission.pk)
    assert row.status == QueuedStatus.REFUSED and row.error["code"] == "tickets.submit_failed"
    assert row.payload == {}


def test_rows_of_a_dead_worker_are_requeued_and_written_once(hotline, nanshan_building):
    queued = submission_queue(actor=hotline, **body_for(nanshan_building))
    payload = queued.submission.payload
    queued_submissions_process()
    ticket = QueuedSubmission.objects.get(pk=queued.submission.pk).ticket
    # a worker wrote the batch and died before marking it: the row still says processing
    QueuedSubmission.objects.filter(pk=queued.submission.pk).update(
        status=QueuedStatus.PROCESSING, payload=payload, claimed_at=timezone.now() - timedelta(minutes=10)
    )
    assert queued_submissions_maintain()["requeued"] == 1
    queued_submissions_process()
    row = QueuedSubmission.objects.get(pk=queued.submission.pk)
    assert row.status == QueuedStatus.DONE and row.ticket == ticket and row.created is False
    assert Ticket.objects.filter(idempotency_key=row.key).count() == 1


def test_old_receipts_are_deleted_but_not_their_tickets(hotline, nanshan_building):
    queued = submission_queue(actor=hotline, **body_for(nanshan_building))
    queued_submissions_process()
    ticket_id = QueuedSubmission.objects.get().ticket_id
    assert queued_submissions_maintain()["deleted"] == 0
    later = timezone.now() + submit_queue.RECEIPT_KEEP + timedelta(hours=1)
    assert queued_submissions_maintain(now=later)["deleted"] == 1
    assert not QueuedSubmission.objects.filter(pk=queued.submission.pk).exists()
    assert Ticket.objects.filter(pk=ticket_id).exists()


@needs_row_locks
def test_two_workers_at_once_write_every_submission_once(city_restored, transactional_db, monkeypatch):
    from zhiwang.accounts.models import User
    from zhiwang.geo.models import AddressLevel, StandardAddress

    hotline = User.objects.get(username="demo_hotline")
    building = StandardAddress.objects.filter(level=AddressLevel.BUILDING, code__startswith="440305").first()
    run = uuid.uuid4().hex[:8]
    monkeypatch.setattr(submit_queue, "schedule_drain", lambda: None)  # the two workers below drain
    for i in range(60):
        submission_queue(actor=hotline, **body_for(building, external_id=f"{run}-{i}"))

    def worker():
        return queued_submissions_process(batch=10)

    counts = run_in_threads(worker, worker, timeout=120)
    assert not [c for c in counts if isinstance(c, Exception)], counts
    assert sum(counts) == 60
    rows = QueuedSubmission.objects.filter(key__contains=f":{run}-")
    assert rows.filter(status=QueuedStatus.DONE, created=True).count() == 60
    assert Ticket.objects.filter(idempotency_key__contains=f":{run}-").count() == 60


def test_a_lingering_drain_claims_what_arrives_while_it_waits(monkeypatch, hotline, nanshan_building):
    """The drain scheduled by the wake-up flag keeps looking for rows for the flag's lifetime."""
    late = []
    real_sleep = time.sleep

    def sleep_and_receive(seconds):
        if not late:  # a submission arrives while the drain waits
            late.append(submission_queue(actor=hotline, **body_for(nanshan_building, external_id="late")))
        else:
            real_sleep(seconds)

    monkeypatch.setattr(submit_queue.time, "sleep", sleep_and_receive)
    assert queued_submissions_process(linger=0.5) == 1  # found on the next look
    assert QueuedSubmission.objects.get(pk=late[0].submission.pk).status == QueuedStatus.DONE


def test_one_drain_is_asked_for_per_moment_and_process(monkeypatch, settings):
    """With a task worker (not in-process tasks), a burst asks the cache and the queue once."""
    from zhiwang.tickets import tasks

    asked = []
    monkeypatch.setattr(tasks, "queued_submissions_task", lambda: asked.append(1))
    settings.HUEY = {**settings.HUEY, "immediate": False}
    monkeypatch.setitem(submit_queue._last_ask, "at", float("-inf"))
    for _ in range(5):
        submit_queue.schedule_drain()
    assert asked == [1]
    # later, once this process's window has passed, the flag (still up) keeps it at one drain
    monkeypatch.setitem(submit_queue._last_ask, "at", float("-inf"))
    submit_queue.schedule_drain()
    assert asked == [1]


def test_control_characters_are_refused_before_anything_is_looked_up(hotline, nanshan_building):
    from zhiwang.core.errors import ServiceError
    from zhiwang.tickets.services import ticket_submit

    for submit in (ticket_submit, submission_queue):
        with pytest.raises(ServiceError) as refused:
            submit(
                actor=hotline,
                **body_for(nanshan_building, description="楼下噪音\x00很大", address_code="44\x00"),
            )
        assert refused.value.code == "tickets.invalid"
        assert {f.field for f in refused.value.fields} == {"description", "address_code"}
        assert {f.code for f in refused.value.fields} == {"tickets.control_character"}
    assert QueuedSubmission.objects.count() == 0


@pytest.fixture
def queue_limit(settings, monkeypatch):
    """A queue that holds two submissions, counted afresh on every call."""
    settings.ZHIWANG_INTAKE_QUEUE_LIMIT = 2
    monkeypatch.setattr(submit_queue, "DEPTH_CHECK_SECONDS", 0.0)
    return settings


def _fill_queue(hotline, building, count):
    for n in range(count):  # rows as a worker that is down would leave them
        submission_queue(actor=hotline, **_queue_fields(building, external_id=f"waiting-{n}"))


def _queue_fields(building, **extra):
    return {
        "channel": "hotline",
        "kind": "complaint",
        "description": "小区门口路面塌陷，晚上看不清，容易摔倒。",
        "address_code": building.code,
        "reporter_phone": "13800138000",
        **extra,
    }


def test_a_full_queue_writes_the_submission_before_answering(
    as_user, hotline, nanshan_building, queue_limit, monkeypatch
):
    monkeypatch.setattr(submit_queue, "schedule_drain", lambda: None)  # the worker is down
    api = as_user(hotline)
    first = post(api, body_for(nanshan_building, external_id="call-a"))
    assert first.status_code == 202
    _fill_queue(hotline, nanshan_building, 1)
    assert QueuedSubmission.objects.filter(status=QueuedStatus.QUEUED).count() == 2
    answer = post(api, body_for(nanshan_building, external_id="call-b"))
    assert answer.status_code == 201, answer.json()
    assert "Preference-Applied" not in answer.headers
    assert Ticket.objects.filter(number=answer.json()["ticket"]["number"]).exists()
    assert QueuedSubmission.objects.count() == 2  # nothing more queued
    # a retry of the queued one while full is written now, and the worker later finds it by its key
    retry = post(api, body_for(nanshan_building, external_id="call-a"))
    assert retry.status_code == 201
    assert queued_submissions_process() == 2
    receipt = api.get(first.json()["links"]["self"]).json()
    assert receipt["status"] == "done" and receipt["created"] is False
    assert receipt["ticket"]["number"] == retry.json()["ticket"]["number"]
    # room again: the header is honoured
    assert post(api, body_for(nanshan_building, external_id="call-c")).status_code == 202


def test_the_queue_is_counted_at_most_once_a_second_per_process(
    settings, monkeypatch, hotline, nanshan_building
):
    settings.ZHIWANG_INTAKE_QUEUE_LIMIT = 1
    monkeypatch.setattr(submit_queue, "schedule_drain", lambda: None)
    assert submit_queue.submission_queue_has_room() is True
    _fill_queue(hotline, nanshan_building, 1)
    assert submit_queue.submission_queue_has_room() is True  # the count of a moment ago
    submit_queue.submission_queue_room_reset()
    assert submit_queue.submission_queue_has_room() is False


@pytest.mark.parametrize(
    ("point", "code", "field"),
    [
        ('"lon": NaN, "lat": 22.5', "geo.out_of_range", "lon"),
        ('"lon": 113.9, "lat": Infinity', "geo.out_of_range", "lat"),
        ('"lon": 213.9, "lat": 22.5', "geo.out_of_range", "lon"),
        ('"lon": 113.9', "tickets.point_incomplete", "lat"),
        ('"lon": 113.9, "lat": 22.5, "crs": "bd09"', "geo.unknown_crs", "crs"),
    ],
)
def test_a_point_that_cannot_be_is_refused_at_once_as_without_the_header(
    as_user, hotline, point, code, field
):
    """JSON allows NaN and Infinity; PostgreSQL's json does not (a 500 before)."""
    body = (
        '{"channel": "hotline", "kind": "complaint", "category": "010214", '
        '"description": "小区垃圾站满溢，请尽快清运。", "external_id": "pt-1", ' + point + "}"
    )
    answer = post(as_user(hotline), body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert not QueuedSubmission.objects.exists()


def test_the_api_stores_a_submission_in_one_statement(as_user, hotline, nanshan_building):
    """Outside a transaction the INSERT is its own: no BEGIN/COMMIT round trips."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    api = as_user(hotline)
    with CaptureQueriesContext(connection) as queries:
        assert transaction.get_autocommit() or connection.in_atomic_block
        answer = post(api, body_for(nanshan_building, external_id="one-statement"))
    assert answer.status_code == 202
    writes = [
        q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    inserts = [sql for sql in writes if "tickets_queuedsubmission" in sql]
    assert len(inserts) == 1


def test_a_cache_that_is_down_does_not_fail_a_stored_submission(
    as_user, hotline, nanshan_building, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis down: the row is committed before the drain is asked for, so the caller gets its 202
    (not a 500 for a submission that will be processed) and the periodic drain takes it."""
    from zhiwang.tickets.services import submit_queue

    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(submit_queue.cache, "add", down)
    monkeypatch.setitem(submit_queue._last_ask, "at", 0.0)
    with django_capture_on_commit_callbacks(execute=True) as asked:
        answer = post(as_user(hotline), body_for(nanshan_building))
    assert asked  # the drain was asked for (and the cache failed)
    assert answer.status_code == 202, answer.content
    assert QueuedSubmission.objects.get(receipt=answer.json()["receipt"]).status == "queued"
    assert queued_submissions_process() == 1


def test_a_task_queue_that_is_down_does_not_fail_a_stored_submission(
    as_user, hotline, nanshan_building, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from zhiwang.tickets import tasks
    from zhiwang.tickets.services import submit_queue

    def down():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    settings.HUEY = {**settings.HUEY, "immediate": False}
    monkeypatch.setattr(tasks, "queued_submissions_task", down)
    monkeypatch.setitem(submit_queue._last_ask, "at", 0.0)
    with django_capture_on_commit_callbacks(execute=True) as asked:
        answer = post(as_user(hotline), body_for(nanshan_building, external_id="call-down"))
    assert asked
    assert answer.status_code == 202, answer.content
    assert queued_submissions_process() == 1
