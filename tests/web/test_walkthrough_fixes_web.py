# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""What the second browser walkthrough of the web shell found, server side: the grid worker's pin
stays in their grids, the citizen has a home of their own, breadcrumbs link only what opens, and
the ticket pages say what is true (no "办理中 → 办理中", no "to be checked" after an automatic
dispatch, the previous answer named as such, the real deadline after signing for a ticket, no
routing or 2 % guesses on the public form).

Personas: the grid worker of two Nanshan grids, the Nanshan dispatcher, the handler of the first
Nanshan subdistrict office, a citizen. Strings new in this change are compared with their
``gettext`` (they read English until the catalogs have them), never with a Chinese literal.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    ILLEGAL_BUILDING,
    RUBBISH,
    accepted,
    dispatched,
    fresh_cache,
    hotline,
    in_follow_up,
    make_ticket,
    nanshan_building,
    nanshan_community,
    nanshan_room,
    sub_handler,
)
from zhiwang.geo.models import Division, Grid
from zhiwang.tickets import selectors, services
from zhiwang.tickets.catalogue_selectors import CategorySuggestion
from zhiwang.tickets.models import Category, RequestKind, Ticket, TicketKind, TicketStatus
from zhiwang.web.tickets.forms import new_form_token
from zhiwang.web.tickets.presenters import SUGGESTION_FLOOR

pytestmark = pytest.mark.django_db

PHONE = "13800138000"  # the reporter's phone of ``make_ticket``


def html_of(response) -> str:
    return response.content.decode()


def worker_grids(grid_worker) -> list[Grid]:
    return [a.grid for a in grid_worker.grid_assignments.select_related("grid").order_by("grid__code")]


def patrol_post(client, grid, *, lon=None, lat=None, description="路边暴露垃圾一堆，无人清理"):
    data = {
        "category": RUBBISH,
        "description": description,
        "grid": grid.code,
        "urgency": "normal",
        "token": new_form_token(),
    }
    if lon is not None:
        data.update(lon=f"{lon:.7f}", lat=f"{lat:.7f}")
    return client.post("/patrol/report/", data)


def lon_errors(response) -> list:
    return response.context["form"].errors.as_data().get("lon", [])


# --- 3. the patrol report keeps the pin inside the worker's grids --------------------------------


def test_a_pin_in_the_chosen_grid_files_the_incident_there(client, grid_worker):
    client.force_login(grid_worker)
    grid = worker_grids(grid_worker)[0]
    response = patrol_post(client, grid, lon=grid.lon, lat=grid.lat)
    assert response.status_code == 302
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.grid_id == grid.pk


def test_a_pin_in_the_workers_other_grid_is_taken_and_the_message_says_where(client, grid_worker):
    """Near a boundary the spot is often just across it, in the worker's neighbouring grid: taken."""
    client.force_login(grid_worker)
    chosen, other = worker_grids(grid_worker)[:2]
    response = patrol_post(client, chosen, lon=other.lon, lat=other.lat)
    assert response.status_code == 302
    ticket = Ticket.objects.get(channel="patrol")
    assert ticket.grid_id == other.pk  # where the pin is, not the grid chosen
    html = html_of(client.get(response.url))
    message = re.search(r'<ul class="messages">.*?</ul>', html, re.S).group(0)
    assert ticket.number in message and other.name in message and chosen.name in message


def test_a_pin_in_a_neighbours_grid_is_refused_naming_the_community(client, grid_worker):
    """The worker's community, another member's grid (here: the worker's second grid, handed over)."""
    mine = worker_grids(grid_worker)
    neighbour = mine.pop()
    grid_worker.grid_assignments.filter(grid=neighbour).delete()
    assert neighbour.community_id == mine[0].community_id
    client.force_login(grid_worker)
    response = patrol_post(
        client, mine[0], lon=neighbour.lon, lat=neighbour.lat, description="井盖缺失很危险"
    )
    assert response.status_code == 200 and not Ticket.objects.filter(channel="patrol").exists()
    (error,) = lon_errors(response)
    assert error.code == "pin_outside_grids"
    assert mine[0].community.display_name in error.message  # the worker's own community, by name
    assert neighbour.name not in error.message  # a grid the worker does not see is not named
    html = html_of(response)
    assert error.message in html
    assert "井盖缺失很危险" in html and f'value="{neighbour.lon:.7f}"' in html  # what was typed stays


def test_a_pin_in_another_district_is_refused_without_naming_it(client, grid_worker):
    client.force_login(grid_worker)
    luohu = Grid.objects.filter(code__startswith="440303").order_by("code").first()
    response = patrol_post(client, worker_grids(grid_worker)[0], lon=luohu.lon, lat=luohu.lat)
    assert response.status_code == 200 and not Ticket.objects.filter(channel="patrol").exists()
    (error,) = lon_errors(response)
    assert error.code == "pin_outside_grids"
    for name in (luohu.name, luohu.community.display_name, "罗湖"):
        assert name not in error.message


