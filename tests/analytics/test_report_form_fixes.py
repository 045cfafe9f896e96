"""The leader's report form and files, and the index formula's admin, after the walkthrough.

The report form offers the divisions of the jurisdiction in a menu (the code stays the value
the API takes); the files are named by the place, with an ASCII fallback (RFC 6266). The
formula's weights are one number per indicator, named in the reader's language, each refused on
its own field.
"""

from __future__ import annotations

import email.message
import re
from datetime import date
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from zhiwang.analytics import index as idx
from zhiwang.analytics.admin import IndexFormulaForm, weight_field_name
from zhiwang.analytics.models import IndexFormula, Report
from zhiwang.analytics.models.reports import ReportStatus
from zhiwang.analytics.selectors.alerts import division_choices
from zhiwang.analytics.views import report_disposition
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db
NANSHAN = "440305000000"
LUOHU = "440303000000"
CITY = "440300000000"


def _options(html: str) -> dict[str, str]:
    """``{value: label}`` of the report form's division menu; fails if the menu is missing."""
    menu = re.search(
        r'<select name="division"[^>]*data-testid="report-division"[^>]*>(.*?)</select>', html, re.S
    )
    assert menu, "no division menu"
    return {
        v: label.strip()
        for v, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', menu.group(1))
    }


def _selected(html: str) -> list[str]:
    menu = re.search(r'data-testid="report-division"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="(\d+)" selected>', menu)


# --- the form: a menu of the jurisdiction ---------------------------------------------------------


def test_the_form_offers_the_city_leader_s_divisions_by_name(client, city_leader):
    client.force_login(city_leader)
    html = client.get(reverse("analytics:reports")).content.decode()
    assert 'name="division" value=' not in html  # no text box of raw codes any more
    options = _options(html)
    # the same menu as the alert subscription's (one helper), every division of the city
    expected = [v for _group, pairs in division_choices(user=city_leader) for v, _label in pairs]
    assert list(options) == expected
    assert options[NANSHAN] == Division.objects.get(code=NANSHAN).display_name
    assert _selected(html) == [CITY]  # the top of the jurisdiction, as before


