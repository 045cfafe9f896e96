"""Dispute fixtures: organisations, mediators and a service centre in the demo city; a case factory.

Personas (besides the shared ones):
- ``mediator``: demo_mediator, of the first Nanshan subdistrict's people's mediation committee;
- ``mediator2``: a second mediator of the same committee (for fair assignment);
- ``lh_mediator``: a mediator of a Luohu committee (the outsider);
- ``window``: window operator of the first Nanshan subdistrict's service centre;
- ``lh_window``: window operator of a Luohu centre (the outsider).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from zhiwang.core.validators import credit_code_check_char, id_number_check_char
from zhiwang.geo.models import Division, DivisionLevel


def id_number(first17: str = "44030519900101123") -> str:
    return first17 + id_number_check_char(first17)


def credit_code(first17: str = "91440300MA5F0000X") -> str:
    return first17 + credit_code_check_char(first17)


APPLICANT_ID = id_number("44030519850312001")
RESPONDENT_ID = id_number("44030319770815002")
ENTITY_CODE = credit_code("91440300MA5F3K2L7")


def parties(**overrides) -> list[dict]:
    data = [
        {
            "role": "applicant",
            "kind": "person",
            "name": "张三丰",
            "identifier": APPLICANT_ID,
            "phone": "13800138001",
        },
        {
            "role": "respondent",
            "kind": "person",
            "name": "李四海",
            "identifier": RESPONDENT_ID,
            "phone": "13900139002",
        },
    ]
    for key, value in overrides.items():
        index, field = key.split("__")
        data[int(index)][field] = value
    return data


def _first_child(parent, level):
    return Division.objects.filter(parent=parent, level=level, special="").order_by("code").first()


@pytest.fixture
def world(db):
    from zhiwang.accounts.models import OrgUnit, OrgUnitKind, User
    from zhiwang.accounts.services import user_create
    from zhiwang.disputes.defaults import defaults_seed
    from zhiwang.disputes.services import mediator_enrol, organisation_create, service_centre_create

    defaults_seed()
    nanshan = Division.objects.get(code="440305000000")
    luohu = Division.objects.get(code="440303000000")
    sub = _first_child(nanshan, DivisionLevel.SUBDISTRICT)
    community = _first_child(sub, DivisionLevel.COMMUNITY)
    lh_sub = _first_child(luohu, DivisionLevel.SUBDISTRICT)
    lh_community = _first_child(lh_sub, DivisionLevel.COMMUNITY)
    mediation_unit = OrgUnit.objects.get(code="DEMO-SUB-MEDIATION")
    org = organisation_create(
        code="t-ns-sub", name=f"{sub.name}人民调解委员会", division=sub, org_unit=mediation_unit
    )
    lh_unit = OrgUnit.objects.create(
        code="T-LH-MED", name="罗湖调委会", kind=OrgUnitKind.MEDIATION_ORG, division=lh_sub
    )
    lh_org = organisation_create(
        code="t-lh-sub", name=f"{lh_sub.name}人民调解委员会", division=lh_sub, org_unit=lh_unit
    )
    mediator = User.objects.get(username="demo_mediator")
    mediator2 = user_create(
        username="t_mediator2",
        password="pw",
        role="mediator",
        full_name="调解员 二号",
        org_unit=mediation_unit,
        jurisdictions=[sub],
    )
    lh_mediator = user_create(
        username="t_lh_mediator",
        password="pw",
        role="mediator",
        full_name="罗湖调解员",
        org_unit=lh_unit,
        jurisdictions=[lh_sub],
    )
    mediator_enrol(user=mediator, organisation=org)
    mediator_enrol(user=mediator2, organisation=org)
    mediator_enrol(user=lh_mediator, organisation=lh_org)
    centre_unit = OrgUnit.objects.create(
        code="T-NS-CENTRE", name=f"{sub.name}综治中心", kind=OrgUnitKind.SERVICE_CENTER, division=sub
    )
    centre = service_centre_create(org_unit=centre_unit, name=f"{sub.name}综治中心", division=sub)
    lh_centre_unit = OrgUnit.objects.create(
        code="T-LH-CENTRE", name="罗湖综治中心", kind=OrgUnitKind.SERVICE_CENTER, division=lh_sub
    )
    lh_centre = service_centre_create(org_unit=lh_centre_unit, name="罗湖综治中心", division=lh_sub)
    window = user_create(
        username="t_window",
        password="pw",
        role="intake_operator",
        full_name="窗口 王",
        org_unit=centre_unit,
        jurisdictions=[sub],
    )
    lh_window = user_create(
        username="t_lh_window",
        password="pw",
        role="intake_operator",
        full_name="罗湖窗口",
        org_unit=lh_centre_unit,
        jurisdictions=[lh_sub],
    )
    return SimpleNamespace(
        sub=sub,
        community=community,
        lh_sub=lh_sub,
        lh_community=lh_community,
        org=org,
        lh_org=lh_org,
        mediator=mediator,
        mediator2=mediator2,
        lh_mediator=lh_mediator,
        centre=centre,
        lh_centre=lh_centre,
        window=window,
        lh_window=lh_window,
        sub_dispatcher=User.objects.get(username="demo_sub_dispatcher"),
        ns_dispatcher=User.objects.get(username="demo_ns_dispatcher"),
        lh_dispatcher=User.objects.get(username="demo_lh_dispatcher"),
        leader=User.objects.get(username="demo_leader"),
        admin=User.objects.get(username="demo_admin"),
    )


@pytest.fixture
def make_case(world):
    """``make_case(**overrides)``: a neighbours' dispute in the first Nanshan community, registered by the dispatcher."""
    from zhiwang.disputes.services import case_register

    def make(**overrides):
        data = {
            "actor": world.sub_dispatcher,
            "title": "楼上漏水纠纷",
            "facts": "楼上卫生间漏水导致楼下天花板受损，双方就维修费用协商未果。",
            "category": "neighbours",
            "division": world.community,
            "parties": parties(),
            "source": "grid",
            "amount": "3500",
            "people_involved": 2,
        }
        data.update(overrides)
        return case_register(**data).case

    return make


