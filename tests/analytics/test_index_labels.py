"""The governance index names its indicators for people (both languages), and the default formula's
name is stored in the city's language and shown in the reader's (English review, F6)."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest
from django.utils import translation

from zhiwang.analytics import index as idx
from zhiwang.analytics.index import governance_index_compute, shown_formula
from zhiwang.analytics.models import GovernanceIndex, IndexFormula
from zhiwang.geo.models import Division

OCTOBER = date(2026, 10, 1)
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_indicator_a_formula_may_weigh_has_a_name():
    assert set(idx.INDICATOR_LABELS) == set(idx.INDEX_INDICATORS)
    with translation.override("en"):
        assert idx.indicator_label("dispute_success_rate") == "Mediation success rate"
        assert idx.indicator_label("on_time_closure_rate") == "On-time closure rate"
        assert idx.indicator_label("gone_rate") == "gone_rate"  # a code no longer known: as saved
    with translation.override("zh-hans"):
        assert idx.indicator_label("on_time_closure_rate") == "按期办结率"
        assert idx.indicator_label("rework_rate") == "重办率"


def test_the_reports_name_the_rates_as_the_index_does():
    from zhiwang.analytics.reports import _dispute_labels, _labels

    with translation.override("en"):
        # the window share of on-time closures is not the assessed on-time closure rate: its own name
        assert (
            _labels()["on_time_rate"]
            == "On time among closures"
            != idx.indicator_label("on_time_closure_rate")
        )
        assert _labels()["satisfaction_rate"] == idx.indicator_label("satisfaction_rate")
        assert _dispute_labels()["success_rate"] == idx.indicator_label("dispute_success_rate")


def _scored(monkeypatch, weights):
    (code,) = Division.objects.filter(level="subdistrict").order_by("code").values_list("code", flat=True)[:1]
    pk = Division.objects.get(code=code).pk

    def make(name):
        def indicator(*, user, start, end, by, **kwargs):
            return {pk: SimpleNamespace(value=0.8, denominator=10)} if by == "subdistrict" else {}

        return indicator

    for name in list(idx.INDEX_INDICATORS):
        monkeypatch.setitem(idx.INDEX_INDICATORS, name, make(name))
    IndexFormula.objects.create(name="f", weights=weights)
    governance_index_compute(month=OCTOBER)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "names"),
    [("en", ["On-time closure rate", "Rework rate"]), ("zh-hans", ["按期办结率", "重办率"])],
)
def test_the_index_page_names_the_indicators(monkeypatch, city_leader, client, language, names):
    _scored(monkeypatch, {"on_time_closure_rate": 2, "rework_rate": 1})
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    weights = page[page.index('data-testid="weights"') :]
    weights = weights[: weights.index("</ul>")]
    head = page[page.index("<thead>") : page.index("</thead>")]
    for name in names:
        assert name in weights and f">{name}<" in head, name
    # the code stays only as a small hint beside the name, never as the column header
    assert "<code>on_time_closure_rate</code>" not in page
    assert ">on_time_closure_rate<" not in head and ">rework_rate<" not in head


@pytest.mark.django_db
def test_the_index_formula_carries_labels_for_the_api(monkeypatch):
    _scored(monkeypatch, {"on_time_closure_rate": 1})
    rows = list(GovernanceIndex.objects.filter(month=OCTOBER, level="subdistrict"))
    with translation.override("en"):
        shown = shown_formula(rows)
    assert shown["labels"]["dispute_success_rate"] == "Mediation success rate"
    assert set(shown["labels"]) == set(idx.INDEX_INDICATORS)
    assert shown["indicators"] == [
        {"code": "on_time_closure_rate", "label": "On-time closure rate", "weight": 1.0}
    ]


@pytest.mark.django_db
def test_the_default_formula_is_stored_in_the_citys_language_and_shown_in_the_readers(
    monkeypatch, city_leader, client
):
    (code,) = Division.objects.filter(level="subdistrict").order_by("code").values_list("code", flat=True)[:1]
    pk = Division.objects.get(code=code).pk
    for name in list(idx.INDEX_INDICATORS):
        monkeypatch.setitem(
            idx.INDEX_INDICATORS,
            name,
            lambda *, user, start, end, by, **kw: (
                {pk: SimpleNamespace(value=0.5, denominator=10)} if by == "subdistrict" else {}
            ),
        )
    # the computation runs where the language is English (immediate tasks, an English admin)
    with translation.override("en"):
        governance_index_compute(month=OCTOBER)
    assert IndexFormula.objects.get().name == "默认治理指数"
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    assert "Formula: Default governance index" in page and "默认治理指数" not in page
    assert client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()["formula"]["name"] == (
        "Default governance index"
    )
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    assert "默认治理指数" in page


@pytest.mark.django_db
def test_a_default_formula_stored_in_english_reads_in_chinese(city_leader, client):
    """Rows made before the fix (a formula named in English by an English run) read translated."""
    IndexFormula.objects.create(name="Default governance index")
    client.force_login(city_leader)
    assert client.get("/api/v1/analytics/index").json()["formula"]["name"] == "默认治理指数"
    # a formula an administrator named stays as named
    IndexFormula.objects.create(name="2027 考核公式")
    assert client.get("/api/v1/analytics/index").json()["formula"]["name"] == "2027 考核公式"


def test_no_cjk_in_english_labels():
    with translation.override("en"):
        assert not [v for v in idx.indicator_labels().values() if CJK.search(v)]


@pytest.mark.django_db
def test_the_index_api_names_each_indicator_in_the_callers_language(city_leader, client):
    IndexFormula.objects.create(name="Default governance index")
    client.force_login(city_leader)
    chinese = client.get("/api/v1/analytics/index").json()["labels"]
    english = client.get("/api/v1/analytics/index", headers={"Accept-Language": "en"}).json()["labels"]
    assert set(chinese) == set(english) >= {"on_time_closure_rate", "satisfaction_rate"}
    assert CJK.search(chinese["on_time_closure_rate"]) and not CJK.search(english["on_time_closure_rate"])
