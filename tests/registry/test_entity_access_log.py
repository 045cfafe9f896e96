"""The entity page shows its access log as the person page does: reads of its data apart from
registrations of its credit code (``register_refused`` rows: a caller who may not change the record
tried to register it), to data stewards and administrators only (``selectors.access_log``). Anybody
else who opens the page (a city leader, a dispatcher of the district) sees no trace of it."""

from __future__ import annotations

import json
import random

import pytest
from django.conf import settings
from django.test import Client

from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code
from zhiwang.registry.models import AccessLog, LegalEntity, RecordKind

ENTITIES = "/api/v1/registry/entities"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _section(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


@pytest.fixture
def refused_entity(steward, grid_worker, luohu_room) -> LegalEntity:
    """A Luohu entity the Nanshan grid worker tried to register (refused, logged), and read once."""
    code = make_credit_code("440303", random.Random(41))
    entity, created = services.entity_register(
        actor=steward, data={"credit_code": code, "name": "罗湖商行", "address": luohu_room.code}
    )
    assert created
    answer = _client(grid_worker).post(
        ENTITIES, json.dumps({"credit_code": code, "name": "罗湖商行"}), content_type="application/json"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "registry.register_refused"
    assert AccessLog.objects.filter(
        record_kind=RecordKind.ENTITY, record_id=entity.pk, action="register_refused", actor=grid_worker
    ).exists()
    # another row about the entity (not a registration): shown apart, with the reads
    AccessLog.objects.create(
        record_kind=RecordKind.ENTITY,
        record_id=entity.pk,
        actor=steward,
        action="export",
        from_state="",
        to_state="",
        note="核对经营场所",
    )
    return entity


@pytest.mark.parametrize("who", ["steward", "admin_user"])
def test_stewards_and_administrators_see_the_entity_log_reads_and_registrations_apart(
    request, who, grid_worker, steward, refused_entity
):
    page = _client(request.getfixturevalue(who)).get(f"/registry/entities/{refused_entity.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Registrations of this credit code" in html and "Who read this entity's data" in html
    registrations = _section(html, "registration-log")
    assert "Registration refused" in registrations and grid_worker.display_name in registrations
    assert "Full export" not in registrations
    reads = _section(html, "access-log")
    assert "Full export" in reads and "核对经营场所" in reads and steward.display_name in reads
    assert "Registration refused" not in reads and grid_worker.display_name not in reads


@pytest.mark.parametrize("who", ["city_leader", "luohu_dispatcher"])
def test_other_readers_of_the_entity_page_see_no_trace_of_the_log(request, who, grid_worker, refused_entity):
    page = _client(request.getfixturevalue(who)).get(f"/registry/entities/{refused_entity.pk}/")
    assert page.status_code == 200  # they may read the record itself
    html = page.content.decode()
    assert 'data-testid="entity-name"' in html
    for trace in (
        'data-testid="registration-log"',
        'data-testid="access-log"',
        "Registrations of this credit code",
        "Who read this entity",
        "Registration refused",
        "Full export",
        "核对经营场所",
        grid_worker.display_name,
    ):
        assert trace not in html, trace


def test_the_grid_worker_who_was_refused_cannot_open_the_page(grid_worker, refused_entity):
    assert _client(grid_worker).get(f"/registry/entities/{refused_entity.pk}/").status_code == 404


def test_an_entity_without_log_rows_shows_no_log(steward, luohu_room):
    entity, _created = services.entity_register(
        actor=steward,
        data={"credit_code": make_credit_code("440303", random.Random(43)), "name": "安静商行"},
    )
    html = _client(steward).get(f"/registry/entities/{entity.pk}/").content.decode()
    assert 'data-testid="registration-log"' not in html and 'data-testid="access-log"' not in html


def test_the_person_page_keeps_its_two_logs(steward, grid_worker, luohu_room):
    """The person page's logs render through the same include, unchanged."""
    from datetime import date

    from zhiwang.registry.demo import make_id_number

    person, _created = services.person_register(
        actor=steward,
        data={
            "id_number": make_id_number("440303", date(1970, 1, 2), 31, male=True),
            "name": "罗湖人",
            "address": luohu_room.code,
        },
    )
    services.person_reveal(person=person, actor=steward, reason="核实身份")
    html = _client(steward).get(f"/registry/people/{person.pk}/").content.decode()
    reads = _section(html, "access-log")
    assert "Full view" in reads and "核实身份" in reads
    assert 'data-testid="registration-log"' not in html