def test_a_pin_outside_the_city_is_refused_on_the_coordinates(client, grid_worker):
    client.force_login(grid_worker)
    response = patrol_post(client, worker_grids(grid_worker)[0], lon=116.4, lat=39.9)  # Beijing
    assert response.status_code == 200 and not Ticket.objects.filter(channel="patrol").exists()
    assert lon_errors(response), "the error stands next to the coordinates"


def test_without_a_pin_the_chosen_grid_still_places_the_incident(client, grid_worker):
    client.force_login(grid_worker)
    grid = worker_grids(grid_worker)[1]
    assert patrol_post(client, grid).status_code == 302
    assert Ticket.objects.get(channel="patrol").grid_id == grid.pk


# --- 5. the patrol form's button is not the ticket kind "举报" ----------------------------------


def test_the_patrol_submit_button_has_its_own_words(client, grid_worker):
    client.force_login(grid_worker)
    html = html_of(client.get("/patrol/report/"))
    button = re.search(r'<button[^>]*data-testid="submit">(.*?)</button>', html).group(1)
    assert button == gettext("Submit report")
    assert button != str(TicketKind.REPORT.label)  # 举报 is a kind of request, not "send"


# --- 6. a citizen's home is their requests; no jurisdiction to browse ---------------------------


def test_a_citizens_home_offers_report_track_and_their_requests(client, citizen, make_ticket):
    ticket = make_ticket(reporter=citizen)
    client.force_login(citizen)
    html = html_of(client.get("/"))
    home = re.search(r'<section class="card citizen-home".*?</section>', html, re.S).group(0)
    for url in ("/report/", "/track/", "/my/requests/"):
        assert f'href="{url}"' in home
    assert gettext("No jurisdiction is assigned to your account yet. Ask an administrator.") not in html
    table = re.search(r'<table[^>]*data-testid="home-requests".*?</table>', html, re.S).group(0)
    assert f'href="/track/{ticket.number}/"' in table
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    assert 'href="/divisions/"' not in nav


def test_a_citizen_without_requests_is_told_so_on_the_home(client, citizen):
    client.force_login(citizen)
    html = html_of(client.get("/"))
    assert 'data-testid="citizen-home"' in html and 'data-testid="home-requests"' not in html
    assert gettext("You have not reported anything with this account yet.") in html


def test_the_division_browser_sends_a_citizen_home(client, citizen):
    client.force_login(citizen)
    response = client.get("/divisions/")
    assert response.status_code == 302 and response.url == "/"


def test_staff_still_get_their_jurisdiction_on_the_home(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/"))
    assert 'data-testid="citizen-home"' not in html and 'href="/divisions/440305000000/"' in html


# --- 7. breadcrumbs of the place pages link only what the user may open -------------------------


def breadcrumbs(html: str) -> str:
    return re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)


@pytest.mark.parametrize("page", ["building", "room"])
def test_place_breadcrumbs_of_a_grid_worker_are_links_only_where_they_open(
    client, grid_worker, nanshan_building, nanshan_room, page
):
    client.force_login(grid_worker)
    place = nanshan_building if page == "building" else nanshan_room
    response = client.get(f"/places/{place.code}/")
    assert response.status_code == 200
    crumbs = breadcrumbs(html_of(response))
    visible = set(Division.objects.visible_to(grid_worker).values_list("code", flat=True))
    district = nanshan_building.community.parent.parent
    assert district.code not in visible, "the grid worker does not see the district: the case found"
    assert district.display_name in crumbs  # shown as text ...
    assert f'href="/divisions/{district.code}/"' not in crumbs  # ... not as a dead link
    for href in re.findall(r'href="([^"]+)"', crumbs):
        assert client.get(href).status_code == 200, href
    assert f'href="/divisions/{nanshan_building.community.code}/"' in crumbs  # their community links
    if page == "room":
        assert f'href="/places/{nanshan_building.code}/"' in crumbs


def test_place_breadcrumbs_of_a_district_dispatcher_link_the_district(
    client, nanshan_dispatcher, nanshan_building
):
    client.force_login(nanshan_dispatcher)
    crumbs = breadcrumbs(html_of(client.get(f"/places/{nanshan_building.code}/")))
    assert 'href="/divisions/440305000000/"' in crumbs
    assert 'href="/divisions/440300000000/"' not in crumbs  # the city is above their district


# --- 8. a timeline row that changes no state shows no arrow ------------------------------------


def test_a_timeline_row_without_a_state_change_has_no_arrow(client, accepted, sub_handler):
    ticket = accepted()
    services.ticket_request(
        ticket=ticket, kind=RequestKind.EXTENSION, actor=sub_handler, reason="需要协调物业", extra_days=3
    )
    client.force_login(sub_handler)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    handling = str(TicketStatus.ACCEPTED.label)
    assert f"{handling} → {handling}" not in html
    # the request row: the state alone (no arrow); real changes keep their arrow
    kept = re.findall(r'<span class="hint" data-testid="timeline-state-kept">([^<]*)</span>', html)
    assert kept == [handling]
    assert f"{TicketStatus.DISPATCHED.label} → {handling}" in html


