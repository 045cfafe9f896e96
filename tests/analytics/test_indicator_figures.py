"""Stored monthly indicators (考核指标): equal to the live ``indicator_table``, additive over months,
idempotent, ended months only, scoped to the jurisdiction on the page and in the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.analytics.conftest import HISTORY_END, MONTH_ENDED, TZ
from zhiwang.analytics.index import _SYSTEM, month_bounds
from zhiwang.analytics.indicator_figures import FIGURE_INDICATORS, GROUPINGS, indicator_figures_compute
from zhiwang.analytics.models import IndicatorFigure
from zhiwang.analytics.selectors.figures import indicator_figures
from zhiwang.analytics.selectors.place import place_for
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division
from zhiwang.tickets import indicators

NOVEMBER = date(2026, 11, 1)
OCTOBER = date(2026, 10, 1)
#: The history of tests/analytics/conftest.py's ``history`` lies in November 2026.
OCTOBER_END = datetime(2026, 10, 30, 17, 0, tzinfo=TZ)


def _parts(result):
    if isinstance(result, indicators.Average):
        return result.total, result.count
    return result.numerator, result.denominator


def _stored(month):
    return {
        (f.group, f.key, f.indicator): (f.numerator, f.denominator)
        for f in IndicatorFigure.objects.filter(month=month)
    }


def _live(start, end):
    """``{(group, key, indicator): (numerator, denominator)}`` of ``indicator_table``, as stored."""
    out = {}
    for group, by in GROUPINGS.items():
        for key, row in indicators.indicator_table(user=_SYSTEM, start=start, end=end, by=by).items():
            if by is not None and key is None:
                continue
            for code in FIGURE_INDICATORS:
                if code in row:
                    out[(str(group), key, code)] = _parts(row[code])
    return out


def _assert_same(stored, live):
    assert stored.keys() == live.keys()
    for k, (n, d) in live.items():
        assert stored[k][1] == d, k
        assert stored[k][0] == pytest.approx(n, abs=1e-6), k


@pytest.fixture
def two_months(db):
    """Ticket histories in October and in November 2026 (the latter is ``history``'s)."""
    from zhiwang.tickets.history import demo_tickets_create

    for end, seed in ((OCTOBER_END, 7), (HISTORY_END, 5)):
        result = demo_tickets_create(count=20, seed=seed, days=8, end=end, sweep_every=timedelta(hours=2))
        assert not result.failures


def test_stored_figures_equal_the_live_indicator_table(history, frozen_now):
    # the figures are counted as of the computation's moment: the live table at the same moment
    frozen_now(MONTH_ENDED)
    written = indicator_figures_compute(month=NOVEMBER, now=MONTH_ENDED)
    stored = _stored(NOVEMBER)
    assert written == len(stored) > 0
    _assert_same(stored, _live(*month_bounds(NOVEMBER)))
    groups = {g for g, _k, _i in stored}
    assert groups == {"city", "district", "subdistrict", "community", "unit"}
    assert {i for _g, _k, i in stored} == set(FIGURE_INDICATORS)  # all eight, with the handling time
    city_rows = IndicatorFigure.objects.filter(month=NOVEMBER, group="city")
    assert city_rows.count() == 8 and not city_rows.exclude(key=None).exists()
    satisfaction = city_rows.get(indicator="satisfaction_rate")
    parts = satisfaction.parts
    assert (
        parts["satisfied"] + parts["basically_satisfied"] + parts["unsatisfied"] == satisfaction.denominator
    )
    assert satisfaction.numerator == pytest.approx(
        parts["satisfied"] + parts["basically_satisfied"] * parts["basic_weight"]
    )


def test_recomputing_a_month_replaces_its_rows(history):
    seen = []
    with CaptureQueriesContext(connection) as queries:
        first = indicator_figures_compute(month=NOVEMBER, now=MONTH_ENDED, progress=lambda *a: seen.append(a))
    assert seen[-1] == (40, 40) and len(seen) == 40  # 5 groupings × 8 indicators
    # a fixed number of GROUP BY queries (10 per grouping), never one per division or unit
    assert len(queries) <= 60, len(queries)
    before = _stored(NOVEMBER)
    ids = set(IndicatorFigure.objects.values_list("pk", flat=True))
    assert indicator_figures_compute(month=NOVEMBER, now=MONTH_ENDED) == first
    assert _stored(NOVEMBER) == before
    assert IndicatorFigure.objects.count() == first
    assert not ids & set(IndicatorFigure.objects.values_list("pk", flat=True))  # replaced, not added


def test_a_month_not_ended_is_refused(db):
    with pytest.raises(ServiceError) as refused:
        indicator_figures_compute(month=NOVEMBER, now=datetime(2026, 11, 30, 23, 59, tzinfo=TZ))
    assert (refused.value.code, refused.value.field) == ("analytics.month_not_ended", "month")
    assert not IndicatorFigure.objects.exists()
    with pytest.raises(CommandError, match="month"):
        call_command("analytics_index", "--month", "2999-01", "--figures-only", "--no-progress")


def test_a_run_of_months_is_the_sum_of_its_months_and_equals_live(two_months, city_leader, frozen_now):
    frozen_now(MONTH_ENDED)  # counted as of then, as the live figures below
    for month in (OCTOBER, NOVEMBER):
        indicator_figures_compute(month=month, now=MONTH_ENDED)
    october, november = _stored(OCTOBER), _stored(NOVEMBER)
    assert october and november
    start, end = month_bounds(OCTOBER)[0], month_bounds(NOVEMBER)[1]
    live = _live(start, end)
    summed = {}
    for rows in (october, november):
        for k, (n, d) in rows.items():
            sn, sd = summed.get(k, (0.0, 0))
            summed[k] = (sn + n, sd + d)
    _assert_same(summed, live)
    # the page's reader sums the same way: the city, its districts, the units
    place = place_for(user=city_leader)
    read = indicator_figures(user=city_leader, place=place, month=OCTOBER, months=2)
    assert read["computed"] == [OCTOBER, NOVEMBER]
    for code in FIGURE_INDICATORS:
        figure = read["place"].figures.get(code)
        if ("city", None, code) in live:
            n, d = live[("city", None, code)]
            assert (figure.numerator, figure.denominator) == (pytest.approx(n), d)
    for row in read["children"]:
        for code, figure in row.figures.items():
            n, d = live[("district", row.pk, code)]
            assert (figure.numerator, figure.denominator) == (pytest.approx(n), d)
    assert read["units"]
    for row in read["units"]:
        for code, figure in row.figures.items():
            assert live[("unit", row.pk, code)][1] == figure.denominator


def test_the_command_computes_index_and_figures_with_progress(history, monkeypatch):
    from zhiwang.analytics import indicator_figures as module

    calls = []
    real = module.indicator_figures_compute

    def compute(*, month, progress=None, **kwargs):
        calls.append(month)
        return real(month=month, progress=progress, now=datetime(2027, 1, 2, tzinfo=TZ))

    monkeypatch.setattr(
        "zhiwang.analytics.management.commands.analytics_index.indicator_figures_compute", compute
    )
    out = StringIO()
    call_command("analytics_index", "--month", "2026-11", "--figures-only", "--no-progress", stdout=out)
    assert calls == [NOVEMBER]
    assert f"indicator figures 2026-11: {IndicatorFigure.objects.count()} rows" in out.getvalue()
    # --past: every ended month from the first timeline row's month (as the demo would run it)
    from types import SimpleNamespace

    monkeypatch.setattr(
        "zhiwang.analytics.management.commands.analytics_index.timezone",
        SimpleNamespace(localdate=lambda: date(2027, 1, 15)),
    )
    out = StringIO()
    call_command("analytics_index", "--past", "--figures-only", "--no-progress", stdout=out)
    # review finding 3: a month with stored figures keeps them (--past fills gaps)
    assert calls == [NOVEMBER, date(2026, 12, 1)]
    assert "indicator figures 2026-11: kept (already computed)" in out.getvalue()
    assert "indicator figures 2026-12" in out.getvalue()
    kept = set(IndicatorFigure.objects.values_list("pk", flat=True))
    call_command("analytics_index", "--past", "--figures-only", "--no-progress", stdout=StringIO())
    assert calls == [NOVEMBER, date(2026, 12, 1)]  # nothing left to fill
    assert set(IndicatorFigure.objects.values_list("pk", flat=True)) == kept
    # --recompute: every month again; --month always recomputes its month
    call_command("analytics_index", "--past", "--recompute", "--figures-only", "--no-progress", stdout=out)
    assert calls == [NOVEMBER, date(2026, 12, 1), NOVEMBER, date(2026, 12, 1)]
    call_command("analytics_index", "--month", "2026-11", "--figures-only", "--no-progress", stdout=out)
    assert calls[-1] == NOVEMBER and len(calls) == 5
    with pytest.raises(CommandError, match="--recompute"):
        call_command("analytics_index", "--month", "2026-11", "--recompute", "--no-progress")


def test_past_months_are_the_months_since_the_first_ticket(history):
    from zhiwang.analytics.indicator_figures import months_with_timeline

    assert months_with_timeline(before=date(2027, 1, 15)) == [NOVEMBER, date(2026, 12, 1)]
    assert months_with_timeline(before=date(2026, 11, 20)) == []


def test_the_monthly_task_stores_the_figures_after_the_index(monkeypatch, db):
    from django.utils import timezone

    from zhiwang.analytics import tasks

    done = []
    monkeypatch.setattr(
        "zhiwang.analytics.index.governance_index_compute",
        lambda *, month: done.append(("index", month)) or 3,
    )
    monkeypatch.setattr(
        "zhiwang.analytics.indicator_figures.indicator_figures_compute",
        lambda *, month: done.append(("figures", month)) or 10,
    )
    assert tasks.governance_index_task.call_local() == 3
    last = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    assert done == [("index", last), ("figures", last)]


def test_the_index_page_hides_columns_of_weight_0(city_leader, client):
    from zhiwang.analytics.models import GovernanceIndex

    subdistrict = Division.objects.filter(level="subdistrict").order_by("code").first()
    GovernanceIndex.objects.create(
        month=NOVEMBER,
        division=subdistrict,
        level="subdistrict",
        score=80.0,
        rank=1,
        values={"on_time_closure_rate": 0.8},
        formula_used={
            "name": "x",
            "weights": {"on_time_closure_rate": 1.0, "dispute_success_rate": 0.0},
            "red_count": 3,
            "black_count": 3,
            "black_below": None,
        },
    )
    client.force_login(city_leader)
    html = client.get(reverse("analytics:index"), {"language": "en"}).content.decode()
    table = html[html.index('data-testid="index-table"') :]
    head = table[: table.index("</thead>")]
    assert 'data-code="on_time_closure_rate"' in head  # the code a hint for administrators only
    assert 'data-code="dispute_success_rate"' not in head
    row = table[table.index("<tbody>") : table.index("</tbody>")]
    assert row.count("<td") == 5  # rank, place, score, standing, one weighted indicator


# --- scoping --------------------------------------------------------------------------------------


def _leader_of(division, username="sub_leader"):
    from zhiwang.accounts import services

    return services.user_create(
        username=username, password=None, role="leader", full_name="街道领导", jurisdictions=[division]
    )


def _figure(month, group, key, indicator="response_rate", n=3, d=4):
    return IndicatorFigure(month=month, group=group, key=key, indicator=indicator, numerator=n, denominator=d)


@pytest.fixture
def nanshan_figures(db):
    """Stored figures (made up) for two Nanshan subdistricts, their offices and the city."""
    from zhiwang.accounts.models import OrgUnit

    nanshan = Division.objects.get(code="440305000000")
    first, second = Division.objects.filter(parent=nanshan, level="subdistrict").order_by("code")[:2]
    community = Division.objects.filter(parent=first, level="community").order_by("code").first()
    bureau = OrgUnit.objects.create(
        code="T-NS-BUREAU", name="南山区测试局", kind="department", division=nanshan
    )
    office_a = OrgUnit.objects.create(
        code="T-A-OFFICE", name="甲街道办", kind="division_office", division=first
    )
    office_b = OrgUnit.objects.create(
        code="T-B-OFFICE", name="乙街道办", kind="division_office", division=second
    )
    rows = [
        _figure(NOVEMBER, "city", None, n=8, d=10),
        _figure(NOVEMBER, "district", nanshan.pk, n=6, d=8),
        _figure(NOVEMBER, "subdistrict", first.pk, n=3, d=4),
        _figure(NOVEMBER, "subdistrict", second.pk, n=1, d=2),
        _figure(NOVEMBER, "community", community.pk, n=2, d=2),
        _figure(NOVEMBER, "unit", bureau.pk, n=5, d=5),
        _figure(NOVEMBER, "unit", office_a.pk, n=1, d=3),
        _figure(NOVEMBER, "unit", office_b.pk, n=2, d=3),
        _figure(NOVEMBER, "unit", office_a.pk, indicator="average_handling_time", n=30.0, d=4),
        _figure(OCTOBER, "subdistrict", first.pk, n=1, d=1),
    ]
    IndicatorFigure.objects.bulk_create(rows)
    return {"first": first, "second": second, "community": community, "nanshan": nanshan}


def test_a_subdistrict_leader_reads_only_their_subdistrict(nanshan_figures, client):
    first, second = nanshan_figures["first"], nanshan_figures["second"]
    leader = _leader_of(first)
    client.force_login(leader)
    api = client.get("/api/v1/analytics/indicators", {"month": "2026-11"})
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["place"]["code"] == first.code
    assert body["place_row"]["figures"]["response_rate"] == {"numerator": 3, "denominator": 4, "value": 0.75}
    assert [c["code"] for c in body["children"]] == list(
        Division.objects.filter(parent=first).order_by("code").values_list("code", flat=True)
    )
    assert [u["code"] for u in body["units"]] == ["T-A-OFFICE"]  # not the district bureau, not B's office
    assert body["units"][0]["figures"]["average_handling_time"]["value"] == 7.5
    # another subdistrict, the district and the city: not found, revealing nothing
    for code in (second.code, nanshan_figures["nanshan"].code, "440300000000"):
        refused = client.get("/api/v1/analytics/indicators", {"month": "2026-11", "division": code})
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "analytics.place_unknown"
        page = client.get(reverse("analytics:indicators"), {"division": code})
        assert page.status_code == 404
    page = client.get(reverse("analytics:indicators"), {"period": "2026-11"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "甲街道办" in html and "乙街道办" not in html and "南山区测试局" not in html
    assert second.display_name not in html


def test_a_district_viewer_sees_the_units_within_the_district(nanshan_figures, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    body = client.get("/api/v1/analytics/indicators", {"month": "2026-11"}).json()
    assert body["place"]["code"] == "440305000000"
    assert {u["code"] for u in body["units"]} == {"T-NS-BUREAU", "T-A-OFFICE", "T-B-OFFICE"}
    children = {c["code"]: c["figures"] for c in body["children"]}
    assert children[nanshan_figures["first"].code]["response_rate"]["value"] == 0.75
    assert children[nanshan_figures["second"].code]["response_rate"]["value"] == 0.5


def test_a_handler_without_analytics_gets_403(nanshan_figures, handler, client):
    client.force_login(handler)
    assert client.get(reverse("analytics:indicators")).status_code == 403
    api = client.get("/api/v1/analytics/indicators")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "analytics.not_allowed"


def test_the_api_answers_house_errors_on_its_fields(nanshan_figures, city_leader, client):
    client.force_login(city_leader)
    for query, field, code in (
        ({"month": "2026/11"}, "month", "analytics.month_invalid"),
        ({"month": "0000-11"}, "month", "analytics.month_invalid"),
        ({"months": "0"}, "months", "analytics.months_invalid"),
        ({"months": "13"}, "months", "analytics.months_invalid"),
        ({"months": "x"}, "months", "analytics.months_invalid"),
    ):
        response = client.get("/api/v1/analytics/indicators", query)
        assert response.status_code == 400, (query, response.content)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == (code, field)
    unknown = client.get("/api/v1/analytics/indicators", {"division": "449999000000"})
    assert unknown.status_code == 404


def test_a_quarter_sums_its_months_and_says_which_are_missing(nanshan_figures, city_leader, client):
    client.force_login(city_leader)
    first = nanshan_figures["first"]
    body = client.get(
        "/api/v1/analytics/indicators", {"month": "2026-10", "months": "3", "division": first.code}
    ).json()
    assert body["computed"] == ["2026-11"]  # October has a subdistrict row only, no city row
    assert body["place_row"]["figures"]["response_rate"] == {"numerator": 4, "denominator": 5, "value": 0.8}
    page = client.get(reverse("analytics:indicators"), {"division": first.code, "period": "2026-Q4"})
    assert page.status_code == 200
    assert 'data-testid="missing"' in page.content.decode()


def test_the_page_reads_stored_rows_only_and_drills_down(nanshan_figures, city_leader, client):
    client.force_login(city_leader)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("analytics:indicators"), {"period": "2026-11", "sort": "response_rate"})
    assert page.status_code == 200
    assert not [q["sql"] for q in queries if "tickets_ticket" in q["sql"]]
    html = page.content.decode()
    assert 'data-testid="place-row"' in html and "80.0%" in html  # the city: 8 / 10
    assert "?division=440305000000&amp;period=2026-11" in html  # drill to the district
    assert reverse("analytics:indicators") in html  # the navigation link
    district = client.get(reverse("analytics:indicators"), {"division": "440305000000", "period": "2026-11"})
    text = district.content.decode()
    assert nanshan_figures["first"].display_name in text and "75.0%" in text and "3/4" in text
    assert "—" in text  # indicators with no denominator
    bad = client.get(reverse("analytics:indicators"), {"period": "2026-13"})
    assert bad.status_code == 200 and 'data-field="period"' in bad.content.decode()


def test_sorting_puts_rows_without_a_value_last(nanshan_figures, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    page = client.get(
        reverse("analytics:indicators"), {"period": "2026-11", "sort": "response_rate", "dir": "asc"}
    )
    html = page.content.decode()
    b, a = nanshan_figures["second"].code, nanshan_figures["first"].code
    assert html.index(f'data-code="{b}"') < html.index(f'data-code="{a}"')  # 50 % before 75 %
    page = client.get(reverse("analytics:indicators"), {"period": "2026-11", "sort": "response_rate"})
    html = page.content.decode()
    assert html.index(f'data-code="{a}"') < html.index(f'data-code="{b}"')
    # units: the bureau (100 %) first descending
    assert (
        html.index('data-code="T-NS-BUREAU"')
        < html.index('data-code="T-B-OFFICE"')
        < html.index('data-code="T-A-OFFICE"')
    )


def test_the_page_says_so_when_nothing_is_computed(city_leader, client):
    client.force_login(city_leader)
    page = client.get(reverse("analytics:indicators"))
    assert page.status_code == 200 and 'data-testid="no-figures"' in page.content.decode()


def test_past_fills_index_gaps_without_rescoring_scored_months(history, monkeypatch):
    from types import SimpleNamespace

    from zhiwang.analytics.models import GovernanceIndex

    command = "zhiwang.analytics.management.commands.analytics_index"
    scored, figured = [], []
    monkeypatch.setattr(f"{command}.governance_index_compute", lambda *, month: scored.append(month) or 1)
    monkeypatch.setattr(
        f"{command}.indicator_figures_compute", lambda *, month, progress: figured.append(month) or 2
    )
    monkeypatch.setattr(f"{command}.timezone", SimpleNamespace(localdate=lambda: date(2027, 1, 15)))
    subdistrict = Division.objects.filter(level="subdistrict").order_by("code").first()
    GovernanceIndex.objects.create(month=NOVEMBER, division=subdistrict, level="subdistrict", score=70.0)
    out = StringIO()
    call_command("analytics_index", "--past", "--no-progress", stdout=out)
    assert scored == [date(2026, 12, 1)]
    assert figured == [NOVEMBER, date(2026, 12, 1)]
    assert "2026-11: kept" in out.getvalue()
