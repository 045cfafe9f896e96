"""Two people acting on one ticket at once: exactly one wins, the other is told clearly; retries are idempotent.

The first tests run in the usual rolled-back transaction (stale copies, the
``expected_version`` path, the IntegrityError path of submit). The thread tests need
committed data that other connections can see (``transaction=True``): they make the
little they need themselves, because the database is emptied after each of them.
"""

from __future__ import annotations

import threading

import pytest

from tests.threads import needs_row_locks, race_on_insert, run_in_threads
from tests.tickets.conftest import SANITATION
from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.tickets import services
from zhiwang.tickets.models import Ticket, TicketEvent, TicketStatus
from zhiwang.tickets.services import submit as submit_module

# --- in one transaction -------------------------------------------------------------


@pytest.mark.django_db
def test_a_stale_expected_version_loses_and_nothing_is_written(dispatched, nanshan_dispatcher, sub_handler):
    ticket = dispatched()
    seen = ticket.version
    services.ticket_note(
        ticket=ticket, actor=nanshan_dispatcher, note="请注意安全"
    )  # somebody else acts first
    fresh = Ticket.objects.get(pk=ticket.pk)
    count = fresh.events.count()
    with pytest.raises(Conflict) as caught:
        services.ticket_accept(ticket=fresh, actor=sub_handler, expected_version=seen)
    error = caught.value
    assert (error.code, error.status) == ("tickets.version_conflict", 409)
    assert ticket.number in error.message and "已派遣" in error.message  # which ticket, and what it is now
    fresh.refresh_from_db()
    assert fresh.status == TicketStatus.DISPATCHED and fresh.events.count() == count


@pytest.mark.django_db
def test_two_dispatchers_with_the_same_view_cannot_both_win(
    make_ticket, nanshan_dispatcher, subdistrict_dispatcher, sub_handler, handler
):
    ticket = make_ticket()
    mine, theirs = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)
    services.ticket_dispatch(ticket=mine, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    with pytest.raises(Conflict) as caught:
        services.ticket_dispatch(ticket=theirs, unit=handler.org_unit, actor=subdistrict_dispatcher)
    assert caught.value.code == "tickets.version_conflict"
    ticket.refresh_from_db()
    assert ticket.handling_unit == sub_handler.org_unit
    assert ticket.events.filter(action="dispatch").count() == 1
    # the loser's copy stays stale: trying again with it conflicts again, it never overwrites
    with pytest.raises(Conflict):
        services.ticket_dispatch(ticket=theirs, unit=handler.org_unit, actor=subdistrict_dispatcher)


@pytest.mark.django_db
def test_actions_that_keep_the_state_still_conflict(dispatched, nanshan_dispatcher, handler, sub_handler):
    """Two reassignments of one dispatched ticket: the state does not change, the version does."""
    ticket = dispatched()
    a, b = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)
    services.ticket_reassign(ticket=a, unit=handler.org_unit, actor=nanshan_dispatcher, note="城管职责")
    with pytest.raises(Conflict):
        services.ticket_reassign(ticket=b, unit=handler.org_unit, actor=nanshan_dispatcher, note="城管职责")
    assert Ticket.objects.get(pk=ticket.pk).events.filter(action="reassign").count() == 1


@pytest.mark.django_db
def test_a_refused_action_leaves_the_callers_object_usable(dispatched, handler, sub_handler):
    ticket = dispatched()
    with pytest.raises(ServiceError):
        services.ticket_accept(ticket=ticket, actor=handler)  # another unit
    assert ticket.accepted_at is None and ticket.status == TicketStatus.DISPATCHED
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    assert ticket.status == TicketStatus.ACCEPTED


@pytest.mark.django_db
def test_a_racing_retry_of_submit_gets_the_first_ticket(monkeypatch, nanshan_building):
    """A retry is not looked up first: the unique key catches it, and nothing of it stays."""
    data = {
        "channel": "hotline",
        "external_id": "CALL-RACE",
        "kind": "complaint",
        "category": SANITATION,
        "description": "电梯坏了三天没人修",
        "address_code": nanshan_building.code,
    }
    first = services.ticket_submit(**data)
    real = submit_module._existing
    calls = []

    def lookup(key):
        calls.append(key)
        return real(key)

    monkeypatch.setattr(submit_module, "_existing", lookup)
    events_before = TicketEvent.objects.count()
    again = services.ticket_submit(**data)
    assert calls == ["hotline:CALL-RACE"]  # only the IntegrityError path looked
    assert (again.created, again.ticket.pk) == (False, first.ticket.pk)
    assert Ticket.objects.filter(idempotency_key="hotline:CALL-RACE").count() == 1
    assert TicketEvent.objects.count() == events_before


