"""The ticket clock: deadlines in working time and the sweep, at frozen moments around National Day 2025.

The calendar (seeded from chinese-calendar): 2025-09-27 Sat off, 09-28 Sun a make-up working
day, 10-01 … 10-08 holidays, 10-11 Sat a make-up working day. Working windows 09–12, 14–18.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from tests.threads import run_in_threads
from zhiwang.accounts.models import OrgUnit, User
from zhiwang.tickets.models import (
    Category,
    ClockAlert,
    Notification,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from zhiwang.tickets.services.clock import (
    SWEPT_STATUSES,
    clock_sweep,
    dispatch_deadlines,
    set_deadlines,
    supervision_point,
    urge_cutoff,
    warning_point,
)
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction

TZ = ZoneInfo("Asia/Shanghai")


def at(month, day, hour=0, minute=0, year=2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


_serial = iter(range(1, 10**6))


def make_ticket(
    *, dispatched: datetime, status=TicketStatus.ACCEPTED, category="GI0203", unit=None
) -> Ticket:
    """A ticket dispatched at ``dispatched`` to the first Nanshan subdistrict office (5 working days)."""
    cat = Category.objects.get(code=category)
    unit = unit or OrgUnit.objects.get(code="DEMO-SUB-OFFICE")
    n = next(_serial)
    ticket = Ticket(
        number=f"ZWTEST{n:08d}",
        kind="incident",
        category=cat,
        channel="patrol",
        idempotency_key=f"test:clock:{n}",
        title="道路破损",
        description="人行道路面破损，有坑。",
        status=status,
        received_at=dispatched,
        dispatched_at=dispatched,
        deadline_amount=cat.deadline_amount,
        deadline_unit=cat.deadline_unit,
        handling_unit=unit,
        dispatch_center=OrgUnit.objects.get(code="DEMO-NS-CC"),
    )
    ticket.accept_due_at, handle_due = dispatch_deadlines(ticket=ticket, at=dispatched)
    set_deadlines(ticket=ticket, start=dispatched, due_at=handle_due)
    ticket.save()
    return ticket


def actions(ticket) -> list[tuple[str, str]]:
    return [(e.action, e.payload.get("kind", "")) for e in TicketEvent.objects.filter(ticket=ticket)]


def alerts(ticket) -> list[str]:
    return sorted(ClockAlert.objects.filter(ticket=ticket).values_list("kind", flat=True))


# --- arithmetic ----------------------------------------------------------------


@pytest.mark.django_db
def test_deadlines_over_national_day():
    ticket = make_ticket(dispatched=at(9, 26, 10))
    # accept: 2 working hours from Friday 10:00
    assert ticket.accept_due_at == at(9, 26, 12)
    # 5 working days counted from the next day: Sun 28 (make-up), Mon 29, Tue 30, Thu 9, Fri 10
    assert ticket.due_at == at(10, 10, 18)
    # 41 working hours in all (6 on the 26th, 7 on each of the five days); 80 % = 32.8 h:
    # 6 + 7 + 7 + 7 = 27 h by the 30th, then 3 h in the morning of the 9th and 2.8 h after 14:00
    assert ticket.warn_at == at(10, 9, 16, 48)
    assert warning_point(start=at(9, 26, 10), deadline=at(10, 10, 18), ratio=Decimal("0.5")) == at(
        9, 30, 9, 30
    )
    # the urge notice: the first working window after the day of expiry (Sat 11 is a working day)
    assert urge_cutoff(now=at(10, 11, 8, 59)) == ("lte", at(10, 10))
    assert urge_cutoff(now=at(10, 11, 9)) == ("lte", at(10, 11))
    # from the holidays, the threshold stays at the last working day that had begun
    assert urge_cutoff(now=at(10, 5, 12)) == ("lte", at(9, 30))
    assert urge_cutoff(now=at(10, 11, 9), days=2) == ("lte", at(10, 10))
    assert urge_cutoff(now=at(10, 11, 9), days=0) == ("lt", at(10, 11, 9))
    # supervision: 5 working days after the urge (Mon 13 … Fri 17), end of day
    assert supervision_point(urged_at=at(10, 11, 9)) == at(10, 17, 18)


@pytest.mark.django_db
def test_a_deadline_with_no_working_time_warns_at_the_deadline():
    assert warning_point(start=at(10, 2, 10), deadline=at(10, 2, 10)) == at(10, 2, 10)


# --- the sweep -------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_walks_every_threshold_once():
    ticket = make_ticket(dispatched=at(9, 26, 10))

    def sweep(moment):
        first = clock_sweep(now=moment)
        second = clock_sweep(now=moment)  # the same run again acts on nothing
        assert second.accept_warned + second.warned + second.overdue + second.urged + second.supervised == 0
        ticket.refresh_from_db()
        return first

    assert sweep(at(10, 9, 16, 47)).warned == 0
    assert sweep(at(10, 9, 16, 48)).warned == 1
    assert ticket.clock_stage == 1
    assert actions(ticket) == [("warn", "deadline_near")]
    # at the deadline itself the ticket is not yet overdue; a minute later it is
    assert sweep(at(10, 10, 18)).overdue == 0
    report = sweep(at(10, 10, 18, 1))
    assert (report.overdue, report.urged) == (1, 0)
    # the urge notice waits for the day after expiry: Saturday 11th, a make-up working day, 09:00
    assert sweep(at(10, 10, 23)).urged == 0
    assert sweep(at(10, 11, 8, 59)).urged == 0
    assert sweep(at(10, 11, 9)).urged == 1
    assert (ticket.clock_stage, ticket.escalation_level) == (2, 1)
    assert ticket.supervise_at == at(10, 17, 18)
    # still overdue 5 working days after the urge → supervision, level 2
    assert sweep(at(10, 17, 17, 59)).supervised == 0
    assert sweep(at(10, 17, 18)).supervised == 1
    assert (ticket.clock_stage, ticket.escalation_level) == (3, 2)
    assert sweep(at(11, 30, 12)).as_dict() == {
        "scanned": 0,
        "accept_warned": 0,
        "warned": 0,
        "overdue": 0,
        "urged": 0,
        "supervised": 0,
        "skipped": 0,
    }

    assert actions(ticket) == [
        ("warn", "deadline_near"),
        ("warn", "overdue"),
        ("urge", ""),
        ("supervise", ""),
    ]
    assert alerts(ticket) == ["overdue", "supervise", "urge", "warning"]
    events = list(TicketEvent.objects.filter(ticket=ticket))
    assert [e.at for e in events] == [at(10, 9, 16, 48), at(10, 10, 18, 1), at(10, 11, 9), at(10, 17, 18)]
    assert all(e.actor_id is None and e.unit_id == ticket.handling_unit_id for e in events)
    assert all(e.from_state == e.to_state == "accepted" for e in events)
    assert events[3].payload == {
        "level": 2,
        "deadline": at(10, 10, 18).isoformat(),
        # the note as a code, read in each reader's language (tickets.explanations)
        "note_code": "supervised",
        "note_params": {"days": 5},
    }
    # the unit hears of each threshold once; the dispatch center hears of the breach
    kinds = list(Notification.objects.filter(ticket=ticket).values_list("unit__code", "kind").order_by("pk"))
    assert kinds == [
        ("DEMO-SUB-OFFICE", "deadline_near"),
        ("DEMO-NS-CC", "overdue"),
        ("DEMO-SUB-OFFICE", "overdue"),
        ("DEMO-SUB-OFFICE", "urged"),
        ("DEMO-SUB-OFFICE", "supervised"),
    ]
    # the clock does not bump the version: a handler's form opened before a warning still saves
    assert ticket.version == 1


@pytest.mark.django_db
def test_accept_deadline_missed_once():
    dispatched = make_ticket(dispatched=at(9, 26, 10), status=TicketStatus.DISPATCHED)
    accepted = make_ticket(dispatched=at(9, 26, 10), status=TicketStatus.ACCEPTED)
    assert clock_sweep(now=at(9, 26, 12)).accept_warned == 0
    assert clock_sweep(now=at(9, 26, 12, 1)).accept_warned == 1
    assert clock_sweep(now=at(9, 26, 15)).accept_warned == 0
    dispatched.refresh_from_db()
    assert dispatched.accept_warned
    assert actions(dispatched) == [("warn", "accept_overdue")]
    assert actions(accepted) == []
    assert Notification.objects.get(ticket=dispatched).kind == "accept_overdue"


@pytest.mark.django_db
def test_urge_waits_over_the_weekend():
    ticket = make_ticket(dispatched=at(10, 10, 10))  # Fri; Sat 11 works: 11, 13, 14, 15, 16
    assert ticket.due_at == at(10, 16, 18)
    ticket = make_ticket(dispatched=at(10, 13, 10))  # Mon → 14, 15, 16, 17, 20
    assert ticket.due_at == at(10, 20, 18)
    friday = make_ticket(dispatched=at(10, 10, 15), category="GI0202")  # 2 working days: Sat 11, Mon 13
    assert friday.due_at == at(10, 13, 18)
    late_friday = make_ticket(dispatched=at(10, 15, 10), category="GI0202")  # Thu 16, Fri 17
    assert late_friday.due_at == at(10, 17, 18)
    clock_sweep(now=at(10, 17, 18, 30))
    # first seen after its deadline: no 80 % warning any more, only the breach
    assert actions(late_friday) == [("warn", "overdue")]
    assert clock_sweep(now=at(10, 18, 10)).urged == 0  # Saturday
    assert clock_sweep(now=at(10, 19, 23, 59)).urged == 0  # Sunday
    clock_sweep(now=at(10, 20, 9))  # Monday, first window
    assert [a for a, _k in actions(late_friday)] == ["warn", "urge"]


@pytest.mark.django_db
def test_suspended_replied_and_closed_tickets_are_not_swept():
    for status in set(TicketStatus.values) - set(SWEPT_STATUSES):
        make_ticket(dispatched=at(9, 26, 10), status=status)
    report = clock_sweep(now=at(12, 31, 12))
    assert report.as_dict() == dict.fromkeys(report.as_dict(), 0)
    assert not TicketEvent.objects.exists()


@pytest.mark.django_db
def test_thresholds_are_configurable(settings):
    settings.ZHIWANG_WARNING_RATIO = 0.5
    settings.ZHIWANG_URGE_AFTER_DAYS = 0
    settings.ZHIWANG_SUPERVISE_AFTER_DAYS = 2
    ticket = make_ticket(dispatched=at(9, 26, 10))
    assert ticket.warn_at == at(9, 30, 9, 30)  # 20.5 of 41 working hours: 6 + 7 + 7, then half an hour
    assert clock_sweep(now=at(9, 30, 9, 30)).warned == 1
    # urge at expiry: no separate "overdue" step
    report = clock_sweep(now=at(10, 10, 18, 1))
    assert (report.overdue, report.urged) == (0, 1)
    ticket.refresh_from_db()
    assert ticket.supervise_at == at(10, 13, 18)  # Sat 11, Mon 13
    assert clock_sweep(now=at(10, 13, 18)).supervised == 1
    settings.ZHIWANG_WARNING_RATIO = 1.5
    with pytest.raises(ValueError, match="ZHIWANG_WARNING_RATIO"):
        warning_point(start=at(9, 26, 10), deadline=at(10, 10, 18))


@pytest.mark.django_db
def test_a_new_deadline_is_a_new_set_of_thresholds():
    ticket = make_ticket(dispatched=at(9, 26, 10))
    clock_sweep(now=at(10, 9, 17))
    # an approved extension of 3 working days (13, 14, 15) points the clock at a new deadline
    set_deadlines(ticket=ticket, start=ticket.dispatched_at, due_at=at(10, 15, 18))
    ticket.save()
    assert clock_sweep(now=at(10, 9, 17)).warned == 0
    assert clock_sweep(now=at(10, 14, 17)).warned == 1
    assert sorted(ClockAlert.objects.filter(ticket=ticket).values_list("deadline", flat=True)) == [
        at(10, 10, 18),
        at(10, 15, 18),
    ]


@pytest.mark.django_db
def test_batches_and_progress():
    tickets = [make_ticket(dispatched=at(9, 26, 10)) for _ in range(7)]
    seen = []
    report = clock_sweep(now=at(10, 9, 17), batch_size=3, progress=seen.append)
    assert report.warned == 7
    assert seen == [3, 6, 7]
    assert TicketEvent.objects.filter(ticket__in=tickets, action="warn").count() == 7


def test_the_workflow_allows_the_clock_actions_where_the_sweep_acts():
    for status in SWEPT_STATUSES:
        for action in (TicketAction.WARN, TicketAction.URGE, TicketAction.SUPERVISE):
            assert TICKET_WORKFLOW.target(status, action) == status


@pytest.mark.django_db
def test_services_keep_working_on_a_swept_ticket():
    """End to end: a patrol report auto-dispatched by ticket_submit, urged by the sweep, then handled."""
    from zhiwang.geo.models import StandardAddress
    from zhiwang.tickets.services import ticket_accept, ticket_reply, ticket_submit

    office = OrgUnit.objects.get(code="DEMO-SUB-OFFICE")
    address = StandardAddress.objects.filter(community__parent=office.division).order_by("code").first()
    result = ticket_submit(
        channel="patrol",
        kind="incident",
        category="GI0203",
        description="人行道路面破损，有坑，需要修补。",
        address_code=address.code,
        external_id="clock-e2e",
    )
    ticket = result.ticket
    assert (ticket.status, ticket.handling_unit_id) == ("dispatched", office.pk)
    later = ticket.due_at + timedelta(days=5)  # a working morning has begun since
    report = clock_sweep(now=later)
    assert (report.accept_warned, report.overdue, report.urged, report.supervised) == (1, 1, 1, 0)
    later += timedelta(days=10)
    assert clock_sweep(now=later).supervised == 1
    ticket.refresh_from_db()
    handler = User.objects.get(username="demo_sub_handler")
    ticket_accept(ticket=ticket, actor=handler, expected_version=ticket.version)
    ticket_reply(ticket=ticket, actor=handler, reply="已修补。", expected_version=ticket.version)
    # (the sweep ran at a moment in the future: in the order written, not by time)
    assert [e.action for e in TicketEvent.objects.filter(ticket=ticket).order_by("pk")] == [
        "receive",
        "dispatch",
        "warn",
        "warn",
        "urge",
        "supervise",
        "accept",
        "reply",
    ]
    assert clock_sweep(now=later).as_dict()["scanned"] == 0


@pytest.mark.django_db
def test_sweep_command():
    make_ticket(dispatched=at(9, 26, 10))
    out = StringIO()
    call_command("sweep", "--now", "2025-10-09T17:00", "--no-progress", stdout=out)
    assert "1 warned" in out.getvalue()
    out = StringIO()
    call_command("sweep", "--now", "2025-10-09T17:00", "--no-progress", stdout=out)
    assert "0 warned" in out.getvalue()


def test_periodic_task_runs_every_five_minutes():
    from zhiwang.tickets.tasks import clock_sweep_task

    assert clock_sweep_task.task_class().validate_datetime(datetime(2025, 10, 9, 17, 5))
    assert clock_sweep_task.task_class().validate_datetime(datetime(2025, 10, 9, 17, 0))
    assert not clock_sweep_task.task_class().validate_datetime(datetime(2025, 10, 9, 17, 7))


@pytest.mark.django_db
def test_periodic_task_calls_the_sweep():
    from zhiwang.tickets.tasks import clock_sweep_task

    make_ticket(dispatched=at(9, 26, 10), status=TicketStatus.DISPATCHED)
    result = clock_sweep_task.call_local()
    assert result["accept_warned"] == 1 and result["urged"] == 1


# --- two workers at once -------------------------------------------------------------


@pytest.fixture
def clock_city(transactional_db):
    """The transactional tests run in a flushed database: categories, calendar and units made here."""
    from zhiwang.core.workcalendar.models import CalendarYear
    from zhiwang.core.workcalendar.services import calendar_seed
    from zhiwang.tickets.catalogue import load_catalogue
    from zhiwang.tickets.models import KindDeadline

    if not CalendarYear.objects.filter(year=2025).exists():
        calendar_seed()
    if not Category.objects.filter(code="GI0203").exists():
        load_catalogue(Category=Category, KindDeadline=KindDeadline)
    for code in ("DEMO-SUB-OFFICE", "DEMO-NS-CC"):
        OrgUnit.objects.get_or_create(code=code, defaults={"name": code, "kind": "command_center"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_act_once(clock_city):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between two connections: PostgreSQL (the SQLite test database is in memory)")
    tickets = [make_ticket(dispatched=at(9, 26, 10)) for _ in range(120)]
    moments = [at(10, 9, 17), at(10, 10, 19), at(10, 11, 10), at(10, 20, 10)]
    barrier = threading.Barrier(2)  # the two workers sweep each moment together

    def worker():
        done = []
        for moment in moments:
            barrier.wait(timeout=30)
            done.append(clock_sweep(now=moment, batch_size=25))
        return done

    results = run_in_threads(worker, worker, start_together=False, timeout=120)
    assert not [r for r in results if isinstance(r, Exception)], results
    reports = [report for done in results for report in done]
    total = {k: sum(r.as_dict()[k] for r in reports) for k in ("warned", "overdue", "urged", "supervised")}
    assert total == {"warned": 120, "overdue": 120, "urged": 120, "supervised": 120}
    assert TicketEvent.objects.filter(ticket__in=tickets).count() == 4 * 120
    assert ClockAlert.objects.filter(ticket__in=tickets).count() == 4 * 120
    for ticket in tickets[:5]:
        assert actions(ticket) == [
            ("warn", "deadline_near"),
            ("warn", "overdue"),
            ("urge", ""),
            ("supervise", ""),
        ]
