"""What GET requests publishes about a place and in free text (review findings of 2026-11)."""

from __future__ import annotations

import pytest
from django.test import Client

from zhiwang.open311.documents import PUBLIC_POINT_DECIMALS, mask_text


def _published(number: str) -> dict:
    [row] = Client().get(f"/open311/v2/requests/{number}.json").json()
    return row


@pytest.mark.django_db
def test_a_point_without_standard_address_is_rounded(make_ticket, nanshan_building):
    lon, lat = nanshan_building.lon + 0.000311, nanshan_building.lat + 0.000173
    ticket = make_ticket(channel="web", address_code="", address_text="", lon=lon, lat=lat)
    ticket.refresh_from_db()
    assert ticket.lat is not None and ticket.address_id is None
    row = _published(ticket.number)
    assert row["lat"] == round(ticket.lat, PUBLIC_POINT_DECIMALS) != ticket.lat
    assert row["long"] == round(ticket.lon, PUBLIC_POINT_DECIMALS) != ticket.lon
    assert PUBLIC_POINT_DECIMALS <= 3  # about 100 m


@pytest.mark.django_db
def test_a_room_is_published_at_its_building(make_ticket, nanshan_room, nanshan_building):
    ticket = make_ticket(address_code=nanshan_room.code)
    row = _published(ticket.number)
    assert row["address_id"] == nanshan_building.code
    assert (row["lat"], row["long"]) == (round(nanshan_building.lat, 6), round(nanshan_building.lon, 6))


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("电话0755 8888 9999", "8888 9999"),
        ("电话0755-88889999", "88889999"),
        ("座机075588889999", "88889999"),
        ("（0755）88889999", "88889999"),
        ("(0755)8888-9999", "8888-9999"),
        ("手机138.1234.5678", "1234"),
        ("手机 138 1234 5678", "1234"),
        ("1381234 5678", "1381234"),
        ("+86 138-1234-5678", "1234"),
        ("电话 26881234", "2688"),
        ("身份证 440305 19900101 1234", "19900101"),
        ("身份证44030519900101123x", "19900101"),
        ("邮箱 12345678@qq.com", "12345678@"),
        ("我叫王秀英住3栋502", "王秀英"),
        ("姓名：李明，电梯坏了", "李明"),
        ("王建国来电称路灯不亮", "王建国"),
        ("市民王建国反映路灯不亮", "王建国"),
    ],
)
def test_mask_text_hides(text, secret):
    masked = mask_text(text)
    assert secret not in masked and "*" in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20 交了500元",
        "3栋502室漏水",
        "时间2026.11.20 10:30，金额1,380.50元",
        "工单ZW20261120000123已办结",
        "我是业主，本小区居民反映",
        "白天投诉过一次",
        "拨打12345热线",
        "邮编518000",
        "我是周边居民",
        "本人向物业反映",
        "我是高层住户",
        "龙华区反映",
        "罗湖区投诉热线",
        "林荫路投诉",
        "，王府井反映",
        "类别编码 0101020304",
    ],
)
def test_mask_text_keeps_ordinary_numbers_and_words(text):
    assert mask_text(text) == text
