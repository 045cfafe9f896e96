"""The registry pick lists (window visitor, case parties) POST their search text.

A name, ID number or phone in a URL sits in proxy access logs and browser history. The pick
inputs use ``hx-post`` with the enclosing form's CSRF token and nothing else of the form
(``hx-params``); the party row's ``prefix`` stays in the URL (it names a form row, nobody).
"""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from tests.disputes.test_registry_link import REG_ID, REG_PHONE, registry  # noqa: F401 (fixture)

PICK = reverse("disputes:registry_pick")


def _input(html: str, element_id: str) -> str:
    return re.search(rf'<input id="{element_id}"[^>]*>', html).group(0)


def _params(tag: str) -> set[str]:
    return {p.strip() for p in re.search(r'hx-params="([^"]*)"', tag).group(1).split(",")}


def test_the_pick_inputs_post(world, registry, client):  # noqa: F811
    client.force_login(world.window)
    window = client.get(reverse("disputes:window")).content.decode()
    visitor = _input(window, "pick_q")
    assert f'hx-post="{PICK}"' in visitor and "hx-get" not in visitor
    assert _params(visitor) == {"pick_q", "csrfmiddlewaretoken"}
    client.force_login(world.sub_dispatcher)
    case_form = client.get(reverse("disputes:case_new")).content.decode()
    party = _input(case_form, "party1_q")
    assert f'hx-post="{PICK}?prefix=party1_"' in party and "hx-get" not in party
    assert _params(party) == {"party1_q", "party1_kind", "csrfmiddlewaretoken"}


def test_a_post_pick_finds_what_the_get_did(world, registry, client):  # noqa: F811
    person = registry["person"]
    client.force_login(world.window)
    for q in ("欧阳", REG_ID, REG_PHONE):
        by_get = client.get(PICK, {"pick_q": q})
        by_post = client.post(PICK, {"pick_q": q})
        assert by_post.status_code == by_get.status_code == 200
        assert by_post.content == by_get.content
        page = by_post.content.decode()
        assert f'value="{person.pk}"' in page and person.masked_id_number in page
        assert REG_ID not in page and REG_PHONE not in page
    entity = client.post(
        f"{PICK}?prefix=party1_", {"party1_kind": "entity", "party1_q": "测试物业"}
    ).content.decode()
    assert f'name="party1_entity" value="{registry["entity"].pk}"' in entity


def test_the_pick_post_needs_the_pages_csrf_token(world, registry):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.window)
    page = client.get(reverse("disputes:window")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(PICK, {"pick_q": REG_PHONE}).status_code == 403
    found = client.post(PICK, {"pick_q": REG_PHONE, "csrfmiddlewaretoken": token})
    assert found.status_code == 200 and f'value="{registry["person"].pk}"' in found.content.decode()
