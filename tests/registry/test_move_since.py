"""A move starts after the current residence began (``services.places.move_since``).

A move ends the current residence the day before the new one starts. A new residence dated on or
before the current one's start used to be written as given, the old one ending on its start day:
two residences on the same day(s), the person listed in two rooms. Now the registration is refused
(``registry.since_before_current`` on ``since``, naming the current residence's start, nothing
written) on every path that moves a person: ``POST /people``, the data steward's decision on a
registration kept for review (the conflicts page), and ``person_move`` itself; an import keeps the
current residence and reports the row (a warning: the rest of the row lands).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry import services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    AccessLog,
    ImportIssue,
    Person,
    PersonSource,
    RecordChange,
    RegistrationReview,
    Residence,
)
from zhiwang.registry.services.places import move_since

TODAY = timezone.localdate()
PEOPLE = "/api/v1/registry/people"
CODE = "registry.since_before_current"


def _number(seq: int) -> str:
    return make_id_number("440305", date(1979, 8, 9), seq, male=seq % 2 == 1)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _placed(steward, room, seq: int, since: date | None) -> Person:
    data = {"id_number": _number(seq), "name": "李四", "address": room.code}
    if since is not None:
        data["since"] = since.isoformat()
    person, created = services.person_register(actor=steward, data=data)
    assert created
    person.refresh_from_db()
    return person


def _other_room(room) -> StandardAddress:
    """Another room of the same grid (the grid worker may move people there)."""
    return (
        StandardAddress.objects.filter(grid_id=room.grid_id, level=AddressLevel.ROOM)
        .exclude(pk=room.pk)
        .order_by("code")
        .first()
    )


def _written(person: Person) -> tuple:
    """Everything a registration or a move of ``person`` could write."""
    person.refresh_from_db()
    return (
        person.version,
        person.phone,
        person.ethnicity,
        person.community_id,
        person.grid_id,
        person.last_confirmed_at,
        sorted(Residence.objects.filter(person=person).values_list("pk", "address_id", "since", "until")),
        RecordChange.objects.filter(record_kind="person", record_id=person.pk).count(),
        PersonSource.objects.filter(person=person).count(),
        AccessLog.objects.count(),
    )


# --- the rule ------------------------------------------------------------------------------------


class _Stay:
    def __init__(self, since):
        self.since = since


@pytest.mark.parametrize(
    "since, starts, expected",
    [
        (date(2026, 5, 2), [date(2026, 5, 1)], date(2026, 5, 2)),  # the day after: the old one ends 05-01
        (None, [date(2026, 5, 1)], date(2026, 6, 1)),  # no date: today
        (date(2026, 5, 2), [None], date(2026, 5, 2)),  # a residence of unknown start
        (date(2026, 5, 2), [], date(2026, 5, 2)),
        (date(2026, 5, 1), [date(2026, 5, 1)], None),  # the same day: refused
        (date(2026, 4, 1), [date(2026, 5, 1)], None),  # before: refused
        (date(2026, 5, 10), [date(2026, 3, 1), date(2026, 5, 20)], None),  # the latest start counts
        (None, [date(2026, 6, 1)], None),  # no date, the current one began today
    ],
)
def test_move_since(since, starts, expected):
    stays = [_Stay(start) for start in starts]
    if expected is not None:
        assert move_since(since, stays, today=date(2026, 6, 1)) == expected
        return
    with pytest.raises(ServiceError) as info:
        move_since(since, stays, today=date(2026, 6, 1))
    assert (info.value.code, info.value.field, info.value.status) == (CODE, "since", 400)
    latest = max(start for start in starts if start)
    assert latest.isoformat() in info.value.message


def test_the_message_says_what_to_do():
    # the English source words (the default language is Chinese, which the catalog now translates)
    with translation.override("en"), pytest.raises(ServiceError) as earlier:
        move_since(date(2026, 4, 1), [_Stay(date(2026, 5, 1))], today=date(2026, 6, 1))
    assert earlier.value.message == (
        "The current residence began on 2026-05-01: a move must start after that day. "
        "Give a later date, or none for today."
    )
    with translation.override("en"), pytest.raises(ServiceError) as today:
        move_since(None, [_Stay(date(2026, 6, 1))], today=date(2026, 6, 1))
    assert today.value.message == (
        "The current residence began today (2026-06-01): a move to another address can be "
        "recorded from tomorrow on."
    )


# --- the API: POST /people -----------------------------------------------------------------------


@pytest.mark.parametrize("days_before", [10, 0], ids=["before", "same day"])
def test_api_refuses_a_move_dated_on_or_before_the_current_residence(
    steward, grid_worker, home_room, days_before
):
    start = TODAY - timedelta(days=10)
    person = _placed(steward, home_room, 701, since=start)
    before = _written(person)
    answer = _client(grid_worker).post(
        PEOPLE,
        json.dumps(
            {
                "id_number": person.id_number,
                "name": person.name,
                "address": _other_room(home_room).code,
                "since": (start - timedelta(days=days_before)).isoformat(),
                "phone": "13712345678",  # empty on the record: would be filled
                "ethnicity": "汉",
            }
        ),
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (CODE, "since")
    assert [f["field"] for f in error["fields"]] == ["since"]
    assert f"began on {start.isoformat()}" in error["message"]
    assert _written(person) == before  # nothing written: no move, no filled field, no source


def test_api_moves_from_the_day_after(steward, grid_worker, home_room):
    start = TODAY - timedelta(days=10)
    person = _placed(steward, home_room, 703, since=start)
    other = _other_room(home_room)
    answer = _client(grid_worker).post(
        PEOPLE,
        json.dumps(
            {
                "id_number": person.id_number,
                "name": person.name,
                "address": other.code,
                "since": (start + timedelta(days=1)).isoformat(),
            }
        ),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    old = Residence.objects.get(person=person, address=home_room)
    new = Residence.objects.get(person=person, address=other)
    assert (old.since, old.until, new.since, new.until) == (start, start, start + timedelta(days=1), None)


def test_api_without_a_date_after_a_residence_begun_today(steward, grid_worker, home_room):
    person = _placed(steward, home_room, 705, since=None)  # placed today
    before = _written(person)
    answer = _client(grid_worker).post(
        PEOPLE,
        json.dumps(
            {"id_number": person.id_number, "name": person.name, "address": _other_room(home_room).code}
        ),
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (CODE, "since")
    assert f"began today ({TODAY.isoformat()})" in error["message"]
    assert _written(person) == before


def test_the_same_address_again_confirms_whatever_the_date(steward, grid_worker, home_room):
    start = TODAY - timedelta(days=10)
    person = _placed(steward, home_room, 707, since=start)
    answer = _client(grid_worker).post(
        PEOPLE,
        json.dumps(
            {
                "id_number": person.id_number,
                "name": person.name,
                "address": home_room.code,
                "since": (start - timedelta(days=30)).isoformat(),
            }
        ),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert list(Residence.objects.filter(person=person).values_list("since", "until")) == [(start, None)]


# --- the web form: a data steward's decision on a registration kept for review ------------------------


def _referred(grid_worker, held, room, since: date | None) -> RegistrationReview:
    data = {"id_number": held.id_number, "name": held.name, "address": room.code, "phone": "13712345678"}
    if since is not None:
        data["since"] = since.isoformat()
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(actor=grid_worker, data=data)
    return info.value.review


@pytest.mark.parametrize("placed_days_ago, given_days_ago", [(10, 20), (10, 10), (0, None)])
def test_the_stewards_decision_is_refused_and_the_registration_waits(
    steward, grid_worker, home_room, luohu_room, placed_days_ago, given_days_ago
):
    start = TODAY - timedelta(days=placed_days_ago)
    held = _placed(steward, luohu_room, 711, since=start if placed_days_ago else None)
    given = TODAY - timedelta(days=given_days_ago) if given_days_ago is not None else None
    review = _referred(grid_worker, held, home_room, given)
    before = _written(held)
    answer = _client(steward).post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert answer.status_code == 400
    page = answer.content.decode()
    shown = page.split('<div class="errors">', 1)[1].split("</div>", 1)[0]
    assert f"the current residence began on {start.isoformat()}" in shown
    assert (given.isoformat() if given else "today (no date given)") in shown
    assert "decline it if the record is right" in shown
    assert _written(held) == before  # not moved, the phone not filled, no history row
    review.refresh_from_db()
    assert (review.status, review.resolved_by, review.resolved_at) == ("pending", None, None)
    assert f'data-testid="review-{review.pk}"' in page  # still in the queue
    # declining it is still possible
    assert (
        _client(steward).post("/registry/conflicts/", {"review": str(review.pk), "moved": "0"}).status_code
        == 302
    )
    review.refresh_from_db()
    assert review.status == "declined"


def test_the_stewards_decision_moves_a_registration_dated_after(steward, grid_worker, home_room, luohu_room):
    start = TODAY - timedelta(days=10)
    held = _placed(steward, luohu_room, 713, since=start)
    review = _referred(grid_worker, held, home_room, start + timedelta(days=3))
    answer = _client(steward).post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert answer.status_code == 302
    assert Residence.objects.get(person=held, address=luohu_room).until == start + timedelta(days=2)
    assert Residence.objects.get(person=held, address=home_room).since == start + timedelta(days=3)


# --- imports: the row lands, the older address is not taken ------------------------------------------


HEADER = "姓名,公民身份号码,人口类型,现住址,入住日期,联系电话"


def _import(steward, source_unit, template, path, rows: list[str], validate_only: bool = False):
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward,
        kind="person",
        source=source_unit,
        file_path=path,
        template=template,
        validate_only=validate_only,
    )
    return pipeline.import_batch_run(batch=batch)


@pytest.mark.usefixtures("import_dir")
@pytest.mark.parametrize("validate_only", [False, True], ids=["import", "validate"])
def test_an_import_keeps_the_current_residence_and_says_why(
    steward, source_unit, template, tmp_path, home_room, luohu_room, validate_only
):
    start = TODAY - timedelta(days=10)
    older = _placed(steward, luohu_room, 721, since=start)  # the file dates the move before
    same_day = _placed(steward, luohu_room, 723, since=start)  # ... on the same day
    today = _placed(steward, luohu_room, 725, since=None)  # placed today, the file gives no date
    later = _placed(steward, luohu_room, 727, since=start)  # the file dates the move after: moved
    before = {p.pk: _written(p)[6] for p in (older, same_day, today, later)}  # the residences
    batch = _import(
        steward,
        source_unit,
        template,
        tmp_path / "people.csv",
        [
            f"李四,{older.id_number},流动人口,{home_room.code},{(start - timedelta(days=5)).isoformat()},13711112222",
            f"李四,{same_day.id_number},流动人口,{home_room.code},{start.isoformat()},13711113333",
            f"李四,{today.id_number},流动人口,{home_room.code},,13711114444",
            f"李四,{later.id_number},流动人口,{home_room.code},{(start + timedelta(days=1)).isoformat()},",
        ],
        validate_only=validate_only,
    )
    issues = {
        i.row: (i.field, i.severity, i.column, i.message)
        for i in ImportIssue.objects.filter(batch=batch, code=CODE)
    }
    assert sorted(issues) == [2, 3, 4]  # rows in the file (the header is row 1)
    assert {(field, severity, column) for field, severity, column, _m in issues.values()} == {
        ("since", "warning", "入住日期")
    }
    assert start.isoformat() in issues[2][3] and (start - timedelta(days=5)).isoformat() in issues[2][3]
    assert TODAY.isoformat() in issues[4][3]
    batch.refresh_from_db()
    assert batch.rows_rejected == 0 and batch.rows_updated + batch.rows_unchanged == 4
    for person in (older, same_day, today):  # the residences as they were
        assert _written(person)[6] == before[person.pk]
    if validate_only:
        assert _written(later)[6] == before[later.pk]
        return
    assert [
        p.phone for p in Person.objects.filter(pk__in=[older.pk, same_day.pk, today.pk]).order_by("pk")
    ] == [
        "13711112222",
        "13711113333",
        "13711114444",
    ]  # the rest of each row landed
    assert not RecordChange.objects.filter(  # the placements on registering are "move" rows too
        record_kind="person",
        record_id__in=[older.pk, same_day.pk, today.pk],
        action="move",
        import_batch=batch,
    ).exists()
    assert RecordChange.objects.filter(record_id=later.pk, action="move", import_batch=batch).exists()
    assert Residence.objects.get(person=later, address=luohu_room).until == start
    assert Residence.objects.get(person=later, address=home_room).since == start + timedelta(days=1)
    assert Person.objects.get(pk=later.pk).community_id == home_room.community_id
