"""A new residence never shares a day with the person's previous (ended) residence
(``services.places.cut_short``).

Two overlaps were left after the move rule (``places.move_since``) and the move-out rule
(``person_move_out`` ends a residence the day before):

1. a residence begun today and moved out today ends today; a registration elsewhere the same day
   started today too: both rooms listed the person that day. Now refused
   (``registry.since_before_previous`` on ``since``, nothing written), as a move from a residence
   begun today is (``registry.since_before_current``): from tomorrow on;
2. a dated registration after a move-out was not checked against the ended residence: ended
   2026-11-20 (a move-out noticed on the 21st), a registration "here since 2026-11-10" was written
   as given, the person in two rooms for 11 days. Now the ended residence ends the day before the
   new one (11-09), as it would have had the registration come first; dated on or before the ended
   residence's start, the registration is refused (``registry.since_before_previous``).

On every path that starts a residence: ``person_move`` (so ``POST /people``), the data steward's
decision on a registration kept for review, imports (a refused row keeps the person where they are,
a warning, the rest of the row lands); the residence correction's ``since`` keeps its stricter rule
(after the previous residence's end: ended residences are not rewritten by a correction).
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
from zhiwang.registry.services.places import cut_short

TODAY = timezone.localdate()
PEOPLE = "/api/v1/registry/people"
CODE = "registry.since_before_previous"


def _number(seq: int) -> str:
    return make_id_number("440305", date(1981, 3, 4), seq, male=seq % 2 == 1)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _placed(steward, room, seq: int, since: date | None) -> Person:
    data = {"id_number": _number(seq), "name": "王五", "address": room.code}
    if since is not None:
        data["since"] = since.isoformat()
    person, created = services.person_register(actor=steward, data=data)
    assert created
    person.refresh_from_db()
    return person


def _moved_out(steward, person: Person, until: date | None = None) -> Residence:
    """Move ``person`` out today; ``until``: as if the move-out was recorded the day after ``until``."""
    services.person_move_out(person=person, actor=steward, note="搬走")
    residence = Residence.objects.get(person=person)
    if until is not None:
        Residence.objects.filter(pk=residence.pk).update(until=until)
        residence.refresh_from_db()
    return residence


def _other_room(room) -> StandardAddress:
    return (
        StandardAddress.objects.filter(grid_id=room.grid_id, level=AddressLevel.ROOM)
        .exclude(pk=room.pk)
        .order_by("code")
        .first()
    )


def _written(person: Person) -> tuple:
    person.refresh_from_db()
    return (
        person.version,
        person.phone,
        person.community_id,
        person.grid_id,
        person.last_confirmed_at,
        sorted(Residence.objects.filter(person=person).values_list("pk", "address_id", "since", "until")),
        RecordChange.objects.filter(record_kind="person", record_id=person.pk).count(),
        PersonSource.objects.filter(person=person).count(),
        AccessLog.objects.count(),
    )


def _register(client, person, address, since: date | None = None, **extra):
    body = {"id_number": person.id_number, "name": person.name, "address": address.code, **extra}
    if since is not None:
        body["since"] = since.isoformat()
    return client.post(PEOPLE, json.dumps(body), content_type="application/json")


# --- the rule ------------------------------------------------------------------------------------


class _Stay:
    def __init__(self, since, until):
        self.since, self.until = since, until


@pytest.mark.parametrize(
    "since, stays, cut",
    [
        (date(2026, 5, 21), [(date(2026, 3, 1), date(2026, 5, 20))], []),  # after the end: untouched
        (date(2026, 5, 20), [(date(2026, 3, 1), date(2026, 5, 20))], [0]),  # its last day: cut short
        (date(2026, 5, 10), [(date(2026, 3, 1), date(2026, 5, 20))], [0]),  # inside: cut short
        (date(2026, 5, 10), [(None, date(2026, 5, 20))], [0]),  # an unknown start does not stop it
        (date(2026, 3, 1), [(date(2026, 3, 1), date(2026, 5, 20))], None),  # its start: refused
        (
            date(2026, 2, 1),
            [(date(2026, 1, 1), date(2026, 2, 28)), (date(2026, 3, 1), date(2026, 5, 20))],
            None,
        ),
        (date(2026, 6, 1), [(date(2026, 6, 1), date(2026, 6, 1))], None),  # begun and ended today
        (date(2026, 5, 10), [], []),
    ],
)
def test_cut_short(since, stays, cut):
    stays = [_Stay(start, until) for start, until in stays]
    if cut is not None:
        assert cut_short(since, stays, today=date(2026, 6, 1)) == [stays[i] for i in cut]
        return
    with pytest.raises(ServiceError) as info:
        cut_short(since, stays, today=date(2026, 6, 1))
    assert (info.value.code, info.value.field, info.value.status) == (CODE, "since", 400)
    assert (info.value.start, info.value.until) == (stays[-1].since, stays[-1].until)


def test_the_message_says_what_to_do():
    with translation.override("en"), pytest.raises(ServiceError) as earlier:
        cut_short(date(2026, 3, 1), [_Stay(date(2026, 3, 1), date(2026, 5, 20))], today=date(2026, 6, 1))
    assert earlier.value.message == (
        "The previous residence began on 2026-03-01 and ended on 2026-05-20: a new residence must "
        "start after 2026-03-01. Give a later date, or none for today."
    )
    with translation.override("en"), pytest.raises(ServiceError) as today:
        cut_short(date(2026, 6, 1), [_Stay(date(2026, 6, 1), date(2026, 6, 1))], today=date(2026, 6, 1))
    assert today.value.message == (
        "The previous residence began and ended today (2026-06-01): a residence at another address "
        "can be recorded from tomorrow on."
    )


# --- overlap 1: begun today, moved out today, registered elsewhere today ---------------------------


def test_a_residence_begun_and_ended_today_is_not_followed_the_same_day(steward, grid_worker, home_room):
    person = _placed(steward, home_room, 801, since=None)  # placed today
    old = _moved_out(steward, person)
    assert (old.since, old.until) == (TODAY, TODAY)
    before = _written(person)
    answer = _register(_client(grid_worker), person, _other_room(home_room), phone="13712340001")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (CODE, "since")
    assert [f["field"] for f in error["fields"]] == ["since"]
    assert f"began and ended today ({TODAY.isoformat()})" in error["message"]
    assert _written(person) == before  # no residence, no filled phone, no history, no source
    # the same address again is a new residence too: the same refusal
    with pytest.raises(ServiceError) as info:
        services.person_move(person=person, address=home_room, actor=steward)
    assert info.value.code == CODE


def test_a_move_out_then_a_registration_the_same_day_still_works(steward, grid_worker, home_room):
    # the ordinary case (the residence began earlier): it ends yesterday, the new one starts today
    person = _placed(steward, home_room, 803, since=TODAY - timedelta(days=30))
    _moved_out(steward, person)
    other = _other_room(home_room)
    answer = _register(_client(grid_worker), person, other)
    assert answer.status_code == 200, answer.content
    assert Residence.objects.get(person=person, address=home_room).until == TODAY - timedelta(days=1)
    new = Residence.objects.get(person=person, address=other)
    assert (new.since, new.until) == (TODAY, None)


# --- overlap 2: a dated registration after a move-out ----------------------------------------------


@pytest.mark.parametrize("days_before_end", [10, 0], ids=["inside", "last day"])
def test_api_cuts_the_ended_residence_short(steward, grid_worker, home_room, days_before_end):
    began = TODAY - timedelta(days=60)
    person = _placed(steward, home_room, 805 + days_before_end, since=began)
    until = TODAY - timedelta(days=8)
    _moved_out(steward, person, until=until)
    other = _other_room(home_room)
    since = until - timedelta(days=days_before_end)
    answer = _register(_client(grid_worker), person, other, since=since)
    assert answer.status_code == 200, answer.content
    assert sorted(
        Residence.objects.filter(person=person).values_list("address_id", "since", "until")
    ) == sorted([(home_room.pk, began, since - timedelta(days=1)), (other.pk, since, None)])
    move = RecordChange.objects.filter(record_id=person.pk, record_kind="person", action="move").latest("pk")
    assert move.payload["changes"]["address"] == [home_room.full_name, other.full_name]


@pytest.mark.parametrize("days_before_start", [0, 5], ids=["its start", "before"])
def test_api_refuses_a_registration_dated_on_or_before_the_ended_residences_start(
    steward, grid_worker, home_room, days_before_start
):
    began = TODAY - timedelta(days=60)
    person = _placed(steward, home_room, 807 + days_before_start, since=began)
    until = TODAY - timedelta(days=8)
    _moved_out(steward, person, until=until)
    before = _written(person)
    answer = _register(
        _client(grid_worker),
        person,
        _other_room(home_room),
        since=began - timedelta(days=days_before_start),
        phone="13712340002",
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (CODE, "since")
    assert f"began on {began.isoformat()} and ended on {until.isoformat()}" in error["message"]
    assert _written(person) == before  # no residence, no filled phone, no history, no source


def test_a_current_residence_of_unknown_start_and_an_ended_one(steward, home_room):
    # ended A, then a current B of unknown start (an undated import row): a move dated inside A
    # passes ``move_since`` (unknown starts stop nothing) and ends both A and B the day before
    began = TODAY - timedelta(days=60)
    person = _placed(steward, home_room, 819, since=began)
    until = TODAY - timedelta(days=8)
    _moved_out(steward, person, until=until)
    other = _other_room(home_room)
    Residence.objects.create(person=person, address=other, since=None)
    third = StandardAddress.objects.filter(grid_id=home_room.grid_id, level=AddressLevel.ROOM).exclude(
        pk__in=[home_room.pk, other.pk]
    )[0]
    since = until - timedelta(days=3)
    services.person_register(
        actor=steward,
        data={
            "id_number": person.id_number,
            "name": person.name,
            "address": third.code,
            "since": since.isoformat(),
        },
    )
    assert sorted(
        Residence.objects.filter(person=person).values_list("address_id", "since", "until"), key=str
    ) == sorted(
        [
            (home_room.pk, began, since - timedelta(days=1)),
            (other.pk, None, since - timedelta(days=1)),
            (third.pk, since, None),
        ],
        key=str,
    )


# --- the data steward's decision -----------------------------------------------------------------


def _referred(grid_worker, held, room, since: date | None) -> RegistrationReview:
    data = {"id_number": held.id_number, "name": held.name, "address": room.code, "phone": "13712340003"}
    if since is not None:
        data["since"] = since.isoformat()
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(actor=grid_worker, data=data)
    return info.value.review


@pytest.mark.parametrize("case", ["dated before", "ended today"])
def test_the_stewards_decision_is_refused_and_the_registration_waits(
    steward, grid_worker, home_room, luohu_room, case
):
    if case == "dated before":
        began = TODAY - timedelta(days=60)
        held = _placed(steward, luohu_room, 811, since=began)
        until = TODAY - timedelta(days=8)
        _moved_out(steward, held, until=until)
        given = began - timedelta(days=5)
    else:
        held = _placed(steward, luohu_room, 813, since=None)
        began = until = _moved_out(steward, held).until
        given = None
    review = _referred(grid_worker, held, home_room, given)
    (preview,) = services.review_previews([review])
    assert (preview.blocked_since, preview.blocked_previous) == (None, began)  # known before the click
    before = _written(held)
    answer = _client(steward).post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert answer.status_code == 400
    page = answer.content.decode()
    shown = page.split('<div class="errors">', 1)[1].split("</div>", 1)[0]
    assert f"the previous residence began on {began.isoformat()} (it ended on {until.isoformat()})" in shown
    assert (given.isoformat() if given else "today (no date given)") in shown
    assert "decline it if the record is right" in shown
    assert _written(held) == before
    review.refresh_from_db()
    assert (review.status, review.resolved_by) == ("pending", None)


def test_the_stewards_decision_cuts_the_ended_residence_short(steward, grid_worker, home_room, luohu_room):
    held = _placed(steward, luohu_room, 815, since=TODAY - timedelta(days=60))
    until = TODAY - timedelta(days=8)
    _moved_out(steward, held, until=until)
    given = until - timedelta(days=5)
    review = _referred(grid_worker, held, home_room, given)
    (preview,) = services.review_previews([review])
    assert preview.blocked_previous is None
    answer = _client(steward).post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert answer.status_code == 302
    assert Residence.objects.get(person=held, address=luohu_room).until == given - timedelta(days=1)
    assert Residence.objects.get(person=held, address=home_room).since == given


# --- the residence correction's since (already held: pinned) -----------------------------------------


def test_a_correction_cannot_start_the_residence_inside_the_ended_one(steward, home_room):
    person = _placed(steward, home_room, 817, since=TODAY - timedelta(days=60))
    until = TODAY - timedelta(days=8)
    _moved_out(steward, person, until=until)
    services.person_register(
        actor=steward,
        data={
            "id_number": person.id_number,
            "name": person.name,
            "address": _other_room(home_room).code,
            "since": (until + timedelta(days=2)).isoformat(),
        },
    )
    person.refresh_from_db()
    with pytest.raises(ServiceError) as info:
        services.person_residence_correct(
            person=person,
            actor=steward,
            note="日期填错",
            since=until.isoformat(),
            expected_version=person.version,
        )
    assert (info.value.code, info.value.field) == (CODE, "since")


# --- imports: the row lands, the address is not taken ---------------------------------------------


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
def test_an_import_does_not_overlap_an_ended_residence(
    steward, source_unit, template, tmp_path, home_room, luohu_room, validate_only
):
    began, until = TODAY - timedelta(days=60), TODAY - timedelta(days=8)
    before_start = _placed(steward, luohu_room, 821, since=began)
    _moved_out(steward, before_start, until=until)  # the file dates the new residence before it began
    today = _placed(steward, luohu_room, 823, since=None)
    _moved_out(steward, today)  # begun and ended today, the file gives no date
    inside = _placed(steward, luohu_room, 825, since=began)
    _moved_out(steward, inside, until=until)  # the file dates it inside: cut short
    undated = _placed(steward, luohu_room, 827, since=began)
    _moved_out(steward, undated, until=until)  # no date: a start unknown, the ended one untouched
    before = {p.pk: _written(p)[5] for p in (before_start, today, inside, undated)}
    given = until - timedelta(days=5)
    batch = _import(
        steward,
        source_unit,
        template,
        tmp_path / "people.csv",
        [
            f"王五,{before_start.id_number},流动人口,{home_room.code},{(began - timedelta(days=1)).isoformat()},13711110001",
            f"王五,{today.id_number},流动人口,{home_room.code},,13711110002",
            f"王五,{inside.id_number},流动人口,{home_room.code},{given.isoformat()},",
            f"王五,{undated.id_number},流动人口,{home_room.code},,",
        ],
        validate_only=validate_only,
    )
    issues = {
        i.row: (i.field, i.severity, i.column, i.message)
        for i in ImportIssue.objects.filter(batch=batch, code=CODE)
    }
    assert sorted(issues) == [2, 3]  # rows in the file (the header is row 1)
    assert {(field, severity, column) for field, severity, column, _m in issues.values()} == {
        ("since", "warning", "入住日期")
    }
    assert began.isoformat() in issues[2][3] and until.isoformat() in issues[2][3]
    assert TODAY.isoformat() in issues[3][3]
    batch.refresh_from_db()
    assert batch.rows_rejected == 0 and batch.rows_updated + batch.rows_unchanged == 4
    for person in (before_start, today):
        assert _written(person)[5] == before[person.pk]
    if validate_only:
        assert _written(inside)[5] == before[inside.pk]
        return
    assert [p.phone for p in Person.objects.filter(pk__in=[before_start.pk, today.pk]).order_by("pk")] == [
        "13711110001",
        "13711110002",
    ]  # the rest of each row landed
    assert Residence.objects.get(person=inside, address=luohu_room).until == given - timedelta(days=1)
    assert Residence.objects.get(person=inside, address=home_room).since == given
    move = RecordChange.objects.get(
        record_id=inside.pk, record_kind="person", action="move", import_batch=batch
    )
    assert move.payload["changes"]["address"] == [luohu_room.full_name, home_room.full_name]
    assert Residence.objects.get(person=undated, address=luohu_room).until == until
    assert Residence.objects.get(person=undated, address=home_room).since is None
