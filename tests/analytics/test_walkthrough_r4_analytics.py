"""Fourth walkthrough of the analytics pages: what the server renders and what the report files are
built from. The layout at 1280 px and on a phone is in tests/browser/test_analytics_r4_layout.py.

1. the alerts page: an empty filtered list says so and offers to clear the filters (the detectors'
   sentence only under the unfiltered list); an unknown status is an error on its filter, no rows;
2. the alerts table's columns and phone cards; the false-alarm confirmation is under the Alerts tab;
3. the report PDF: count axes on whole-number ticks, "其他 · 其他" once, a gap above the notes, the
   trend's day labels thinned.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.analytics.test_reports_r3 import disputes_in_october, report  # noqa: F401
from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from zhiwang.analytics import reports
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus
from zhiwang.geo.models import Division
from zhiwang.tickets.notify import city_language

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
NANSHAN = "440305000000"
DETECTORS = "The detectors look for surges, clusters, repeated callers and reopened tickets"


def _get(client, user, language="en", **params):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(reverse("analytics:alerts"), params)


@pytest.fixture
def open_alert(db):
    return Alert.objects.create(
        kind=AlertKind.SURGE,
        key="r4-surge",
        status=AlertStatus.OPEN,
        division=Division.objects.get(code=NANSHAN),
        window_start=datetime(2026, 11, 3, tzinfo=TZ),
        window_end=datetime(2026, 11, 6, tzinfo=TZ),
        observed=9,
        explanation="surge",
    )


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="alert-(\d+)"', html)


# --- 1. the empty list and an unknown filter value ----------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_filter_that_matches_nothing_says_so_and_offers_to_clear(client, city_leader, open_alert, language):
    """Was "暂无预警。系统每小时检测两次…" under ?status=false: as if nothing was ever detected."""
    html = _get(client, city_leader, language, status="false").content.decode()
    assert _rows(html) == []
    with translation.override(language):
        assert gettext("No alert matches these filters.") in html
        assert gettext(DETECTORS + " twice an hour, at 7 and 37 minutes past.") not in html
    clear = re.search(r'<a href="([^"]*)" data-testid="alert-filters-clear">', html)
    assert clear and clear.group(1) == reverse("analytics:alerts") + "?status="
    # the cleared list shows the alert
    assert _rows(_get(client, city_leader, language, status="").content.decode()) == [str(open_alert.pk)]


@pytest.mark.parametrize("params", [{"kind": "repeat_caller"}, {"division": "440305001000"}])
def test_a_kind_or_division_without_alerts_is_filtered_too(client, city_leader, open_alert, params):
    html = _get(client, city_leader, **params).content.decode()
    assert _rows(html) == [] and "No alert matches these filters." in html and DETECTORS not in html


@pytest.mark.parametrize("params", [{}, {"status": ""}, {"status": "open", "kind": "", "division": ""}])
def test_the_unfiltered_empty_list_keeps_the_detectors_sentence(client, city_leader, params):
    html = _get(client, city_leader, **params).content.decode()
    assert 'data-testid="alert-empty"' in html
    assert DETECTORS in html and "No alert matches these filters." not in html
    assert 'data-testid="alert-filters-clear"' not in html


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_unknown_status_is_an_error_on_its_filter_and_shows_no_rows(
    client, city_leader, open_alert, language
):
    """Was: silently the open alerts (待处理), with the message at the top of the page."""
    response = _get(client, city_leader, language, status="false_alarm")
    assert response.status_code == 200
    html = response.content.decode()
    assert _rows(html) == []  # not the open alerts under a filter that says something else
    errors = re.findall(r'<p class="field-error"[^>]*data-field="(\w+)"[^>]*>([^<]*)</p>', html)
    with translation.override(language):
        message = gettext("Unknown alert status %(status)s.") % {"status": "false_alarm"}
    assert errors == [("status", message)]
    assert 'aria-describedby="alert-status-error"' in html and 'class="has-error"' in html
    assert not [str(m) for m in response.context["messages"]]  # the field says it, once
    with translation.override(language):
        assert gettext("No alert matches these filters.") in html


def test_an_unknown_kind_or_division_is_an_error_on_its_filter(client, city_leader, open_alert):
    html = _get(client, city_leader, kind="nope").content.decode()
    assert _rows(html) == [] and re.search(r'data-field="kind"[^>]*>Unknown alert kind nope\.<', html)
    html = _get(client, city_leader, division="999999999999").content.decode()
    assert _rows(html) == [] and 'data-field="division"' in html


def test_a_known_filter_still_lists_its_alerts(client, city_leader, open_alert):
    html = _get(client, city_leader, status="open").content.decode()
    assert _rows(html) == [str(open_alert.pk)] and 'class="field-error"' not in html


# --- 2. the table, the cards, the confirmation's tab ---------------------------------------------


def test_the_action_cell_ends_the_card_and_the_headers_keep_their_width(client, city_leader, open_alert):
    html = _get(client, city_leader, status="").content.decode()
    row = re.search(rf'<tr class="alert-row open" data-testid="alert-{open_alert.pk}">(.*?)</tr>', html, re.S)
    cells = re.findall(r"<td([^>]*)>", row.group(1))
    assert 'class="alert-actions"' in cells[-1] and 'class="later"' in cells[-2]
    assert '<section class="card alert-list">' in html
    assert 'class="alert-place"' in html and 'class="alert-tickets"' in html
    css = open(finders.find("analytics/analytics.css"), encoding="utf-8").read()
    assert re.search(r"\.alert-list table\.data th \{ white-space: nowrap; \}", css)
    assert re.search(r"td\.alert-place \{ min-width: \d", css)
    # after "Raised at" (a "later" cell: order 1 in zhiwang.css)
    assert re.search(r"td\.alert-actions \{ order: 2; \}", css)


def test_the_false_alarm_confirmation_is_under_the_alerts_tab(client, city_leader, open_alert):
    client.force_login(city_leader)
    page = client.post(reverse("analytics:alert_decide", args=[open_alert.pk]), {"status": "false"})
    assert page.templates[0].name == "analytics/alert_confirm.html"
    current = re.findall(r'<a href="([^"]*)" aria-current="page">', page.content.decode())
    assert current == [reverse("analytics:alerts")]


# --- 3. the report PDF ----------------------------------------------------------------------------


def _ticks(chart) -> list:
    chart.valueAxis.configure(chart.data)
    return list(chart.valueAxis._tickValues)


@pytest.mark.parametrize(
    ("values", "scale"),
    [([0, 0], (5, 1)), ([], (5, 1)), ([1, 2], (2, 1)), ([3, 7], (8, 2)), ([17], (20, 5)), ([120], (150, 50))],
)
def test_count_axes_have_whole_number_ticks(values, scale):
    assert reports._count_scale(values) == scale
    bar = reports._bar_drawing(["a"] * len(values) or ["a"], values or [0], "#000000", "Helvetica").contents[
        0
    ]
    ticks = _ticks(bar)
    assert ticks[0] == 0 and ticks[-1] == scale[0]
    assert all(float(t).is_integer() for t in ticks)
    assert [bar.valueAxis.labelTextFormat % t for t in ticks] == [str(int(t)) for t in ticks]


def test_an_empty_period_trend_runs_0_to_5_on_whole_numbers():
    """Was 0, 0.002 … 0.01."""
    days = [date(2025, 10, 1) + timedelta(days=n) for n in range(31)]
    trend = [{"period": d, "received": 0, "closed": 0} for d in days]
    chart = reports._trend_drawing(trend, {"received": "R", "closed": "C"}, "Helvetica").contents[0]
    assert _ticks(chart) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(("n", "every"), [(7, 1), (16, 1), (31, 2), (92, 6)])
def test_the_trend_labels_are_thinned(n, every):
    days = [date(2025, 10, 1) + timedelta(days=k) for k in range(n)]
    names = reports._trend_label_names(days)
    assert len(names) == n and names[0] == "10-01"
    shown = [k for k, name in enumerate(names) if name]
    assert len(shown) <= reports.TREND_LABELS
    assert shown == list(range(0, n, every))


@pytest.mark.parametrize(
    ("name", "shown"),
    [("其他 · 其他", "其他"), ("城市管理 · 其他", "城市管理 · 其他"), ("噪音", "噪音"), ("其他", "其他")],
)
def test_a_category_named_as_its_parent_is_named_once(name, shown):
    assert reports._category_name(name) == shown


def _built(report, monkeypatch, change=lambda figures: None):  # noqa: F811
    """Build both files; what the PDF's charts and story were made of."""
    from reportlab.platypus import SimpleDocTemplate

    bars, story = [], []
    real_bar = reports._bar_drawing
    monkeypatch.setattr(
        reports,
        "_bar_drawing",
        lambda names, values, *a: bars.append((names, values)) or real_bar(names, values, *a),
    )
    real_build = SimpleDocTemplate.build
    monkeypatch.setattr(
        SimpleDocTemplate,
        "build",
        lambda self, flowables, **k: story.extend(flowables) or real_build(self, flowables, **k),
    )
    with city_language():
        figures = reports.report_figures(report)
        change(figures)
        pdf = reports.build_pdf(report, figures)
        xlsx = reports.build_xlsx(report, figures)
    assert pdf.startswith(b"%PDF")
    return bars, story, xlsx