def test_a_district_dispatcher_sees_only_the_district(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    html = client.get(reverse("analytics:reports")).content.decode()
    options = _options(html)
    assert NANSHAN in options and LUOHU not in options and CITY not in options
    assert all(code.startswith("440305") for code in options)
    assert _selected(html) == [NANSHAN]


def test_the_chosen_division_is_requested_and_kept_after_an_error(
    client, city_leader, django_capture_on_commit_callbacks
):
    client.force_login(city_leader)
    community = Division.objects.filter(code__startswith="440305", level="community").order_by("code").first()
    # a bad period: the page says so and keeps the division chosen
    html = client.post(
        reverse("analytics:reports"), {"division": community.code, "period": "2026-13", "token": "t-1"}
    )
    assert html.status_code == 200 and not Report.objects.exists()
    assert _selected(html.content.decode()) == [community.code]
    with django_capture_on_commit_callbacks(execute=False):
        done = client.post(
            reverse("analytics:reports"), {"division": community.code, "period": "2026-10", "token": "t-2"}
        )
    assert done.status_code == 302
    assert Report.objects.get().division == community


# --- the files: named by the place ---------------------------------------------------------------


def _names(header: str) -> tuple[str, str]:
    """(``filename*`` decoded as RFC 5987 says, ``filename``) of a Content-Disposition value."""
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    plain = email.message.Message()
    plain["Content-Disposition"] = header
    # the email package reads the parameters as RFC 2231 does; the plain one comes first
    return unquote(extended.group(1), errors="strict"), plain.get_params(header="content-disposition")[1][1]


def _done_report(division: Division) -> Report:
    report = Report.objects.create(
        division=division,
        period="2026-10",
        start=date(2026, 10, 1),
        end=date(2026, 11, 1),
        status=ReportStatus.DONE,
        progress=100,
        idempotency_key=f"test:{division.code}",
        includes_disputes=False,
    )
    report.xlsx.save("r.xlsx", ContentFile(b"PK\x03\x04 not really a workbook"), save=False)
    report.pdf.save("r.pdf", ContentFile(b"%PDF-1.4"), save=False)
    report.save()
    return report


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_the_files_are_named_by_the_place_with_an_ascii_fallback(
    client, city_leader, settings, tmp_path, fmt
):
    settings.MEDIA_ROOT = tmp_path
    nanshan = Division.objects.get(code=NANSHAN)
    report = _done_report(nanshan)
    client.force_login(city_leader)
    response = client.get(reverse("analytics:report_download", args=[report.pk, fmt]))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    header.encode("latin-1")  # a header must be plain bytes: the name travels percent-encoded
    assert header.startswith(f"attachment; filename=\"{NANSHAN}-2026-10.{fmt}\"; filename*=UTF-8''")
    # a browser (RFC 6266: filename* wins) names it by the place; an older client reads the code
    assert _names(header) == (f"{nanshan.name}-2026-10.{fmt}", f"{NANSHAN}-2026-10.{fmt}")
    assert (
        response["Content-Type"]
        == {
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pdf": "application/pdf",
        }[fmt]
    )


def test_a_name_with_characters_no_file_may_hold_is_made_safe():
    report = SimpleNamespace(division=SimpleNamespace(code=NANSHAN, name='南山/区:"测试"?'), period="2026-Q4")
    assert _names(report_disposition(report, "pdf"))[0] == "南山_区_测试_-2026-Q4.pdf"
    blank = SimpleNamespace(division=SimpleNamespace(code=NANSHAN, name=" .. "), period="2026-10")
    assert _names(report_disposition(blank, "xlsx"))[0] == f"{NANSHAN}-2026-10.xlsx"


# --- the index formula in the admin: one number per indicator -------------------------------------


def _form_data(formula: IndexFormula | None = None, **weights) -> dict:
    data = {
        "name": "测试公式",
        "red_count": 3,
        "black_count": 3,
        "black_below": "",
        "min_volume": 5,
        "is_active": "on",
    }
    for code in idx.INDEX_INDICATORS:
        data[weight_field_name(code)] = ""
    data.update({weight_field_name(code): value for code, value in weights.items()})
    return data


def test_the_change_page_has_a_named_number_per_indicator(admin_client):
    formula = IndexFormula.objects.create(
        name="f", weights={"on_time_closure_rate": 0.3, "dispute_success_rate": 0}
    )
    admin_client.cookies["django_language"] = "zh-hans"
    html = admin_client.get(f"/admin/analytics/indexformula/{formula.pk}/change/").content.decode()
    assert 'name="weights"' not in html  # no raw JSON
    for code in idx.INDEX_INDICATORS:
        with translation.override("zh-hans"):
            name = idx.indicator_label(code)
        with translation.override("en"):
            assert name != idx.indicator_label(code)  # Chinese, not the English name
        assert re.search(rf'<label[^>]*for="id_{weight_field_name(code)}"[^>]*>{re.escape(name)}', html), code
    # the stored weights are the fields' values; an indicator not in the JSON is empty
    assert re.search(r'name="weight_on_time_closure_rate"[^>]*value="0.3"', html)
    assert re.search(r'name="weight_dispute_success_rate"[^>]*value="0"', html)
    assert not re.search(r'name="weight_response_rate"[^>]*value=', html)


def test_saving_writes_the_same_json(admin_client):
    formula = IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 0.3})
    response = admin_client.post(
        f"/admin/analytics/indexformula/{formula.pk}/change/",
        _form_data(on_time_closure_rate="0.5", rework_rate="0.2", dispute_success_rate="0"),
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    formula.refresh_from_db()
    # keys only for the filled fields (0 kept: "weighed at nothing" as the default formula writes it)
    assert formula.weights == {"on_time_closure_rate": 0.5, "rework_rate": 0.2, "dispute_success_rate": 0.0}
    assert formula.name == "测试公式" and formula.min_volume == 5


def test_a_new_formula_starts_from_the_default_weights(admin_client):
    html = admin_client.get("/admin/analytics/indexformula/add/").content.decode()
    assert re.search(r'name="weight_on_time_closure_rate"[^>]*value="0.3"', html)
    assert re.search(r'name="weight_satisfaction_rate"[^>]*value="0.25"', html)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("bad", ["-1", "1001", "abc", "nan", "1e309"])
def test_a_bad_weight_is_refused_on_its_own_field_in_the_reader_s_language(language, bad):
    with translation.override(language):
        form = IndexFormulaForm(data=_form_data(on_time_closure_rate="0.3", rework_rate=bad))
        assert not form.is_valid()
        expected = gettext(
            "A weight is a number from 0 to %(max)s; leave it empty to leave the indicator out."
        ) % {"max": idx.MAX_WEIGHT}
        errors = {field: [str(e) for e in messages] for field, messages in form.errors.items()}
    assert errors == {weight_field_name("rework_rate"): [expected]}
    assert "rework_rate" not in expected  # no English code in the message


@pytest.mark.parametrize(
    ("weights", "msgid"),
    [
        ({}, "Give at least one weight."),
        ({"on_time_closure_rate": "0", "rework_rate": "0"}, "The weights must not all be 0."),
    ],
)
def test_weights_that_weigh_nothing_are_refused_for_the_whole_formula(weights, msgid):
    with translation.override("zh-hans"):
        form = IndexFormulaForm(data=_form_data(**weights))
        assert not form.is_valid()
        assert form.non_field_errors() == [gettext(msgid)]
        assert gettext(msgid) != msgid  # in Chinese
    assert not IndexFormula.objects.exists()


def test_the_list_names_the_weighed_indicators(admin_client):
    IndexFormula.objects.create(
        name="f", weights={"rework_rate": 0.1, "dispute_success_rate": 0, "on_time_closure_rate": 0.3}
    )
    admin_client.cookies["django_language"] = "zh-hans"
    html = admin_client.get("/admin/analytics/indexformula/").content.decode()
    with translation.override("zh-hans"):
        # in the indicators' order whatever the stored JSON's (jsonb sorts keys), 、 between them
        shown = f"{idx.indicator_label('on_time_closure_rate')} 0.3、{idx.indicator_label('rework_rate')} 0.1"
    assert shown in html and "on_time_closure_rate" not in html
