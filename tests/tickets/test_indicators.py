"""Indicators over a hand-built week of histories (Mon 2025-10-13 … Sun 10-19, no holidays).

Every expected value below is counted by hand from the stories in ``week``; the working
windows are 09–12 and 14–18 (7 h a day). Units: S = the first Nanshan subdistrict office,
U = Nanshan's urban-management bureau, L = Luohu's district government. Rows are appended
in time order, as the services append them.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from zhiwang.accounts.models import OrgUnit, User
from zhiwang.geo.models import Division
from zhiwang.tickets import indicators as ind
from zhiwang.tickets.models import Category, Ticket, TicketEvent

TZ = ZoneInfo("Asia/Shanghai")
START, END, AS_OF = datetime(2025, 10, 13, tzinfo=TZ), datetime(2025, 10, 20, tzinfo=TZ), None


def t(day, hour, minute=0) -> datetime:
    return datetime(2025, 10, day, hour, minute, tzinfo=TZ)


class Week:
    """The units, places and tickets of the week; ``tickets[name]`` by story name."""

    def __init__(self):
        self.S = OrgUnit.objects.get(code="DEMO-SUB-OFFICE")
        self.U = OrgUnit.objects.get(code="DEMO-NS-URBAN")
        self.L = OrgUnit.objects.get(code="DEMO-GOV-440303")
        self.ns_center = OrgUnit.objects.get(code="DEMO-NS-CC")
        self.lh_center = OrgUnit.objects.get(code="DEMO-LH-CC")
        self.nanshan = Division.objects.get(code="440305000000")
        self.luohu = Division.objects.get(code="440303000000")
        self.ns_community = Division.objects.filter(parent=self.S.division).order_by("code").first()
        self.lh_community = Division.objects.filter(parent__parent=self.luohu, level="community").first()
        self.category = Category.objects.get(code="GI0203")
        self.tickets: dict[str, Ticket] = {}

    def ticket(self, name, *, luohu=False, unit=None, **columns) -> Ticket:
        community = self.lh_community if luohu else self.ns_community
        ticket = Ticket.objects.create(
            number=f"ZWIND{len(self.tickets):06d}",
            kind="incident",
            category=self.category,
            channel="patrol",
            idempotency_key=f"test:indicators:{name}",
            title=name,
            description=f"story {name}",
            status=columns.pop("status"),
            received_at=columns.pop("received_at", t(13, 9)),
            deadline_amount=5,
            deadline_unit="working_days",
            community=community,
            subdistrict=community.parent,
            district=community.parent.parent,
            division=community,
            handling_unit=unit,
            dispatch_center=self.lh_center if luohu else self.ns_center,
            **columns,
        )
        self.tickets[name] = ticket
        return ticket

    @staticmethod
    def events(ticket, *rows):
        for action, at, unit, payload in rows:
            TicketEvent.objects.create(
                ticket=ticket,
                action=action,
                at=at,
                unit=unit,
                payload=payload,
                from_state="",
                to_state="",
            )


def rated(resolved, satisfaction):
    return {"resolved": resolved, "satisfaction": satisfaction, "unreachable": False, "by_citizen": False}


@pytest.fixture
def week(db):
    w = Week()
    S, U, L = w.S, w.U, w.L
    ev = w.events
    # T1: by the book, satisfied.
    ev(
        w.ticket(
            "T1", status="closed", unit=S, accept_due_at=t(13, 11, 10), due_at=t(17, 18), replied_at=t(14, 10)
        ),
        ("dispatch", t(13, 9, 10), S, {}),
        ("accept", t(13, 10), S, {}),
        ("reply", t(14, 10), S, {}),
        ("approve_reply", t(14, 11), S, {}),
        ("close", t(15, 10), S, rated(True, "satisfied")),
    )
    # T2: signed late (the sweep warned), replied 30 minutes after the deadline, basically satisfied.
    ev(
        w.ticket(
            "T2",
            status="closed",
            unit=S,
            accept_due_at=t(13, 11, 30),
            due_at=t(16, 18),
            replied_at=t(16, 18, 30),
        ),
        ("dispatch", t(13, 9, 30), S, {}),
        ("warn", t(13, 11, 35), S, {"kind": "accept_overdue"}),
        ("accept", t(14, 9), S, {}),
        ("reply", t(16, 18, 30), S, {}),
        ("approve_reply", t(17, 9), S, {}),
        ("close", t(17, 10), S, rated(True, "basically_satisfied")),
    )
    # T3: reply sent back, answered again; unresolved at follow-up → reopened; second round closes.
    ev(
        w.ticket(
            "T3", status="closed", unit=S, accept_due_at=t(15, 15), due_at=t(17, 18), replied_at=t(16, 10)
        ),
        ("dispatch", t(13, 14), S, {}),
        ("accept", t(13, 15), S, {}),
        ("reply", t(14, 15), S, {}),
        ("send_back", t(14, 16), S, {}),
        ("reply", t(15, 9), S, {}),
        ("approve_reply", t(15, 10), S, {}),
        ("reopen", t(15, 11), S, rated(False, "unsatisfied")),
        ("accept", t(15, 14), S, {}),
        ("reply", t(16, 10), S, {}),
        ("approve_reply", t(16, 11), S, {}),
        ("close", t(16, 15), S, rated(True, "satisfied")),
    )
    # T4: dispatched to U by mistake, returned as wrongly dispatched, dispatched to S, never signed.
    ev(
        w.ticket("T4", status="dispatched", unit=S, accept_due_at=t(14, 16), due_at=t(21, 18)),
        ("dispatch", t(14, 9, 5), U, {}),
        ("request_return", t(14, 10), U, {"legal_basis": "", "extra_days": None}),
        ("approve_return", t(14, 11), U, {"request": 1, "wrong_dispatch": True}),
        ("dispatch", t(14, 14), S, {}),
        ("warn", t(14, 16, 5), S, {"kind": "accept_overdue"}),
    )
    # T5: dispatched to S, reassigned to U half an hour later; the citizen could not be reached.
    ev(
        w.ticket(
            "T5", status="closed", unit=U, accept_due_at=t(14, 11, 30), due_at=t(17, 18), replied_at=t(15, 10)
        ),
        ("dispatch", t(14, 9), S, {}),
        ("reassign", t(14, 9, 30), U, {"wrong_dispatch": True}),
        ("accept", t(14, 10), U, {}),
        ("reply", t(15, 10), U, {}),
        ("approve_reply", t(15, 11), U, {}),
        ("close", t(15, 15), U, {"resolved": None, "satisfaction": "", "unreachable": True}),
    )
    # T6: Luohu, by the book.
    ev(
        w.ticket(
            "T6",
            luohu=True,
            status="closed",
            unit=L,
            accept_due_at=t(13, 11),
            due_at=t(15, 18),
            replied_at=t(13, 17),
        ),
        ("dispatch", t(13, 9), L, {}),
        ("accept", t(13, 9, 30), L, {}),
        ("reply", t(13, 17), L, {}),
        ("approve_reply", t(14, 9), L, {}),
        ("close", t(14, 10), L, rated(True, "satisfied")),
    )
    # T7: suspended for 7 working hours (13th 14:00 → 14th 14:00), replied on the 15th.
    ev(
        w.ticket(
            "T7", status="replied", unit=S, accept_due_at=t(13, 12), due_at=t(17, 11), replied_at=t(15, 10)
        ),
        ("dispatch", t(13, 10), S, {}),
        ("accept", t(13, 11), S, {}),
        ("approve_suspension", t(13, 14), S, {}),
        ("resume", t(14, 14), S, {"stopped_working_seconds": 25200.0}),
        ("reply", t(15, 10), S, {}),
    )
    # T8: signed 3 minutes after the accept deadline, before the sweep noticed; never replied.
    ev(
        w.ticket("T8", status="accepted", unit=S, accept_due_at=t(13, 11), due_at=t(15, 18)),
        ("dispatch", t(13, 9), S, {}),
        ("accept", t(13, 11, 3), S, {}),
    )
    # T9 merged, T10 rejected, T11 suspended: out of the closure rate.
    ev(w.ticket("T9", status="merged", due_at=t(16, 18)), ("merge", t(14, 9), None, {}))
    ev(w.ticket("T10", status="rejected"), ("reject", t(14, 9), None, {}))
    ev(
        w.ticket("T11", status="suspended", unit=S, due_at=t(16, 18), received_at=t(9, 9)),
        ("dispatch", t(9, 9), S, {}),
        ("accept", t(9, 10), S, {}),
        ("approve_suspension", t(10, 9), S, {}),
    )
    # T12: everything happened the week before; its reply was sent back, so it is not answered.
    ev(
        w.ticket(
            "T12", status="accepted", unit=S, due_at=t(16, 18), replied_at=t(10, 10), received_at=t(9, 9)
        ),
        ("dispatch", t(9, 10), S, {}),
        ("accept", t(9, 11), S, {}),
        ("reply", t(10, 10), S, {}),
        ("send_back", t(10, 11), S, {}),
    )
    # T13: returned with a legal basis (not a wrong dispatch), back in the queue.
    ev(
        w.ticket("T13", status="pending_dispatch", unit=None),
        ("dispatch", t(16, 9), S, {}),
        ("request_return", t(16, 10), S, {"legal_basis": "《信访工作条例》", "extra_days": None}),
        ("approve_return", t(16, 11), S, {"request": 2, "wrong_dispatch": False}),
    )
    return w


@pytest.fixture
def leader(db):
    return User.objects.get(username="demo_leader")


def values(result: dict) -> dict:
    return {key: (r.numerator, r.denominator) for key, r in result.items()}


def frame(**extra):
    return {"start": START, "end": END, **extra}


def test_response_rate(week, leader):
    as_of = t(25, 9)
    # 12 hand-overs; no response: T4 to S (never signed) and T5 to S (reassigned before responding)
    assert values(ind.response_rate(user=leader, as_of=as_of, **frame())) == {None: (10, 12)}
    by_unit = values(ind.response_rate(user=leader, as_of=as_of, by="unit", **frame()))
    assert by_unit == {week.S.pk: (7, 9), week.U.pk: (2, 2), week.L.pk: (1, 1)}
    # on the 14th at 15:00 no window of the day's four hand-overs has closed: none counted yet,
    # not even T4→U and T5→U, answered within the hour (counting them alone would read 2 of 2)
    day = {"start": t(14, 0), "end": t(15, 0)}
    assert values(ind.response_rate(user=leader, as_of=t(14, 15), **day)).get(None, (0, 0)) == (0, 0)
    # on the 15th at 15:00 all four have: T4→U and T5→U responded, T4→S and T5→S did not
    assert values(ind.response_rate(user=leader, as_of=t(15, 15), **day)) == {None: (2, 4)}
    # a 30-minute window: T1 (50 min), T2 (next day), T3 (1 h), T3 reopened (3 h), T4→U (55 min),
    # T7 (1 h), T8 (2 h), T13 (1 h) are too slow; T5→U (30 min) and T6 (30 min) make it
    assert values(ind.response_rate(user=leader, as_of=as_of, hours=0.5, **frame())) == {None: (2, 12)}


def test_on_time_acceptance_rate(week, leader):
    # due: every hand-over signed for or warned (T4→U, T5→S and T13 neither): 9
    # late: T2 (the sweep warned), T4→S (warned, never signed), T8 (signed after accept_due_at)
    as_of = t(25, 9)
    assert values(ind.on_time_acceptance_rate(user=leader, as_of=as_of, **frame())) == {None: (6, 9)}
    by_unit = values(ind.on_time_acceptance_rate(user=leader, as_of=as_of, by="unit", **frame()))
    assert by_unit == {week.S.pk: (4, 7), week.U.pk: (1, 1), week.L.pk: (1, 1)}
    # the 13th's hand-overs counted at 11:05: T1 (signed at 10:00, due 11:10) and T7 (signed at
    # 11:00, due 12:00) wait for their deadlines; T6 (on time) and T8 (signed 3 minutes late)
    # are due, T2 is marked missed and T3's first round has ended (reopened, on time): the
    # timeline is read as it stands, ``as_of`` only says which deadlines have passed
    early = {"start": t(13, 0), "end": t(14, 0)}
    assert values(ind.on_time_acceptance_rate(user=leader, as_of=t(13, 11, 5), **early)) == {None: (2, 4)}
    assert values(ind.on_time_acceptance_rate(user=leader, as_of=t(13, 11, 15), **early)) == {None: (3, 5)}
    assert values(ind.on_time_acceptance_rate(user=leader, as_of=t(13, 12, 5), **early)) == {None: (4, 6)}


def test_on_time_closure_rate(week, leader):
    as_of = t(25, 9)
    # deadline in the week: T1 T2 T3 T5 T6 T7 T8 T12 (T4 next week; T9 merged, T10 rejected, T11 suspended)
    # on time: T1 T3 T5 T6 T7; late: T2 (18:30 > 18:00), T8 (no reply), T12 (reply sent back)
    assert values(ind.on_time_closure_rate(user=leader, as_of=as_of, **frame())) == {None: (5, 8)}
    by_unit = values(ind.on_time_closure_rate(user=leader, as_of=as_of, by="unit", **frame()))
    assert by_unit == {week.S.pk: (3, 6), week.U.pk: (1, 1), week.L.pk: (1, 1)}
    by_district = values(ind.on_time_closure_rate(user=leader, as_of=as_of, by="district", **frame()))
    assert by_district == {week.nanshan.pk: (4, 7), week.luohu.pk: (1, 1)}
    # on the 16th at noon only the deadlines already passed count, answered or not: T6 (on time)
    # and T8 (no reply); T1, T3, T5 and T7, answered early, wait for their deadlines like the
    # others due after noon (counting them now would read 5 of 7)
    assert values(ind.on_time_closure_rate(user=leader, as_of=t(16, 12), **frame())) == {None: (1, 2)}


def test_resolution_and_satisfaction(week, leader):
    # rated follow-ups: T1 (resolved, satisfied), T2 (resolved, basically), T3 reopen (unresolved,
    # unsatisfied), T3 close (resolved, satisfied), T6 (resolved, satisfied); T5 unreachable
    assert values(ind.resolution_rate(user=leader, **frame())) == {None: (4, 5)}
    assert values(ind.resolution_rate(user=leader, by="unit", **frame())) == {
        week.S.pk: (3, 4),
        week.L.pk: (1, 1),
    }
    counts = ind.satisfaction_counts(user=leader, **frame())
    assert counts == {None: {"rated": 5, "satisfied": 3, "basically_satisfied": 1, "unsatisfied": 1}}
    rate = ind.satisfaction_rate(user=leader, **frame())[None]
    assert rate.value == pytest.approx((3 + 0.8) / 5)
    assert ind.satisfaction_rate(user=leader, basic_weight=1, **frame())[None].value == pytest.approx(0.8)
    assert ind.satisfaction_rate(user=leader, by="unit", **frame())[week.S.pk].value == pytest.approx(2.8 / 4)
    by_day = values(ind.resolution_rate(user=leader, by="day", **frame()))
    assert by_day == {
        date(2025, 10, 14): (1, 1),
        date(2025, 10, 15): (1, 2),
        date(2025, 10, 16): (1, 1),
        date(2025, 10, 17): (1, 1),
    }
    assert values(ind.resolution_rate(user=leader, by="week", **frame())) == {date(2025, 10, 13): (4, 5)}


def test_satisfaction_weight_setting(week, leader, settings):
    settings.ZHIWANG_BASIC_SATISFACTION_WEIGHT = 0.5
    assert ind.satisfaction_rate(user=leader, **frame())[None].value == pytest.approx(3.5 / 5)


def test_rework_rate(week, leader):
    # follow-ups in the week: T1, T2, T3 (reopened), T3 (closed), T5 (unreachable, closed), T6 = 6;
    # rework: T3's reopening (its send-back at review is quality control, not rework)
    assert values(ind.rework_rate(user=leader, **frame())) == {None: (1, 6)}
    by_unit = values(ind.rework_rate(user=leader, by="unit", **frame()))
    assert by_unit == {week.S.pk: (1, 4), week.U.pk: (0, 1), week.L.pk: (0, 1)}


def test_accurate_dispatch_rate(week, leader):
    # dispatch decisions: T1 T2 T3 T4 ×2 T5 (+ reassign) T6 T7 T8 T13 = 11 (a reopening is not one)
    # wrong: T4 returned as wrongly dispatched, T5 reassigned; T13's return had a legal basis
    assert values(ind.accurate_dispatch_rate(user=leader, **frame())) == {None: (9, 11)}
    by_center = values(ind.accurate_dispatch_rate(user=leader, by="unit", **frame()))
    assert by_center == {week.ns_center.pk: (8, 10), week.lh_center.pk: (1, 1)}


def test_average_handling_time(week, leader):
    # first reply of each round, in working hours from the round's start:
    # T1 13th 09:10 → 14th 10:00 = 2h50 + 4h + 1h = 7h50; T2 13th 09:30 → 16th 18:30 = 6.5 + 7 + 7 + 7 = 27.5;
    # T3 13th 14:00 → 14th 15:00 = 4 + 4 = 8 (its second reply, after the send-back, is not a first reply);
    # T3 reopened 15th 11:00 → 16th 10:00 = 5 + 1 = 6; T5 reassigned 14th 09:30 → 15th 10:00 = 6.5 + 1 = 7.5;
    # T6 13th 09:00 → 17:00 = 6; T7 13th 10:00 → 15th 10:00 = 14 − 7 suspended = 7
    total = 7 + 5 / 6 + 27.5 + 8 + 6 + 7.5 + 6 + 7
    result = ind.average_handling_time(user=leader, **frame())[None]
    assert result.count == 7
    assert result.total == pytest.approx(total)
    assert result.value == pytest.approx(total / 7)
    by_unit = ind.average_handling_time(user=leader, by="unit", **frame())
    assert by_unit[week.S.pk].value == pytest.approx((7 + 5 / 6 + 27.5 + 8 + 6 + 7) / 5)
    assert by_unit[week.U.pk].value == pytest.approx(7.5)
    assert by_unit[week.L.pk].value == pytest.approx(6)
    by_day = ind.average_handling_time(user=leader, by="day", **frame())
    assert {d: r.count for d, r in by_day.items()} == {
        date(2025, 10, 13): 1,
        date(2025, 10, 14): 2,
        date(2025, 10, 15): 2,
        date(2025, 10, 16): 2,
    }


def test_handling_time_across_a_holiday(db, leader):
    """National Day: dispatched Tue 2025-09-30 16:00, replied Thu 10-09 10:00 = 2 h + 1 h."""
    w = Week()
    w.events(
        w.ticket("H", status="replied", unit=w.S, due_at=t(10, 18), replied_at=t(9, 10)),
        ("dispatch", datetime(2025, 9, 30, 16, tzinfo=TZ), w.S, {}),
        ("accept", datetime(2025, 9, 30, 17, tzinfo=TZ), w.S, {}),
        ("reply", t(9, 10), w.S, {}),
    )
    result = ind.average_handling_time(user=leader, start=t(1, 0), end=t(31, 0))[None]
    assert (result.count, result.value) == (1, pytest.approx(3))


def test_scoping_and_filters(week, leader):
    ns = User.objects.get(username="demo_ns_dispatcher")
    citizen = User.objects.get(username="demo_citizen")
    assert values(ind.resolution_rate(user=ns, **frame())) == {None: (3, 4)}  # Luohu's T6 not visible
    assert ind.resolution_rate(user=citizen, **frame()) == {}
    assert ind.average_handling_time(user=citizen, **frame()) == {}
    assert values(ind.resolution_rate(user=leader, division=week.luohu, **frame())) == {None: (1, 1)}
    sub = week.S.division
    assert values(ind.rework_rate(user=leader, division=sub, **frame())) == {None: (1, 5)}
    assert values(ind.rework_rate(user=leader, unit=week.U, **frame())) == {None: (0, 1)}
    with pytest.raises(ValueError, match="unknown grouping"):
        ind.rework_rate(user=leader, by="grid", **frame())


def test_table_and_composite(week, leader):
    table = ind.indicator_table(user=leader, **frame())
    row = table[None]
    assert set(row) == {*ind.INDICATORS, "composite"}
    response = row["response_rate"].value  # as of now: every window has closed
    assert response == pytest.approx(10 / 12)
    assert row["composite"] == pytest.approx(0.30 * 10 / 12 + 0.35 * 4 / 5 + 0.35 * 3.8 / 5)
    assert ind.composite({"response_rate": 1.0, "resolution_rate": None, "satisfaction_rate": 1.0}) is None
    assert ind.composite({"a": ind.Rate(1, 2)}, weights={"a": 1.0}) == 0.5
