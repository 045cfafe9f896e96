"""A grid worker's patrol report is filed in one of the worker's grids, on every path
(``services.intake_patrol``): the submit service, ``POST /api/v1/tickets/`` (queued or not),
``POST /tickets/batch`` and the web patrol form with an address only.

Personas: the grid worker of two grids of the first Nanshan community (one of them handed over
to a neighbour where a test needs a neighbour's grid), the 12345 operator, a Luohu building as
the far-away place. Strings new in this change are compared with their ``gettext``.
"""

from __future__ import annotations

import pytest
from django.utils.translation import gettext

from tests.tickets.conftest import RUBBISH
from tests.tickets.test_api import _submit_body
from zhiwang.accounts.models import User
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import AddressLevel, Grid, StandardAddress
from zhiwang.tickets.models import QueuedSubmission, Ticket
from zhiwang.tickets.services import ticket_submit
from zhiwang.tickets.services.intake_patrol import OUTSIDE_YOUR_GRIDS
from zhiwang.tickets.services.submit_batch import ticket_submit_many
from zhiwang.tickets.services.submit_queue import queued_submissions_process
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The queue's drain flag and the API's rate limits live in the cache."""


def worker_grids(worker) -> list[Grid]:
    return [a.grid for a in worker.grid_assignments.select_related("grid__community").order_by("grid__code")]


def building_in(grid: Grid) -> StandardAddress:
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def fresh(user) -> User:
    """The user read again (``User.scope`` is computed once per object)."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def neighbour_grid(grid_worker) -> Grid:
    """The worker's second grid, handed over to a neighbour: the worker's community, not their grid."""
    mine = worker_grids(grid_worker)
    neighbour = mine[-1]
    grid_worker.grid_assignments.filter(grid=neighbour).delete()
    assert neighbour.community_id == mine[0].community_id
    return neighbour


def patrol(worker, **place):
    return ticket_submit(
        channel="patrol",
        kind="incident",
        category=RUBBISH,
        description="路边暴露垃圾一堆，无人清理",
        actor=worker,
        reporter=worker,
        **place,
    )


def refusal(worker, **place) -> ServiceError:
    before = Ticket.objects.count()
    with pytest.raises(ServiceError) as caught:
        patrol(worker, **place)
    assert Ticket.objects.count() == before  # nothing written
    return caught.value


# --- the service: whatever located the report ----------------------------------------------------


def test_an_address_or_a_pin_in_any_of_the_workers_grids_is_filed_there(grid_worker):
    first, second = worker_grids(grid_worker)[:2]
    by_address = patrol(grid_worker, address_code=building_in(second).code).ticket
    assert by_address.grid_id == second.pk
    by_pin = patrol(grid_worker, lon=first.lon, lat=first.lat).ticket
    assert by_pin.grid_id == first.pk
    by_text = patrol(grid_worker, address_text=building_in(first).full_name).ticket
    assert by_text.grid_id == first.pk


def test_a_standard_address_in_another_district_is_refused_without_naming_it(grid_worker, luohu_building):
    error = refusal(grid_worker, address_code=luohu_building.code)
    assert (error.code, error.field) == (OUTSIDE_YOUR_GRIDS, "address_code")
    assert error.message == gettext(
        "The address is outside your grids. Give an address in one of your grids, or put a pin in one."
    )
    for name in (luohu_building.grid.name, luohu_building.community.display_name, "罗湖"):
        assert name not in error.message


def test_a_text_address_elsewhere_is_refused_on_the_address_text(grid_worker, luohu_building):
    error = refusal(grid_worker, address_text=luohu_building.full_name)
    assert (error.code, error.field) == (OUTSIDE_YOUR_GRIDS, "address_text")
    assert "罗湖" not in error.message


def test_a_pin_in_a_neighbours_grid_names_the_community_not_the_grid(grid_worker, neighbour_grid):
    worker = fresh(grid_worker)
    error = refusal(worker, lon=neighbour_grid.lon, lat=neighbour_grid.lat)
    assert (error.code, error.field) == (OUTSIDE_YOUR_GRIDS, "lon")
    community = neighbour_grid.community.display_name
    assert error.message == gettext(
        "The pin is in %(place)s, outside your grids. Move the pin into one of your grids."
    ) % {"place": community}
    assert neighbour_grid.name not in error.message


def test_an_address_in_a_neighbours_grid_names_the_community(grid_worker, neighbour_grid):
    error = refusal(fresh(grid_worker), address_code=building_in(neighbour_grid).code)
    assert (error.code, error.field) == (OUTSIDE_YOUR_GRIDS, "address_code")
    assert neighbour_grid.community.display_name in error.message
    assert neighbour_grid.name not in error.message


