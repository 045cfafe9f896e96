"""The disputes' hashes (visitors' ``id_hash``, parties' ``identifier_hash``) are ``core.keyed_hash``
under the platform's hash key with their own purpose: never the registry's hash of the same number,
recomputed by ``disputes.rekey`` after the key changes, and moved onto the key by migration 0008."""

from __future__ import annotations

import hashlib
import hmac
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test import override_settings

from tests.disputes.conftest import APPLICANT_ID, RESPONDENT_ID, id_number
from zhiwang.core.keyed_hash import keyed_hash as core_keyed_hash
from zhiwang.disputes.models import Party, Visitor
from zhiwang.disputes.rekey import party_hashes_rebuild, visitor_hashes_rebuild
from zhiwang.disputes.services import visit_register
from zhiwang.disputes.services.common import HASH_PURPOSE, keyed_hash
from zhiwang.registry.hashing import id_number_hash

pytestmark = pytest.mark.django_db

VISITOR_ID = id_number("44030519880808123")
NEW_KEY = {"ZHIWANG_REGISTRY_HASH_KEY": "a-new-hash-key-for-the-test"}


def _register(world, key, **kw):
    return visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="与房东押金纠纷",
        visitor_name=kw.pop("visitor_name", "赵六"),
        idempotency_key=key,
        **kw,
    ).visit


def _old_construction(value: str, secret: str) -> str:
    """The disputes' hash before migration 0008: ``HMAC(SECRET_KEY, "disputes:" + value)``."""
    return hmac.new(secret.encode(), b"disputes:" + value.encode(), hashlib.sha256).hexdigest()


def _hashes():
    return (
        dict(Visitor.objects.values_list("pk", "id_hash")),
        dict(Party.objects.values_list("pk", "identifier_hash")),
    )


# --- the hash --------------------------------------------------------------------------------------


def test_the_hash_is_the_platforms_keyed_hash_with_its_own_purpose(settings):
    settings.ZHIWANG_REGISTRY_HASH_KEY = "one-key-for-everything"
    assert keyed_hash(APPLICANT_ID) == core_keyed_hash(HASH_PURPOSE, APPLICANT_ID)
    # the property services.registry relies on: never the registry's hash of the same number
    assert keyed_hash(APPLICANT_ID) != id_number_hash(APPLICANT_ID)
    assert keyed_hash(APPLICANT_ID) not in {core_keyed_hash(p, APPLICANT_ID) for p in ("id", "phone")}
    # it follows the hash key, not SECRET_KEY
    before = keyed_hash(APPLICANT_ID)
    settings.SECRET_KEY = "another-secret-key-entirely-" + "x" * 30
    assert keyed_hash(APPLICANT_ID) == before
    settings.ZHIWANG_REGISTRY_HASH_KEY = "the-next-key"
    assert keyed_hash(APPLICANT_ID) != before


def test_without_a_hash_key_it_is_the_earlier_construction(settings):
    settings.ZHIWANG_REGISTRY_HASH_KEY = ""
    assert keyed_hash(APPLICANT_ID) == _old_construction(APPLICANT_ID, settings.SECRET_KEY)


# --- recomputed after a key change ---------------------------------------------------------------------


def test_a_visitor_is_found_again_after_the_key_changed(world, make_case):
    first = _register(world, "k1", visitor_id_number=VISITOR_ID)
    make_case()
    with override_settings(**NEW_KEY):
        before = _hashes()
        dry = visitor_hashes_rebuild(batch_size=1, dry_run=True)
        assert (dry.checked, dry.changed) == (1, 1)
        assert party_hashes_rebuild(dry_run=True).changed == 2
        assert _hashes() == before  # a dry run writes nothing

        seen: list[int] = []
        assert visitor_hashes_rebuild(batch_size=1, progress=seen.append).changed == 1
        assert seen == [1]
        assert party_hashes_rebuild(batch_size=1).changed == 2
        again = _register(world, "k2", visitor_id_number=VISITOR_ID)
        assert again.visitor_id == first.visitor_id  # found by ID number, not registered anew
        assert set(Party.objects.values_list("identifier_hash", flat=True)) == {
            keyed_hash(APPLICANT_ID),
            keyed_hash(RESPONDENT_ID),
        }
        after = _hashes()
        assert visitor_hashes_rebuild().changed == party_hashes_rebuild().changed == 0
        assert _hashes() == after  # a second run changes nothing


