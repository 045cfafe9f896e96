"""The entity page shows the registrations of its credit code (``register_refused`` rows: a caller
who may not change the record tried to register it, with why it was refused), to data stewards and
administrators only (``selectors.access_log``). Anybody else who opens the page (a city leader, a
dispatcher of the district) sees no trace of it. It has no "who read" section: the page shows no
personal data unmasked (the legal representative and the phone are masked, nothing reveals them),
so no read of an entity is logged, and a row that is not a registration is never listed."""

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
    # another row about the entity (not a registration; nothing writes one): never listed
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
def test_stewards_and_administrators_see_the_refused_registrations_with_their_reason(
    request, who, grid_worker, steward, refused_entity
):
    page = _client(request.getfixturevalue(who)).get(f"/registry/entities/{refused_entity.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Registrations of this credit code" in html
    registrations = _section(html, "registration-log")
    assert "Registration refused" in registrations and grid_worker.display_name in registrations
    # the note column says why it was refused (the record lies in Luohu, outside the worker's area)
    assert "The record lies outside the area of the person registering" in registrations
    assert "Full export" not in registrations
    # no reads section: nothing reads an entity's personal data unmasked, so it could only be empty
    assert "Who read this entity" not in html and 'data-testid="access-log"' not in html
    assert "核对经营场所" not in html


def test_the_entity_page_shows_no_personal_data_unmasked(steward, luohu_room):
    """Why no read is logged: the representative and the phone appear masked, even to a steward,
    and the correction form does not carry them."""
    entity, _created = services.entity_register(
        actor=steward,
        data={
            "credit_code": make_credit_code("440303", random.Random(47)),
            "name": "实名商行",
            "legal_representative": "欧阳娜娜",
            "phone": "13812345678",
        },
    )
    entity.refresh_from_db()
    assert entity.legal_representative == "欧阳娜娜" and entity.phone == "13812345678"
    html = _client(steward).get(f"/registry/entities/{entity.pk}/").content.decode()
    assert "欧阳娜娜" not in html and "13812345678" not in html
    assert entity.masked_phone in html and entity.masked_representative in html


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
