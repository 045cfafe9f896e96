"""The notification of an alert tells each member what the alerts page tells them (issue 5).

The page shows a reader the count of an alert's tickets in their jurisdiction and, when it also
counts tickets outside it, says so without the number (tests/analytics/test_alert_counts_in_scope.py).
The notification each analyst of a subscribed unit is sent carried the stored explanation, the
whole count, to a district member too. Now it is written by the page's rule for each member, in
the city's language; a city-wide member reads the explanation the alert was raised on. What a
member was told is kept as told: an alert that grows later is read on its page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.analytics.test_alert_counts_in_scope import raise_finding
from tests.analytics.test_alert_membership import clone
from zhiwang.analytics import services
from zhiwang.analytics.models import AlertKind
from zhiwang.tickets.models import Notification

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"
OUTSIDE = "（仅计您辖区内的工单；该预警还包含辖区外的工单）"


@pytest.fixture
def center(nanshan_dispatcher, city_leader):
    """Nanshan's command center, subscribed to Nanshan: its district dispatcher, and a city-wide
    leader who works there."""
    unit = nanshan_dispatcher.org_unit
    city_leader.org_unit = unit
    city_leader.save(update_fields=["org_unit"])
    services.alert_subscribe(user=nanshan_dispatcher, unit_code=unit.code, division_code=NANSHAN)
    return unit


@pytest.fixture
def caller(make_ticket, luohu_building, frozen_now):
    """A caller's tickets: 6 in Nanshan, 3 now in Luohu (9 in all)."""
    nanshan = make_ticket(external_id="nt-n")
    luohu = make_ticket(external_id="nt-l", address_code=luohu_building.code)
    return {
        "nanshan": [nanshan.pk, *clone(nanshan, 5, "ntn")],
        "luohu": [luohu.pk, *clone(luohu, 2, "ntl")],
        "district": nanshan.district_id,
    }


def _note(user):
    return Notification.objects.get(kind="analytics_alert", recipient=user)


def _headline(kind: str, place: str, explanation: str) -> str:
    """A notification's message: the alert's kind and place, then what the member may be told
    (the city's words for the frame, whether or not its translation is in yet)."""
    with translation.override("zh-hans"):
        return gettext("%(kind)s · %(place)s: %(explanation)s") % {
            "kind": kind,
            "place": place,
            "explanation": explanation,
        }


def test_a_district_member_is_told_their_count_and_a_city_wide_member_the_whole(
    center, caller, client, nanshan_dispatcher, city_leader
):
    """Fails on the old code: the district dispatcher was sent "30天内9件"."""
    with translation.override("en"):  # whoever's run raised it, the inbox is in the city's language
        alert, created = raise_finding(
            AlertKind.REPEAT_CALLER,
            "caller:notify",
            caller["nanshan"] + caller["luohu"],
            caller["district"],
            {"phone": "138****8000", "observed": 9, "days": 30},
        )
    assert created
    district = _note(nanshan_dispatcher)
    assert district.message == _headline("重复来电", "南山区", f"来电人138****8000：30天内6件{OUTSIDE}")
    assert "9" not in district.message and "3件" not in district.message
    assert alert.explanation == "来电人138****8000：30天内9件"
    assert _note(city_leader).message == _headline("重复来电", "南山区", alert.explanation)
    # the page tells the district dispatcher the same (its kind and place in their columns)
    client.force_login(nanshan_dispatcher)
    page = client.get(district.link).content.decode()
    assert f"来电人138****8000：30天内6件{OUTSIDE}" in page and "30天内9件" not in page


def test_a_reopened_ticket_outside_the_members_jurisdiction_is_not_named_to_them(
    center, make_ticket, luohu_building, frozen_now, nanshan_dispatcher, city_leader
):
    """The alert about a ticket now in Luohu: the district member is told it counts a ticket
    outside their jurisdiction, not its number, and the notification does not link the ticket
    (the inbox shows its number). Fails on the old code: both were sent the number."""
    moved = make_ticket(external_id="nt-moved", address_code=luohu_building.code)
    nanshan_district = make_ticket(external_id="nt-here").district_id
    raise_finding(
        AlertKind.REPEAT_REOPEN,
        "reopen:notify",
        [moved.pk],
        nanshan_district,
        {"number": moved.number, "category": "噪音", "n": 3},
    )
    district = _note(nanshan_dispatcher)
    assert district.message == _headline("反复重办", "南山区", "您辖区内 0 件；该预警还包含辖区外的工单。")
    assert moved.number not in district.message and district.ticket_id is None
    leader = _note(city_leader)
    assert moved.number in leader.message and leader.ticket_id == moved.pk