def test_a_visitor_registered_twice_keeps_one_hash(world):
    """A visitor registered anew after the key changed (the earlier row was not found): the one
    found today keeps the hash, the earlier one is retired, nothing is refused."""
    earlier = _register(world, "k1", visitor_id_number=VISITOR_ID).visitor
    with override_settings(**NEW_KEY):
        later = _register(world, "k2", visitor_id_number=VISITOR_ID).visitor
        assert later.pk != earlier.pk
        dry = visitor_hashes_rebuild(dry_run=True)
        assert (dry.changed, dry.retired) == (0, 1)
        result = visitor_hashes_rebuild()
        assert (result.checked, result.changed, result.retired) == (2, 0, 1)
        earlier.refresh_from_db()
        assert earlier.id_hash == "" and earlier.id_number == VISITOR_ID and earlier.visits.count() == 1
        assert _register(world, "k3", visitor_id_number=VISITOR_ID).visitor_id == later.pk
        again = visitor_hashes_rebuild()
        assert (again.checked, again.changed, again.retired) == (1, 0, 0)


# --- migration 0008 ------------------------------------------------------------------------------------


def _migrate(direction="forwards"):
    module = import_module("zhiwang.disputes.migrations.0008_hashes_under_the_hash_key")
    getattr(module, direction)(apps, SimpleNamespace(connection=connection))


def test_the_migration_moves_the_hashes_onto_the_hash_key(world, make_case, settings):
    settings.ZHIWANG_REGISTRY_HASH_KEY = "the-registry-key"
    secret = settings.SECRET_KEY
    visitor = _register(world, "k1", visitor_id_number=VISITOR_ID).visitor
    case = make_case()
    # as the earlier code stored them
    Visitor.objects.filter(pk=visitor.pk).update(id_hash=_old_construction(VISITOR_ID, secret))
    for party in case.parties.all():
        Party.objects.filter(pk=party.pk).update(identifier_hash=_old_construction(party.identifier, secret))
    # a visitor registered before an earlier SECRET_KEY change, found no more (and so registered anew)
    orphan = Visitor.objects.create(
        name="赵六", id_number=VISITOR_ID, id_hash=_old_construction(VISITOR_ID, "an-earlier-secret")
    )
    _migrate()
    visitor.refresh_from_db()
    orphan.refresh_from_db()
    assert visitor.id_hash == keyed_hash(VISITOR_ID)  # the one found before keeps being found
    assert orphan.id_hash == "" and orphan.id_number == VISITOR_ID
    assert {p.identifier_hash for p in case.parties.all()} == {
        keyed_hash(APPLICANT_ID),
        keyed_hash(RESPONDENT_ID),
    }
    assert _register(world, "k2", visitor_id_number=VISITOR_ID).visitor_id == visitor.pk
    after = _hashes()
    _migrate()
    assert _hashes() == after  # run again: nothing changes
    _migrate("backwards")
    visitor.refresh_from_db()
    orphan.refresh_from_db()
    assert visitor.id_hash == _old_construction(VISITOR_ID, secret) and orphan.id_hash == ""


def test_without_a_hash_key_the_migration_changes_nothing(world, make_case, settings):
    settings.ZHIWANG_REGISTRY_HASH_KEY = ""
    _register(world, "k1", visitor_id_number=VISITOR_ID)
    make_case()
    before = _hashes()
    _migrate()
    assert _hashes() == before
