# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""One bad filter value on the ticket list (``?category=zzz&status=open``, a date that is no date)
no longer hides the chips of the good ones. The list still shows nothing while a filter is
refused (never the whole list under a link that asked for part of it); the line above it says
so, names every other filter set (what the list applies once the bad one is corrected) and marks
each refused filter ⚠ with its field and its error, linked to the field. Every refused filter is
marked at once, not only the first the list met. The API answers as before."""

from __future__ import annotations

import re

import pytest

from tests.tickets.conftest import (  # noqa: F401  (fixtures reused as they are)
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from zhiwang.accounts.models import OrgUnit
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"
LUOHU_UNIT = "DEMO-LH-CC"  # Luohu's command centre: outside the Nanshan dispatcher's sight
URBAN = "DEMO-NS-URBAN"  # a Nanshan department the dispatcher sees


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    return client


def _list(viewer, **filters):
    response = viewer.get("/tickets/", filters)
    assert response.status_code == 200
    return response, response.content.decode()


def _chips(html: str) -> list[str]:
    return re.findall(r'<span class="filter-chip">(.*?)</span>', html, re.S)


def _refused(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", chip).strip()
        for chip in re.findall(r'data-testid="refused-filter">(.*?)</a>', html, re.S)
    ]


def _error_list(html: str) -> str:
    start = html.index('data-testid="form-error-list"')
    return html[start : html.index("</ul>", start)]


def test_a_bad_category_keeps_the_status_chip_and_lists_nothing(viewer, make_ticket):
    # given open tickets the status filter alone would list
    make_ticket(), make_ticket()
    assert viewer.get("/tickets/", {"status": "open"}).context["page"].paginator.count == 2
    # when the category is a typo beside it
    response, html = _list(viewer, category="zzz", status="open")
    # then the status is still named, and the category is marked with its field and error
    assert _chips(html) == ["Status: Open"]
    assert _refused(html) == ["⚠ Category code: zzz (There is no category zzz)"]
    assert 'href="#id_category" class="filter-chip filter-chip-refused"' in html
    assert "No tickets are listed until the filter marked ⚠ is corrected. Filters set:" in html
    # the error summary at the top names the field too (as before)
    assert 'href="#id_category">Category code</a>' in _error_list(html)
    # the list itself is as before: nothing, and it says why
    assert response.context["page"].paginator.count == 0
    assert "No tickets are listed until the filters are corrected." in html
    # the line does not claim that the list is filtered by them ("Filtered by:" is what it applies)
    assert response.context["active_filters"] == [] and 'data-testid="active-filters"' not in html
    assert 'href="/tickets/" data-testid="clear-filters"' in html


def test_a_date_that_is_no_date_keeps_the_others_named(viewer, make_ticket):
    make_ticket()
    nanshan = Division.objects.get(code=NANSHAN)
    response, html = _list(viewer, received_from="2026-13-45", kind="complaint", division=NANSHAN)
    # the place keeps its name beside its code, as on a list it filters
    assert _chips(html) == ["Kind: Complaint", f"Division code: {nanshan.name} ({NANSHAN})"]
    refused = _refused(html)
    assert len(refused) == 1 and refused[0].startswith("⚠ Received from: 2026-13-45 (")
    assert 'href="#id_received_from">Received from</a>' in _error_list(html)
    assert response.context["page"].paginator.count == 0


def test_every_refused_filter_is_marked_at_once(viewer, make_ticket):
    """The list stops at the first filter it cannot read; the page checks the others too, so a
    second bad code is marked now, not after the first is corrected — and is never named as set."""
    make_ticket()
    response, html = _list(
        viewer,
        category="zzz",
        division="999999999999",
        received_to="not-a-day",
        status="open",
        kind="complaint",
    )
    assert _chips(html) == ["Status: Open", "Kind: Complaint"]
    refused = _refused(html)
    assert refused[0].startswith("⚠ Received before: not-a-day (")  # in the form's order
    assert refused[1:] == [
        "⚠ Division code: 999999999999 (There is no division 999999999999)",
        "⚠ Category code: zzz (There is no category zzz)",
    ]
    assert "until the filters marked ⚠ are corrected" in html
    errors = response.context["form"].errors
    assert set(errors) == {"received_to", "division", "category"}
    assert response.context["page"].paginator.count == 0


def test_a_unit_outside_sight_beside_a_bad_filter_is_refused_and_not_named(viewer, make_ticket):
    make_ticket()
    luohu_name = OrgUnit.objects.get(code=LUOHU_UNIT).name
    response, html = _list(viewer, handling_unit=LUOHU_UNIT, received_from="nope", status="open")
    assert _chips(html) == ["Status: Open"]
    assert f"⚠ Handling unit code: {LUOHU_UNIT} (There is no unit {LUOHU_UNIT})" in _refused(html)
    assert luohu_name not in html
    # a unit the viewer sees, beside a bad date: checked by the list's rule, so named
    urban_name = OrgUnit.objects.get(code=URBAN).name
    _response, html = _list(viewer, handling_unit=URBAN, received_from="nope")
    assert _chips(html) == [f"Handling unit code: {urban_name} ({URBAN})"]


def test_a_value_without_text_and_a_long_one_read_well(viewer):
    # "happened from" without "what happened": the error is on the field left empty
    _response, html = _list(viewer, event_from="2026-11-01")
    assert _chips(html) == ["Happened from: 2026-11-01"]
    assert _refused(html) == ["⚠ What happened (Choose what happened)"]
    # a long value typed is cut in the chip (the field keeps it)
    _response, html = _list(viewer, division="9" * 200, status="open")
    (chip,) = _refused(html)
    assert chip.startswith("⚠ Division code: " + "9" * 39 + "…") and "9" * 41 not in chip


def test_good_filters_alone_read_as_before(viewer, make_ticket):
    make_ticket()
    response, html = _list(viewer, status="open", kind="complaint")
    assert response.context["active_filters"] == [("Status", "Open"), ("Kind", "Complaint")]
    assert 'data-testid="active-filters"' in html and 'data-testid="held-filters"' not in html
    assert _refused(html) == [] and response.context["page"].paginator.count == 1
    # no filter at all: no line
    _response, html = _list(viewer)
    assert 'data-testid="held-filters"' not in html and 'data-testid="active-filters"' not in html


def test_the_chips_in_chinese(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/tickets/", {"category": "zzz", "status": "open"}).content.decode()
    # the held chip in the reader's words and colon; the refused one marked
    (chip,) = _chips(html)
    assert "：" in chip and "Status" not in chip
    assert len(_refused(html)) == 1 and "zzz" in _refused(html)[0]


def test_the_api_answers_as_before(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    response = client.get("/api/v1/tickets/", {"category": "zzz", "status": "open"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tickets.category_unknown"
