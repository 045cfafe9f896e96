"""Registering an ID number the caller cannot see: no city-wide existence oracle.

A grid worker's search by ID number looks only inside their area. Registering a number held
elsewhere used to answer 409 ``registry.register_refused`` while an unknown one answered 201, so
registering told anybody who may edit whether any number exists anywhere in the city. Now both
answer 202 with the same body; the record elsewhere is left as it was and a data steward decides
(``RegistrationReview``); each such registration counts against the hourly registration limit.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from zhiwang.core.errors import Conflict, PermissionDeniedError
from zhiwang.registry import selectors, services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.hashing import id_number_hash
from zhiwang.registry.models import AccessLog, Person, RecordChange, RegistrationReview, Residence
from zhiwang.registry.services.audit import (
    IDENTIFIER_SEARCH_LIMIT,
    IDENTIFIER_SEARCH_WINDOW,
    REGISTER_NEW_ACTION,
    REGISTER_REFERRED_ACTION,
    REGISTER_REFUSED_LIMIT_ACTION,
    SEARCH_ACTION,
)

REGISTRATION_LIMIT = 6

PEOPLE = "/api/v1/registry/people"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def _number(seq: int) -> str:
    return make_id_number("440305", date(1981, 3, 4), seq, male=seq % 2 == 1)


def _held_elsewhere(steward, luohu_room, seq: int = 501, **fields) -> Person:
    """A person on record in Luohu (outside the grid worker's area), with few fields filled, living
    there since 2020 (a move must start after the current residence began)."""
    fields.setdefault("since", "2020-01-01")
    person, created = services.person_register(
        actor=steward,
        data={"id_number": _number(seq), "name": "罗湖人", "address": luohu_room.code, **fields},
    )
    assert created
    person.refresh_from_db()
    return person


def _shape(answer) -> tuple:
    body = answer.json()
    return answer.status_code, sorted(body), body.get("status"), body.get("message")


# --- 1. the answer says nothing about whether the number is on record ------------------------------


def test_a_number_held_elsewhere_answers_exactly_like_a_new_one(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    before = (held.name, held.community_id, held.grid_id, held.version)
    client = _client(grid_worker)
    assert _post(client, f"{PEOPLE}/search", {"q": held.id_number}).json() == []  # not theirs to see

    elsewhere = _post(
        client, PEOPLE, {"id_number": held.id_number, "name": "张三", "address": home_room.code}
    )
    new = _post(client, PEOPLE, {"id_number": _number(502), "name": "张三", "address": home_room.code})

    assert elsewhere.status_code == new.status_code == 202
    assert _shape(elsewhere) == _shape(new)
    assert elsewhere.json()["id_number"] == held.masked_id_number  # the caller's own input, masked
    assert "error" not in elsewhere.json() and "id" not in elsewhere.json()
    text = elsewhere.content.decode()
    assert "罗湖" not in text and held.id_number not in text
    # the record elsewhere is untouched, and there is still one person with that number
    held.refresh_from_db()
    assert (held.name, held.community_id, held.grid_id, held.version) == before
    assert Person.objects.filter(id_number_hash=held.id_number_hash).count() == 1
    assert not held.residences.filter(address=home_room).exists()
    # what the caller gave is kept for a data steward, nothing of it lost
    review = RegistrationReview.objects.get(person=held)
    assert (review.status, review.why, review.registered_by, review.address) == (
        "pending",
        "outside",
        grid_worker,
        home_room,
    )
    assert review.values["name"] == "张三"
    # the new number is on record in the caller's area, as before
    created = Person.objects.get(id_number_hash=id_number_hash(_number(502)))
    assert created.community_id == home_room.community_id
    # both are in the access log, each on its record
    assert AccessLog.objects.get(action=REGISTER_REFERRED_ACTION, record_id=held.pk).actor == grid_worker
    assert AccessLog.objects.get(action=REGISTER_NEW_ACTION, record_id=created.pk).actor == grid_worker


def test_an_unplaced_number_answers_alike_and_waits_for_a_steward(steward, grid_worker, home_room):
    unplaced, _ = services.person_register(actor=steward, data={"id_number": _number(503), "name": "李四"})
    assert unplaced.community_id is None
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(
            actor=grid_worker, data={"id_number": _number(503), "name": "王五", "address": home_room.code}
        )
    assert info.value.review.why == "unplaced"
    unplaced.refresh_from_db()
    assert (unplaced.name, unplaced.community_id) == ("李四", None)
    answer = _post(_client(grid_worker), PEOPLE, {"id_number": _number(503), "name": "王五"})
    assert answer.status_code == 202 and answer.json()["status"] == "received"


def test_same_area_registration_still_answers_the_record(steward, grid_worker, home_room):
    """A number on record inside the caller's area is theirs to see: 200 with the record, not counted."""
    mine, _ = services.person_register(
        actor=steward, data={"id_number": _number(504), "name": "赵六", "address": home_room.code}
    )
    answer = _post(_client(grid_worker), PEOPLE, {"id_number": _number(504), "name": "赵六"})
    assert answer.status_code == 200 and answer.json()["id"] == mine.pk
    assert not AccessLog.objects.filter(
        actor=grid_worker, action__in=[REGISTER_NEW_ACTION, REGISTER_REFERRED_ACTION]
    )
    assert not RegistrationReview.objects.exists()


def test_a_city_wide_steward_still_gets_the_record(steward, home_room):
    answer = _post(
        _client(steward), PEOPLE, {"id_number": _number(505), "name": "钱七", "address": home_room.code}
    )
    assert answer.status_code == 201 and answer.json()["name"] == "钱七"
    assert not AccessLog.objects.filter(action=REGISTER_NEW_ACTION).exists()


# --- 2. the registration limit counts these registrations -----------------------------------------


@pytest.fixture
def _small_limit(settings):
    settings.ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR = REGISTRATION_LIMIT


def _use_up_the_limit(user) -> None:
    """``REGISTRATION_LIMIT`` distinct numbers registered unseen within the window (new and held
    elsewhere share one count)."""
    AccessLog.objects.bulk_create(
        AccessLog(
            record_kind="person",
            record_id=0,
            actor=user,
            action=REGISTER_REFERRED_ACTION if i % 2 else REGISTER_NEW_ACTION,
            from_state="",
            to_state="",
            payload={"kind": "id_number", "hash": f"h{i}"},
            at=timezone.now() - timedelta(minutes=1),
        )
        for i in range(REGISTRATION_LIMIT)
    )


@pytest.mark.usefixtures("_small_limit")
def test_searches_do_not_use_up_registrations(grid_worker, home_room):
    """A grid worker surveying door to door registers more newcomers in an hour than the 20
    identifier searches of a role that may not reveal: the two limits are apart."""
    AccessLog.objects.bulk_create(
        AccessLog(
            record_kind="person",
            record_id=0,
            actor=grid_worker,
            action=SEARCH_ACTION,
            from_state="",
            to_state="",
            payload={"kind": "id_number", "hash": f"s{i}"},
            at=timezone.now() - timedelta(minutes=1),
        )
        for i in range(IDENTIFIER_SEARCH_LIMIT + 5)
    )
    answer = _post(_client(grid_worker), PEOPLE, {"id_number": _number(508), "name": "周九"})
    assert answer.status_code == 202


@pytest.mark.usefixtures("_small_limit")
def test_beyond_the_limit_new_and_held_numbers_are_refused_alike(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    mine, _ = services.person_register(
        actor=steward, data={"id_number": _number(506), "name": "孙八", "address": home_room.code}
    )
    _use_up_the_limit(grid_worker)
    client = _client(grid_worker)
    people_before = Person.objects.count()

    elsewhere = _post(
        client, PEOPLE, {"id_number": held.id_number, "name": "张三", "address": home_room.code}
    )
    new = _post(client, PEOPLE, {"id_number": _number(507), "name": "张三", "address": home_room.code})

    assert elsewhere.status_code == new.status_code == 429
    assert elsewhere.json() == new.json()
    assert elsewhere.json()["error"]["code"] == "registry.register_limit"
    assert str(REGISTRATION_LIMIT) in elsewhere.json()["error"]["message"]
    assert Person.objects.count() == people_before  # nothing written
    assert not RegistrationReview.objects.exists()
    refused = AccessLog.objects.filter(actor=grid_worker, action=REGISTER_REFUSED_LIMIT_ACTION)
    assert {r.payload["hash"] for r in refused} == {held.id_number_hash, id_number_hash(_number(507))}
    # a number on record in the caller's area is not a question: still answered
    assert _post(client, PEOPLE, {"id_number": _number(506), "name": "孙八"}).status_code == 200
    assert mine.pk == Person.objects.get(id_number_hash=id_number_hash(_number(506))).pk


@pytest.mark.usefixtures("_small_limit")
def test_registrations_count_and_asking_again_is_free(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    client = _client(grid_worker)
    numbers = [_number(600 + i) for i in range(REGISTRATION_LIMIT - 1)]
    for number in [held.id_number, *numbers]:
        assert _post(client, PEOPLE, {"id_number": number, "name": "某人"}).status_code == 202
    # the same numbers again tell nothing new: not refused
    assert _post(client, PEOPLE, {"id_number": held.id_number, "name": "某人"}).status_code == 202
    assert _post(client, PEOPLE, {"id_number": numbers[0], "name": "某人"}).status_code == 202
    over = _post(client, PEOPLE, {"id_number": _number(699), "name": "某人"})
    assert over.status_code == 429 and over.json()["error"]["code"] == "registry.register_limit"
    # a retry updates the caller's waiting registration: one line per person in the stewards' queue
    assert RegistrationReview.objects.filter(person=held).count() == 1
    window_start = timezone.now() - IDENTIFIER_SEARCH_WINDOW
    hashes = set(
        AccessLog.objects.filter(actor=grid_worker, at__gte=window_start)
        .exclude(action=REGISTER_REFUSED_LIMIT_ACTION)
        .values_list("payload__hash", flat=True)
    )
    assert len(hashes) == REGISTRATION_LIMIT


# --- 3. a data steward decides --------------------------------------------------------------------


def _referred(grid_worker, held, home_room, **fields) -> RegistrationReview:
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(
            actor=grid_worker,
            data={"id_number": held.id_number, "address": home_room.code, **fields},
            note="入户走访",
        )
    return info.value.review


def test_steward_confirms_the_move(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    review = _referred(
        grid_worker, held, home_room, name="罗湖人改", phone="13712345678", since=date(2024, 5, 1).isoformat()
    )
    queue = selectors.registration_reviews(user=steward)
    assert list(queue) == [review]
    assert not selectors.registration_reviews(user=grid_worker).exists()

    services.registration_review_resolve(review=review, actor=steward, moved=True)

    held.refresh_from_db()
    assert (held.community_id, held.grid_id) == (home_room.community_id, home_room.grid_id)
    assert held.name == "罗湖人"  # another value is not taken: the steward corrects it if right
    assert held.phone == "13712345678"  # an empty field is filled
    current = Residence.objects.get(person=held, until__isnull=True)
    assert (current.address, current.since) == (home_room, date(2024, 5, 1))
    assert Residence.objects.filter(person=held, address=luohu_room, until__isnull=False).exists()
    actions = set(
        RecordChange.objects.filter(record_kind="person", record_id=held.pk).values_list("action", flat=True)
    )
    assert {"update", "move"} <= actions
    review.refresh_from_db()
    assert (review.status, review.resolved_by) == ("moved", steward)
    assert not selectors.registration_reviews(user=steward).exists()
    # now the grid worker sees the person
    assert [p.pk for p in selectors.person_search(user=grid_worker, q=held.id_number)] == [held.pk]
    with pytest.raises(Conflict) as info:
        services.registration_review_resolve(review=review, actor=steward, moved=False)
    assert info.value.code == "registry.already_resolved"


def test_steward_declines_and_nothing_changes(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    before = (held.name, held.phone, held.community_id, held.version)
    review = _referred(grid_worker, held, home_room, name="冒名", phone="13712345678")
    with pytest.raises(PermissionDeniedError):
        services.registration_review_resolve(review=review, actor=grid_worker, moved=True)
    services.registration_review_resolve(review=review, actor=steward, moved=False)
    held.refresh_from_db()
    assert (held.name, held.phone, held.community_id, held.version) == before
    review.refresh_from_db()
    assert review.status == "declined"


def test_steward_decides_on_the_conflicts_page(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room)
    review = _referred(grid_worker, held, home_room, name="罗湖人")
    client = _client(steward)
    page = client.get("/registry/conflicts/")
    assert page.status_code == 200
    table = page.content.decode().split('data-testid="registration-reviews"')[1]
    assert f"#{review.pk}" in table and held.masked_id_number in table and held.id_number not in table
    assert _client(grid_worker).get("/registry/conflicts/").status_code == 403
    decided = client.post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert decided.status_code == 302
    held.refresh_from_db()
    assert held.community_id == home_room.community_id
    # a second decision (another steward's tab, a moment later): told somebody decided, not "not found"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    again = client.post("/registry/conflicts/", {"review": str(review.pk), "moved": "0"})
    assert again.status_code == 409
    # named by its number (the queue no longer shows its card)
    top = again.content.decode().split('<div class="errors">', 1)[1].split("</div>", 1)[0]
    assert f"#{review.pk}" in top and top.endswith("已有人处理过这条登记。")
    review.refresh_from_db()
    assert review.status == "moved"  # the first decision stands
    assert (
        client.post("/registry/conflicts/", {"review": str(review.pk + 999), "moved": "1"}).status_code == 404
    )
