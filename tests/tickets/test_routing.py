"""Routing: the most specific rule wins; tiers map to division offices; the closest command center queues."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import RUBBISH, SANITATION
from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Category, RoutingRule
from zhiwang.tickets.routing import dispatch_center_for, route

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_rules(db):
    """No demo rules: each test writes exactly the table it reasons about."""
    RoutingRule.objects.all().delete()


def _unit(code: str, division: Division, kind=OrgUnitKind.DEPARTMENT) -> OrgUnit:
    return OrgUnit.objects.create(code=code, name=code, kind=kind, division=division)


def _cat(code: str) -> Category:
    return Category.objects.get(code=code)


def test_a_deeper_category_beats_a_deeper_division(clean_rules, nanshan_community):
    leaf = _cat(SANITATION)
    a, b = _unit("T-LEAF", None), _unit("T-COMMUNITY", nanshan_community)
    RoutingRule.objects.create(category=leaf, division=None, unit=a)
    RoutingRule.objects.create(category=leaf.parent, division=nanshan_community, unit=b, priority=99)
    decided = route(category=leaf, place=nanshan_community)
    assert decided.unit == a
    assert "T-LEAF" in decided.explanation


def test_a_deeper_division_beats_priority(clean_rules, nanshan_community):
    leaf = _cat(SANITATION)
    district, community = _unit("T-DISTRICT", None), _unit("T-COMM", None)
    RoutingRule.objects.create(
        category=leaf, division=nanshan_community.parent.parent, unit=district, priority=50
    )
    RoutingRule.objects.create(category=leaf, division=nanshan_community, unit=community)
    assert route(category=leaf, place=nanshan_community).unit == community


def test_priority_breaks_a_tie_and_inactive_rules_do_not_count(clean_rules, nanshan_community):
    leaf = _cat(SANITATION)
    low, high, off = _unit("T-LOW", None), _unit("T-HIGH", None), _unit("T-OFF", None)
    RoutingRule.objects.create(category=leaf, unit=low, priority=1)
    RoutingRule.objects.create(category=leaf, unit=high, priority=5)
    RoutingRule.objects.create(category=leaf, unit=off, priority=9, is_active=False)
    assert route(category=leaf, place=nanshan_community).unit == high


def test_a_rule_for_another_place_does_not_match(clean_rules, nanshan_community):
    luohu = Division.objects.get(code="440303000000")
    RoutingRule.objects.create(category=_cat(SANITATION), division=luohu, unit=_unit("T-LH", luohu))
    decided = route(category=_cat(SANITATION), place=nanshan_community)
    assert decided.unit is None and decided.rule_id is None
    assert decided.dispatch_center.code == "DEMO-NS-CC"


@pytest.mark.parametrize(
    ("tier", "expected"),
    [("subdistrict", "DEMO-SUB-OFFICE"), ("district", "DEMO-GOV-440305")],
)
def test_a_tier_rule_routes_to_the_division_office(clean_rules, nanshan_community, tier, expected):
    RoutingRule.objects.create(category=None, tier=tier, auto_dispatch=True)
    decided = route(category=_cat(SANITATION), place=nanshan_community)
    assert decided.unit.code == expected
    assert decided.auto_dispatch


def test_a_tier_below_what_is_known_of_the_place_falls_through(clean_rules, nanshan_community):
    district = nanshan_community.parent.parent
    RoutingRule.objects.create(category=_cat(SANITATION), tier="community", auto_dispatch=True)
    RoutingRule.objects.create(category=None, tier="district")
    decided = route(category=_cat(SANITATION), place=district)  # only the district is known
    assert decided.unit.code == "DEMO-GOV-440305"
    assert not decided.auto_dispatch


def test_an_inactive_unit_is_skipped(clean_rules, nanshan_community):
    gone = _unit("T-GONE", None)
    gone.is_active = False
    gone.save()
    RoutingRule.objects.create(category=_cat(SANITATION), unit=gone, auto_dispatch=True)
    decided = route(category=_cat(SANITATION), place=nanshan_community)
    assert decided.unit is None and not decided.auto_dispatch
    assert str(decided.rule_id) in decided.explanation


def test_the_demo_table(nanshan_community):
    rubbish = route(category=_cat(RUBBISH), place=nanshan_community)
    assert (rubbish.unit.code, rubbish.auto_dispatch) == ("DEMO-SUB-OFFICE", True)
    other = route(category=Category.objects.get(code="020101"), place=nanshan_community)
    assert (other.unit.code, other.auto_dispatch) == ("DEMO-GOV-440305", False)


def test_the_closest_command_center_queues(nanshan_community):
    assert dispatch_center_for(nanshan_community).code == "DEMO-NS-CC"
    assert dispatch_center_for(None).code == "DEMO-CITY-CC"
    sub_center = OrgUnit.objects.create(
        code="T-SUB-CC",
        name="街道综治中心",
        kind=OrgUnitKind.COMMAND_CENTER,
        division=nanshan_community.parent,
    )
    assert dispatch_center_for(nanshan_community) == sub_center
    assert dispatch_center_for(nanshan_community.parent.parent).code == "DEMO-NS-CC"