def test_a_text_naming_only_the_workers_community_does_not_say_which_grid(grid_worker):
    community = worker_grids(grid_worker)[0].community
    subdistrict = community.parent
    text = f"{subdistrict.parent.name}{subdistrict.name}{community.name}"
    error = refusal(grid_worker, address_text=text)
    assert (error.code, error.field) == (OUTSIDE_YOUR_GRIDS, "address_text")
    assert error.message == gettext(
        "“%(place)s” does not say which of your grids: give a building in one of your grids, "
        "or put a pin in one."
    ) % {"place": community.display_name}


def test_the_system_is_not_bound_to_grids_and_other_roles_file_no_patrol(
    grid_worker, hotline, luohu_building
):
    """The rule is the grid worker's patrol: the system (no actor) files a patrol-channel incident
    wherever it is; a 12345 operator files none at all (``tickets.access.FILING_CHANNELS``), so
    "patrol" cannot carry a report outside the grid workers' grids."""
    assert patrol(None, address_code=luohu_building.code).created
    with pytest.raises(ServiceError) as caught:
        patrol(hotline, address_code=luohu_building.code)
    assert (caught.value.code, caught.value.field) == ("tickets.channel_not_allowed", "channel")
    assert Ticket.objects.count() == 1


def test_a_retry_gets_its_ticket_after_the_worker_handed_the_grid_over(grid_worker):
    """The key names the earlier ticket: a retry is answered with it, not refused."""
    second = worker_grids(grid_worker)[-1]
    first = patrol(grid_worker, address_code=building_in(second).code, external_id="gw-retry").ticket
    grid_worker.grid_assignments.filter(grid=second).delete()
    again = patrol(fresh(grid_worker), address_code=building_in(second).code, external_id="gw-retry")
    assert again.ticket.pk == first.pk and not again.created


def test_a_batch_refuses_the_item_outside_and_writes_the_rest(grid_worker, luohu_building):
    mine = building_in(worker_grids(grid_worker)[0])
    item = {"channel": "patrol", "kind": "incident", "category": RUBBISH, "description": "路边暴露垃圾一堆"}
    inside, outside = ticket_submit_many(
        [
            {**item, "address_code": mine.code, "external_id": "b-1"},
            {**item, "address_code": luohu_building.code, "external_id": "b-2"},
        ],
        actor=grid_worker,
    )
    assert inside.created and inside.ticket.address_id == mine.pk
    assert isinstance(outside, ServiceError)
    assert (outside.code, outside.field) == (OUTSIDE_YOUR_GRIDS, "address_code")


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_refuses_a_grid_workers_patrol_report_elsewhere(as_user, grid_worker, luohu_building):
    body = _submit_body(
        luohu_building, channel="patrol", kind="incident", category=RUBBISH, external_id="gw-1"
    )
    answer = as_user(grid_worker).post(f"{URL}/", body, content_type="application/json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (OUTSIDE_YOUR_GRIDS, "address_code")
    assert not Ticket.objects.filter(channel="patrol").exists()
    mine = building_in(worker_grids(grid_worker)[0])
    body = _submit_body(mine, channel="patrol", kind="incident", category=RUBBISH, external_id="gw-2")
    assert as_user(grid_worker).post(f"{URL}/", body, content_type="application/json").status_code == 201


def test_the_api_refuses_a_pin_elsewhere_on_the_coordinates(as_user, grid_worker, luohu_building):
    body = _submit_body(luohu_building, channel="patrol", kind="incident", category=RUBBISH, address_code="")
    body.update(lon=luohu_building.lon, lat=luohu_building.lat)
    answer = as_user(grid_worker).post(f"{URL}/", body, content_type="application/json")
    assert answer.status_code == 400
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (OUTSIDE_YOUR_GRIDS, "lon")


def test_a_queued_patrol_report_elsewhere_is_refused_on_its_receipt(as_user, grid_worker, luohu_building):
    api = as_user(grid_worker)
    body = _submit_body(
        luohu_building, channel="patrol", kind="incident", category=RUBBISH, external_id="q-1"
    )
    answer = api.post(f"{URL}/", body, content_type="application/json", headers={"Prefer": "respond-async"})
    assert answer.status_code == 202, answer.json()
    queued_submissions_process()
    receipt = api.get(answer.json()["links"]["self"]).json()
    assert receipt["status"] == "refused" and receipt["ticket"] is None
    assert (receipt["error"]["code"], receipt["error"]["field"]) == (OUTSIDE_YOUR_GRIDS, "address_code")
    assert QueuedSubmission.objects.get(receipt=receipt["receipt"]).ticket_id is None


# --- the web patrol form: an address only --------------------------------------------------------


def test_the_web_form_with_an_address_only_shows_the_services_error_on_the_address(
    client, grid_worker, luohu_building
):
    client.force_login(grid_worker)
    data = {
        "category": RUBBISH,
        "description": "井盖缺失很危险",
        "grid": "",
        "address_text": luohu_building.full_name,
        "urgency": "normal",
        "token": new_form_token(),
    }
    response = client.post("/patrol/report/", data)
    assert response.status_code == 200 and not Ticket.objects.filter(channel="patrol").exists()
    errors = response.context["form"].errors
    assert errors["address_text"] == [
        gettext(
            "The address is outside your grids. Give an address in one of your grids, or put a pin in one."
        )
    ]
    html = response.content.decode()
    assert "井盖缺失很危险" in html  # what was typed stays


def test_the_web_form_with_an_address_in_the_workers_grid_files_it_there(client, grid_worker):
    client.force_login(grid_worker)
    grid = worker_grids(grid_worker)[1]
    data = {
        "category": RUBBISH,
        "description": "路边暴露垃圾一堆，无人清理",
        "grid": "",
        "address_text": building_in(grid).full_name,
        "urgency": "normal",
        "token": new_form_token(),
    }
    assert client.post("/patrol/report/", data).status_code == 302
    assert Ticket.objects.get(channel="patrol").grid_id == grid.pk


@pytest.mark.parametrize("channel", ["hotline", "app", "api", "video"])
def test_a_grid_worker_reports_only_through_the_patrol_channel(grid_worker, luohu_building, channel):
    """As "hotline" or "app" a grid worker's report would escape the grid rule (and count under
    another channel on the dashboards): refused on every path, the API included."""
    before = Ticket.objects.count()
    with pytest.raises(ServiceError) as caught:
        ticket_submit(
            channel=channel,
            kind="complaint",
            category=RUBBISH,
            description="路边暴露垃圾一堆，无人清理",
            actor=grid_worker,
            address_code=luohu_building.code,
        )
    assert (caught.value.code, caught.value.field, caught.value.status) == (
        "tickets.channel_not_allowed",
        "channel",
        403,
    )
    assert Ticket.objects.count() == before


def test_the_api_refuses_a_grid_workers_hotline_report(as_user, grid_worker, luohu_building):
    answer = as_user(grid_worker).post(
        f"{URL}/",
        _submit_body(luohu_building, channel="hotline", kind="complaint", external_id="gw-h1"),
        content_type="application/json",
    )
    assert answer.status_code == 403
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        "tickets.channel_not_allowed",
        "channel",
    )


