"""Who sees which cases, and personal data masked unless revealed (and logged)."""

from __future__ import annotations

import pytest
from django.http import Http404

from tests.disputes.conftest import APPLICANT_ID, parties
from zhiwang.core.errors import PermissionDeniedError
from zhiwang.disputes.selectors import case_get, case_list, centres_for, organisation_list
from zhiwang.disputes.services import case_register, case_reveal_parties

pytestmark = pytest.mark.django_db


def numbers(user) -> set[str]:
    return set(case_list(user=user).values_list("number", flat=True))


def test_each_role_sees_its_own_cases(assigned_case, make_case, world, city_leader, grid_worker):
    ns_case = assigned_case()
    lh_case = make_case(actor=world.lh_dispatcher, division=world.lh_community)
    assert numbers(world.mediator) == {ns_case.number}  # their organisation's
    assert numbers(world.mediator2) == {ns_case.number}  # same organisation
    assert numbers(world.lh_mediator) == set()  # Luohu's committee holds nothing yet
    assert numbers(world.sub_dispatcher) == {ns_case.number}
    assert numbers(world.lh_dispatcher) == {lh_case.number}
    assert numbers(city_leader) == {ns_case.number, lh_case.number}
    assert numbers(world.window) == set()  # not registered at their centre
    assert numbers(grid_worker) == set()
    with pytest.raises(Http404):
        case_get(user=world.lh_mediator, number=ns_case.number)
    with pytest.raises(Http404):
        case_get(user=world.lh_dispatcher, number=ns_case.number)


def test_window_operators_see_their_centres_cases(world):
    from zhiwang.disputes.services import visit_register

    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="m",
        visitor_name="王五",
        idempotency_key="k",
    ).visit
    case = case_register(
        actor=world.window,
        title="t",
        facts="f",
        category="other",
        division=None,
        parties=parties(),
        visit=visit,
    ).case
    assert numbers(world.window) == {case.number}
    assert numbers(world.lh_window) == set()
    assert list(centres_for(user=world.window)) == [world.centre]
    assert list(centres_for(user=world.lh_window)) == [world.lh_centre]


def test_organisations_are_scoped(world):
    assert {o.code for o in organisation_list(user=world.sub_dispatcher)} == {"t-ns-sub"}
    assert {o.code for o in organisation_list(user=world.lh_mediator)} == {"t-lh-sub"}


def test_reveal_is_permissioned_and_logged(assigned_case, world, city_leader):
    case = assigned_case()
    with pytest.raises(PermissionDeniedError):
        case_reveal_parties(case=case, actor=world.lh_mediator, reason="好奇")
    with pytest.raises(PermissionDeniedError):
        case_reveal_parties(case=case, actor=city_leader, reason="看看")
    revealed = case_reveal_parties(case=case, actor=world.mediator, reason="电话通知调解时间")
    assert APPLICANT_ID in {p["identifier"] for p in revealed}
    row = case.events.get(action="reveal_parties")
    assert row.actor == world.mediator and row.note == "电话通知调解时间"
