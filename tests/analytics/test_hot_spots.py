"""Hot spots (recurring addresses): rooms and units count for their building, which is named, never a
room; the link lists the building's tickets (alerts review, finding 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from zhiwang.analytics import selectors
from zhiwang.geo.models import StandardAddress

pytestmark = pytest.mark.django_db


def _window():
    today = timezone.localdate()
    return today - timedelta(days=6), today + timedelta(days=1)


@pytest.fixture
def block(make_ticket, nanshan_building):
    """One household calls three times; three other households of the block once each; one ticket
    at the building itself: 7 tickets at one building, 3 at its busiest room."""
    rooms = list(StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code")[:4])
    assert len(rooms) == 4
    for i in range(3):
        make_ticket(address_code=rooms[0].code, external_id=f"r0-{i}")
    for i, room in enumerate(rooms[1:]):
        make_ticket(address_code=room.code, reporter_phone=f"1370000000{i}", external_id=f"r{i + 1}")
    make_ticket(reporter_phone="13700000009", external_id="b")
    return nanshan_building, rooms


def test_hot_spots_roll_rooms_up_to_their_building(block, city_leader, client):
    building, rooms = block
    place = selectors.place_for(user=city_leader, code="440305000000")
    start, end = _window()
    rows = selectors.recurring_addresses(place=place, start=start, end=end)
    assert [(r["code"], r["name"], r["value"]) for r in rows] == [(building.code, building.full_name, 7)]
    assert all(room.full_name not in r["name"] for r in rows for room in rooms)
    # the API behind the big screen answers the same rows
    client.force_login(city_leader)
    api = client.get("/api/v1/analytics/addresses", {"division": "440305000000"}).json()["rows"]
    assert [(r["code"], r["value"]) for r in api] == [(building.code, 7)]
    page = client.get("/analytics/", {"division": "440305000000"}).content.decode()
    assert building.full_name in page and rooms[0].full_name not in page


def test_a_hot_spot_links_to_the_buildings_tickets(block, nanshan_dispatcher, client):
    building, _rooms = block
    place = selectors.place_for(user=nanshan_dispatcher)
    start, end = _window()
    (row,) = selectors.recurring_addresses(place=place, start=start, end=end)
    assert f"address={building.code}" in row["link"]
    client.force_login(nanshan_dispatcher)
    response = client.get(row["link"])
    assert response.status_code == 200 and not response.context["form"].errors
    assert response.context["page"].paginator.count == row["value"] == 7


def test_a_room_alone_below_the_minimum_is_no_hot_spot(make_ticket, nanshan_building, city_leader):
    room = StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code").first()
    make_ticket(address_code=room.code)
    place = selectors.place_for(user=city_leader)
    start, end = _window()
    assert selectors.recurring_addresses(place=place, start=start, end=end) == []
