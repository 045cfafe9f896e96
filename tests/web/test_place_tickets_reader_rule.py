# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The building and room pages are the registry's (its readers open them); the tickets raised at the
place are listed under the tickets' own rule: only to a role that reads tickets
(``tickets.access.READER_ROLES``), and only the tickets of the viewer's jurisdiction.

Every role that reads the registry reads tickets today, so the role case takes one out of the
tickets' readers (``READER_ROLES`` is read when asked): the registry still admits it, the ticket
section is gone."""

from __future__ import annotations

import re

import pytest

from tests.tickets.conftest import hotline, make_ticket, nanshan_building, nanshan_community, nanshan_room  # noqa: F401
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.registry.services.access import may_read
from zhiwang.tickets import access, selectors
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _listed(client, user, address) -> list[str] | None:
    """The ticket numbers the place's page lists, or None when it has no ticket section."""
    client.force_login(user)
    response = client.get(f"/places/{address.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    table = re.search(r'data-testid="place-tickets">(.*?)</table>', html, re.S)
    if table is None:
        return None
    return re.findall(r"<a href=\"/tickets/[^\"]+/\">([^<]+)</a>", table.group(1))


@pytest.fixture
def leader_not_a_ticket_reader(monkeypatch):
    """A registry reader whose role does not read tickets: the leader, taken out of the readers."""
    monkeypatch.setattr(access, "READER_ROLES", access.READER_ROLES - {"leader"})


def test_a_ticket_reader_sees_the_place_s_tickets(
    client, make_ticket, nanshan_building, nanshan_room, city_leader
):
    at_building, at_room = make_ticket(), make_ticket(address_code=nanshan_room.code)
    assert set(_listed(client, city_leader, nanshan_building)) == {at_building.number, at_room.number}
    assert _listed(client, city_leader, nanshan_room) == [at_room.number]


def test_a_registry_reader_who_does_not_read_tickets_sees_no_ticket_section(
    client, make_ticket, nanshan_building, nanshan_room, city_leader, leader_not_a_ticket_reader
):
    at_building, at_room = make_ticket(), make_ticket(address_code=nanshan_room.code)
    assert may_read(city_leader) and not access.reads_tickets(city_leader)  # the case
    for address in (nanshan_building, nanshan_room):
        assert _listed(client, city_leader, address) is None  # the page opens, without tickets
        html = client.get(f"/places/{address.code}/").content.decode()
        assert at_building.number not in html and at_room.number not in html
    # the selector applies the rule too, for any page that lists through it
    found = selectors.address_history(user=city_leader, address=nanshan_building)
    assert found.address == nanshan_building and found.tickets == []


def test_tickets_outside_the_viewer_s_jurisdiction_are_not_listed(
    client, make_ticket, nanshan_building, nanshan_dispatcher, subdistrict_dispatcher
):
    """A ticket at the building whose place is another subdistrict (located there, or moved): the
    district's dispatcher reads it, the building's own subdistrict's dispatcher does not, though
    both open the building."""
    inside, elsewhere = make_ticket(), make_ticket()
    district = Division.objects.get(code="440305000000")
    other = (
        Division.objects.filter(parent=district, level=DivisionLevel.SUBDISTRICT, special="")
        .exclude(pk=elsewhere.subdistrict_id)
        .order_by("code")
        .first()
    )
    Ticket.objects.filter(pk=elsewhere.pk).update(
        division=other, subdistrict=other, community=None, grid=None
    )
    assert not Ticket.objects.visible_to(subdistrict_dispatcher).filter(pk=elsewhere.pk).exists()
    assert _listed(client, subdistrict_dispatcher, nanshan_building) == [inside.number]
    assert set(_listed(client, nanshan_dispatcher, nanshan_building)) == {inside.number, elsewhere.number}
