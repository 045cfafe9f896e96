"""The ticket-history generator: through the services (demo) and in bulk (benchmarks)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from zhiwang.accounts.models import User
from zhiwang.tickets import indicators
from zhiwang.tickets.history import bulk_tickets_create, demo_tickets_create
from zhiwang.tickets.models import ClockAlert, Ticket, TicketEvent, TicketStatus
from zhiwang.tickets.services.clock import clock_sweep

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _cached_calendar(settings):
    # thousands of deadline computations: keep the calendar cached as in production
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60


END = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)  # a Friday afternoon
AS_OF = datetime(2026, 11, 19, 10, 0, tzinfo=TZ)  # a Thursday morning


@pytest.mark.django_db
def test_demo_histories_through_the_services():
    seen = []
    result = demo_tickets_create(
        count=40,
        seed=3,
        days=10,
        end=END,
        sweep_every=timedelta(hours=2),
        progress=lambda n, total: seen.append(n),
    )
    assert result.failures == []
    assert result.created == 40 and result.existing == 0
    assert seen[-1] == 40
    tickets = Ticket.objects.filter(idempotency_key__contains=":demo-3-")
    assert sum(result.statuses.values()) == tickets.count() >= 40
    assert result.statuses[TicketStatus.CLOSED] >= 5
    assert set(result.statuses) & {TicketStatus.DISPATCHED, TicketStatus.ACCEPTED, TicketStatus.FOLLOW_UP}
    # the simulated clock: nothing after END, and every timeline in time order as written
    events = TicketEvent.objects.filter(ticket__in=tickets)
    assert not events.filter(at__gt=END).exists()
    assert not tickets.filter(received_at__gt=END).exists()
    assert tickets.filter(received_at__lt=END - timedelta(days=8)).exists()
    for ticket in tickets[:20]:
        ats = list(ticket.events.order_by("pk").values_list("at", flat=True))
        assert ats == sorted(ats)
    actions = Counter(events.values_list("action", flat=True))
    assert actions["receive"] == tickets.count()
    assert actions["dispatch"] and actions["accept"] and actions["reply"] and actions["close"]
    assert actions["warn"]  # the sweep ran inside the simulation
    # idempotent: the same seed finds its tickets and makes nothing new
    again = demo_tickets_create(count=40, seed=3, days=10, end=END, sweep_every=timedelta(days=1))
    assert (again.created, again.existing) == (0, 40)
    assert Ticket.objects.filter(idempotency_key__contains=":demo-3-").count() == tickets.count()
    # the indicators have something to say about it
    leader = User.objects.get(username="demo_leader")
    table = indicators.indicator_table(user=leader, start=END - timedelta(days=10), end=END)[None]
    for name in ("response_rate", "on_time_acceptance_rate", "resolution_rate", "satisfaction_rate"):
        assert 0 <= table[name].value <= 1
    assert table["average_handling_time"].value > 0


@pytest.mark.django_db
def test_the_simulation_restores_the_real_clock():
    demo_tickets_create(count=3, seed=4, days=3, end=END)
    assert abs(timezone.now() - datetime.now(tz=TZ)) < timedelta(minutes=1)
    event = TicketEvent.objects.create(
        ticket=Ticket.objects.first(), action="note", from_state="", to_state=""
    )
    assert abs(event.at - datetime.now(tz=TZ)) < timedelta(minutes=1)


@pytest.mark.django_db
def test_bulk_histories_are_what_the_sweep_would_have_left():
    result = bulk_tickets_create(count=600, seed=1, as_of=AS_OF, open_fraction=0.7, batch_size=150)
    assert result.tickets == Ticket.objects.filter(idempotency_key__startswith="bulk:1:").count() == 600
    assert result.events == TicketEvent.objects.count()
    assert result.alerts == ClockAlert.objects.count() > 0
    assert set(result.statuses) == {"closed", "dispatched", "accepted", "replied"}
    assert 350 < sum(n for s, n in result.statuses.items() if s != "closed") < 500
    # every stage occurs among the running tickets
    assert set(result.stages) == {0, 1, 2, 3}
    assert len(set(Ticket.objects.values_list("number", flat=True))) == 600
    assert not TicketEvent.objects.filter(at__gt=AS_OF).exists()
    # the clocks are consistent: a sweep at as_of has nothing left to do
    report = clock_sweep(now=AS_OF)
    assert report.as_dict() == dict.fromkeys(report.as_dict(), 0)
    # and a month later the running tickets are overdue, urged, supervised
    report = clock_sweep(now=AS_OF + timedelta(days=30))
    assert report.urged + report.supervised > 0
    with pytest.raises(ValueError, match="already exist"):
        bulk_tickets_create(count=10, seed=1, as_of=AS_OF)


@pytest.mark.django_db
def test_bulk_numbers_leave_room_for_real_submissions():
    from zhiwang.tickets.services import ticket_submit

    bulk_tickets_create(count=50, seed=2, as_of=AS_OF, open_fraction=0.0, batch_size=50)
    day = timezone.localtime(Ticket.objects.order_by("-received_at").first().received_at, TZ)
    submitted = ticket_submit(
        channel="hotline",
        kind="inquiry",
        category="010205",
        description="咨询一下相关政策。",
        received_at=day,
    ).ticket
    assert submitted.number not in set(
        Ticket.objects.exclude(pk=submitted.pk).values_list("number", flat=True)
    )


@pytest.mark.django_db
def test_demo_tickets_command():
    out = StringIO()
    call_command("demo_tickets", "--count", "4", "--seed", "8", "--days", "5", "--no-progress", stdout=out)
    assert "4 tickets made" in out.getvalue()
    out = StringIO()
    call_command(
        "demo_tickets",
        "--bulk",
        "--count",
        "30",
        "--seed",
        "8",
        "--as-of",
        "2026-11-19T10:00",
        "--no-progress",
        stdout=out,
    )
    assert "30 tickets" in out.getvalue()