# --- 9. an automatic dispatch is not "to be checked by a dispatcher" ---------------------------


def _unsure(ticket) -> Ticket:
    """The classifier's record as if it had been unsure (a reporter's category goes automatically
    on a certain rule whatever the model thinks)."""
    record = {"model": "category v1", "decision": "queue", "choices": [[ticket.category.code, 0.22]]}
    Ticket.objects.filter(pk=ticket.pk).update(classification=record)
    return Ticket.objects.get(pk=ticket.pk)


def test_an_automatically_dispatched_ticket_does_not_wait_for_a_dispatcher(
    client, make_ticket, nanshan_dispatcher
):
    ticket = _unsure(make_ticket(category=ILLEGAL_BUILDING, description="楼顶有人私搭乱建铁皮房"))
    assert ticket.status == TicketStatus.DISPATCHED, "the demo rule dispatches illegal structures itself"
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert 'data-testid="classification-auto-dispatched"' in html
    assert gettext("to be checked by a dispatcher") not in html


def test_a_queued_ticket_still_waits_for_a_dispatcher(client, make_ticket, nanshan_dispatcher):
    ticket = _unsure(make_ticket())
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert 'data-testid="classification-auto-dispatched"' not in html
    assert gettext("to be checked by a dispatcher") in html


# --- 10. after a reopen the citizen's page calls the old answer the previous one ---------------


def answer_heading(html: str) -> str:
    return re.search(r'<h2 data-testid="answer-heading">(.*?)</h2>', html).group(1)


def test_the_answer_becomes_the_previous_answer_while_a_reopened_ticket_is_handled(
    client, in_follow_up, fresh_cache
):
    ticket = in_follow_up()
    assert client.post("/track/", {"number": ticket.number, "phone": PHONE}).status_code == 302
    html = html_of(client.get(f"/track/{ticket.number}/"))
    assert answer_heading(html) == gettext("Answer") and 'data-testid="previous-answer-note"' not in html

    services.ticket_rate_by_citizen(
        number=ticket.number, phone=PHONE, resolved=False, satisfaction="unsatisfied", note="还是没清理"
    )
    ticket.refresh_from_db()
    assert ticket.status not in selectors.ANSWERED_STATUSES and ticket.rework_count == 1
    html = html_of(client.get(f"/track/{ticket.number}/"))
    assert answer_heading(html) == gettext("Previous answer")
    assert 'data-testid="previous-answer-note"' in html
    assert "已安排清运，现场已清理干净。" in html  # still there: the rework is about it


# --- 11. signing for a ticket tells its deadline ------------------------------------------------


def test_signing_for_a_ticket_says_the_deadline(client, dispatched, sub_handler):
    ticket = dispatched()
    client.force_login(sub_handler)
    response = client.post(
        f"/tickets/{ticket.number}/act/accept/",
        {"accept-expected_version": ticket.version},
        follow=True,
    )
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ACCEPTED and ticket.due_at is not None
    message = re.search(r'<ul class="messages">.*?</ul>', html_of(response), re.S).group(0)
    assert date_format(timezone.localtime(ticket.due_at), "Y-m-d H:i") in message
    assert gettext("Accepted. The handling deadline is shown on the ticket.") not in message


# --- suggestions: no near-zero guesses; no routing on the public form ---------------------------


@pytest.fixture
def suggestions(monkeypatch):
    """A classifier suggestion above the floor, one below it, and a keyword match."""
    leaves = list(Category.objects.filter(code__in=[RUBBISH, ILLEGAL_BUILDING, "GI0201"]).order_by("code"))
    made = [
        CategorySuggestion(leaves[0], 0.62, "网格事件", source="model", confidence=0.62, unit="街道办事机构"),
        CategorySuggestion(
            leaves[1], 0.02, "网格事件", source="model", confidence=SUGGESTION_FLOOR / 2, unit="街道办事机构"
        ),
        CategorySuggestion(
            leaves[2], 1.0, "网格事件", source="keywords", unit="城管局", deadline="2 个工作日"
        ),
    ]
    monkeypatch.setattr(selectors, "category_suggestions", lambda **kwargs: made)
    return made


def chips(html: str) -> list[str]:
    return re.findall(r'data-pick-category="([^"]+)"', html)


def test_the_public_form_shows_no_near_zero_guess_and_no_routing(client, suggestions):
    html = html_of(client.post("/report/panels/suggest/", {"description": "路边垃圾", "kind": "complaint"}))
    assert chips(html) == [suggestions[0].category.code, suggestions[2].category.code]
    assert "街道办事机构" not in html and "城管局" not in html and "2 个工作日" not in html
    assert "→" not in html


def test_the_operators_panel_drops_the_guess_but_keeps_the_routing(client, hotline, suggestions):
    client.force_login(hotline)
    html = html_of(client.post("/intake/panels/suggest/", {"description": "路边垃圾", "kind": "complaint"}))
    assert chips(html) == [suggestions[0].category.code, suggestions[2].category.code]
    assert "→ 街道办事机构" in html and "2 个工作日" in html