# --- in two threads -------------------------------------------------------------------


@pytest.fixture
def committed(transactional_db):
    """Committed rows other connections can see: two city-wide dispatchers and two units.

    An earlier transactional test may have emptied every table (the database is flushed
    after each), so the catalogue and the calendar are put back when missing and nothing
    here relies on the session's demo city.
    """
    from zhiwang.accounts.models import OrgUnit, User
    from zhiwang.core.workcalendar.models import CalendarYear
    from zhiwang.core.workcalendar.services import calendar_seed, work_calendar_reset
    from zhiwang.tickets.catalogue import load_catalogue
    from zhiwang.tickets.models import Category, KindDeadline

    if not CalendarYear.objects.exists():
        calendar_seed()
    if not Category.objects.filter(code=SANITATION).exists():
        load_catalogue(Category=Category, KindDeadline=KindDeadline)
    work_calendar_reset()
    units = [OrgUnit.objects.create(code=f"T-RACE-{i}", name=f"单位{i}", kind="department") for i in (1, 2)]
    people = [User.objects.create(username=f"race_dispatcher_{i}", role="administrator") for i in (1, 2)]
    yield units, people
    work_calendar_reset()


def _race(*jobs):
    """Run the jobs at the same moment in their own threads (own connections); return results or errors."""
    return run_in_threads(*jobs)


def _inquiry(**extra):
    data = {
        "channel": "hotline",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "请问楼道灯坏了找哪个部门？",
    }
    return services.ticket_submit(**{**data, **extra})


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_the_same_moment_exactly_one_wins(committed):
    (unit_a, unit_b), (alice, bob) = committed
    ticket = _inquiry().ticket

    def dispatch(actor, unit):
        def job():
            copy = Ticket.objects.get(pk=ticket.pk)
            return services.ticket_dispatch(ticket=copy, unit=unit, actor=actor).handling_unit_id

        return job

    results = _race(dispatch(alice, unit_a), dispatch(bob, unit_b))
    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], Conflict), results
    assert losers[0].code == "tickets.version_conflict" and ticket.number in losers[0].message
    ticket.refresh_from_db()
    assert ticket.handling_unit_id == winners[0]
    assert ticket.events.filter(action="dispatch").count() == 1
    assert ticket.version == 2


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_identical_submits_at_the_same_moment_make_one_ticket(committed):
    def job():
        result = _inquiry(channel="open311", external_id="client-req-7")
        return (result.created, result.ticket.pk)

    results = _race(job, job)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for created, _pk in results) == [False, True]
    assert len({pk for _created, pk in results}) == 1
    assert Ticket.objects.filter(idempotency_key="open311:client-req-7").count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_batches_at_the_same_moment_make_one_ticket_per_key(committed):
    """Two hotline imports of overlapping files: every call id becomes one ticket, numbers without gaps."""
    from zhiwang.tickets.services.submit_batch import ticket_submit_many

    base = {
        "channel": "hotline",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "请问楼道灯坏了找哪个部门？",
    }

    def batch(ids):
        def job():
            outcomes = ticket_submit_many([{**base, "external_id": f"call-{i}"} for i in ids])
            return [(o.created, o.ticket.pk) for o in outcomes]

        return job

    first, second = _race(batch(range(0, 30)), batch(range(20, 50)))
    assert isinstance(first, list) and isinstance(second, list), (first, second)
    keys = Ticket.objects.filter(idempotency_key__startswith="hotline:call-")
    assert keys.count() == 50
    created = [c for c, _pk in first + second if c]
    assert len(created) == 50  # the ten shared ids were created by exactly one of the two
    shared = [pk for _c, pk in first[20:]]
    assert shared == [pk for _c, pk in second[:10]]
    numbers = sorted(int(n[-6:]) for n in keys.values_list("number", flat=True))
    assert numbers == list(range(1, 51))


