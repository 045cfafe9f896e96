"""``zhiwang rehash-all``: one step after the hash key changed. The registry finds people by ID number
and phone again, the window finds a returning visitor by ID number, and a repeat caller's open alert
is updated by their next ticket, not raised again. A second run and a dry run change nothing."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from tests.disputes.conftest import id_number, make_case, world  # noqa: F401  (fixtures)
from tests.tickets.conftest import (  # noqa: F401  (fixtures)
    frozen_now,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from zhiwang.analytics import services as analytics_services
from zhiwang.analytics.models import Alert, AlertKind
from zhiwang.disputes.models import Party, Visitor
from zhiwang.disputes.services import visit_register
from zhiwang.registry.hashing import id_number_hash, normalize_phone, phone_hash
from zhiwang.registry.models import Person
from zhiwang.registry.selectors import person_search
from zhiwang.web.management.commands.rehash_all import rekey_steps

pytestmark = pytest.mark.django_db

CALLER = "13800138000"  # make_ticket's caller
PERSON_ID = id_number("44030519720304051")
PERSON_PHONE = "13712345678"
VISITOR_ID = id_number("44030519880808123")
NEW_KEY = {"ZHIWANG_REGISTRY_HASH_KEY": "the-rotated-hash-key"}


def _register(world, key):  # noqa: F811
    return visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="与房东押金纠纷",
        visitor_name="赵六",
        visitor_id_number=VISITOR_ID,
        idempotency_key=key,
    ).visit


def _detect():
    return analytics_services.alerts_detect(today=timezone.localdate(), kinds=[AlertKind.REPEAT_CALLER])


def _run(*args) -> str:
    out = io.StringIO()
    call_command("rehash_all", "--no-progress", *args, stdout=out)
    return out.getvalue()


def _stored():
    """Every keyed hash the apps keep."""
    return (
        list(Person.objects.order_by("pk").values_list("id_number_hash", "phone_hash")),
        list(Visitor.objects.order_by("pk").values_list("id_hash", flat=True)),
        list(Party.objects.order_by("pk").values_list("identifier_hash", flat=True)),
        list(Alert.objects.order_by("pk").values_list("key", flat=True)),
    )


@pytest.fixture
def everything(world, make_case, make_ticket, frozen_now):  # noqa: F811
    """A registry person, a visitor, a case's parties and an open repeat-caller alert, all hashed
    under the key in force before the change."""
    person = Person.objects.create(
        id_number=PERSON_ID,
        id_number_hash=id_number_hash(PERSON_ID),
        name="欧阳明远",
        gender="male",
        birth_date=date(1972, 3, 4),
        phone=PERSON_PHONE,
        phone_hash=phone_hash(normalize_phone(PERSON_PHONE)),
        community=world.community,
    )
    visitor = _register(world, "k1").visitor
    make_case()
    for i in range(4):
        make_ticket(external_id=f"call-{i}", reporter_phone=CALLER)
    assert _detect()["created"] == 1
    return person, visitor


def test_the_steps_of_every_app_are_found():
    assert list(rekey_steps()) == [
        "registry people",
        "disputes visitors",
        "disputes parties",
        "analytics caller alerts",
    ]


@override_settings(**NEW_KEY)
def test_one_command_makes_everything_findable_again(everything, world, make_ticket):  # noqa: F811
    person, visitor = everything
    steward = world.admin

    def found(q):
        return list(person_search(user=steward, q=q).values_list("pk", flat=True)) == [person.pk]

    assert not found(PERSON_ID) and not found(PERSON_PHONE)  # stale under the new key

    before = _stored()
    out = _run("--dry-run")
    assert "registry people: would rehash 1 of 1" in out
    assert "disputes visitors: would rehash 1 of 1" in out
    assert "disputes parties: would rehash 2 of 2" in out
    assert "analytics caller alerts: would rehash 1 of 1" in out
    assert _stored() == before  # a dry run changes nothing

    out = _run("--batch-size", "1")
    assert "registry people: rehashed 1 of 1" in out
    assert "disputes visitors: rehashed 1 of 1" in out
    assert "disputes parties: rehashed 2 of 2" in out
    assert "analytics caller alerts: rehashed 1 of 1" in out

    # the registry finds the person by ID number and by phone
    assert found(PERSON_ID) and found(PERSON_PHONE)
    # the window finds the returning visitor by ID number
    assert _register(world, "k2").visitor_id == visitor.pk
    assert Visitor.objects.count() == 1
    # the caller's next ticket updates the open alert
    (alert,) = Alert.objects.filter(kind=AlertKind.REPEAT_CALLER, status="open")
    make_ticket(external_id="call-after", reporter_phone=CALLER)
    counts = _detect()
    assert counts["created"] == 0 and counts["updated"] == 1
    (again,) = Alert.objects.filter(kind=AlertKind.REPEAT_CALLER)
    assert again.pk == alert.pk and again.observed == 5

    after = _stored()
    out = _run()
    assert "registry people: rehashed 0 of 1" in out
    assert "disputes visitors: rehashed 0 of 1" in out
    assert "disputes parties: rehashed 0 of 2" in out
    assert "analytics caller alerts: rehashed 0 of 1" in out
    assert _stored() == after  # a second run changes nothing


def test_an_interrupted_run_is_finished_by_the_next(everything, monkeypatch):
    with override_settings(**NEW_KEY):
        from zhiwang.disputes import rekey as disputes_rekey

        def broken(**_options):
            raise RuntimeError("stopped")

        monkeypatch.setitem(disputes_rekey.REKEY_STEPS, "disputes parties", (lambda: 2, broken))
        with pytest.raises(RuntimeError):
            _run()
        monkeypatch.undo()
        out = _run()
        assert "registry people: rehashed 0 of 1" in out  # done by the stopped run
        assert "disputes visitors: rehashed 0 of 1" in out
        assert "disputes parties: rehashed 2 of 2" in out
        assert "analytics caller alerts: rehashed 1 of 1" in out


def test_a_bad_batch_size_is_refused():
    with pytest.raises(CommandError):
        _run("--batch-size", "0")


def test_registry_rehash_still_rebuilds_the_registry_alone(everything):
    with override_settings(**NEW_KEY):
        out = io.StringIO()
        call_command("registry_rehash", "--no-progress", stdout=out)
        assert "rehashed 1 of 1 people" in out.getvalue()
        assert "disputes visitors: rehashed 1 of 1" in _run()