def test_the_pdf_names_a_catch_all_category_once_and_excel_too(report, monkeypatch):  # noqa: F811
    from io import BytesIO

    from openpyxl import load_workbook

    def categories(figures):
        figures["categories"] = [
            {"name": "其他 · 其他", "code": "x", "value": 3, "link": None},
            {"name": "城市管理 · 其他", "code": "y", "value": 1, "link": None},
        ]

    bars, _story, xlsx = _built(report, monkeypatch, categories)
    assert bars[0] == (["其他", "城市管理 · 其他"], [3, 1])
    with city_language():
        sheet = load_workbook(BytesIO(xlsx))[gettext("Categories")[:31]]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["其他", "城市管理 · 其他"]


def test_the_dispute_chart_counts_on_whole_numbers_and_notes_have_room(
    report,  # noqa: F811
    disputes_in_october,  # noqa: F811
    monkeypatch,
):
    """Was 0.5, 1.5 on the dispute chart; the notes flush against the table above them. (The PDF
    no longer charts the dispute counts, which its table gives: test_walkthrough_r5_analytics.)"""
    from reportlab.platypus import KeepTogether, Paragraph, Table

    bars, story, _xlsx = _built(report, monkeypatch)
    values = [
        value for _label, value, _text in reports._dispute_rows(reports.report_figures(report)["disputes"])
    ]
    values = values[: len(reports.DISPUTE_COUNTS)]
    assert bars == [] and max(values) <= 4  # no categories in this period, no dispute chart
    chart = reports._bar_drawing(["a"] * len(values), values, "#000000", "Helvetica").contents[0]
    assert all(float(t).is_integer() for t in _ticks(chart))
    with city_language():
        notes = {reports._on_time_note(), reports._dispute_note(reports.report_figures(report)["disputes"])}
    # a table under its heading is kept with it (``reports._with_heading``): the last of the pair
    flat = [f._content[-1] if isinstance(f, KeepTogether) else f for f in story]
    under_tables = [
        flowable
        for before, flowable in zip(flat, flat[1:], strict=False)
        if isinstance(flowable, Paragraph) and isinstance(before, Table)
    ]
    assert {p.text for p in under_tables} >= notes
    assert all(p.style.spaceBefore >= 4 for p in under_tables)
