"""What GET requests publishes of a typed address (down to its building, never over-trimmed) and of
the third persons a citizen names in the description (their names after their role, plates)."""

from __future__ import annotations

import re

import pytest

from tests.open311.conftest import make_tickets
from zhiwang.open311.documents import address_to_building
from zhiwang.tickets.models import Ticket, TicketStatus

# --- address_to_building ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        # 栋 / 座 / 单元 / 层 / 楼 / 室 / 房 / 号 below the building
        ("南山区琉璃坊花园3栋1201房", "南山区琉璃坊花园3栋"),
        ("南山区琉璃坊花园3栋1201号", "南山区琉璃坊花园3栋"),
        ("南山区琉璃坊花园3栋1201", "南山区琉璃坊花园3栋"),
        ("罗湖区东门中路2号A座15楼1503室", "罗湖区东门中路2号A座"),
        ("龙华区民治街道白石龙村一区30栋2单元501", "龙华区民治街道白石龙村一区30栋"),
        ("福田区华强北路1号3单元1201", "福田区华强北路1号"),
        ("南山区科苑路15号B座5层501室", "南山区科苑路15号B座"),
        ("福田区某大厦12楼", "福田区某大厦"),
        ("南山区桃园路12号501室", "南山区桃园路12号"),
        ("南山区桃园路12号501", "南山区桃园路12号"),
        ("龙岗区坂田街道岗头村38号301", "龙岗区坂田街道岗头村38号"),
        ("南山区 琉璃坊花园 3栋 1201", "南山区琉璃坊花园3栋"),  # the parser's clean form
        # basements
        ("南山区海岸城B1-01", "南山区海岸城"),
        ("南山区海岸城负一层101", "南山区海岸城"),
        ("南山区海岸城负一层", "南山区海岸城"),
        ("南山区海岸城地下一层12号铺", "南山区海岸城"),
        ("南山区粤海街道科技园10号楼B1层", "南山区粤海街道科技园10号楼"),
        # village lanes, streets and rows: the lane and house number stay, the room goes
        ("宝安区新安街道固戍村15巷3号301", "宝安区新安街道固戍村15巷3号"),
        ("宝安区新安街道固戍村15巷3号301房", "宝安区新安街道固戍村15巷3号"),
        ("宝安区新安街道固戍村15巷3号B1-01", "宝安区新安街道固戍村15巷3号"),
        ("福田区下沙新村10巷5号302", "福田区下沙新村10巷5号"),
        ("福田区下沙新村二巷5号302房", "福田区下沙新村二巷5号"),
        ("宝安区沙井新村3街5号201", "宝安区沙井新村3街5号"),
        ("南山区蛇口渔村3巷8号二楼", "南山区蛇口渔村3巷8号"),
        ("龙岗区布吉街道水径村1排5号302", "龙岗区布吉街道水径村1排5号"),
        ("宝安区固戍村3横巷5号301", "宝安区固戍村3横巷5号"),
        ("宝安区福永街道怀德村南区5巷12号301", "宝安区福永街道怀德村南区5巷12号"),
        ("南山区南新路15巷3号301", "南山区南新路15巷3号"),
        ("南山区南新路123弄5号301", "南山区南新路123弄5号"),
        # a lane or house number after the room is not kept: it would carry the room out with it
        # (found in review: "…3栋1201房后面3巷" was published whole)
        ("南山区琉璃坊花园3栋1201房后面3巷", "南山区琉璃坊花园3栋"),
        ("南山区琉璃坊花园3栋1201房旁边12号501门口", "南山区琉璃坊花园3栋"),
        ("桃园路12号501室对面5街", "桃园路12号"),
        ("南山区金海湾花园5栋302房楼下第2排", "南山区金海湾花园5栋"),
    ],
)
def test_a_typed_address_is_cut_before_its_unit_floor_or_room(typed, shown):
    assert address_to_building(typed) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "宝安区新安街道固戍村15巷3号",  # was published as "…固戍村"
        "福田区下沙新村二巷5号",
        "宝安区福永街道怀德村南区5巷12号",
        "宝安区沙井新村3街5号",
        "南山区深南大道9968号",
        "南山区桃园路12号",
        "南山区琉璃坊花园3栋",
        "南山区海岸城",
    ],
)
def test_an_address_without_a_room_is_published_as_typed(typed):
    assert address_to_building(typed) == typed


# --- through GET requests -----------------------------------------------------------------------


def _published(o311, ticket: Ticket) -> dict:
    [row] = o311.doc(o311.get(f"requests/{ticket.number}"))
    return row


@pytest.mark.django_db
def test_a_village_address_is_published_down_to_its_house_number(o311):
    [ticket] = make_tickets(
        1, channel="open311", address_text="宝安区新安街道固戍村15巷3号301", status=TicketStatus.CLOSED
    )
    row = _published(o311, ticket)
    assert row["address"] == "宝安区新安街道固戍村15巷3号"
    assert row["address_id"] is None


@pytest.mark.django_db
def test_third_persons_named_in_a_description_are_masked(o311):
    description = "车主陈建国把粤B12345停在消防通道，房东李某某不退押金，业主委员会不管，车主反映多次。"
    [ticket] = make_tickets(1, channel="open311", status=TicketStatus.CLOSED)
    Ticket.objects.filter(pk=ticket.pk).update(description=description)
    row = _published(o311, ticket)
    assert (
        row["description"]
        == "车主陈**把粤B*****停在消防通道，房东李**不退押金，业主委员会不管，车主反映多次。"
    )
    body = o311.get(f"requests/{ticket.number}", fmt="xml").content.decode()
    assert not re.search("陈建国|李某某|12345", body)
