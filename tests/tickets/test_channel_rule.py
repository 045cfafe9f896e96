"""The server decides which channels a caller files tickets through, by role (``tickets.access``):
``open311`` only through the Open311 endpoint, ``patrol`` only for grid workers (in their grids),
the intake desks' channels for intake operators, dispatchers, integration clients and
administrators, the citizen's own channels for citizens, and none for the other roles."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.tickets.conftest import RUBBISH, SANITATION
from tests.tickets.test_patrol_scope import building_in, worker_grids
from zhiwang.accounts.models import User
from zhiwang.accounts.services import integration_client_create
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import QueuedSubmission, Ticket
from zhiwang.tickets.services import ticket_submit
from zhiwang.tickets.services.submit_batch import ticket_submit_many

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"
REFUSED = "tickets.channel_not_allowed"


def _body(building, channel: str, **extra) -> dict:
    return {
        "channel": channel,
        "kind": "complaint",
        "category": SANITATION,
        "description": "罗湖某处垃圾堆积多日无人清理。",
        "address_code": building.code,
        "external_id": f"x-{channel}",
        **extra,
    }


@pytest.mark.parametrize(("username", "channel"), [("demo_mediator", "open311"), ("demo_handler", "patrol")])
def test_staff_cannot_claim_the_open311_or_patrol_channel(as_user, username, channel, luohu_building):
    """The reviewer's reproduction: refused, nothing written, nothing on the anonymous Open311 feed."""
    answer = as_user(User.objects.get(username=username)).post(
        f"{URL}/", _body(luohu_building, channel), content_type="application/json"
    )
    assert answer.status_code == 403, answer.json()
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (REFUSED, "channel")
    assert f"“{channel}”" in error["message"]  # the message names the channel
    assert not Ticket.objects.exists()
    feed = Client().get("/open311/v2/requests.json")
    assert feed.status_code == 200 and "垃圾堆积" not in feed.content.decode()


#: (demo user, channel, allowed): the rows of ``FILING_CHANNELS`` that matter, spelled out.
CASES = [
    ("demo_hotline", "hotline", True),
    ("demo_hotline", "window", True),
    ("demo_hotline", "department", True),
    ("demo_hotline", "open311", False),
    ("demo_hotline", "patrol", False),
    ("demo_hotline", "web", False),  # the citizen's own form
    ("demo_hotline", "video", False),  # a video platform's alarm: its text is published on Open311
    ("demo_ns_dispatcher", "hotline", True),
    ("demo_ns_dispatcher", "window", True),
    ("demo_ns_dispatcher", "open311", False),
    ("demo_admin", "hotline", True),
    ("demo_admin", "open311", False),
    ("demo_admin", "patrol", False),
    ("demo_handler", "api", False),
    ("demo_handler", "hotline", False),
    ("demo_handler", "department", False),
    ("demo_mediator", "window", False),
    ("demo_leader", "hotline", False),
    ("demo_steward", "api", False),
    ("demo_citizen", "web", True),
    ("demo_citizen", "hotline", False),
    ("demo_citizen", "open311", False),
    ("demo_grid_worker", "hotline", False),
]


@pytest.mark.parametrize(("username", "channel", "allowed"), CASES)
def test_the_service_decides_the_channel_by_role(username, channel, allowed, nanshan_building):
    """In the submit pipeline itself, so every path keeps it (web forms, imports, queued and batch
    submissions, the import command with an operator)."""
    submission = {
        "channel": channel,
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区垃圾站满溢，请尽快清运。",
        "address_code": nanshan_building.code,
        "actor": User.objects.get(username=username),
    }
    if allowed:
        assert ticket_submit(**submission).ticket.channel == channel
        return
    with pytest.raises(ServiceError) as caught:
        ticket_submit(**submission)
    assert (caught.value.code, caught.value.field, caught.value.status) == (REFUSED, "channel", 403)
    # the message names the channel (its code beside its name, in either language)
    assert channel in caught.value.message, caught.value.message
    assert not Ticket.objects.exists()


def test_a_grid_worker_still_files_patrol_reports_in_their_grids(grid_worker):
    mine = building_in(worker_grids(grid_worker)[0])
    result = ticket_submit(
        channel="patrol",
        kind="incident",
        category=RUBBISH,
        description="路边暴露垃圾一堆，无人清理",
        address_code=mine.code,
        actor=grid_worker,
    )
    assert result.created and result.ticket.channel == "patrol"


