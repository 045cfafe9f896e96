"""A repeat caller's alert key is a keyed hash of the phone (HMAC under the registry's secret,
``core.keyed_hash``), never the phone nor its plain SHA-256 (reversible by hashing every mobile).
Alerts raised with the old unkeyed key are re-keyed from their tickets' phones by migration
``analytics.0012_caller_keys_keyed``: an open alert is updated, not raised a second time, and a
caller marked a false alarm is not raised again without new evidence."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from zhiwang.analytics import alerts, services
from zhiwang.analytics.alerts import caller_key, detect_repeat_callers
from zhiwang.analytics.models import Alert, AlertKind
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db

PHONE = "13800138000"  # make_ticket's caller


def _plain(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


def _legacy_key(phone: str) -> str:
    """The key the detector wrote before (``caller:`` + 16 hex characters of the plain SHA-256)."""
    return f"caller:{_plain(phone)[:16]}"


def _migrate_keys():
    """Migration 0012's data step, on today's tables."""
    module = import_module("zhiwang.analytics.migrations.0012_caller_keys_keyed")
    module.rekey_callers(apps, SimpleNamespace(connection=connection))


def _detect():
    return services.alerts_detect(today=timezone.localdate(), kinds=[AlertKind.REPEAT_CALLER])


def _calls(make_ticket, n, phone=PHONE, prefix="c"):
    return [make_ticket(external_id=f"{prefix}-{i}", reporter_phone=phone) for i in range(n)]


# --- the key -------------------------------------------------------------------------------------------


def test_the_stored_key_is_a_keyed_hash_not_the_plain_sha256(make_ticket, frozen_now):
    _calls(make_ticket, 4)
    assert _detect()["created"] == 1
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    assert alert.key == caller_key(PHONE)
    digest = alert.key.removeprefix("caller:")
    assert len(digest) == 32
    assert digest not in _plain(PHONE) and _plain(PHONE)[:16] not in alert.key
    assert alert.key != _legacy_key(PHONE) and PHONE not in alert.key


def test_another_secret_gives_another_key(settings):
    settings.ZHIWANG_REGISTRY_HASH_KEY = "one-secret-for-the-test"
    first = caller_key(PHONE)
    assert caller_key(PHONE) == first  # stable under one secret
    settings.ZHIWANG_REGISTRY_HASH_KEY = "another-secret-for-the-test"
    assert caller_key(PHONE) != first
    assert caller_key("13900139000") != caller_key(PHONE)


def test_the_key_is_not_the_registrys_phone_hash(settings):
    from zhiwang.core.phones import phone_digits
    from zhiwang.registry.hashing import phone_hash

    settings.ZHIWANG_REGISTRY_HASH_KEY = "shared-secret-for-the-test"
    assert caller_key(PHONE).removeprefix("caller:") not in phone_hash(phone_digits(PHONE))


def test_the_stored_key_follows_the_secret(make_ticket, frozen_now, settings):
    _calls(make_ticket, 4)
    settings.ZHIWANG_REGISTRY_HASH_KEY = "secret-a"
    findings = detect_repeat_callers(today=timezone.localdate())
    settings.ZHIWANG_REGISTRY_HASH_KEY = "secret-b"
    again = detect_repeat_callers(today=timezone.localdate())
    assert len(findings) == len(again) == 1 and findings[0].key != again[0].key


# --- detection still works -----------------------------------------------------------------------------


def test_a_caller_is_found_at_the_fourth_call_and_only_by_their_own_calls(make_ticket, frozen_now):
    _calls(make_ticket, 3)
    _calls(make_ticket, 3, phone="13900139000", prefix="other")
    assert detect_repeat_callers(today=timezone.localdate()) == []
    fourth = make_ticket(external_id="c-fourth", reporter_phone=PHONE)
    (finding,) = detect_repeat_callers(today=timezone.localdate())
    assert finding.observed == 4 and fourth.pk in finding.ticket_ids
    assert finding.key == caller_key(PHONE)
    assert _detect()["created"] == 1
    # found again: the same alert, updated
    make_ticket(external_id="c-fifth", reporter_phone=PHONE)
    counts = _detect()
    assert counts["created"] == 0 and counts["updated"] == 1
    assert Alert.objects.get(kind=AlertKind.REPEAT_CALLER).observed == 5


# --- alerts raised with the old key --------------------------------------------------------------------


def _raise_with_the_old_key(monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(alerts, "caller_key", _legacy_key)
        assert _detect()["created"] == 1
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    assert alert.key == _legacy_key(PHONE)
    return alert


def test_without_the_migration_the_new_key_would_raise_the_open_alert_again(
    make_ticket, frozen_now, monkeypatch
):
    """Why the migration exists: de-duplication is by key."""
    _calls(make_ticket, 4)
    _raise_with_the_old_key(monkeypatch)
    assert _detect()["created"] == 1
    assert Alert.objects.filter(kind=AlertKind.REPEAT_CALLER, status="open").count() == 2


def test_an_open_alert_raised_before_is_updated_not_raised_again(make_ticket, frozen_now, monkeypatch):
    _calls(make_ticket, 4)
    old = _raise_with_the_old_key(monkeypatch)
    _migrate_keys()
    old.refresh_from_db()
    assert old.key == caller_key(PHONE) and old.status == "open"
    make_ticket(external_id="c-after", reporter_phone=PHONE)
    counts = _detect()
    assert counts["created"] == 0 and counts["updated"] == 1
    (alert,) = Alert.objects.filter(kind=AlertKind.REPEAT_CALLER)
    assert alert.pk == old.pk and alert.observed == 5


def test_a_false_alarm_decided_before_stays_decided(make_ticket, frozen_now, monkeypatch, nanshan_dispatcher):
    _calls(make_ticket, 4)
    old = _raise_with_the_old_key(monkeypatch)
    services.alert_decide(alert_id=old.pk, user=nanshan_dispatcher, status="false")
    _migrate_keys()
    frozen_now(frozen_now.initial + timedelta(days=4))  # past the cool-down, within the 30 days
    counts = _detect()
    assert counts["created"] == 0 and counts["suppressed"] == 1
    assert not Alert.objects.filter(status="open").exists()
    make_ticket(external_id="c-new-evidence", reporter_phone=PHONE)
    assert _detect()["created"] == 1  # a call it did not count is new evidence, as before


def test_an_alert_whose_phone_is_gone_loses_its_old_key(make_ticket, frozen_now, monkeypatch):
    made = _calls(make_ticket, 4)
    old = _raise_with_the_old_key(monkeypatch)
    other = Alert.objects.create(
        kind=AlertKind.SURGE,
        key="surge:untouched",
        window_start=old.window_start,
        window_end=old.window_end,
        explanation="x",
    )
    Ticket.objects.filter(pk__in=[t.pk for t in made]).update(reporter_phone="")  # phones erased since
    _migrate_keys()
    old.refresh_from_db()
    assert old.key == f"caller:unmatched:{old.pk}"
    other.refresh_from_db()
    assert other.key == "surge:untouched"  # other kinds are not touched


def test_the_migration_leaves_new_keys_as_they_are(make_ticket, frozen_now):
    _calls(make_ticket, 4)
    _detect()
    before = Alert.objects.get(kind=AlertKind.REPEAT_CALLER).key
    _migrate_keys()
    assert Alert.objects.get(kind=AlertKind.REPEAT_CALLER).key == before == caller_key(PHONE)


def test_an_old_key_of_sixteen_digits_is_still_recognised(make_ticket, frozen_now, monkeypatch):
    """The masking of the time left 16 hex characters alone; today's masks a run of 16 digits (a
    bank card number). One old key in about 2,000 is all digits: it is stored unmasked."""
    phone = "13800000922"
    assert _plain(phone)[:16].isdigit()
    _calls(make_ticket, 4, phone=phone, prefix="d")
    with monkeypatch.context() as patched:
        patched.setattr(alerts, "caller_key", _legacy_key)
        assert _detect()["created"] == 1
    old = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    Alert.objects.filter(pk=old.pk).update(key=_legacy_key(phone))  # as the earlier code stored it
    _migrate_keys()
    old.refresh_from_db()
    assert old.key == caller_key(phone)
