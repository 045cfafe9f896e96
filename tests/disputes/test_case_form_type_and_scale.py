"""The case form's mediation type and scale menus mark the default at first and keep the one sent
when the form comes back with errors (as the source menu does)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

CASE_NEW = reverse("disputes:case_new")


def _chosen(html: str, name: str) -> list[str]:
    select = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]+)" selected>', select)


@pytest.mark.parametrize("persona", ["sub_dispatcher", "window"])
def test_the_defaults_are_marked_chosen(client, world, persona):
    client.force_login(getattr(world, persona))
    html = client.get(CASE_NEW).content.decode()
    assert _chosen(html, "mediation_type") == ["peoples"]
    assert _chosen(html, "scale") == ["individual"]


def test_the_form_from_a_visit_marks_the_defaults_too(client, world):
    from zhiwang.disputes.services import visit_register

    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="与邻居噪音纠纷",
        visitor_name="张三丰",
        idempotency_key="menus-1",
    ).visit
    client.force_login(world.window)
    html = client.get(CASE_NEW + f"?visit={visit.number}").content.decode()
    assert _chosen(html, "mediation_type") == ["peoples"] and _chosen(html, "scale") == ["individual"]


def test_a_form_back_with_errors_keeps_the_type_and_scale_sent(client, world):
    client.force_login(world.sub_dispatcher)
    back = client.post(
        CASE_NEW,
        {
            "token": "menus-2",
            "facts": "",  # the error
            "category": "neighbours",
            "division": world.community.code,
            "mediation_type": "judicial",
            "scale": "group",
            "party0_role": "applicant",
            "party0_name": "张三丰",
        },
    )
    assert back.status_code == 400
    html = back.content.decode()
    assert _chosen(html, "mediation_type") == ["judicial"]
    assert _chosen(html, "scale") == ["group"]


def test_a_form_back_after_adding_a_party_keeps_them_too(client, world):
    client.force_login(world.sub_dispatcher)
    back = client.post(
        CASE_NEW,
        {"token": "menus-3", "add_party": "1", "mediation_type": "administrative", "scale": "major"},
    )
    html = back.content.decode()
    assert _chosen(html, "mediation_type") == ["administrative"] and _chosen(html, "scale") == ["major"]
