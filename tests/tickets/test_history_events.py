"""The planted events of the demo's ticket history (``tickets.history_events``): the things a city's
early warnings find, living the same lives as the rest of the history (through the services)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from zhiwang.tickets.history import demo_tickets_create
from zhiwang.tickets.history_events import planted_events
from zhiwang.tickets.models import OPEN_STATUSES, Ticket, TicketStatus

TZ = ZoneInfo("Asia/Shanghai")
END = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)  # a Friday afternoon

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cached_calendar(settings):
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60  # as tests/tickets/test_history.py


def _planted(seed: int, event: str) -> list[Ticket]:
    return list(
        Ticket.objects.filter(idempotency_key__contains=f":demo-{seed}-{event}-")
        .select_related("category", "community", "address")
        .order_by("received_at", "pk")
    )


def test_the_events_are_the_same_for_a_seed_and_differ_for_another():
    first = planted_events(seed=3, end=END)
    assert first == planted_events(seed=3, end=END)
    assert {p.key.split("-")[0] for p in first} == {"noise", "wages", "fumes", "sewer"}
    assert len(first) == 23  # a few dozen tickets, not a second history
    assert [p.received for p in first] == sorted(p.received for p in first)
    other = planted_events(seed=4, end=END)
    assert [p.reporter_phone for p in other] != [p.reporter_phone for p in first]
    assert all(p.received < END for p in first + other)


def test_the_planted_tickets_live_through_the_services():
    result = demo_tickets_create(
        count=6, seed=3, days=30, end=END, sweep_every=timedelta(hours=4), events=True
    )
    assert result.failures == []
    assert result.planted == 23 and result.created == 6 + 23
    everyone = Ticket.objects.filter(idempotency_key__contains=":demo-3-")
    assert sum(result.statuses.values()) == everyone.count() == 29

    # a construction-noise surge: 8 night calls about one community and category over four days
    noise = _planted(3, "noise")
    assert len(noise) == 8
    assert {(t.community.code, t.category.code) for t in noise} == {("440305007023", "040203")}
    days = {timezone.localtime(t.received_at, TZ).date() for t in noise}
    assert len(days) == 4 and max(days) - min(days) == timedelta(days=3)
    assert all(timezone.localtime(t.received_at, TZ).time() >= time(21, 30) for t in noise)

    # a wage-arrears group: 9 callers about one factory in two days; the dispatcher merged the
    # later calls into the first, which is being handled
    wages = _planted(3, "wages")
    assert len(wages) == 9 and len({t.address_id for t in wages}) == 1
    assert len({t.reporter_phone for t in wages}) == 9
    first, *later = wages
    assert first.status in OPEN_STATUSES and first.merged_into_id is None
    assert all(t.status == TicketStatus.MERGED and t.merged_into_id == first.pk for t in later)
    assert wages[-1].received_at - first.received_at < timedelta(days=2)

    # a repeat caller: one phone, one matter, five calls within the detector's 30 days
    fumes = _planted(3, "fumes")
    assert len(fumes) == 5 and len({(t.reporter_phone, t.category_id, t.address_id) for t in fumes}) == 1
    assert fumes[-1].received_at - fumes[0].received_at < timedelta(days=30)

    # a problem reopened twice after unsatisfied follow-ups, back with the handler at the end
    (sewer,) = _planted(3, "sewer")
    assert sewer.rework_count == 2 and sewer.status == TicketStatus.ACCEPTED
    reopens = list(sewer.events.filter(action="reopen").order_by("at"))
    assert len(reopens) == 2 and all("回访" in e.note for e in reopens)

    # every planted ticket's timeline: received when planned, in time order, nothing after the end
    for ticket in noise + wages + fumes + [sewer]:
        rows = list(ticket.events.order_by("pk").values_list("action", "at"))
        assert rows[0] == ("receive", ticket.received_at)
        assert [at for _a, at in rows] == sorted(at for _a, at in rows) and rows[-1][1] <= END


def test_without_events_the_history_has_none():
    result = demo_tickets_create(count=3, seed=5, days=30, end=END, sweep_every=timedelta(hours=6))
    assert result.planted == 0 and result.created == 3
    assert not Ticket.objects.filter(idempotency_key__regex=r":demo-5-[a-z]").exists()


def test_the_demo_people_have_tickets_waiting_for_them():
    """Was: signing in as the demo citizen showed "no requests yet" and the demo grid worker's home
    counted nothing in either grid. Their own tickets live through the services like the others and
    stop where the history ends with work for them: a rating for the citizen, a check for the worker."""
    from zhiwang.accounts.models import GridAssignment, User
    from zhiwang.tickets import selectors

    result = demo_tickets_create(
        count=2, seed=3, days=30, end=END, sweep_every=timedelta(hours=4), personas=True
    )
    assert result.failures == []
    assert result.personas == 5 and result.planted == 0 and result.created == 2 + 5
    citizen = User.objects.get(username="demo_citizen")
    worker = User.objects.get(username="demo_grid_worker")
    grids = set(GridAssignment.objects.filter(user=worker).values_list("grid_id", flat=True))
    mine = _planted(3, "persona")
    assert len(mine) == 5 and all(t.grid_id in grids for t in mine)

    # the citizen's "my requests": one closed (followed up), one waiting for their rating, one in hand
    own = list(selectors.ticket_list(user=citizen).order_by("received_at"))
    assert [t.status for t in own] == [TicketStatus.CLOSED, TicketStatus.FOLLOW_UP, TicketStatus.ACCEPTED]
    assert all(t.reporter_id == citizen.pk and t.reporter_phone for t in own)
    # checked on site by the grid worker, not by the dispatcher
    checked = own[1].events.get(action="verify_pass")
    assert checked.actor_id == worker.pk

    # the worker's patrol reports: one waiting for their on-site check, one for the unit to sign for
    patrols = [t for t in mine if t.channel == "patrol"]
    assert sorted(t.status for t in patrols) == sorted([TicketStatus.VERIFYING, TicketStatus.DISPATCHED])
    assert all(t.events.get(action="receive").actor_id == worker.pk for t in patrols)
    assert all(t.events.order_by("-at").first().at <= END for t in mine)


def test_without_the_demo_accounts_there_are_no_persona_tickets():
    from zhiwang.accounts.models import User
    from zhiwang.tickets.history_events import persona_tickets

    assert len(persona_tickets(seed=3, end=END)) == 5
    User.objects.filter(username="demo_citizen").update(username="someone_else")
    assert persona_tickets(seed=3, end=END) == []
