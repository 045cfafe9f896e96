"""A visitor is registered once, city-wide (found again by the keyed hash of their ID number), but
the contact details a visitor gives a centre stay with that centre: another centre registering
them by ID number only gets no phone (not even masked), cannot overwrite the first centre's, and a
visit without a phone never wipes the one given at that centre before.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.disputes.conftest import APPLICANT_ID
from zhiwang.disputes.models import Party, Visit, VisitEvent, Visitor

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"
A_PHONE, A_MASKED = "13800138001", "138****8001"
B_PHONE, B_MASKED = "13900139009", "139****9009"


def _visit(world, *, at_luohu=False, key, phone=""):
    from zhiwang.disputes.services import visit_register

    return visit_register(
        actor=world.lh_window if at_luohu else world.window,
        centre=world.lh_centre if at_luohu else world.centre,
        area_code="peoples_mediation",
        matter="与邻居噪音纠纷",
        visitor_name="张三丰",
        visitor_id_number=APPLICANT_ID,
        visitor_phone=phone,
        idempotency_key=key,
    ).visit


def _register_event(visit) -> VisitEvent:
    return VisitEvent.objects.get(visit=visit, action="register")


def test_another_centre_registering_by_id_number_only_gets_no_phone(client, world):
    first = _visit(world, key="a1", phone=A_PHONE)
    there = _visit(world, at_luohu=True, key="b1")
    assert there.visitor_id == first.visitor_id  # one visitor per person
    assert there.visitor_phone == ""
    assert "visitor_changed" not in _register_event(there).payload
    assert A_MASKED not in json.dumps(_register_event(there).payload)
    client.force_login(world.lh_window)
    queues = client.get(f"{BASE}/centres/{world.lh_centre.pk}/queues").json()
    (shown,) = [v for q in queues for v in q["visits"] if v["number"] == there.number]
    assert shown["visitor_phone"] == ""
    window = client.get(reverse("disputes:window")).content.decode()
    assert A_MASKED not in window


def test_a_case_opened_at_the_other_centre_carries_no_phone_of_the_first(client, world):
    _visit(world, key="a1", phone=A_PHONE)
    there = _visit(world, at_luohu=True, key="b1")
    client.force_login(world.lh_window)
    url = reverse("disputes:case_new") + f"?visit={there.number}"
    form = client.get(url).content.decode()
    assert A_MASKED not in form
    response = client.post(
        url,
        {
            "token": "from-visit-b",
            "facts": "与邻居噪音纠纷",
            "category": "neighbours",
            "party0_visitor": "1",
            "party0_role": "applicant",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    applicant = Party.objects.get(role="applicant")
    assert applicant.identifier == APPLICANT_ID and applicant.phone == ""


def test_the_other_centres_phone_neither_replaces_nor_reaches_the_first_centres(world):
    first = _visit(world, key="a1", phone=A_PHONE)
    there = _visit(world, at_luohu=True, key="b1", phone=B_PHONE)
    assert there.visitor_phone == B_PHONE
    payload = json.dumps(_register_event(there).payload)
    assert A_MASKED not in payload  # the other centre is not told what the first one recorded
    back = _visit(world, key="a2")  # back at the first centre, no phone given
    assert back.visitor_phone == A_PHONE  # its own record, not the other centre's
    assert "visitor_changed" not in _register_event(back).payload
    first.refresh_from_db()
    assert first.visitor_phone == A_PHONE
    assert B_PHONE not in Visitor.objects.get().phone  # nothing shared to overwrite
    again_there = _visit(world, at_luohu=True, key="b2")
    assert again_there.visitor_phone == B_PHONE  # the other centre keeps what it was given


def test_a_visit_without_a_phone_never_wipes_the_one_given_at_the_centre(world):
    _visit(world, key="v1", phone=A_PHONE)
    assert _visit(world, key="v2").visitor_phone == A_PHONE
    assert _visit(world, key="v3").visitor_phone == A_PHONE
    changed = _visit(world, key="v4", phone=B_PHONE)
    assert _register_event(changed).payload["visitor_changed"] == {
        "phone": {"from": A_MASKED, "to": B_MASKED}
    }
    assert _visit(world, key="v5").visitor_phone == B_PHONE
    assert Visitor.objects.count() == 1
    assert Visit.objects.filter(visitor_phone="").count() == 0
