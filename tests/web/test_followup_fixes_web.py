# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""Follow-up fixes from a browser walkthrough, server side: the ticket list answers a place outside
the viewer's sight like an unknown one, the inbox marks a return or extension awaiting the
dispatcher, and the intake page's duplicate check answers a place outside the operator's
jurisdiction like a place the city does not know.

Personas: the Nanshan dispatcher (who may also take calls on the intake page), the handler of the
first Nanshan subdistrict office. New strings are compared with their ``gettext`` (English until
the catalogs have them), never with a Chinese literal.
"""

from __future__ import annotations

import pytest
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    SANITATION,
    accepted,
    dispatched,
    fresh_cache,
    hotline,
    luohu_building,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from zhiwang.geo.models import Grid
from zhiwang.tickets import services

pytestmark = pytest.mark.django_db


def html_of(response) -> str:
    return response.content.decode()


# --- the ticket list: out of sight = unknown ---------------------------------------------------------


def test_the_list_answers_a_grid_of_another_district_like_an_unknown_grid(
    client, make_ticket, nanshan_dispatcher
):
    make_ticket()
    client.force_login(nanshan_dispatcher)
    luohu_grid = Grid.objects.filter(community__code__startswith="440303").order_by("code").first()
    outside = client.get("/tickets/", {"grid": luohu_grid.code})
    unknown = client.get("/tickets/", {"grid": "440399999999999"})
    for response in (outside, unknown):
        form = response.context["form"]
        assert list(form.errors) == ["grid"] and response.context["page"].paginator.count == 0
    assert outside.context["form"].errors["grid"][0].replace(luohu_grid.code, "<code>") == unknown.context[
        "form"
    ].errors["grid"][0].replace("440399999999999", "<code>")
    # a grid of their own lists its tickets
    own = client.get("/tickets/", {"grid": make_ticket().grid.code})
    assert not own.context["form"].errors and own.context["page"].paginator.count == 2


# --- the inbox: a request awaiting the dispatcher -----------------------------------------------------


def test_the_inbox_marks_a_return_or_extension_awaiting_decision(client, accepted, sub_handler):
    returning, extending, plain = accepted(), accepted(), accepted()
    services.ticket_request(
        ticket=returning, kind="return", actor=sub_handler, reason="不属于本单位职责", wrong_dispatch=True
    )
    services.ticket_request(
        ticket=extending, kind="extension", actor=sub_handler, reason="需协调", extra_days=3
    )
    client.force_login(sub_handler)
    html = html_of(client.get("/inbox/"))

    def row(ticket) -> str:
        start = html.index(f"<code>{ticket.number}</code>")
        return html[start : html.index("</tr>", start)]

    assert 'data-testid="awaiting-return"' in row(returning)
    assert gettext("Return awaiting decision") in row(returning)
    assert 'data-testid="awaiting-extension"' in row(extending)
    assert gettext("Extension awaiting decision") in row(extending)
    assert "awaiting-" not in row(plain)


# --- the intake page: a place outside the operator's jurisdiction --------------------------------------


def test_the_duplicate_check_answers_a_place_outside_like_an_unknown_place(
    client, make_ticket, nanshan_dispatcher, luohu_building, nanshan_building
):
    """Was "None found" for a Luohu address typed by a Nanshan operator: it told them the text is
    a place the city knows (and that nothing of the category is open there)."""
    make_ticket(address_code=luohu_building.code)  # open there: the check would find it, unseen
    client.force_login(nanshan_dispatcher)
    url = "/intake/panels/place/"
    outside = html_of(client.post(url, {"address_text": luohu_building.full_name, "category": SANITATION}))
    unknown = html_of(client.post(url, {"address_text": "火星基地一号楼", "category": SANITATION}))
    assert 'data-testid="duplicates-unchecked"' in outside and 'data-testid="duplicates-none"' not in outside
    assert outside == unknown  # the whole panel: the duplicate check and the address history
    # a place in the jurisdiction is checked, as before
    inside = html_of(client.post(url, {"address_text": nanshan_building.full_name, "category": SANITATION}))
    assert 'data-testid="duplicates-none"' in inside


def test_a_city_wide_operator_still_checks_everywhere(client, make_ticket, hotline, luohu_building):
    ticket = make_ticket(address_code=luohu_building.code)
    client.force_login(hotline)
    html = html_of(
        client.post(
            "/intake/panels/place/", {"address_text": luohu_building.full_name, "category": SANITATION}
        )
    )
    assert 'data-testid="duplicates"' in html and ticket.number in html


def test_a_division_above_the_jurisdiction_still_filters_and_keeps_its_code(
    client, make_ticket, subdistrict_dispatcher
):
    """The district of a subdistrict's dispatcher is no secret (every ticket of theirs names it):
    it filters, and the line saying what the list shows keeps its bare code (the district's page
    is not theirs to open)."""
    ticket = make_ticket()
    client.force_login(subdistrict_dispatcher)
    client.cookies["django_language"] = "en"
    response = client.get("/tickets/", {"division": "440305000000"})
    assert not response.context["form"].errors
    assert [t.number for t, _deadline in response.context["rows"]] == [ticket.number]
    assert response.context["active_filters"] == [("Division code", "440305000000")]