# --- the channel rule is told before a submission is queued ------------------------------------------


@pytest.mark.parametrize("channel", ["api", "hotline"])
def test_a_queued_submission_through_another_channel_is_refused_at_once(
    as_user, grid_worker, luohu_building, channel
):
    """Accepted with 202 then refused on its receipt, the worker learnt late what the API knew at
    once: the channel rule (``intake_patrol.check_channel``) is checked before queueing."""
    api = as_user(grid_worker)
    mine = building_in(worker_grids(grid_worker)[0])
    body = _submit_body(mine, channel=channel, kind="incident", category=RUBBISH, external_id=f"q-{channel}")
    answer = api.post(f"{URL}/", body, content_type="application/json", headers={"Prefer": "respond-async"})
    assert answer.status_code == 403, answer.json()
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        "tickets.channel_not_allowed",
        "channel",
    )
    assert "Preference-Applied" not in answer.headers
    assert not QueuedSubmission.objects.exists() and not Ticket.objects.exists()
    # through "patrol" the same report is queued, and written
    body["channel"] = "patrol"
    answer = api.post(f"{URL}/", body, content_type="application/json", headers={"Prefer": "respond-async"})
    assert answer.status_code == 202, answer.json()
    queued_submissions_process()
    assert api.get(answer.json()["links"]["self"]).json()["status"] == "done"


def test_the_batch_api_refuses_the_item_through_another_channel_and_writes_the_rest(
    as_user, grid_worker, luohu_building
):
    mine = building_in(worker_grids(grid_worker)[0])
    item = _submit_body(mine, kind="incident", category=RUBBISH)
    items = [
        {**item, "channel": "patrol", "external_id": "gb-1"},
        {**item, "channel": "hotline", "external_id": "gb-2"},
        {**item, "channel": "patrol", "external_id": "gb-3"},
    ]
    answer = as_user(grid_worker).post(f"{URL}/batch", {"tickets": items}, content_type="application/json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["created"], body["existing"], body["refused"]) == (2, 0, 1)
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    first, refused, third = body["results"]
    assert first["created"] and third["created"] and refused["ticket"] is None
    assert (refused["error"]["code"], refused["error"]["field"]) == ("tickets.channel_not_allowed", "channel")
    assert Ticket.objects.filter(channel="patrol").count() == 2 and not Ticket.objects.filter(
        channel="hotline"
    )
