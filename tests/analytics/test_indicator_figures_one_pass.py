"""The stored monthly indicators are computed in one pass per indicator (grouped by the unit and the
three place columns at once, each grouping summed from those rows): the same rows, to the last
bit, as each grouping computed alone; and the average handling time read per reply agrees with
the work calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import F, QuerySet
from django.test.utils import CaptureQueriesContext

from tests.analytics.conftest import MONTH_ENDED
from zhiwang.analytics import indicator_figures as figures
from zhiwang.analytics.index import _SYSTEM, month_bounds
from zhiwang.analytics.models import IndicatorFigure
from zhiwang.tickets import indicators
from zhiwang.tickets.models import Ticket, TicketEvent
from zhiwang.tickets.workflow import TicketAction as A

NOVEMBER = date(2026, 11, 1)
EVERY_GROUPING = tuple(figures.GROUPINGS.values())


@pytest.fixture
def uneven_history(history):
    """``history`` with a few tickets lacking their community (one also its subdistrict), and
    moments off the whole second (the clock's microseconds), as real timelines have them."""
    located = list(Ticket.objects.exclude(community=None).order_by("pk").values_list("pk", flat=True))
    assert len(located) > 6
    Ticket.objects.filter(pk__in=located[:3]).update(community=None)
    Ticket.objects.filter(pk__in=located[3:4]).update(community=None, subdistrict=None)
    # a test's fixture, not history: a plain queryset, past the timeline's append-only guard
    events = QuerySet(TicketEvent)
    for n, pk in enumerate(list(events.order_by("pk").values_list("pk", flat=True))[::3]):
        events.filter(pk=pk).update(at=F("at") + timedelta(microseconds=1 + 7919 * n % 999_999))
    return history


def _stored(month):
    return {
        (str(f.group), f.key, f.indicator): (f.numerator, f.denominator, f.parts)
        for f in IndicatorFigure.objects.filter(month=month)
    }


def _each_grouping_alone(month, as_of):
    """The rows as computed before: one query set per indicator and grouping (``by`` a single one)."""
    start, end = month_bounds(month)
    out = {}
    for group, by in figures.GROUPINGS.items():
        for code in figures.FIGURE_INDICATORS:
            for key, row in figures._results(code, start=start, end=end, by=by, as_of=as_of).items():
                if by is not None and key is None:
                    continue
                out[(str(group), key, code)] = row
    return out


def test_one_pass_stores_the_rows_of_each_grouping_alone(uneven_history, frozen_now):
    frozen_now(MONTH_ENDED)
    with CaptureQueriesContext(connection) as queries:
        figures.indicator_figures_compute(month=NOVEMBER, now=MONTH_ENDED)
    reads = [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # one pass per indicator (the settle days, the calendar and a savepoint aside), not one per grouping
    assert len(reads) <= 16, len(reads)
    stored = _stored(NOVEMBER)
    alone = _each_grouping_alone(NOVEMBER, MONTH_ENDED)
    assert stored.keys() == alone.keys()
    assert stored == alone  # numerator, denominator and parts: equal, not approximately
    # the rows lacking a place column count for the city, not for a division
    city, communities = (
        sum(d for (g, _k, _c), (_n, d, _p) in stored.items() if g == group) for group in ("city", "community")
    )
    assert city > communities > 0


@pytest.mark.parametrize("code", figures.FIGURE_INDICATORS)
def test_several_groupings_at_once_equal_each_alone(uneven_history, code):
    start, end = month_bounds(NOVEMBER)
    together = figures._results(code, start=start, end=end, by=EVERY_GROUPING, as_of=MONTH_ENDED)
    assert together.keys() == set(EVERY_GROUPING)
    for by in EVERY_GROUPING:
        assert together[by] == figures._results(code, start=start, end=end, by=by, as_of=MONTH_ENDED), by
    # time groupings go together with the others as well
    table = indicators.INDICATORS[code]
    moment = {"as_of": MONTH_ENDED} if code in indicators.AS_OF_INDICATORS else {}
    both = table(user=_SYSTEM, start=start, end=end, by=("day", "unit"), **moment)
    assert both["day"] == table(user=_SYSTEM, start=start, end=end, by="day", **moment)
    assert both["unit"] == table(user=_SYSTEM, start=start, end=end, by="unit", **moment)
    assert table(user=_SYSTEM, start=start, end=end, by=(None,), **moment) == {
        None: table(user=_SYSTEM, start=start, end=end, **moment)
    }


def test_handling_time_per_reply_agrees_with_the_work_calendar(uneven_history):
    """Each first reply of a round: working time from the round's hand-over, less the suspended time."""
    from zhiwang.core.workcalendar.services import work_calendar

    calendar = work_calendar()
    start, end = month_bounds(NOVEMBER)
    expected: dict = {}
    for ticket in Ticket.objects.filter(events__action=A.REPLY).distinct():
        round_start, replied, stopped = None, False, 0.0
        for event in ticket.events.order_by("pk"):
            if event.action in indicators.frame.HANDOVER_ACTIONS:
                round_start, replied, stopped = event, False, 0.0
            elif event.action == A.RESUME and round_start is not None:
                stopped += float(event.payload.get("stopped_working_seconds") or 0)
            elif event.action == A.REPLY and round_start is not None and not replied:
                replied = True
                if start <= event.at < end:
                    # to the whole second, as the indicator counts (Django's SQL extract did)
                    started, replied_at = (e.at.replace(microsecond=0) for e in (round_start, event))
                    seconds = calendar.working_seconds_between(started, replied_at) - stopped
                    total, count = expected.get(event.unit_id, (0.0, 0))
                    expected[event.unit_id] = (total + seconds / 3600, count + 1)
    assert expected
    found = indicators.average_handling_time(user=_SYSTEM, start=start, end=end, by="unit")
    assert found.keys() == expected.keys()
    for unit, (total, count) in expected.items():
        assert found[unit].count == count
        assert found[unit].total == pytest.approx(total, rel=1e-12, abs=1e-9), unit


def _filtered_rates(*, by, start, end, as_of):
    """The response and on-time acceptance rates as SQL filters and ``Count(filter=…)`` (how they
    were counted before their conditions were grouped and tallied in Python): the reference."""
    from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value

    from zhiwang.tickets.indicators import frame as f
    from zhiwang.tickets.models import TicketStatus

    events = f._EVENTS.restrict(
        f._events(_SYSTEM).filter(action__in=f.HANDOVER_ACTIONS), start=start, end=end
    ).annotate(round_end=f._round_end())
    window = timedelta(hours=f.response_hours())
    limit = ExpressionWrapper(OuterRef("at") + Value(window), output_field=DateTimeField())
    qs = events.filter(at__lte=as_of - window).annotate(
        responded=Exists(
            f._in_round(action__in=f.RESPONSE_ACTIONS, unit_id=OuterRef("unit_id"), at__lte=limit)
        ),
        withdrawn=Exists(f._in_round(action__in=f.WITHDRAWAL_ACTIONS, at__lte=limit)),
    )
    qs = qs.filter(Q(responded=True) | Q(withdrawn=False))
    response = f._rates(
        f._grouped(qs, by, f._EVENTS, due=Count("pk"), n=Count("pk", filter=Q(responded=True))), "n", "due"
    )
    qs = events.annotate(
        accepted=Exists(f._in_round(action=A.ACCEPT)),
        warned=Exists(f._in_round(action=A.WARN, payload__kind="accept_overdue")),
        late_now=Exists(f._in_round(action=A.ACCEPT, at__gt=F("ticket__accept_due_at"))),
    )
    current = Q(round_end=f._NO_ROUND_END)
    deadline_passed = Q(ticket__accept_due_at__lt=as_of)
    unmarked_miss = current & deadline_passed & Q(ticket__status=TicketStatus.DISPATCHED, accepted=False)
    missed = Q(warned=True) | (current & Q(late_now=True)) | unmarked_miss
    settled = ~current | deadline_passed | Q(ticket__accept_due_at__isnull=True) | Q(warned=True)
    qs = qs.filter((Q(accepted=True) | missed) & settled)
    on_time = Q(accepted=True, warned=False) & ~(current & Q(late_now=True))
    acceptance = f._rates(
        f._grouped(qs, by, f._EVENTS, due=Count("pk"), n=Count("pk", filter=on_time)), "n", "due"
    )
    return response, acceptance


@pytest.mark.parametrize("by", [None, "unit", "community"])
def test_tallied_rates_equal_the_sql_filters(uneven_history, by):
    from tests.analytics.conftest import HISTORY_END

    start, end = month_bounds(NOVEMBER)
    # during the history (windows and deadlines still open) and after the month
    for as_of in (HISTORY_END - timedelta(hours=30), HISTORY_END, MONTH_ENDED):
        response, acceptance = _filtered_rates(by=by, start=start, end=end, as_of=as_of)
        assert response and acceptance
        kw = {"user": _SYSTEM, "start": start, "end": end, "by": by, "as_of": as_of}
        assert indicators.response_rate(**kw) == response, as_of
        assert indicators.on_time_acceptance_rate(**kw) == acceptance, as_of
