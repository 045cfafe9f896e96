"""The browser walkthrough of registrations to check (待核登记): the queues as cards on a phone, the
change history in words, the dates of a move, the person page's two logs, the decision wording."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone, translation

from zhiwang.core.errors import ServiceError
from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    AccessLog,
    HouseholdType,
    KeyGroup,
    Operation,
    Person,
    RecordChange,
    RecordKind,
    RegistrationReview,
    Residence,
)
from zhiwang.registry.services.history import ENTITY_FIELDS, HOUSING_FIELDS, PERSON_FIELDS, change_row
from zhiwang.registry.services.places import move_end
from zhiwang.registry.templatetags.registry_history import ACTIONS
from zhiwang.registry.validation import FIELDS

TODAY = timezone.localdate()


def _client(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _number(seq: int) -> str:
    return make_id_number("440305", date(1982, 6, 7), seq, male=seq % 2 == 1)


#: When the people held in Luohu came there: before the dates the registrations give (a move
#: must start after the current residence began, ``places.move_since``).
LONG_AGO = TODAY - timedelta(days=400)


def _held_elsewhere(steward, luohu_room, seq: int, since: date | None = LONG_AGO) -> Person:
    """A person placed in Luohu from ``since`` (None: no date given, placed today)."""
    data = {"id_number": _number(seq), "name": "罗湖人", "address": luohu_room.code}
    if since is not None:
        data["since"] = since.isoformat()
    person, created = services.person_register(actor=steward, data=data)
    assert created
    person.refresh_from_db()
    return person


def _referred(grid_worker, held, home_room, since: date) -> RegistrationReview:
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(
            actor=grid_worker,
            data={
                "id_number": held.id_number,
                "name": "罗湖人",
                "address": home_room.code,
                "since": since.isoformat(),
            },
            note="入户走访",
        )
    return info.value.review


def _section(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


# --- 1. the queues are cards on a phone ------------------------------------------------------


def test_both_queues_are_stack_tables_every_cell_named(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room, 601)
    review = _referred(grid_worker, held, home_room, TODAY - timedelta(days=3))
    html = _client(steward).get("/registry/conflicts/").content.decode()
    assert "registry/queues.css" in html
    for testid in ("conflicts", "registration-reviews"):
        opening = re.search(rf'<table class="([^"]+)" data-testid="{testid}"', html)
        assert opening and {"data", "stack", "queue"} <= set(opening.group(1).split())
    row = html.split(f'data-testid="review-{review.pk}"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td([^>]*)>", row)
    # the first cell is the card's title; every other one but the buttons says its column's name
    assert len(cells) == 7
    assert [("data-label" in c) for c in cells] == [False, True, True, True, True, True, False]
    assert 'class="queue-actions"' in cells[-1]
    assert f'<span class="id-number">{held.masked_id_number}</span>' in row


def test_queue_css_ends_each_card_with_its_buttons():
    css = (Path(__file__).resolve().parents[2] / "zhiwang/registry/static/registry/queues.css").read_text()
    phone = css.split("@media (max-width: 700px)", 1)[1]
    assert re.search(r"table\.data\.stack\.queue td\.queue-actions \{[^}]*order: 2", phone)
    assert re.search(r"\.queue \.id-number \{[^}]*white-space: nowrap", css)


# --- 5. the decision wording and the reviews' own empty text ---------------------------------


def test_decision_button_is_an_action_and_the_empty_queue_has_its_own_words(
    steward, grid_worker, home_room, luohu_room
):
    held = _held_elsewhere(steward, luohu_room, 603)
    review = _referred(grid_worker, held, home_room, TODAY - timedelta(days=3))
    client = _client(steward)
    html = client.get("/registry/conflicts/").content.decode()
    reviews = _section(html, "registration-reviews")
    assert ">Move the record to the address given</button>" in reviews and ">Decline</button>" in reviews
    assert "Moved here" not in html
    assert client.post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"}).status_code == 302
    html = client.get("/registry/conflicts/").content.decode()
    assert ">No registrations to check.</td>" in _section(html, "registration-reviews")
    assert "No registrations to check." not in _section(html, "conflicts")
    assert ">Nothing to decide.</td>" in _section(html, "conflicts")


# --- 2. the change history in words -----------------------------------------------------------

#: every action a RecordChange row is written with (services, imports.writers)
WRITTEN_ACTIONS = {
    "create",
    "update",
    "import",
    "correct",
    "correct_residence",
    "move",
    "move_out",
    "tag",
    "confirm",
}


def _history_html(kind: str, rows, record=None) -> str:
    with translation.override("en"):
        return render_to_string("registry/_history.html", {"history": rows, "record": record})


def _change_lines(html: str) -> list[str]:
    return [unescape(line) for line in re.findall(r'data-testid="history-change">(.*?)</div>', html)]


def test_every_action_has_words(steward):
    assert set(ACTIONS) == WRITTEN_ACTIONS
    rows = [change_row(RecordKind.PERSON, 1, action, actor=steward) for action in sorted(WRITTEN_ACTIONS)]
    html = _history_html(RecordKind.PERSON, rows)
    shown = re.findall(r'data-testid="history-action">(.*?)</td>', html)
    with translation.override("en"):
        assert shown == [str(ACTIONS[action]) for action in sorted(WRITTEN_ACTIONS)]
    assert not set(shown) & WRITTEN_ACTIONS


@pytest.mark.parametrize(
    "kind, fields",
    [
        (RecordKind.PERSON, (*PERSON_FIELDS, "address", "since", "tag")),
        (RecordKind.ENTITY, (*ENTITY_FIELDS, "address")),
        (RecordKind.HOUSING, HOUSING_FIELDS),
    ],
)
def test_every_field_has_words(kind, fields):
    rows = [change_row(kind, 1, "correct", changes={name: ["a", "b"]}) for name in fields]
    lines = _change_lines(_history_html(kind, rows))
    with translation.override("en"):
        labels = [
            str(FIELDS[kind].get(name) or {"address": "Address", "tag": "Key group"}[name]) for name in fields
        ]
    assert lines == [f"{label}: a → b" for label in labels]
    assert "<code>" not in _history_html(kind, rows)


def test_coded_values_have_words():
    rows = [
        change_row(RecordKind.PERSON, 1, "correct", changes={"household_type": ["registered", "migrant"]}),
        change_row(RecordKind.PERSON, 1, "tag", changes={"tag": ["", KeyGroup.values[0]]}),
        change_row(RecordKind.HOUSING, 2, "import", changes={"is_rental": ["False", "True"]}),
    ]
    lines = _change_lines(_history_html(RecordKind.PERSON, rows))
    with translation.override("en"):
        assert lines == [
            f"Household type: {HouseholdType.REGISTERED.label} → {HouseholdType.MIGRANT.label}",
            f"Key group: — → {KeyGroup.labels[0]}",
            "Rental housing: No → Yes",
        ]


def test_a_decided_move_reads_in_words_on_the_person_page(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room, 605, since=TODAY - timedelta(days=40))
    review = _referred(grid_worker, held, home_room, TODAY - timedelta(days=10))
    services.registration_review_resolve(review=review, actor=steward, moved=True)
    for language, move_word in (("en", "Moved"), ("zh-hans", None)):
        html = _client(steward, language).get(f"/registry/people/{held.pk}/").content.decode()
        history = _section(html, "history")
        assert ">move<" not in history and "<code>address</code>" not in history and "address:" not in history
        if move_word:
            assert f'data-testid="history-action">{move_word}</td>' in history
            assert f"Address: {luohu_room.full_name} → {home_room.full_name}" in unescape(history)


# --- 3. the dates of a move -------------------------------------------------------------------


@pytest.mark.parametrize(
    "since, start, end",
    [
        (date(2026, 11, 1), date(2026, 3, 1), date(2026, 10, 31)),  # the day before
        (date(2026, 11, 1), date(2026, 10, 31), date(2026, 10, 31)),  # a one-day stay
        (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1)),  # started that day: its start
        (date(2026, 11, 1), date(2026, 11, 20), date(2026, 11, 20)),  # never before its start
        (date(2026, 11, 1), None, date(2026, 10, 31)),
    ],
)
def test_move_end(since, start, end):
    assert move_end(since, start) == end


def test_a_decided_move_ends_the_old_residence_the_day_before(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room, 607, since=TODAY - timedelta(days=60))
    since = TODAY - timedelta(days=27)
    review = _referred(grid_worker, held, home_room, since)
    services.registration_review_resolve(review=review, actor=steward, moved=True)
    old = Residence.objects.get(person=held, address=luohu_room)
    new = Residence.objects.get(person=held, address=home_room)
    assert (old.since, old.until) == (TODAY - timedelta(days=60), since - timedelta(days=1))
    assert (new.since, new.until) == (since, None)
    move = RecordChange.objects.filter(
        record_kind=RecordKind.PERSON, record_id=held.pk, action="move"
    ).latest("pk")
    assert move.payload["changes"] == {"address": [luohu_room.full_name, home_room.full_name]}


def test_a_move_without_a_date_ends_yesterday_and_never_follows_a_residence_begun_today(
    steward, home_room, luohu_room
):
    earlier = _held_elsewhere(steward, luohu_room, 609, since=TODAY - timedelta(days=5))
    services.person_move(person=earlier, address=home_room, actor=steward)
    assert Residence.objects.get(person=earlier, address=luohu_room).until == TODAY - timedelta(days=1)
    assert Residence.objects.get(person=earlier, address=home_room).since == TODAY
    # placed today: a move today would share the day (or end the stay before it began)
    today = _held_elsewhere(steward, luohu_room, 611, since=None)
    with pytest.raises(ServiceError) as info:
        services.person_move(person=today, address=home_room, actor=steward)
    assert (info.value.code, info.value.field) == ("registry.since_before_current", "since")
    assert TODAY.isoformat() in info.value.message
    assert [(r.address_id, r.since, r.until) for r in Residence.objects.filter(person=today)] == [
        (luohu_room.pk, TODAY, None)
    ]


def test_an_entity_moves_by_the_same_rule(steward, home_room, luohu_room):
    code = make_credit_code("440305", random.Random(7))
    entity, _created = services.entity_register(
        actor=steward,
        data={
            "credit_code": code,
            "name": "测试商行",
            "address": luohu_room.code,
            "since": (TODAY - timedelta(days=90)).isoformat(),
        },
    )
    since = TODAY - timedelta(days=30)
    services.entity_locate(entity=entity, address=home_room, since=since, actor=steward)
    old = Operation.objects.get(entity=entity, address=luohu_room)
    assert old.until == since - timedelta(days=1)
    assert Operation.objects.get(entity=entity, address=home_room).since == since
    move = RecordChange.objects.filter(
        record_kind=RecordKind.ENTITY, record_id=entity.pk, action="move"
    ).latest("pk")
    assert move.payload["changes"] == {"address": [luohu_room.full_name, home_room.full_name]}


@pytest.mark.usefixtures("import_dir")
def test_an_import_moves_by_the_same_rule(steward, source_unit, template, tmp_path, home_room, luohu_room):
    number = _number(613)
    header = "姓名,公民身份号码,人口类型,现住址,入住日期"
    for name, (address, since) in {
        "a.csv": (luohu_room.code, TODAY - timedelta(days=100)),
        "b.csv": (home_room.code, TODAY - timedelta(days=27)),
    }.items():
        path = tmp_path / name
        path.write_text(f"{header}\n张一,{number},户籍,{address},{since.isoformat()}\n", encoding="utf-8")
        batch = pipeline.import_batch_create(
            actor=steward, kind="person", source=source_unit, file_path=path, template=template
        )
        pipeline.import_batch_run(batch=batch)
    person = Person.objects.get(residences__address=home_room)
    old = Residence.objects.get(person=person, address=luohu_room)
    assert old.until == TODAY - timedelta(days=28)
    move = RecordChange.objects.get(record_kind=RecordKind.PERSON, record_id=person.pk, action="move")
    assert move.payload["changes"] == {"address": [luohu_room.full_name, home_room.full_name]}


# --- 4. registrations are not views of the full data ------------------------------------------


def test_registrations_have_their_own_section(steward, grid_worker, home_room, luohu_room):
    held = _held_elsewhere(steward, luohu_room, 615)
    review = _referred(grid_worker, held, home_room, TODAY - timedelta(days=3))
    assert AccessLog.objects.filter(record_id=held.pk, action="register_referred").exists()
    services.person_reveal(person=held, actor=steward, reason="核实登记")
    html = _client(steward).get(f"/registry/people/{held.pk}/").content.decode()
    reads = _section(html, "access-log")
    registrations = _section(html, "registration-log")
    assert "Full view" in reads and "Registration kept for a data steward" not in reads
    assert grid_worker.display_name not in reads
    assert "Registration kept for a data steward" in registrations and f"#{review.pk}" in registrations
    assert grid_worker.display_name in registrations
    assert "Who saw the full data" not in html
    assert "Registrations of this ID number" in html
