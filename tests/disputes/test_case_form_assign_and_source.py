"""The case form: "assign at once" is offered to a mediator only where their organisation can
assign (and says why a case chosen elsewhere was not assigned); the source menu marks the role's
default as chosen and keeps the one sent on a form back with errors.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from zhiwang.disputes.models import CaseStatus, DisputeCase
from zhiwang.geo.models import Division, DivisionLevel

pytestmark = pytest.mark.django_db

CASE_NEW = reverse("disputes:case_new")
BOX = 'data-testid="assign-at-once"'


def _form(division, token, **extra):
    return {
        "token": token,
        "facts": "相邻通道被占用，协商未果。",
        "category": "neighbours",
        "division": division.code,
        "source": "proactive",
        "party0_role": "applicant",
        "party0_name": "张三丰",
        "party1_role": "respondent",
        "party1_name": "李四海",
        **extra,
    }


@pytest.fixture
def other_sub(world):
    """A Nanshan subdistrict the committee of ``world.sub`` does not serve."""
    return (
        Division.objects.filter(parent=world.sub.parent, level=DivisionLevel.SUBDISTRICT, special="")
        .exclude(pk=world.sub.pk)
        .order_by("code")
        .first()
    )


@pytest.fixture
def wide_mediator(world):
    """A mediator of the ``world.sub`` committee whose jurisdiction is the whole of Nanshan: they
    may register a case anywhere in Nanshan, their committee serves only its subdistrict."""
    from zhiwang.accounts.services import user_create
    from zhiwang.disputes.services import mediator_enrol

    user = user_create(
        username="t_wide_mediator",
        password="pw",
        role="mediator",
        full_name="南山调解员",
        org_unit=world.org.org_unit,
        jurisdictions=[world.sub.parent],
    )
    mediator_enrol(user=user, organisation=world.org)
    return user


@pytest.fixture
def other_visit(world, other_sub):
    """A visit waiting at a service centre of ``other_sub``."""
    from zhiwang.accounts.models import OrgUnit, OrgUnitKind
    from zhiwang.disputes.services import service_centre_create, visit_register

    unit = OrgUnit.objects.create(
        code="T-NS-OTHER", name="另一综治中心", kind=OrgUnitKind.SERVICE_CENTER, division=other_sub
    )
    centre = service_centre_create(org_unit=unit, name="另一综治中心", division=other_sub)
    return visit_register(
        actor=world.admin,
        centre=centre,
        area_code="peoples_mediation",
        matter="噪音纠纷",
        visitor_name="张三丰",
        idempotency_key="other-v1",
    ).visit


# --- 3. "assign at once" --------------------------------------------------------------------------


def test_a_case_chosen_outside_the_mediators_area_says_why_it_was_not_assigned(
    client, world, wide_mediator, other_sub
):
    client.force_login(wide_mediator)
    page = client.get(CASE_NEW).content.decode()
    assert BOX in page  # the place is chosen on this form: the box stays, with where it assigns
    hint = re.search(r'data-testid="assign-hint">(.*?)</p>', page, re.S)
    assert hint and world.org.name in hint.group(1) and world.sub.name in hint.group(1)
    response = client.post(CASE_NEW, _form(other_sub, "wide-1", assign="auto"))
    case = DisputeCase.objects.get()
    assert response.status_code == 302
    assert case.status == CaseStatus.RECEIVED and case.organisation is None and case.mediator is None
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert world.org.name in warnings[0] and other_sub.name in warnings[0]
    assert "“" not in warnings[0]  # not the bare refusal "You may not do “Assign” here."


def test_a_case_in_the_mediators_area_is_still_assigned_at_once(client, world, wide_mediator):
    client.force_login(wide_mediator)
    response = client.post(CASE_NEW, _form(world.community, "wide-2", assign="auto"))
    case = DisputeCase.objects.get()
    assert response.status_code == 302
    assert case.status == CaseStatus.ASSIGNED and case.organisation == world.org
    assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def test_no_box_for_a_visit_the_mediators_organisation_does_not_serve(
    client, world, wide_mediator, other_visit
):
    client.force_login(wide_mediator)
    page = client.get(CASE_NEW + f"?visit={other_visit.number}")
    assert page.status_code == 200
    assert BOX not in page.content.decode()


def test_the_box_for_a_visit_the_mediators_organisation_serves(client, world):
    from zhiwang.disputes.services import visit_register

    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="噪音纠纷",
        visitor_name="张三丰",
        idempotency_key="own-v1",
    ).visit
    client.force_login(world.mediator)
    page = client.get(CASE_NEW + f"?visit={visit.number}").content.decode()
    assert BOX in page and 'data-testid="assign-hint"' not in page  # the place is known: no hint


def test_no_box_for_a_mediator_of_no_organisation(client, world):
    from zhiwang.accounts.services import user_create

    loose = user_create(
        username="t_loose_mediator",
        password="pw",
        role="mediator",
        full_name="未入册调解员",
        org_unit=world.org.org_unit,
        jurisdictions=[world.sub],
    )
    client.force_login(loose)
    assert BOX not in client.get(CASE_NEW).content.decode()


# --- 4. the source menu -----------------------------------------------------------------------------


def _chosen(html: str) -> list[str]:
    select = re.search(r'<select id="source" name="source">(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]+)" selected>', select)


@pytest.mark.parametrize(("persona", "default"), [("sub_dispatcher", "proactive"), ("window", "window")])
def test_the_roles_default_source_is_marked_chosen(client, world, persona, default):
    client.force_login(getattr(world, persona))
    assert _chosen(client.get(CASE_NEW).content.decode()) == [default]


def test_the_hotlines_default_source_is_marked_chosen(client, hotline):
    client.force_login(hotline)
    assert _chosen(client.get(CASE_NEW).content.decode()) == ["hotline"]


def test_a_form_back_with_errors_keeps_the_source_sent(client, world):
    client.force_login(world.window)
    back = client.post(CASE_NEW, _form(world.community, "src-1", facts="", source="court"))
    assert back.status_code == 400
    assert _chosen(back.content.decode()) == ["court"]  # not the window's default
