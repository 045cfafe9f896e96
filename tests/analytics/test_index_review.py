"""Governance index review fixes: weights a score can carry, competition ranks, black before red,
the formula kept with each month, computing twice at once, and viewing without writing."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.threads import needs_row_locks, run_in_threads
from zhiwang.analytics import index as idx
from zhiwang.analytics.admin import IndexFormulaForm
from zhiwang.analytics.index import governance_index_compute, score, validate_weights
from zhiwang.analytics.models import GovernanceIndex, IndexFormula
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division

OCTOBER = date(2026, 10, 1)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "weights",
    [
        {"on_time_closure_rate": float("nan")},
        {"on_time_closure_rate": float("inf")},
        {"on_time_closure_rate": "nan"},
        {"on_time_closure_rate": True},
        {"on_time_closure_rate": 1e308, "satisfaction_rate": 1e308},
        {"on_time_closure_rate": 1001},
    ],
)
def test_weights_a_score_cannot_carry_are_refused(weights):
    with pytest.raises(ServiceError) as refused:
        validate_weights(weights)
    assert refused.value.code == "analytics.weights_invalid" and refused.value.field == "weights"


def test_weights_up_to_the_bound_are_taken():
    assert validate_weights({"on_time_closure_rate": 1000, "rework_rate": "0.5"}) == {
        "on_time_closure_rate": 1000.0,
        "rework_rate": 0.5,
    }
    assert score({"on_time_closure_rate": 0.5}, {"on_time_closure_rate": float("inf")}) is None


@pytest.mark.django_db
def test_the_admin_form_refuses_a_nan_weight_instead_of_failing_on_save():
    form = IndexFormulaForm(
        data={
            "name": "x",
            "weight_on_time_closure_rate": "NaN",
            "red_count": 3,
            "black_count": 3,
            "min_volume": 5,
        }
    )
    assert not form.is_valid() and "weight_on_time_closure_rate" in form.errors


def _fake_indicators(monkeypatch, values_by_code):
    """Every indicator answers fixed values per subdistrict code (nothing for communities)."""
    pks = {d.code: d.pk for d in Division.objects.filter(code__in=values_by_code)}

    def make(name):
        def indicator(*, user, start, end, by, **kwargs):
            if by != "subdistrict":
                return {}
            # ten tickets each: above the formula's minimum volume (test_index_min_volume.py)
            return {
                pks[c]: SimpleNamespace(value=v.get(name), denominator=10) for c, v in values_by_code.items()
            }

        return indicator

    for name in list(idx.INDEX_INDICATORS):
        monkeypatch.setitem(idx.INDEX_INDICATORS, name, make(name))


def _subdistricts(n):
    return list(
        Division.objects.filter(level="subdistrict").order_by("code").values_list("code", flat=True)[:n]
    )


def _placed():
    return {
        r.division.code: (r.score, r.rank, r.standing)
        for r in GovernanceIndex.objects.filter(level="subdistrict").select_related("division")
    }


@pytest.mark.django_db
def test_equal_scores_share_a_rank_and_a_standing(monkeypatch):
    a, b, c, d = _subdistricts(4)
    rates = {a: 0.8, b: 0.8, c: 0.5, d: 0.5}
    _fake_indicators(monkeypatch, {k: {"on_time_closure_rate": v} for k, v in rates.items()})
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    assert _placed() == {
        a: (80.0, 1, "red"),
        b: (80.0, 1, "red"),
        c: (50.0, 3, "black"),
        d: (50.0, 3, "black"),
    }


@pytest.mark.django_db
def test_a_score_below_the_bar_is_black_even_at_the_top(monkeypatch):
    codes = _subdistricts(4)
    _fake_indicators(
        monkeypatch,
        {c: {"on_time_closure_rate": v} for c, v in zip(codes, (0.5, 0.4, 0.3, 0.2), strict=True)},
    )
    IndexFormula.objects.create(
        name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1, black_below=60
    )
    governance_index_compute(month=OCTOBER)
    assert [standing for _s, _r, standing in _placed().values()] == ["black"] * 4


@pytest.mark.django_db
def test_a_month_shows_the_formula_that_scored_it(monkeypatch, city_leader, client):
    (a,) = _subdistricts(1)
    _fake_indicators(monkeypatch, {a: {"on_time_closure_rate": 0.8, "satisfaction_rate": 0.2}})
    old = IndexFormula.objects.create(name="old", weights={"on_time_closure_rate": 1}, black_below=10)
    governance_index_compute(month=OCTOBER)
    IndexFormula.objects.create(name="new", weights={"satisfaction_rate": 1})
    old.delete()  # the rows keep their copy
    client.force_login(city_leader)
    body = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()
    assert body["rows"][0]["score"] == 80.0
    assert body["formula"] == {
        "name": "old",
        "weights": {"on_time_closure_rate": 1.0},
        "red_count": 3,
        "black_count": 3,
        "black_below": 10.0,
        "min_volume": 5,
        "computed": True,
    }
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    assert "old" in page and "<code>satisfaction_rate</code>" not in page


@pytest.mark.django_db
def test_viewing_the_index_writes_no_formula(city_leader, client):
    IndexFormula.objects.create(name="off", is_active=False)
    client.force_login(city_leader)
    body = client.get("/api/v1/analytics/index").json()
    assert body["rows"] == [] and body["formula"]["computed"] is False
    assert client.get("/analytics/index/").status_code == 200
    assert list(IndexFormula.objects.values_list("name", "is_active")) == [("off", False)]


@pytest.mark.django_db
def test_the_api_answers_strict_json_for_a_month_without_scores(monkeypatch, city_leader, client):
    (a,) = _subdistricts(1)
    _fake_indicators(monkeypatch, {a: {"on_time_closure_rate": None}})
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1})
    governance_index_compute(month=OCTOBER)
    client.force_login(city_leader)
    answer = client.get("/api/v1/analytics/index", {"month": "2026-10"})

    def refuse(constant):
        raise ValueError(constant)

    rows = json.loads(answer.content, parse_constant=refuse)["rows"]
    assert rows[0]["score"] is None and rows[0]["rank"] is None


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_computations_at_once_take_turns(city_restored, monkeypatch):
    codes = _subdistricts(3)
    _fake_indicators(
        monkeypatch, {c: {"on_time_closure_rate": v} for c, v in zip(codes, (0.5, 0.9, 0.3), strict=True)}
    )
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1})
    # both wait for each other after computing the indicators (the second, if it is locked out
    # before that, never comes: the first goes on after the timeout)
    barrier = threading.Barrier(2)
    inner = idx.INDEX_INDICATORS["on_time_closure_rate"]

    def meeting(**kwargs):
        found = inner(**kwargs)
        if kwargs["by"] == "subdistrict":
            try:
                barrier.wait(timeout=3)
            except threading.BrokenBarrierError:
                pass
        return found

    monkeypatch.setitem(idx.INDEX_INDICATORS, "on_time_closure_rate", meeting)
    results = run_in_threads(
        lambda: governance_index_compute(month=OCTOBER), lambda: governance_index_compute(month=OCTOBER)
    )
    assert results == [3, 3]
    assert GovernanceIndex.objects.filter(level="subdistrict").count() == 3


@pytest.mark.django_db
def test_a_month_that_has_not_ended_is_not_scored(monkeypatch):
    """A partial month would become the page's latest month with partial scores."""
    (a,) = _subdistricts(1)
    _fake_indicators(monkeypatch, {a: {"on_time_closure_rate": 0.8}})
    with pytest.raises(ServiceError) as refused:
        governance_index_compute(month=date(2026, 10, 1), now=datetime(2026, 10, 31, 23, 0, tzinfo=TZ))
    assert (refused.value.code, refused.value.field) == ("analytics.month_not_ended", "month")
    assert governance_index_compute(month=date(2026, 10, 1), now=datetime(2026, 11, 1, 0, 0, tzinfo=TZ)) == 1


@pytest.mark.django_db
def test_the_command_scores_a_month_and_refuses_bad_ones(monkeypatch):
    from io import StringIO

    from django.core.management import CommandError, call_command

    (a,) = _subdistricts(1)
    _fake_indicators(monkeypatch, {a: {"on_time_closure_rate": 0.8}})
    out = StringIO()
    call_command("analytics_index", "--month", "2026-10", stdout=out)
    assert "2026-10: 1" in out.getvalue()
    assert GovernanceIndex.objects.get().score == 80.0
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("analytics_index", "--month", "2026/10")
    with pytest.raises(CommandError, match="month"):
        call_command("analytics_index", "--month", "2999-01")
