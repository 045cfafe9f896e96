# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The ticket list's filter chips name a place by its name beside its code. In Chinese the brackets
are full-width ("南山区（440305000000）"), as everywhere else the pages put a word in brackets;
in English they stay "南山区 (440305000000)".

The string is new in this change: the Chinese test gives the catalog the entry the lead adds."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from tests.tickets.conftest import nanshan_building, nanshan_community  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"
CONTEXT = "a place's name beside its code"


def _chips(client, user, language: str, **filters) -> list[str]:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get("/tickets/", filters)
    assert response.status_code == 200 and not response.context["form"].errors
    return re.findall(r'<span class="filter-chip">(.*?)</span>', response.content.decode(), re.S)


def _label(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


@pytest.fixture
def chinese_catalog(monkeypatch):
    """The zh-hans entry as the catalog will have it."""
    catalog = translation.trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, f"{CONTEXT}\x04%(name)s (%(code)s)", "%(name)s（%(code)s）")


def test_in_chinese_the_place_s_code_is_in_full_width_brackets(
    client, nanshan_dispatcher, nanshan_building, chinese_catalog
):
    chips = _chips(client, nanshan_dispatcher, "zh-hans", division=NANSHAN, address=nanshan_building.code)
    division, address = _label("zh-hans", "Division code"), _label("zh-hans", "Standard address code")
    assert f"{division}：南山区（{NANSHAN}）" in chips, chips
    assert f"{address}：{nanshan_building.full_name}（{nanshan_building.code}）" in chips, chips
    assert not any("(" in chip or ")" in chip for chip in chips), chips


def test_in_english_the_brackets_stay_half_width(
    client, nanshan_dispatcher, nanshan_building, chinese_catalog
):
    chips = _chips(client, nanshan_dispatcher, "en", division=NANSHAN)
    assert f"Division code: 南山区 ({NANSHAN})" in chips, chips
