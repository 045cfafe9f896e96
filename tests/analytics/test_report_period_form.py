"""The report form's period: a menu of recent months and quarters instead of a text box.

It posts the same string the text box took and the API takes, so ``report_period_parse`` stays
the rule: a period typed by a script or kept in an old page still works, a bad one still gets its
field error. Labels read "2026-10" / "2026 Q3" in English and, in Chinese, as the catalogs say.

Strings new in this change are compared with their ``gettext`` (they read English until the
catalogs have them), never with a Chinese literal.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from zhiwang.analytics.forms import RECENT_MONTHS, RECENT_QUARTERS, report_period_menu
from zhiwang.analytics.models import Report

NANSHAN = "440305000000"
TODAY = date(2026, 11, 27)


def _values(menu, kind: str) -> list[str]:
    return [value for value, _label in next(g for g in menu.groups if g.kind == kind).options]


def _labels(menu, kind: str) -> list[str]:
    return [label for _value, label in next(g for g in menu.groups if g.kind == kind).options]


# --- the menu ------------------------------------------------------------------------------------


def test_recent_months_and_quarters_newest_first_defaulting_to_the_last_complete_month():
    with translation.override("en"):
        menu = report_period_menu(today=TODAY)
    months, quarters = _values(menu, "month"), _values(menu, "quarter")
    assert months[:3] == ["2026-11", "2026-10", "2026-09"] and len(months) == RECENT_MONTHS + 1
    assert months[-1] == "2024-11"  # the running month and the 24 before it
    assert quarters[:3] == ["2026-Q4", "2026-Q3", "2026-Q2"] and len(quarters) == RECENT_QUARTERS + 1
    assert quarters[-1] == "2024-Q4"
    assert (menu.kind, menu.chosen) == ("month", "2026-10")  # the last complete month
    assert [g.default for g in menu.groups] == ["2026-10", "2026-Q3"]


def test_the_turn_of_the_year():
    menu = report_period_menu(today=date(2027, 1, 3))
    assert _values(menu, "month")[:3] == ["2027-01", "2026-12", "2026-11"]
    assert _values(menu, "quarter")[:2] == ["2027-Q1", "2026-Q4"]
    assert menu.chosen == "2026-12"


def test_labels_in_english_and_in_chinese():
    with translation.override("en"):
        menu = report_period_menu(today=TODAY)
        not_ended = gettext("%(period)s (not ended)")
        assert _labels(menu, "month")[:2] == [not_ended % {"period": "2026-11"}, "2026-10"]
        assert _labels(menu, "quarter")[:2] == [not_ended % {"period": "2026 Q4"}, "2026 Q3"]
    with translation.override("zh-hans"):
        menu = report_period_menu(today=TODAY)
        assert _labels(menu, "quarter")[1] == "2026年第3季度"  # the indicators page's words
        # the month's format string is translated ("Y年n月" → 2026年10月 once the catalog has it)
        month_format = pgettext("month of a report period, a date format", "Y-m")
        expected = {"Y-m": "2026-10", "Y年n月": "2026年10月"}[month_format]
        assert _labels(menu, "month")[1] == expected
        assert _labels(menu, "month")[0] == gettext("%(period)s (not ended)") % {
            "period": "2026-11" if month_format == "Y-m" else "2026年11月"
        }


def test_a_posted_period_is_chosen_again_and_an_older_one_added():
    menu = report_period_menu(today=TODAY, chosen="2026-Q2")
    assert (menu.kind, menu.chosen) == ("quarter", "2026-Q2")
    older = report_period_menu(today=TODAY, chosen="2019-03")
    assert older.chosen == "2019-03" and _values(older, "month")[-1] == "2019-03"
    # no period (or a refused one): the newest complete period of the kind the form was set to
    assert report_period_menu(today=TODAY, kind="quarter").chosen == "2026-Q3"
    assert report_period_menu(today=TODAY, kind="bogus").chosen == "2026-10"


# --- the page ------------------------------------------------------------------------------------


def _menu_html(html: str) -> str:
    match = re.search(
        r'<select name="period"[^>]*data-testid="report-period-menu"[^>]*>.*?</select>', html, re.S
    )
    assert match, "no period menu"
    return match.group(0)


def _selected(menu: str) -> list[str]:
    return re.findall(r'<option value="([^"]+)" selected>', menu)


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_page_offers_the_menu_with_the_last_complete_month_chosen(city_leader):
    html = _client(city_leader).get(reverse("analytics:reports")).content.decode()
    assert '<input name="period"' not in html  # no text box any more
    menu = _menu_html(html)
    expected = report_period_menu(today=timezone.localdate())
    assert _selected(menu) == [expected.chosen]
    groups = re.findall(r'<optgroup label="([^"]*)" data-kind="(\w+)" data-default="([^"]+)">', menu)
    assert [(kind, default) for _label, kind, default in groups] == [
        (g.kind, g.default) for g in expected.groups
    ]
    assert [html_lib.unescape(label) for label, _k, _d in groups] == [
        pgettext("report period group", "Months"),
        pgettext("report period group", "Quarters"),
    ]
    assert '<label for="report-period">' in html
    # the month / quarter choice is there for the script to show (hidden without it)
    assert re.search(r'<fieldset class="period-kind" data-period-kinds hidden>', html)
    assert 'name="period_kind" value="month" checked' in html
    assert "analytics/report_period.js" in html
    # the rest of the page is whole: the division menu, the button, the list of reports
    for piece in (
        'data-testid="report-division"',
        'name="token"',
        'data-testid="report-table"',
        'class="primary"',
    ):
        assert piece in html, piece
    assert html.count("<form") == html.count("</form>") and html.count("<select") == html.count("</select>")
    assert "{#" not in html and "{%" not in html  # no template syntax shown as text


@pytest.mark.django_db
def test_the_menu_posts_the_string_the_service_reads(city_leader, django_capture_on_commit_callbacks):
    client = _client(city_leader)
    chosen = report_period_menu(today=timezone.localdate(), kind="quarter").chosen
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("analytics:reports"),
            {"division": NANSHAN, "period_kind": "quarter", "period": chosen, "token": "q-1"},
        )
    assert response.status_code == 302
    assert Report.objects.get().period == chosen
    # and what a script or an old page typed is still read (canonical when stored)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("analytics:reports"), {"division": NANSHAN, "period": " 2025-1 ", "token": "t-2"})
    assert Report.objects.filter(period="2025-01").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["2026-13", "next month", "2026-Q5"])
def test_a_bad_period_gets_its_field_error_next_to_the_menu(city_leader, bad):
    response = _client(city_leader).post(
        reverse("analytics:reports"),
        {"division": NANSHAN, "period_kind": "quarter", "period": bad, "token": "b"},
    )
    assert response.status_code == 200 and not Report.objects.exists()
    html = response.content.decode()
    error = re.search(r'<span class="error" role="alert" id="report-period-error"[^>]*>([^<]+)</span>', html)
    assert error and html_lib.unescape(error.group(1)) == gettext(
        "Give the period as YYYY-MM or YYYY-Qn (e.g. 2026-Q2)."
    )
    menu = _menu_html(html)
    assert 'aria-invalid="true" aria-describedby="report-period-error"' in menu
    # the kind the form was set to is kept, with its newest complete period chosen
    assert _selected(menu) == [report_period_menu(today=timezone.localdate(), kind="quarter").chosen]
    assert 'name="period_kind" value="quarter" checked' in html


@pytest.mark.django_db
def test_a_period_not_begun_is_refused_on_its_field(city_leader):
    next_year = timezone.localdate().year + 1
    response = _client(city_leader).post(
        reverse("analytics:reports"), {"division": NANSHAN, "period": f"{next_year}-01", "token": "f"}
    )
    assert response.status_code == 200 and "period" in response.context["errors"]
    menu = _menu_html(response.content.decode())
    assert f"{next_year}-01" not in menu  # never offered, not even after the refusal


@pytest.mark.django_db
def test_after_a_division_error_the_posted_period_stays_chosen(city_leader):
    response = _client(city_leader).post(
        reverse("analytics:reports"), {"division": "999999999999", "period": "2025-Q2", "token": "d"}
    )
    assert response.status_code == 200 and set(response.context["errors"]) == {"division"}
    html = response.content.decode()
    assert _selected(_menu_html(html)) == ["2025-Q2"]
    assert 'name="period_kind" value="quarter" checked' in html