def test_members_told_when_the_alert_moves_follow_the_rule_and_what_they_were_told_is_kept(
    center, caller, client, nanshan_dispatcher, city_leader, luohu_dispatcher
):
    """An open alert that moves to Nanshan tells Nanshan's center as a new one would, by the same
    rule; a later finding that only grows it tells nobody again, and the message stays what the
    member was told (a snapshot, as every inbox message); the page reads the alert as it is now."""
    explain = {"phone": "138****8000", "days": 30}
    luohu_district = luohu_dispatcher.jurisdictions.get().pk
    alert, created = raise_finding(
        AlertKind.REPEAT_CALLER, "caller:moves", caller["luohu"], luohu_district, {**explain, "observed": 3}
    )
    assert created and not Notification.objects.filter(kind="analytics_alert").exists()
    # the calls reach Nanshan: the alert follows them, Nanshan's center is newly responsible
    moved, created = raise_finding(
        AlertKind.REPEAT_CALLER,
        "caller:moves",
        caller["nanshan"][:4] + caller["luohu"],
        caller["district"],
        {**explain, "observed": 7},
    )
    assert moved.pk == alert.pk and not created
    told = _note(nanshan_dispatcher)
    assert told.message == _headline("重复来电", "南山区", f"来电人138****8000：30天内4件{OUTSIDE}")
    assert _note(city_leader).message == _headline("重复来电", "南山区", "来电人138****8000：30天内7件")
    # it grows where it is: nobody is told again, what they were told stays
    grown, created = raise_finding(
        AlertKind.REPEAT_CALLER,
        "caller:moves",
        caller["nanshan"] + caller["luohu"],
        caller["district"],
        {**explain, "observed": 9},
    )
    assert grown.pk == alert.pk and not created
    assert Notification.objects.filter(kind="analytics_alert").count() == 2
    assert _note(nanshan_dispatcher).message == told.message
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert f"来电人138****8000：30天内6件{OUTSIDE}" in page


def test_a_member_scoped_to_a_grid_is_told_the_count_in_their_grid(
    make_ticket, frozen_now, nanshan_community, grid_worker, nanshan_dispatcher
):
    """As the detector raises it: a topic cluster over two grids of one community is the
    community's alert, without a grid, which an analyst of one of those grids may open; the other
    grid's tickets are outside their jurisdiction. Fails on the old code ("3天内5件")."""
    from zhiwang.accounts.models import GridAssignment, Role, User
    from zhiwang.geo.models import AddressLevel, StandardAddress

    station = grid_worker.org_unit
    first, second = [a.grid for a in grid_worker.grid_assignments.order_by("grid__code")[:2]]
    analyst = User.objects.create(username="grid-analyst", role=Role.DISPATCHER, org_unit=station)
    GridAssignment.objects.create(grid=first, user=analyst)
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=station.code, division_code=nanshan_community.code
    )

    def building(grid):
        return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()

    here = [make_ticket(external_id=f"g1-{i}", address_code=building(first).code) for i in range(3)]
    there = [make_ticket(external_id=f"g2-{i}", address_code=building(second).code) for i in range(2)]
    assert {t.community_id for t in here + there} == {nanshan_community.pk}
    alert, _created = raise_finding(
        AlertKind.TOPIC_CLUSTER,
        "topic:噪音-工地",
        [t.pk for t in here + there],
        nanshan_community.pk,
        {"observed": 5, "days": 3, "words": ["噪音", "工地"]},
    )
    assert _note(analyst).message == _headline(
        "同一主题聚集", nanshan_community.display_name, f"3天内3件，主题“噪音、工地”{OUTSIDE}"
    )
    assert alert.explanation == "3天内5件，主题“噪音、工地”"  # the whole count, kept on the alert
