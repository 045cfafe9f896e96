"""An urge (催办) before the deadline is not overdue (DOMAIN.md: "urge before the deadline,
supervise (督办) after it"; docs/analytics.md, the overdue episode).

Every urge row says whether the deadline had passed (``payload["overdue"]``); only such an urge
starts an overdue episode on the dashboards and in the ticket list's ``overdue_at`` /
``event=overdue`` filters. An urge row written before urges said so (no key) keeps the meaning it
was counted with, so a rebuild of old history equals what was counted then.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from zhiwang.analytics import selectors
from zhiwang.analytics.models import TicketTrack
from zhiwang.analytics.rollups import rollup_catch_up, rollup_rebuild, rollup_snapshot
from zhiwang.analytics.selectors.dashboard import flow_link
from zhiwang.tickets.models import TicketEvent

NANSHAN = "440305000000"

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


def listed(client, link) -> set[str]:
    """The numbers of the tickets the web list shows under ``link``."""
    assert link, "the figure has no link"
    response = client.get(link)
    assert response.status_code == 200, response.status_code
    assert not response.context["form"].errors, response.context["form"].errors
    return {ticket.number for ticket in response.context["page"].paginator.object_list}


def urge_row(ticket) -> TicketEvent:
    return ticket.events.filter(action="urge").order_by("-pk").first()


def test_an_urge_before_the_deadline_is_not_overdue_on_the_dashboard(
    frozen_now, dispatched, nanshan_dispatcher, viewer
):
    """Three tickets urged on Monday, all before their deadline. A week later one is urged again
    past its deadline and one supervised: only those two are overdue (stock, flow, lists)."""
    from zhiwang.tickets.services import ticket_supervise, ticket_urge

    monday = frozen_now(frozen_now.initial)
    early = dispatched()  # a complaint: 15 working days, still in time a week later
    late = dispatched(kind="inquiry")  # 2 working days
    supervised = dispatched(kind="inquiry")
    for ticket in (early, late, supervised):
        ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher)
        assert urge_row(ticket).payload["overdue"] is False
    assert monday < late.due_at

    place = selectors.place_for(user=nanshan_dispatcher, code=NANSHAN)
    today = monday.date()
    s = selectors.summary(place=place, start=today, end=today + timedelta(1))
    assert (s.flows["urged"], s.flows["overdue"], s.stocks["overdue_open"]) == (3, 0, 0)
    assert listed(viewer, s.links["overdue_open"]) == set()
    assert listed(viewer, flow_link(place, today, today + timedelta(1), "overdue")) == set()
    assert not TicketTrack.objects.filter(ticket_id__in=[early.pk, late.pk, supervised.pk], overdue=True)

    later = frozen_now(monday + timedelta(days=7))  # no sweep: the urge and the supervision alone
    assert late.due_at < later < early.due_at
    ticket_urge(ticket_id=late.pk, actor=nanshan_dispatcher)
    assert urge_row(late).payload["overdue"] is True
    ticket_supervise(ticket_id=supervised.pk, actor=nanshan_dispatcher, note="请于今日内答复。")

    end = later.date() + timedelta(1)
    s = selectors.summary(place=place, start=today, end=end)
    assert (s.flows["urged"], s.flows["supervised"]) == (4, 1)
    assert (s.flows["overdue"], s.stocks["overdue_open"]) == (2, 2)
    assert listed(viewer, s.links["overdue_open"]) == {late.number, supervised.number}
    went_overdue = flow_link(place, today, end, "overdue")
    assert listed(viewer, went_overdue) == {late.number, supervised.number}
    by_day = {row["period"]: row for row in selectors.trend(place=place, start=today, end=end)}
    assert by_day[today]["overdue"] == 0 and by_day[later.date()]["overdue"] == 2
    assert listed(viewer, by_day[today]["links"]["overdue"]) == set()


def test_an_urge_at_the_deadline_is_not_overdue_and_a_minute_later_it_is(
    frozen_now, dispatched, nanshan_dispatcher
):
    """Overdue is strict (docs/clock.md): an urge at exactly ``due_at`` is still in time."""
    from zhiwang.tickets.services import ticket_urge

    frozen_now(frozen_now.initial)
    ticket = dispatched(kind="inquiry")
    frozen_now(ticket.due_at)
    ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher)
    assert urge_row(ticket).payload["overdue"] is False
    assert TicketTrack.objects.get(ticket_id=ticket.pk).overdue is False
    frozen_now(ticket.due_at + timedelta(minutes=1))
    ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher)
    assert urge_row(ticket).payload["overdue"] is True
    assert TicketTrack.objects.get(ticket_id=ticket.pk).overdue is True


def test_the_sweeps_urge_notice_says_overdue(frozen_now, dispatched):
    from zhiwang.tickets.services.clock import clock_sweep

    monday = frozen_now(frozen_now.initial)
    ticket = dispatched(kind="inquiry")
    later = frozen_now(monday + timedelta(days=7))
    clock_sweep(now=later)
    row = ticket.events.get(action="urge", actor=None)
    assert row.payload["overdue"] is True


def test_rebuild_equals_incremental_with_pre_and_post_deadline_and_old_urges(
    frozen_now, dispatched, accepted, nanshan_dispatcher, sub_handler, viewer
):
    """A history mixing urges before and after the deadline, the sweep's bulk urges and
    warnings, a reply ending an episode, and an urge row as written before urges said whether
    the deadline had passed (no key: it counts, as it was counted then). The catch-up and the
    rebuild agree, on the figures and on every ticket's overdue flag."""
    from zhiwang.tickets.services import ticket_reply, ticket_urge
    from zhiwang.tickets.services.clock import clock_sweep

    monday = frozen_now(frozen_now.initial)
    before = dispatched()  # urged in time only
    ticket_urge(ticket_id=before.pk, actor=nanshan_dispatcher)
    old_style = dispatched()  # an urge row from before the change, in time, without the key
    TicketEvent.objects.create(
        ticket=old_style,
        actor=nanshan_dispatcher,
        action="urge",
        from_state=old_style.status,
        to_state=old_style.status,
        note="请加快办理。",
        payload={},
        unit_id=old_style.handling_unit_id,
    )
    replied = accepted()  # urged in time, then answered
    ticket_urge(ticket_id=replied.pk, actor=nanshan_dispatcher)
    replied.refresh_from_db()
    ticket_reply(ticket=replied, actor=sub_handler, reply="已处理完毕。")
    swept = dispatched(kind="inquiry")  # urged in time, then the sweep's warning and urge notice
    ticket_urge(ticket_id=swept.pk, actor=nanshan_dispatcher)
    after = dispatched(kind="inquiry")  # urged in time and again past the deadline
    ticket_urge(ticket_id=after.pk, actor=nanshan_dispatcher)

    later = frozen_now(monday + timedelta(days=7))
    ticket_urge(ticket_id=after.pk, actor=nanshan_dispatcher)
    clock_sweep(now=later)
    assert swept.events.filter(action="urge", actor=None, payload__overdue=True).exists()
    rollup_catch_up()
    incremental = rollup_snapshot()
    tracks = set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue"))
    overdue = {pk for pk, _last, flag in tracks if flag}
    assert overdue == {old_style.pk, swept.pk, after.pk}

    rollup_rebuild()
    assert rollup_snapshot() == incremental
    assert set(TicketTrack.objects.values_list("ticket_id", "last_event", "overdue")) == tracks

    place = selectors.place_for(user=nanshan_dispatcher, code=NANSHAN)
    end = later.date() + timedelta(1)
    s = selectors.summary(place=place, start=monday.date(), end=end)
    assert s.stocks["overdue_open"] == s.flows["overdue"] == 3
    numbers = {old_style.number, swept.number, after.number}
    assert listed(viewer, s.links["overdue_open"]) == numbers
    assert listed(viewer, flow_link(place, monday.date(), end, "overdue")) == numbers
    # the old-style row started its episode on Monday, as it did when it was counted
    by_day = {
        row["period"]: row["overdue"] for row in selectors.trend(place=place, start=monday.date(), end=end)
    }
    assert (by_day[monday.date()], by_day[later.date()]) == (1, 2)


