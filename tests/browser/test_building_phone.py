# ruff: noqa: F811 (pytest fixtures imported from the ticket flows)
"""The building page's rooms on a 390 px phone, in a real browser: each room a compact card (the room
and its facts on one line, its residents below), not a squeezed six-column table whose rows ran
~300 px tall; on a desktop the table is unchanged."""

from __future__ import annotations

import pytest

from tests.browser.test_ticket_flows import building, city, login  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}


def test_the_rooms_are_compact_cards_on_a_phone_and_a_table_on_a_desktop(page, building):
    from zhiwang.geo.models import Division
    from zhiwang.registry.demo import demo_registry_create

    demo_registry_create(scale="small", seed=3, communities=[Division.objects.get(pk=building.community_id)])
    base = page.base_url
    login(page, base, "demo_steward")
    page.goto(f"{base}/places/{building.code}/")
    rows = page.get_by_test_id("room")
    assert rows.count() >= 4
    assert page.get_by_test_id("resident").count() >= 1
    wide = [box["height"] for box in (rows.nth(i).bounding_box() for i in range(rows.count()))]
    assert rows.first.evaluate("r => getComputedStyle(r).display") == "table-row"

    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 1
    assert rows.first.evaluate("r => getComputedStyle(r).display") == "flex"
    heights = []
    for i in range(rows.count()):
        row = rows.nth(i)
        box = row.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
        residents = row.get_by_test_id("resident").count()
        # a line for the room, about two lines a resident (name, number, tags), and room to spare
        assert box["height"] <= 40 + 48 * max(residents, 1), (i, box["height"], residents)
        heights.append(box["height"])
        # the room's facts share the room name's line
        name = row.locator("td.room-name").bounding_box()
        for fact in row.locator("td.room-fact").all():
            if fact.is_visible():
                assert abs(fact.bounding_box()["y"] - name["y"]) < 12
    print("desktop row heights", wide, "phone row heights", heights)
    print("phone page height", page.evaluate("document.scrollingElement.scrollHeight"))
