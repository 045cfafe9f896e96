"""The ticket list's category chip names the category beside its code, as the place chips do
("类别代码：环境卫生（010214）", not a bare "010214"); full-width brackets in Chinese.

The string (its context) is new in this change: the Chinese test gives the catalog the entry the
lead adds."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from zhiwang.tickets.models import Category

pytestmark = pytest.mark.django_db

SANITATION = "010214"
CONTEXT = "a category's name beside its code"


def _chips(client, user, language: str, **filters) -> list[str]:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get("/tickets/", filters)
    assert response.status_code == 200
    return re.findall(r'<span class="filter-chip">(.*?)</span>', response.content.decode(), re.S)


def _label(language: str) -> str:
    with translation.override(language):
        return translation.gettext("Category code")


@pytest.fixture
def chinese_catalog(monkeypatch):
    """The zh-hans entry as the catalog will have it."""
    catalog = translation.trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, f"{CONTEXT}\x04%(name)s (%(code)s)", "%(name)s（%(code)s）")


def test_the_category_chip_names_the_category_in_chinese(client, nanshan_dispatcher, chinese_catalog):
    name = Category.objects.get(code=SANITATION).name
    chips = _chips(client, nanshan_dispatcher, "zh-hans", category=SANITATION)
    assert chips == [f"{_label('zh-hans')}：{name}（{SANITATION}）"], chips


def test_in_english_the_brackets_stay_half_width(client, nanshan_dispatcher, chinese_catalog):
    name = Category.objects.get(code=SANITATION).name
    assert _chips(client, nanshan_dispatcher, "en", category=SANITATION) == [
        f"Category code: {name} ({SANITATION})"
    ]


def test_an_inactive_category_is_named_too(client, nanshan_dispatcher):
    # the list still filters by a category taken out of the catalogue (old tickets carry it)
    category = Category.objects.get(code=SANITATION)
    Category.objects.filter(pk=category.pk).update(is_active=False)
    assert _chips(client, nanshan_dispatcher, "en", category=SANITATION) == [
        f"Category code: {category.name} ({SANITATION})"
    ]


def test_an_unknown_category_shows_its_error_and_no_chip(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    response = client.get("/tickets/", {"category": "999999"})
    assert response.context["form"].errors["category"] == ["There is no category 999999."]
    assert 'class="filter-chip"' not in response.content.decode()
