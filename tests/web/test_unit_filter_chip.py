"""The ticket list's unit chips ("Handling unit code", "Unit it happened at (code)") name the unit
beside its code, as the place and category chips do ("承办单位代码：南山区城市管理和综合执法局
（DEMO-NS-URBAN）", not a bare code); full-width brackets in Chinese. Both units are named in one
query. A unit the viewer may not know of is refused by the list, as a code no unit has: its error,
no chip, and its name nowhere on the page.

The string (its context) is new in this change: the Chinese test gives the catalog the entry the
lead adds."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from zhiwang.accounts.models import OrgUnit

pytestmark = pytest.mark.django_db

URBAN = "DEMO-NS-URBAN"  # a Nanshan department: the Nanshan dispatcher's to dispatch to
OFFICE = "DEMO-SUB-OFFICE"  # a Nanshan subdistrict office
LUOHU = "DEMO-LH-CC"  # Luohu's command centre: outside the Nanshan dispatcher's sight
CONTEXT = "a unit's name beside its code"


def _get(client, user, language: str, **filters):
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get("/tickets/", filters)
    assert response.status_code == 200
    return response


def _chips(response) -> list[str]:
    return re.findall(r'<span class="filter-chip">(.*?)</span>', response.content.decode(), re.S)


def _label(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def _name(code: str) -> str:
    return OrgUnit.objects.get(code=code).name


@pytest.fixture
def chinese_catalog(monkeypatch):
    """The zh-hans entry as the catalog will have it."""
    catalog = translation.trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, f"{CONTEXT}\x04%(name)s (%(code)s)", "%(name)s（%(code)s）")


def test_the_unit_chips_name_their_units_in_chinese(client, nanshan_dispatcher, chinese_catalog):
    response = _get(
        client, nanshan_dispatcher, "zh-hans", handling_unit=URBAN, event="dispatched", event_unit=OFFICE
    )
    assert not response.context["form"].errors
    chips = _chips(response)
    handling = _label("zh-hans", "Handling unit code")
    happened = _label("zh-hans", "Unit it happened at (code)")
    assert f"{handling}：{_name(URBAN)}（{URBAN}）" in chips, chips
    assert f"{happened}：{_name(OFFICE)}（{OFFICE}）" in chips, chips


def test_in_english_the_brackets_stay_half_width(client, nanshan_dispatcher, chinese_catalog):
    response = _get(
        client, nanshan_dispatcher, "en", handling_unit=URBAN, event="dispatched", event_unit=OFFICE
    )
    chips = _chips(response)
    assert f"Handling unit code: {_name(URBAN)} ({URBAN})" in chips, chips
    assert f"Unit it happened at (code): {_name(OFFICE)} ({OFFICE})" in chips, chips


def test_both_units_are_named_in_one_query(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/tickets/", {"handling_unit": URBAN, "event": "dispatched", "event_unit": OFFICE}
        )
    assert response.status_code == 200 and not response.context["form"].errors
    # the list's own checks fetch each unit by "code" = …; the names come from one "code" IN (…)
    naming = [q["sql"] for q in queries if '"accounts_orgunit"."code" IN' in q["sql"]]
    assert len(naming) == 1, naming
    assert URBAN in naming[0] and OFFICE in naming[0], naming


def test_the_same_unit_in_both_filters_is_named_in_both_chips(client, nanshan_dispatcher):
    chips = _chips(
        _get(client, nanshan_dispatcher, "en", handling_unit=URBAN, event="dispatched", event_unit=URBAN)
    )
    assert f"Handling unit code: {_name(URBAN)} ({URBAN})" in chips, chips
    assert f"Unit it happened at (code): {_name(URBAN)} ({URBAN})" in chips, chips


@pytest.mark.parametrize("field", ["handling_unit", "event_unit"])
def test_a_unit_outside_the_viewer_s_sight_is_not_named(client, nanshan_dispatcher, field):
    # the list answers it as a code no unit has (scope_checks.unit_known): its error, no chip,
    # and the page does not tell its name
    response = _get(client, nanshan_dispatcher, "en", **{field: LUOHU})
    assert response.context["form"].errors[field] == [f"There is no unit {LUOHU}."]
    assert 'class="filter-chip"' not in response.content.decode()
    assert _name(LUOHU) not in response.content.decode()


def test_the_outside_unit_is_named_for_a_viewer_who_sees_it(client, luohu_dispatcher):
    # the same code is named for Luohu's own dispatcher: the check is the viewer's sight, not the code
    chips = _chips(_get(client, luohu_dispatcher, "en", handling_unit=LUOHU))
    assert chips == [f"Handling unit code: {_name(LUOHU)} ({LUOHU})"], chips


@pytest.mark.parametrize("field", ["handling_unit", "event_unit"])
def test_an_unknown_unit_shows_its_error_and_no_chip(client, nanshan_dispatcher, field):
    response = _get(client, nanshan_dispatcher, "en", **{field: "NOPE"})
    assert response.context["form"].errors[field] == ["There is no unit NOPE."]
    assert 'class="filter-chip"' not in response.content.decode()
