"""The admin's list pickers speak Chinese: Django's own zh_Hans JavaScript catalogue lacks the
texts SelectFilter2.js asks for in this Django version, so the project's djangojs catalogue
(LOCALE_PATHS) supplies them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import django
import pytest

pytestmark = pytest.mark.django_db

SELECT_FILTER = Path(django.__file__).parent / "contrib/admin/static/admin/js/SelectFilter2.js"


def _catalog(client) -> dict:
    body = client.get("/admin/jsi18n/").content.decode()
    return json.loads(re.search(r"const newcatalog = (\{.*?\});", body, re.S).group(1))


def test_every_text_of_the_list_picker_is_translated(client, admin_user):
    client.force_login(admin_user)
    client.cookies["django_language"] = "zh-hans"
    catalog = _catalog(client)
    asked = set(re.findall(r"""gettext\((['"])(.+?)\1\)""", SELECT_FILTER.read_text()))
    texts = {text.replace('\\"', '"') for _quote, text in asked}
    assert texts, "SelectFilter2.js asks for no text: the pattern above needs updating"
    missing = sorted(t for t in texts if t not in catalog)
    assert not missing, missing
    assert catalog["Choose all %s"] == "选择全部%s"