def test_the_three_statements_of_the_rule_agree(dispatched):
    """``rules.went_overdue`` (incremental, catch-up), the rebuild's SQL and the ticket list's SQL
    name the same rows, on this backend's JSON: urges with the flag true, false and missing."""
    from zhiwang.analytics.rollups import rebuild, rules
    from zhiwang.tickets import selectors as ticket_selectors
    from zhiwang.tickets.services import clock

    assert ticket_selectors.URGE_OVERDUE_KEY == clock.URGE_OVERDUE_KEY
    ticket = dispatched()
    rows = [
        ("urge", {"overdue": True}),
        ("urge", {"overdue": False}),
        ("urge", {}),
        ("urge", {"overdue": True, "deadline": "2026-11-25T18:00:00+08:00"}),
        ("urge", {"note": "old"}),
        ("supervise", {"level": 2}),
        ("supervise", {"level": 2, "overdue": False}),  # the flag is an urge's only
        ("warn", {"kind": "overdue"}),
        ("warn", {"kind": "deadline_near"}),
        ("warn", {"kind": "overdue", "overdue": False}),
        ("reply", {"overdue": True}),
    ]
    expected = {}
    for action, payload in rows:
        event = TicketEvent.objects.create(
            ticket=ticket, action=action, from_state=ticket.status, to_state=ticket.status, payload=payload
        )
        expected[event.pk] = rules.went_overdue(action, payload)
    assert [expected[pk] for pk in sorted(expected)] == [
        True,
        False,
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    mine = TicketEvent.objects.filter(pk__in=expected)
    for condition in (rebuild._went_overdue(), ticket_selectors._went_overdue()):
        assert set(mine.filter(condition).values_list("pk", flat=True)) == {
            pk for pk, flag in expected.items() if flag
        }