@pytest.mark.django_db(transaction=True)
def test_a_lone_api_submission_is_a_group_of_one(committed):
    """Outside a transaction the API's submissions go through the group writer: the same outcome."""
    from zhiwang.core.errors import ServiceError
    from zhiwang.tickets.services.submit_group import group_stats, ticket_submit_grouped

    base = {
        "channel": "api",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "请问楼道灯坏了找哪个部门？",
    }
    before = group_stats()
    first = ticket_submit_grouped(**base, external_id="g-1")
    again = ticket_submit_grouped(**base, external_id="g-1")
    assert first.created and not again.created and again.ticket.pk == first.ticket.pk
    assert group_stats() == (before[0] + 2, before[1] + 2)
    with pytest.raises(ServiceError) as caught:
        ticket_submit_grouped(**{**base, "reporter_phone": "call me"}, external_id="g-2")
    assert caught.value.code == "tickets.invalid"
    assert not Ticket.objects.filter(idempotency_key="api:g-2").exists()


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_api_submissions_at_the_same_moment_are_written_in_groups(committed):
    """Twelve callers at once: each gets its own ticket (or its own error), numbers without gaps,
    and fewer groups than callers (they were written together)."""
    from zhiwang.core.errors import ServiceError
    from zhiwang.tickets.services.submit_group import group_stats, ticket_submit_grouped

    base = {
        "channel": "api",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "请问楼道灯坏了找哪个部门？",
    }
    people = committed[1]

    def caller(i):
        def job():
            extra = {"reporter_phone": "call me"} if i == 5 else {}
            result = ticket_submit_grouped(
                **base, **extra, external_id=f"same-moment-{i}", actor=people[i % 2]
            )
            return (result.created, result.ticket.pk, result.ticket.idempotency_key)

        return job

    before = group_stats()
    results = _race(*(caller(i) for i in range(12)))
    errors = [r for r in results if isinstance(r, ServiceError)]
    assert len(errors) == 1 and errors[0].code == "tickets.invalid"
    made = [r for r in results if isinstance(r, tuple)]
    assert len(made) == 11 and all(created for created, _pk, _key in made)
    assert sorted(key for _c, _pk, key in made) == sorted(f"api:same-moment-{i}" for i in range(12) if i != 5)
    numbers = sorted(int(n[-6:]) for n in Ticket.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 12))
    groups, grouped = (a - b for a, b in zip(group_stats(), before, strict=True))
    assert grouped == 12 and groups < 12
    # each timeline names its own caller
    for i in range(12):
        if i != 5:
            ticket = Ticket.objects.get(idempotency_key=f"api:same-moment-{i}")
            assert ticket.events.get().actor_id == people[i % 2].pk


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_a_single_submission_inside_a_batchs_write_does_not_deadlock(committed, monkeypatch):
    """Both paths lock in one order (the ticket's key, the day counter, the rollup rows): a single
    submission that arrives while a batch holds the counter waits for it instead of deadlocking."""
    from zhiwang.tickets.services import submit as submit_module
    from zhiwang.tickets.services import submit_batch

    base = {
        "channel": "hotline",
        "kind": "inquiry",
        "category": SANITATION,
        "description": "请问楼道灯坏了找哪个部门？",
    }
    _inquiry(external_id="warm-up")  # the day's counter row and rollup rows exist
    batch_has_counter, single_wants_counter = threading.Event(), threading.Event()
    real_take, real_number = submit_batch.take_numbers, submit_module.number_ticket

    def take_numbers(day, count):
        numbers = real_take(day, count)  # the counter row is locked from here to the commit
        batch_has_counter.set()
        single_wants_counter.wait(10)
        return numbers

    def number_ticket(ticket, now):
        single_wants_counter.set()
        return real_number(ticket, now)

    monkeypatch.setattr(submit_batch, "take_numbers", take_numbers)
    monkeypatch.setattr(submit_module, "number_ticket", number_ticket)

    def batch():
        return [
            o.ticket.pk
            for o in submit_batch.ticket_submit_many([{**base, "external_id": f"b-{i}"} for i in range(3)])
        ]

    def single():
        batch_has_counter.wait(10)
        return submit_module.ticket_submit(**base, external_id="single-1").ticket.pk

    results = _race(batch, single)
    assert not any(isinstance(r, Exception) for r in results), results
    numbers = sorted(int(n[-6:]) for n in Ticket.objects.values_list("number", flat=True))
    assert numbers == [1, 2, 3, 4, 5]


@needs_row_locks
def test_two_retrain_requests_at_the_same_moment_queue_one_run(city_restored, monkeypatch):
    from zhiwang.tickets import tasks
    from zhiwang.tickets.models import TrainingRun
    from zhiwang.tickets.services.smart import classifier_retrain_request

    monkeypatch.setattr(tasks, "classifier_retrain_task", lambda run_id: None)  # no training here

    def job():
        run, created = classifier_retrain_request(actor=None)
        return run.pk, created

    results = race_on_insert(monkeypatch, TrainingRun, job, job)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _pk, created in results) == [False, True]
    assert len({pk for pk, _created in results}) == 1
    assert TrainingRun.objects.count() == 1