@pytest.fixture
def assigned_case(make_case, world):
    from zhiwang.disputes.services import case_assign

    def make(**overrides):
        case = make_case(**overrides)
        return case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator)

    return make


@pytest.fixture
def mediating_case(assigned_case, world):
    from zhiwang.disputes.services import session_record

    def make(**overrides):
        case = assigned_case(**overrides)
        session_record(
            case=case, actor=world.mediator, record="双方到场陈述，初步同意分担维修费用。", place="调解室一"
        )
        case.refresh_from_db()
        return case

    return make


@pytest.fixture
def agreed_case(mediating_case, world):
    from zhiwang.disputes.services import agreement_reach

    def make(signed_on=None, form="written", **overrides):
        if signed_on and "received_at" not in overrides:
            # An agreement cannot be signed before the case was registered: a case signed on a
            # fixed past day was registered that morning.
            from datetime import date, datetime, time

            from django.utils import timezone

            day = signed_on if isinstance(signed_on, date) else date.fromisoformat(str(signed_on))
            overrides["received_at"] = timezone.make_aware(datetime.combine(day, time(9, 0)))
        case = mediating_case(**overrides)
        agreement_reach(
            case=case,
            actor=world.mediator,
            form=form,
            terms="李四海承担维修费用2000元，张三丰承担1500元。",
            performance_manner="银行转账",
            performance_deadline="2099-12-31",
            signed_on=signed_on,
        )
        case.refresh_from_db()
        return case

    return make


def actions(case) -> list[str]:
    return [e.action for e in case.events.order_by("at", "pk")]


@pytest.fixture
def hotline(db):
    """12345 intake operator, city-wide."""
    from zhiwang.accounts.models import User

    return User.objects.get(username="demo_hotline")


@pytest.fixture
def nanshan_building(world):
    """A building in the first Nanshan community (where the mediator's committee serves)."""
    from zhiwang.geo.models import AddressLevel, StandardAddress

    return (
        StandardAddress.objects.filter(community=world.community, level=AddressLevel.BUILDING)
        .order_by("code")
        .first()
    )