def test_the_system_chooses_its_own_channel(nanshan_building):
    """No actor: the Open311 endpoint (its api_key client) and an import without an operator."""
    result = ticket_submit(
        channel="open311",
        kind="complaint",
        category=SANITATION,
        description="小区垃圾站满溢，请尽快清运。",
        address_code=nanshan_building.code,
    )
    assert result.created and result.ticket.channel == "open311"


def test_a_queued_submission_through_a_refused_channel_is_refused_at_once(as_user, nanshan_building):
    answer = as_user(User.objects.get(username="demo_mediator")).post(
        f"{URL}/",
        _body(nanshan_building, "open311"),
        content_type="application/json",
        headers={"Prefer": "respond-async"},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == REFUSED
    assert not QueuedSubmission.objects.exists() and not Ticket.objects.exists()


def test_an_integration_client_pushes_its_channels_and_no_other(client, nanshan_dispatcher, nanshan_building):
    service_user = integration_client_create(
        name="区城管业务系统", jurisdictions=list(nanshan_dispatcher.jurisdictions.all())
    ).service_user
    client.force_login(service_user)
    items = [
        _body(nanshan_building, "department", external_id="d-1"),
        _body(nanshan_building, "open311", external_id="d-2"),
        _body(nanshan_building, "patrol", external_id="d-3"),
        _body(nanshan_building, "hotline", external_id="d-4"),
        _body(nanshan_building, "video", external_id="d-5"),
    ]
    answer = client.post(f"{URL}/batch", {"tickets": items}, content_type="application/json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["created"], body["refused"]) == (3, 2)
    assert [r["error"]["code"] if r["error"] else "" for r in body["results"]] == [
        "",
        REFUSED,
        REFUSED,
        "",
        "",
    ]
    assert sorted(Ticket.objects.values_list("channel", flat=True)) == ["department", "hotline", "video"]


def test_a_role_that_files_nothing_cannot_push_a_batch(as_user, nanshan_building):
    answer = as_user(User.objects.get(username="demo_mediator")).post(
        f"{URL}/batch", {"tickets": [_body(nanshan_building, "hotline")]}, content_type="application/json"
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "auth.forbidden"
    assert not Ticket.objects.exists()


def test_an_idempotent_retry_answers_as_before(as_user, hotline, nanshan_building):
    """An allowed channel: 201 then 200 with the same ticket; a refused one: refused each time."""
    api = as_user(hotline)
    first = api.post(f"{URL}/", _body(nanshan_building, "hotline"), content_type="application/json")
    again = api.post(f"{URL}/", _body(nanshan_building, "hotline"), content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ticket"]["number"] == again.json()["ticket"]["number"]
    for _attempt in range(2):
        refused = api.post(f"{URL}/", _body(nanshan_building, "open311"), content_type="application/json")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == REFUSED
    assert Ticket.objects.count() == 1


def test_the_batch_service_refuses_per_item(hotline, nanshan_building):
    base = {"kind": "complaint", "category": SANITATION, "description": "小区垃圾站满溢，请尽快清运。"}
    allowed, refused = ticket_submit_many(
        [
            {**base, "channel": "window", "address_code": nanshan_building.code, "external_id": "w-1"},
            {**base, "channel": "open311", "address_code": nanshan_building.code, "external_id": "o-1"},
        ],
        actor=hotline,
    )
    assert allowed.created and allowed.ticket.channel == "window"
    assert isinstance(refused, ServiceError) and refused.code == REFUSED
    assert Ticket.objects.count() == 1


def test_the_refusal_lists_the_callers_channels_by_their_names(nanshan_building):
    """A dispatcher filing a video alarm is told which channels they do file through, in words."""
    from django.utils import translation

    from zhiwang.tickets.models import Channel

    submission = {
        "channel": "video",
        "kind": "complaint",
        "category": SANITATION,
        "description": "摄像头发现占道经营。",
        "address_code": nanshan_building.code,
        "actor": User.objects.get(username="demo_ns_dispatcher"),
    }
    with translation.override("zh-hans"), pytest.raises(ServiceError) as caught:
        ticket_submit(**submission)
    message = caught.value.message
    with translation.override("zh-hans"):
        hotline, window = str(Channel.HOTLINE.label), str(Channel.WINDOW.label)
    assert hotline in message and window in message, message
    assert "hotline" not in message and "、" in message  # words, not codes, in a Chinese list
