# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The patrol form's typed address is checked like a pin: the grid select always holds a grid, and
its point used to be sent whatever the address said, so a Luohu building was filed in the
worker's Nanshan grid (and dispatched to Nanshan), and an address in the worker's second grid in
the first.

The rule (``PatrolForm._text_locates``): an address the city's matcher resolves to a standard
address, or a division written in full that does not hold the chosen grid, locates the report:
the submit service files it there or refuses it on the address (``tickets.outside_your_grids``).
"Written in full" means the division's own name (official, or the short name shown for it: 罗湖区,
东门街道, 大塘龙社区) is in the text. A free description ("3栋门口大树下"), a division holding the
chosen grid, a short form met by chance ("公园东门" reads as Luohu's 东门街道) or a generic word the
matcher reads as a division ("小区东门": a district "小区"; "本村": a community) leaves the report in
the chosen grid.

Personas: the grid worker of two grids of the first Nanshan community, a Luohu building. Strings
new in this change are compared with their ``gettext``, never with a Chinese literal.
"""

from __future__ import annotations

import re

import pytest
from django.utils.translation import gettext

from tests.tickets.conftest import RUBBISH, luohu_building  # noqa: F401 (fixtures)
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, Grid, StandardAddress
from zhiwang.tickets.models import Ticket
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

OUTSIDE = gettext(
    "The address is outside your grids. Give an address in one of your grids, or put a pin in one."
)
#: What the walkthrough typed: a Luohu building the city's list does not hold (its community does).
LUOHU_TEXT = "深圳市罗湖区桂园街道大塘龙社区梅林路216号星河大厦1栋"


def worker_grids(worker) -> list[Grid]:
    return [a.grid for a in worker.grid_assignments.select_related("grid__community").order_by("grid__code")]


def building_in(grid: Grid) -> StandardAddress:
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def post(client, grid, address_text, *, lon=None, lat=None):
    data = {
        "category": RUBBISH,
        "description": "井盖缺失很危险",
        "grid": grid.code if grid else "",
        "address_text": address_text,
        "urgency": "normal",
        "token": new_form_token(),
    }
    if lon is not None:
        data.update(lon=f"{lon:.7f}", lat=f"{lat:.7f}")
    return client.post("/patrol/report/", data)


def refused_on_the_address(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    assert not Ticket.objects.filter(channel="patrol").exists()
    return response.context["form"].errors["address_text"]


def success_message(client, response) -> str:
    html = client.get(response.url).content.decode()
    return re.search(r'<ul class="messages">.*?</ul>', html, re.S).group(0)


@pytest.fixture
def worker(client, grid_worker):
    client.force_login(grid_worker)
    return grid_worker


# --- an address elsewhere is refused, whatever grid the select holds --------------------------------


def test_a_luohu_standard_address_is_refused_with_the_grid_chosen(client, worker, luohu_building):
    response = post(client, worker_grids(worker)[0], luohu_building.full_name)
    assert refused_on_the_address(response) == [OUTSIDE]
    html = response.content.decode()
    assert OUTSIDE in html and "井盖缺失很危险" in html  # shown on the page, what was typed kept
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*name="address_text"[^>]*>', html).group(0)


def test_the_walkthrough_s_luohu_address_is_refused_though_only_its_community_is_known(client, worker):
    match = match_address(LUOHU_TEXT)
    assert match.address is None and match.division is not None  # the premise: a community, in full
    assert match.division.code.startswith("440303")
    assert refused_on_the_address(post(client, worker_grids(worker)[0], LUOHU_TEXT)) == [OUTSIDE]


def test_an_address_in_a_neighbours_grid_is_refused_naming_the_community(client, worker):
    mine = worker_grids(worker)
    neighbour = mine.pop()
    worker.grid_assignments.filter(grid=neighbour).delete()
    (error,) = refused_on_the_address(post(client, mine[0], building_in(neighbour).full_name))
    assert neighbour.community.display_name in error and neighbour.name not in error


# --- an address in another of the worker's grids files it there, and says so ------------------------


def test_an_address_in_the_workers_other_grid_files_it_there_and_the_message_says_where(client, worker):
    chosen, other = worker_grids(worker)[:2]
    response = post(client, chosen, building_in(other).full_name)
    assert response.status_code == 302
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.grid_id == other.pk and ticket.address_id == building_in(other).pk
    message = success_message(client, response)
    expected = gettext(
        "Incident %(number)s reported in %(grid)s, where the address is (you had chosen %(chosen)s)."
    ) % {"number": ticket.number, "grid": other.name, "chosen": chosen.name}
    assert expected in message


def test_an_address_in_the_chosen_grid_says_only_reported(client, worker):
    grid = worker_grids(worker)[1]
    response = post(client, grid, building_in(grid).full_name)
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.grid_id == grid.pk and ticket.address_id == building_in(grid).pk
    assert gettext("Incident %(number)s reported.") % {"number": ticket.number} in success_message(
        client, response
    )


# --- a spot inside the grid stays in the grid chosen ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "3栋门口大树下",  # no place at all
        "{community}3栋门口",  # the community holding the chosen grid
        "公园东门垃圾桶旁",  # "东门" is short for Luohu's 东门街道: met by chance, not written in full
        "桂园路口",  # likewise 桂园街道
        # generic words the matcher reads as a division ending in 区 / 村 / 社区, beside 东门 …
        "小区东门垃圾桶满了",
        "小区东门",
        "园区东门",
        "本村东门",
        "小区北门桂园路口",
        "校区南门",
        "厂区西门口",
        "工业区蛇口路",
        "商业区东门",
        "社区东门",
        "本社区东门",
        "深圳市小区东门",  # the city holds every grid
        "{district}桃源路口",  # the district in full holds the grid; 桃源 (a Nanshan 街道) by chance
    ],
)
def test_a_spot_inside_the_grid_stays_in_the_grid_chosen(client, worker, text):
    grid = worker_grids(worker)[1]
    text = text.format(community=grid.community.display_name, district=grid.community.parent.parent.name)
    response = post(client, grid, text)
    assert response.status_code == 302, response.context["form"].errors
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.grid_id == grid.pk and ticket.address_text == text


@pytest.mark.parametrize(
    "text", ["罗湖区小区东门", "东门街道小区门口", "东门社区门口", "大塘龙社区居民委员会旁"]
)
def test_a_division_written_in_full_beside_generic_words_is_still_refused(client, worker, text):
    """Luohu's district, 街道 or 社区 by its own name (official or shown) is meant, 小区 or not."""
    assert match_address(text).division.code.startswith("440303")
    assert refused_on_the_address(post(client, worker_grids(worker)[1], text)) == [OUTSIDE]


def test_a_pin_still_wins_over_the_address(client, worker, luohu_building):
    """A pin in the worker's grid is the more precise place (the service locates a point first)."""
    grid = worker_grids(worker)[1]
    assert post(client, grid, luohu_building.full_name, lon=grid.lon, lat=grid.lat).status_code == 302
    assert Ticket.objects.get(channel="patrol").grid_id == grid.pk


def test_the_address_field_says_the_rule(client, worker):
    html = client.get("/patrol/report/").content.decode()
    help_text = gettext(
        "A building or street address files the report where it is, which must be in one of your "
        "grids; a spot such as “by the gate of building 3” stays in the grid chosen."
    )
    assert help_text in html


# --- the pin's error sits under the map ------------------------------------------------------------


def test_the_pin_error_is_under_the_map_not_in_the_longitude_column(client, worker):
    luohu = Grid.objects.filter(code__startswith="440303").order_by("code").first()
    response = post(client, worker_grids(worker)[0], "", lon=luohu.lon, lat=luohu.lat)
    assert response.status_code == 200
    (error,) = response.context["form"].errors["lon"]
    html = response.content.decode()
    place = html[html.index('class="place"') :]
    pin_errors = re.search(
        r'<ul class="field-errors pin-errors" id="id_lon_errors"[^>]*>(.*?)</ul>', place, re.S
    )
    assert pin_errors and error in pin_errors.group(1)
    assert place.index("data-map-picker") < place.index("pin-errors") < place.index('class="coords"')
    coords = place[place.index('class="coords"') :]
    assert error not in coords and coords.count('id="id_lon_errors"') == 0  # once, under the map
    lon_input = re.search(r'<input[^>]*name="lon"[^>]*>', html).group(0)
    assert 'aria-describedby="id_lon_errors"' in lon_input and 'aria-invalid="true"' in lon_input


def test_with_several_grids_none_is_preselected_and_a_report_without_a_place_is_refused(client, grid_worker):
    """The grid select starts on “— choose —” for a worker of several grids: a report sent without
    choosing, a pin or an address is refused instead of being filed in the first grid."""
    assert len(worker_grids(grid_worker)) > 1
    client.force_login(grid_worker)
    form = client.get("/patrol/report/").context["form"]
    assert form.fields["grid"].choices[0][0] == "" and not form["grid"].value()
    before = Ticket.objects.count()
    response = post(client, None, "")
    assert response.status_code == 200  # the form again, with its error on the grid
    assert response.context["form"].errors.get("grid")
    assert Ticket.objects.count() == before


def test_a_worker_whose_stored_phone_breaks_the_phone_rule_still_reports(client, worker):
    """A phone stored before the rule (10 digits from 1) is left out of the report, never a refusal
    of the grid worker's patrol."""
    type(worker).objects.filter(pk=worker.pk).update(phone="1381234567")
    grid = worker_grids(worker)[0]
    response = post(client, grid, "3栋门口")
    assert response.status_code == 302, response.context["form"].errors
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.reporter_phone == "" and ticket.grid_id == grid.pk
