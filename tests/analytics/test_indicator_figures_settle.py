"""Stored figures are preliminary until the month's settle time, then recomputed once as final
(review finding 1).

Computed on the 1st, a hand-over of the month's last hours still inside its response window was
left out when unanswered and counted when answered (the response rate read high), and one not
signed for nor missed yet was left out of the on-time acceptance rate. Nothing recomputed the
month. Now the figures are counted as of the computation (``computed_at``), read "preliminary
until" the settle day on the page and in the API, and the daily ``figures_settle`` recomputes
them as final after it (with the month's governance index when its formula is unchanged).

Since issue 5 the rates count a hand-over only once its outcome is settled (window closed,
accept deadline passed), answered or not: the preliminary figures leave the month's last
hand-overs out alike instead of counting the answered ones alone, so they are incomplete, not
high.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from zhiwang.analytics import indicator_figures as figures
from zhiwang.analytics.models import GovernanceIndex, IndexFormula, IndicatorFigure

TZ = ZoneInfo("Asia/Shanghai")
OCTOBER = date(2026, 10, 1)
#: A Saturday evening, the month's last: 2 working hours to sign for run to Monday 11:00.
LAST_EVENING = datetime(2026, 10, 31, 20, 0, tzinfo=TZ)
#: The monthly task: 03:15 UTC on the 1st.
FIRST_OF_MONTH = datetime(2026, 11, 1, 11, 15, tzinfo=TZ)


def _city(code, month=OCTOBER):
    row = IndicatorFigure.objects.get(month=month, group="city", indicator=code)
    return row.numerator, row.denominator


@pytest.fixture
def last_evening(dispatched, frozen_now, sub_handler):
    """Two hand-overs on the month's last evening: one signed for at once, one never answered;
    the clock sweep marks the miss once the acceptance deadline has passed."""
    from zhiwang.tickets.services import ticket_accept

    frozen_now(LAST_EVENING)
    ticket_accept(ticket=dispatched(external_id="s-1"), actor=sub_handler)
    dispatched(external_id="s-2")
    return frozen_now


@pytest.fixture
def earlier(last_evening, dispatched, sub_handler):
    """Besides the last evening's two, a hand-over on Friday the 30th at 10:00 signed for at once:
    settled well before the 1st."""
    from zhiwang.tickets.services import ticket_accept

    last_evening(datetime(2026, 10, 30, 10, 0, tzinfo=TZ))
    ticket = dispatched(external_id="s-0")
    last_evening(datetime(2026, 10, 30, 10, 5, tzinfo=TZ))
    ticket_accept(ticket=ticket, actor=sub_handler)
    return last_evening


def _absent(code, month=OCTOBER):
    """Nothing counted: no city row, or one with a zero denominator (no value, shown "—")."""
    rows = IndicatorFigure.objects.filter(month=month, group="city", indicator=code)
    return not rows.filter(denominator__gt=0).exists()


def test_the_settle_time_covers_the_response_and_acceptance_windows(db, settings):
    # defaults: 24 natural hours to respond, 2 working hours to sign for across a 9-day holiday
    assert figures.settle_days() == 11
    assert figures.settle_at(OCTOBER) == datetime(2026, 11, 12, tzinfo=TZ)
    assert figures.settle_at(date(2026, 12, 1)) == datetime(2027, 1, 12, tzinfo=TZ)
    settings.ZHIWANG_RESPONSE_HOURS = 24 * 14
    assert figures.settle_days() == 15
    settings.ZHIWANG_RESPONSE_HOURS = 24
    from zhiwang.tickets.models import Category

    category = Category.objects.order_by("pk").first()
    category.accept_hours = 7 * 5  # a working week to sign for
    category.save(update_fields=["accept_hours"])
    assert figures.settle_days() == 9 + 5 + 1


def test_the_first_of_month_figures_are_preliminary_then_recomputed_once_as_final(last_evening):
    from zhiwang.tickets.services.clock import clock_sweep

    last_evening(FIRST_OF_MONTH)
    figures.indicator_figures_compute(month=OCTOBER)
    # both hand-overs are still inside their 24 hours and before their accept deadline (Monday
    # 11:00): neither counts yet, the answered one no more than the other (before: 1 of 1)
    assert _absent("response_rate")
    assert _absent("on_time_acceptance_rate")
    assert figures.month_finality([OCTOBER]) == {OCTOBER: (False, date(2026, 11, 12))}
    assert figures.figures_settle() == []  # the settle time has not come

    clock_sweep(now=datetime(2026, 11, 2, 12, 0, tzinfo=TZ))  # "not accepted in time"
    last_evening(datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    assert figures.figures_settle() == [OCTOBER]
    assert _city("response_rate") == (1.0, 2)
    assert _city("on_time_acceptance_rate") == (1.0, 2)
    assert figures.month_finality([OCTOBER]) == {OCTOBER: (True, date(2026, 11, 12))}
    computed = set(IndicatorFigure.objects.values_list("computed_at", flat=True))
    assert computed == {datetime(2026, 11, 12, 12, 15, tzinfo=TZ)}
    # once: the next days leave the final figures alone
    last_evening(datetime(2026, 11, 13, 12, 15, tzinfo=TZ))
    assert figures.figures_settle() == []
    assert set(IndicatorFigure.objects.values_list("computed_at", flat=True)) == computed


def test_figures_are_counted_as_of_the_computation_not_the_clock(last_evening):
    """The rows say when they were counted (``now``), so a recompute of an old month is final and
    a computation "as of" the 1st is preliminary, whatever the wall clock."""
    last_evening(datetime(2027, 3, 1, tzinfo=TZ))
    figures.indicator_figures_compute(month=OCTOBER, now=FIRST_OF_MONTH)
    assert _absent("response_rate") and _absent("on_time_acceptance_rate")
    assert figures.month_finality([OCTOBER])[OCTOBER][0] is False
    figures.indicator_figures_compute(month=OCTOBER, now=datetime(2026, 11, 12, tzinfo=TZ))
    assert _city("response_rate") == (1.0, 2)
    assert figures.month_finality([OCTOBER])[OCTOBER][0] is True


def test_the_daily_task_settles_the_months_due(monkeypatch, db):
    from zhiwang.analytics import tasks

    monkeypatch.setattr(
        "zhiwang.analytics.indicator_figures.figures_settle", lambda: [OCTOBER, date(2026, 11, 1)]
    )
    assert tasks.figures_settle_task.call_local() == 2


def test_the_final_recompute_rescores_the_index_when_its_formula_is_unchanged(earlier, monkeypatch):
    from zhiwang.analytics import index as idx

    earlier(FIRST_OF_MONTH)
    IndexFormula.objects.create(name="f", weights={"response_rate": 1}, min_volume=0)
    assert idx.governance_index_compute(month=OCTOBER)
    preliminary = dict(GovernanceIndex.objects.values_list("division_id", "score"))
    assert set(preliminary.values()) == {100.0}  # the 30th's hand-over alone is settled: 1 of 1
    figures.indicator_figures_compute(month=OCTOBER)
    assert _city("response_rate") == (1.0, 1)
    earlier(datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    assert figures.figures_settle() == [OCTOBER]
    final = dict(GovernanceIndex.objects.values_list("division_id", "score"))
    assert final.keys() == preliminary.keys() and {round(v, 2) for v in final.values()} == {66.67}


def test_the_index_counts_as_of_its_computation_like_the_figures(earlier):
    """``governance_index_compute(now=…)`` counts the response, acceptance and closure rates as of
    ``now``, as ``indicator_figures_compute`` does, not as of the wall clock (before: 2 of 3)."""
    from zhiwang.analytics import index as idx

    earlier(datetime(2026, 11, 20, tzinfo=TZ))
    IndexFormula.objects.create(
        name="f", weights={"response_rate": 1, "on_time_acceptance_rate": 1}, min_volume=0
    )
    idx.governance_index_compute(month=OCTOBER, now=FIRST_OF_MONTH)
    values = list(GovernanceIndex.objects.values_list("values", flat=True))
    assert values and all(v == {"response_rate": 1.0, "on_time_acceptance_rate": 1.0} for v in values)
    idx.governance_index_compute(month=OCTOBER, now=datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    values = list(GovernanceIndex.objects.values_list("values", flat=True))
    assert values and all(v == {"response_rate": 0.6667, "on_time_acceptance_rate": 0.6667} for v in values)


def test_a_formula_changed_since_keeps_the_months_scores(earlier):
    from zhiwang.analytics import index as idx

    last_evening = earlier
    last_evening(FIRST_OF_MONTH)
    formula = IndexFormula.objects.create(name="f", weights={"response_rate": 1}, min_volume=0)
    idx.governance_index_compute(month=OCTOBER)
    figures.indicator_figures_compute(month=OCTOBER)
    formula.red_count = 1
    formula.save()
    last_evening(datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    assert figures.figures_settle() == [OCTOBER]
    assert _city("response_rate") == (2.0, 3)  # the figures are final
    assert set(GovernanceIndex.objects.values_list("score", flat=True)) == {100.0}  # as published


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_and_the_api_say_preliminary_until_the_settle_day(
    last_evening, city_leader, client, language
):
    last_evening(FIRST_OF_MONTH)
    figures.indicator_figures_compute(month=OCTOBER)
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    page = client.get(reverse("analytics:indicators"), {"period": "2026-10"}).content.decode()
    notice = page[page.index('data-testid="preliminary"') :].split("</p>")[0]
    assert "2026-11-12" in notice and ("(2026-10)" in notice or "（2026-10）" in notice)  # zh: full-width
    body = client.get("/api/v1/analytics/indicators", {"month": "2026-10"}).json()
    assert body["preliminary"] is True
    assert body["preliminary_months"] == ["2026-10"]
    assert body["preliminary_until"] == "2026-11-12"
    # a quarter with a preliminary month is preliminary too
    quarter = client.get("/api/v1/analytics/indicators", {"month": "2026-10", "months": "3"}).json()
    assert (quarter["preliminary"], quarter["preliminary_until"]) == (True, "2026-11-12")

    last_evening(datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    figures.figures_settle()
    page = client.get(reverse("analytics:indicators"), {"period": "2026-10"}).content.decode()
    assert 'data-testid="preliminary"' not in page
    body = client.get("/api/v1/analytics/indicators", {"month": "2026-10"}).json()
    assert (body["preliminary"], body["preliminary_months"], body["preliminary_until"]) == (False, [], None)


def test_a_month_computed_before_the_settle_time_by_hand_is_settled_too(last_evening):
    """``analytics_index --month`` before the settle time writes preliminary figures as well."""
    from io import StringIO

    from django.core.management import call_command

    last_evening(datetime(2026, 11, 5, 9, 0, tzinfo=TZ))
    call_command(
        "analytics_index", "--month", "2026-10", "--figures-only", "--no-progress", stdout=StringIO()
    )
    assert figures.month_finality([OCTOBER])[OCTOBER] == (False, date(2026, 11, 12))
    last_evening(datetime(2026, 11, 12, 0, 0, tzinfo=TZ) + timedelta(minutes=1))
    assert figures.figures_settle() == [OCTOBER]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_index_page_says_its_scores_are_preliminary_until_the_settle_day(
    earlier, city_leader, client, language
):
    from zhiwang.analytics.index import governance_index_compute

    last_evening = earlier
    last_evening(FIRST_OF_MONTH)
    governance_index_compute(month=OCTOBER)
    figures.indicator_figures_compute(month=OCTOBER)
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    page = client.get(reverse("analytics:index"), {"month": "2026-10"}).content.decode()
    notice = page[page.index('data-testid="preliminary"') :].split("</p>")[0]
    assert "2026-11-12" in notice
    last_evening(datetime(2026, 11, 12, 12, 15, tzinfo=TZ))
    figures.figures_settle()
    page = client.get(reverse("analytics:index"), {"month": "2026-10"}).content.decode()
    assert 'data-testid="preliminary"' not in page
