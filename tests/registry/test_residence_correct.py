"""Correcting a person's current residence (更正居住地址, ``services.person_residence_correct``).

A grid worker who registered somebody in the wrong room today could not fix it: a move on the day the
residence began is refused (``registry.since_before_current``), and a move would have invented a stay
in the wrong room anyway. A correction changes the current residence in place — its address and,
optionally, its start — with one ``correct_residence`` history row (old → new, the reason, who, when),
shown as a correction, never as a move. It needs a reason and the person's version, is allowed to the
roles that move people, scoped to both the old and the new address, and writes nothing when refused.

Personas: ``grid_worker`` serves grids A and B; ``grid_police`` grid A only (the other grid's
worker, for the leaks); ``steward`` the whole city; ``nanshan_dispatcher`` reads but does not edit.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry import services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.models import AccessLog, Person, RecordChange, Residence
from zhiwang.registry.services.residences import NOTE_MAX

TODAY = timezone.localdate()
REASON = "登记时房号录错：应为310室"


def _client(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _rooms(grid_id: int, count: int = 2) -> list[StandardAddress]:
    return list(
        StandardAddress.objects.filter(grid_id=grid_id, level=AddressLevel.ROOM).order_by("code")[:count]
    )


@pytest.fixture
def grid_a(grid_police):
    """The grid both grid workers serve."""
    (grid_id,) = grid_police.scope.grid_ids
    return grid_id


@pytest.fixture
def grid_b(grid_worker, grid_a):
    """The grid only ``grid_worker`` serves: another grid for ``grid_police``."""
    return sorted(set(grid_worker.scope.grid_ids) - {grid_a})[0]


def _placed(steward, room, seq: int, since: date | None = None) -> Person:
    number = make_id_number("440305", date(1985, 6, 7), seq, male=seq % 2 == 1)
    data = {"id_number": number, "name": "王五", "address": room.code}
    if since is not None:
        data["since"] = since.isoformat()
    person, created = services.person_register(actor=steward, data=data)
    assert created
    person.refresh_from_db()
    return person


def _written(person: Person) -> tuple:
    """Everything a residence correction could write."""
    person.refresh_from_db()
    return (
        person.version,
        person.community_id,
        person.grid_id,
        person.last_confirmed_at,
        sorted(
            Residence.objects.filter(person=person).values_list(
                "pk", "address_id", "since", "until", "version", "community_id", "grid_id"
            )
        ),
        RecordChange.objects.filter(record_kind="person", record_id=person.pk).count(),
        AccessLog.objects.count(),
    )


def _correct(person, actor, **kwargs):
    kwargs.setdefault("note", REASON)
    kwargs.setdefault("expected_version", person.version)
    return services.person_residence_correct(person=person, actor=actor, **kwargs)


# --- the service -------------------------------------------------------------------------------------


def test_a_residence_begun_today_is_corrected_in_place_where_a_move_is_refused(steward, grid_worker, grid_a):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 101)  # placed today
    residence = Residence.objects.get(person=person)
    assert residence.since == TODAY
    # a move today is refused: that is why a correction is needed
    with pytest.raises(ServiceError) as refused:
        services.person_move(person=person, address=right, actor=grid_worker)
    assert refused.value.code == "registry.since_before_current"

    version = person.version
    corrected = _correct(person, grid_worker, address=right.code)

    assert corrected.pk == residence.pk  # the same residence: none ended, none started
    assert list(Residence.objects.filter(person=person).values_list("address_id", "since", "until")) == [
        (right.pk, TODAY, None)
    ]
    person.refresh_from_db()
    assert person.version == version + 1 and (person.community_id, person.grid_id) == (
        right.community_id,
        right.grid_id,
    )
    rows = list(RecordChange.objects.filter(record_kind="person", record_id=person.pk).order_by("pk"))
    assert [r.action for r in rows] == ["create", "move", "correct_residence"]
    row = rows[-1]
    assert row.payload["changes"] == {"address": [wrong.full_name, right.full_name]}
    assert (row.actor, row.note) == (grid_worker, REASON)


def test_the_start_is_corrected_too_and_stays_after_the_previous_residence(steward, grid_worker, grid_a):
    first, second = _rooms(grid_a)
    person = _placed(steward, first, 103, since=TODAY - timedelta(days=100))
    services.person_move(person=person, address=second, actor=steward, since=TODAY - timedelta(days=30))
    person.refresh_from_db()
    # the person was away for ten days between the two (the first stay ended earlier than the move says)
    previous_end = TODAY - timedelta(days=41)
    Residence.objects.filter(person=person, address=first).update(until=previous_end)
    # on or before the day the previous residence ended: the two would share days
    before = _written(person)
    with pytest.raises(ServiceError) as info:
        _correct(person, grid_worker, since=previous_end)
    assert (info.value.code, info.value.field) == ("registry.since_before_previous", "since")
    assert previous_end.isoformat() in info.value.message
    assert _written(person) == before
    # the day after it: corrected, the address kept
    _correct(person, grid_worker, since=previous_end + timedelta(days=1))
    current = Residence.objects.get(person=person, until__isnull=True)
    assert (current.address_id, current.since) == (second.pk, previous_end + timedelta(days=1))
    row = RecordChange.objects.filter(record_id=person.pk, action="correct_residence").get()
    assert row.payload["changes"] == {
        "since": [(TODAY - timedelta(days=30)).isoformat(), (previous_end + timedelta(days=1)).isoformat()]
    }


@pytest.mark.parametrize(
    "kwargs, code, field",
    [
        ({"note": "  "}, "registry.note_required", "note"),
        ({"note": "x" * (NOTE_MAX + 1)}, "registry.note_too_long", "note"),
        ({"note": "录错\x00"}, "text.control_character", "note"),
        ({"expected_version": None}, "registry.version_required", "expected_version"),
        ({"expected_version": 0}, "registry.version_conflict", None),
        ({"address": "火星路999号"}, "address.unmatched", "address"),
        ({"address": "深圳市" * 90}, "too_long", "address"),
        ({"address": "南山\x00"}, "text.control_character", "address"),
        ({"address": "same"}, "registry.nothing_changed", None),
        ({"address": None, "since": TODAY + timedelta(days=1)}, "date.future", "since"),
        ({"address": None, "since": date(1980, 1, 1)}, "since.before_birth", "since"),
    ],
    ids=[
        "no reason",
        "long reason",
        "NUL in reason",
        "no version",
        "stale version",
        "unmatched",
        "long address",
        "NUL in address",
        "same",
        "future",
        "unborn",
    ],
)
def test_refusals_write_nothing(steward, grid_worker, grid_a, kwargs, code, field):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 105)
    kwargs = {"address": right.code, **kwargs}
    if kwargs["address"] == "same":
        kwargs["address"] = wrong.code
    before = _written(person)
    with pytest.raises(ServiceError) as info:
        _correct(person, grid_worker, **kwargs)
    assert (info.value.code, info.value.field) == (code, field)
    assert _written(person) == before


def test_a_person_without_a_current_residence(steward, grid_worker, grid_a):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 107)
    services.person_move_out(person=person, actor=steward)
    person.refresh_from_db()
    before = _written(person)
    with pytest.raises(ServiceError) as info:
        _correct(person, steward, address=right.code)
    assert (info.value.code, info.value.field) == ("registry.no_current_residence", "address")
    assert _written(person) == before


# --- who may correct, and where (the leaks) ---------------------------------------------------------


def test_a_grid_worker_of_another_grid_cannot_correct(steward, grid_police, grid_a, grid_b):
    wrong, right = _rooms(grid_b)
    person = _placed(steward, wrong, 109)
    before = _written(person)
    with pytest.raises(ServiceError) as info:
        _correct(person, grid_police, address=right.code)
    assert (info.value.code, info.value.status) == ("registry.permission_denied", 403)
    # nor into their own grid: the old address is not theirs
    with pytest.raises(ServiceError):
        _correct(person, grid_police, address=_rooms(grid_a)[0].code)
    assert _written(person) == before


def test_nobody_corrects_into_an_address_outside_their_jurisdiction(
    steward, grid_police, grid_worker, grid_a, grid_b, luohu_room
):
    wrong = _rooms(grid_a)[0]
    person = _placed(steward, wrong, 111)
    before = _written(person)
    for actor, outside in ((grid_police, _rooms(grid_b)[0]), (grid_worker, luohu_room)):
        with pytest.raises(ServiceError) as info:
            _correct(person, actor, address=outside.code)
        assert (info.value.code, info.value.field, info.value.status) == (
            "registry.permission_denied",
            "address",
            403,
        )
    assert _written(person) == before
    # the city-wide steward may
    _correct(person, steward, address=luohu_room.code)
    assert Residence.objects.get(person=person).address_id == luohu_room.pk


def test_a_reader_who_does_not_edit_cannot_correct(steward, nanshan_dispatcher, grid_a):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 113)
    before = _written(person)
    with pytest.raises(ServiceError) as info:
        _correct(person, nanshan_dispatcher, address=right.code)
    assert info.value.code == "registry.permission_denied"
    assert _written(person) == before


# --- the API --------------------------------------------------------------------------------------


def _patch(client, person, body):
    return client.patch(
        f"/api/v1/registry/people/{person.pk}/residence", json.dumps(body), content_type="application/json"
    )


def test_api_corrects_and_a_retry_is_never_applied_twice(steward, grid_worker, grid_a):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 115)
    client = _client(grid_worker)
    body = {"address": right.code, "note": REASON, "expected_version": person.version}
    answer = _patch(client, person, body)
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["version"] == person.version + 1
    assert [(r["address"]["code"], r["until"]) for r in data["residences"]] == [(right.code, None)]
    assert person.id_number not in answer.content.decode()  # masked as every answer
    # the same request again (a retry): the version moved on, nothing is written twice
    again = _patch(client, person, body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "registry.version_conflict"
    assert RecordChange.objects.filter(record_id=person.pk, action="correct_residence").count() == 1


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({"note": ""}, 400, "registry.note_required", "note"),
        ({"expected_version": None}, 400, "registry.version_required", "expected_version"),
        ({"address": "outside"}, 403, "registry.permission_denied", "address"),
    ],
    ids=["no reason", "no version", "outside"],
)
def test_api_errors_name_their_field(steward, grid_worker, grid_a, luohu_room, body, status, code, field):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 117)
    body = {"address": right.code, "note": REASON, "expected_version": person.version, **body}
    if body["address"] == "outside":
        body["address"] = luohu_room.code
    before = _written(person)
    answer = _patch(_client(grid_worker), person, body)
    assert answer.status_code == status, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert _written(person) == before


def test_api_of_another_grid_answers_not_found(steward, grid_police, grid_b):
    wrong, right = _rooms(grid_b)
    person = _placed(steward, wrong, 119)
    before = _written(person)
    answer = _patch(
        _client(grid_police), person, {"address": right.code, "note": REASON, "expected_version": 1}
    )
    assert answer.status_code == 404  # outside the jurisdiction: like a record that does not exist
    assert _written(person) == before


# --- the person page ------------------------------------------------------------------------------


def _url(person) -> str:
    return f"/registry/people/{person.pk}/residence/correct/"


def test_the_page_offers_the_form_to_editors_only(steward, grid_worker, city_leader, grid_a):
    person = _placed(steward, _rooms(grid_a)[0], 121)
    page = _client(grid_worker).get(f"/registry/people/{person.pk}/").content.decode()
    assert f'action="{_url(person)}" data-testid="residence-correct-form"' in page
    form = page.split('data-testid="residence-correct-form"', 1)[1].split("</form>", 1)[0]
    assert f'name="expected_version" value="{person.version}"' in form
    assert f'value="{TODAY.isoformat()}"' in form  # the current start, to change only if wrong
    assert 'id="residence-note"' in form  # its own ids beside the record's correction form
    leader_page = _client(city_leader).get(f"/registry/people/{person.pk}/").content.decode()
    assert 'data-testid="residence-correct-form"' not in leader_page


def test_the_page_corrects_and_the_history_says_correction_not_move(steward, grid_worker, grid_a):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 123)
    client = _client(grid_worker)
    answer = client.post(
        _url(person),
        {"address": right.code, "since": "", "note": REASON, "expected_version": str(person.version)},
    )
    assert answer.status_code == 302
    page = client.get(f"/registry/people/{person.pk}/").content.decode()
    assert "The address was corrected; no move was recorded." in page
    history = page.split('data-testid="history"', 1)[1].split("</table>", 1)[0]
    rows = history.split("<tr>")
    corrected = [row for row in rows if "Address corrected" in row]
    assert len(corrected) == 1
    assert f"Address: {wrong.full_name} → {right.full_name}" in corrected[0]
    assert REASON in corrected[0] and "Moved" not in corrected[0]
    assert "correct_residence" not in history  # never the stored code


def test_the_page_says_a_refusal_on_its_field(steward, grid_worker, grid_a, luohu_room):
    wrong, right = _rooms(grid_a)
    person = _placed(steward, wrong, 125)
    client = _client(grid_worker)
    before = _written(person)
    answer = client.post(
        _url(person), {"address": luohu_room.code, "note": REASON, "expected_version": str(person.version)}
    )
    assert answer.status_code == 403
    form = answer.content.decode().split('data-testid="residence-correct-form"', 1)[1].split("</form>", 1)[0]
    assert "This address is outside your jurisdiction." in form
    stale = client.post(_url(person), {"address": right.code, "note": REASON, "expected_version": "0"})
    assert stale.status_code == 409
    assert "Somebody changed this record after you opened it" in stale.content.decode()
    assert _written(person) == before


def test_the_page_of_another_grid_is_not_found(steward, grid_police, grid_b):
    wrong, right = _rooms(grid_b)
    person = _placed(steward, wrong, 127)
    before = _written(person)
    answer = _client(grid_police).post(
        _url(person), {"address": right.code, "note": REASON, "expected_version": "1"}
    )
    assert answer.status_code == 404
    assert _written(person) == before
