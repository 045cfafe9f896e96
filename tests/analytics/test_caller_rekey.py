"""After the hash key changes, ``analytics.rekey.caller_keys_rekey`` re-keys repeat-caller alerts from
their own tickets' phones: an open alert is updated, not raised a second time, and a decision keeps
holding. Idempotent, resumable, and a dry run writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from zhiwang.analytics import services
from zhiwang.analytics.alerts import caller_key
from zhiwang.analytics.models import Alert, AlertKind
from zhiwang.analytics.rekey import alert_caller_key, caller_keys_rekey, stored_caller_key
from zhiwang.core.masking import mask_phone
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db

PHONE = "13800138000"  # make_ticket's caller
OTHER = "13900139000"
OLD_KEY = {"ZHIWANG_REGISTRY_HASH_KEY": "the-old-hash-key"}
NEW_KEY = {"ZHIWANG_REGISTRY_HASH_KEY": "the-new-hash-key"}


def _detect():
    return services.alerts_detect(today=timezone.localdate(), kinds=[AlertKind.REPEAT_CALLER])


def _calls(make_ticket, n, phone=PHONE, prefix="c"):
    return [make_ticket(external_id=f"{prefix}-{i}", reporter_phone=phone) for i in range(n)]


def _keys():
    return dict(Alert.objects.order_by("pk").values_list("pk", "key"))


def _raised_under_the_old_key(make_ticket, n=4, phone=PHONE, prefix="c"):
    made = _calls(make_ticket, n, phone=phone, prefix=prefix)
    with override_settings(**OLD_KEY):
        assert _detect()["created"] == 1
        alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER, key=caller_key(phone))
    return alert, made


def test_without_rekeying_the_new_key_raises_the_open_alert_again(make_ticket, frozen_now):
    """Why the step exists: de-duplication is by key."""
    _raised_under_the_old_key(make_ticket)
    with override_settings(**NEW_KEY):
        assert _detect()["created"] == 1
    assert Alert.objects.filter(kind=AlertKind.REPEAT_CALLER, status="open").count() == 2


@override_settings(**NEW_KEY)
def test_an_open_alert_is_updated_not_raised_again(make_ticket, frozen_now):
    alert, _made = _raised_under_the_old_key(make_ticket)
    seen: list[int] = []
    result = caller_keys_rekey(progress=seen.append)
    assert (result.checked, result.changed, result.unmatched) == (1, 1, 0) and sum(seen) == 1
    alert.refresh_from_db()
    assert alert.key == caller_key(PHONE) and alert.status == "open"
    make_ticket(external_id="c-after", reporter_phone=PHONE)
    counts = _detect()
    assert counts["created"] == 0 and counts["updated"] == 1
    (only,) = Alert.objects.filter(kind=AlertKind.REPEAT_CALLER)
    assert only.pk == alert.pk and only.observed == 5
    again = caller_keys_rekey()
    assert (again.checked, again.changed) == (1, 0)  # a second run changes nothing


@override_settings(**NEW_KEY)
def test_a_dry_run_writes_nothing(make_ticket, frozen_now):
    _raised_under_the_old_key(make_ticket)
    before = _keys()
    result = caller_keys_rekey(dry_run=True)
    assert (result.checked, result.changed, result.dry_run) == (1, 1, True)
    assert _keys() == before


def test_a_false_alarm_keeps_holding(make_ticket, frozen_now, nanshan_dispatcher):
    alert, _made = _raised_under_the_old_key(make_ticket)
    with override_settings(**OLD_KEY):
        services.alert_decide(alert_id=alert.pk, user=nanshan_dispatcher, status="false")
    with override_settings(**NEW_KEY):
        caller_keys_rekey()
        frozen_now(frozen_now.initial + timedelta(days=4))  # past the cool-down, within the 30 days
        counts = _detect()
        assert counts["created"] == 0 and counts["suppressed"] == 1
        assert not Alert.objects.filter(status="open").exists()


@override_settings(**NEW_KEY)
def test_batches_resume_and_other_kinds_are_untouched(make_ticket, frozen_now):
    _raised_under_the_old_key(make_ticket)
    _raised_under_the_old_key(make_ticket, phone=OTHER, prefix="o")
    first = Alert.objects.filter(kind=AlertKind.REPEAT_CALLER).order_by("pk").first()
    surge = Alert.objects.create(
        kind=AlertKind.SURGE,
        key="surge:untouched",
        window_start=first.window_start,
        window_end=first.window_end,
        explanation="x",
    )
    # a run stopped after its first batch: only the first alert has its new key
    Alert.objects.filter(pk=first.pk).update(key=stored_caller_key(PHONE))
    result = caller_keys_rekey(batch_size=1)
    assert (result.checked, result.changed) == (2, 1)
    assert set(Alert.objects.filter(kind=AlertKind.REPEAT_CALLER).values_list("key", flat=True)) == {
        caller_key(PHONE),
        caller_key(OTHER),
    }
    surge.refresh_from_db()
    assert surge.key == "surge:untouched"


@override_settings(**NEW_KEY)
def test_an_alert_without_a_phone_loses_its_old_key(make_ticket, frozen_now):
    alert, made = _raised_under_the_old_key(make_ticket)
    old = alert.key
    Ticket.objects.filter(pk__in=[t.pk for t in made]).update(reporter_phone="")  # erased since
    result = caller_keys_rekey()
    alert.refresh_from_db()
    assert alert.key == f"caller:unmatched:{alert.pk}" != old
    assert (result.changed, result.unmatched) == (1, 1)
    assert caller_keys_rekey().checked == 0  # left alone afterwards


def test_several_phones_are_told_apart_by_the_phone_the_alert_shows():
    detail = {"explain": {"phone": mask_phone(PHONE), "observed": 4, "days": 30}}
    key = "caller:" + "0" * 32  # under a key nobody knows any more
    assert alert_caller_key(pk=7, key=key, phones=[OTHER, PHONE], detail=detail) == stored_caller_key(PHONE)
    assert alert_caller_key(pk=7, key=key, phones=[OTHER, PHONE], detail={}) == "caller:unmatched:7"
    # two phones masked alike: no guess
    twin = PHONE[:3] + "9999" + PHONE[-4:]
    assert alert_caller_key(pk=7, key=key, phones=[twin, PHONE], detail=detail) == "caller:unmatched:7"
    assert alert_caller_key(pk=7, key=stored_caller_key(OTHER), phones=[OTHER, PHONE], detail=detail) == (
        stored_caller_key(OTHER)
    )  # current already: kept


def test_an_open_alert_raised_again_before_rekeying_keeps_the_key(make_ticket, frozen_now):
    old, _made = _raised_under_the_old_key(make_ticket)
    with override_settings(**NEW_KEY):
        assert _detect()["created"] == 1  # the detector ran before the step
        fresh = Alert.objects.get(key=caller_key(PHONE), status="open")
        result = caller_keys_rekey()
        old.refresh_from_db()
        fresh.refresh_from_db()
        assert fresh.key == caller_key(PHONE)
        assert old.key == f"caller:unmatched:{old.pk}"  # one open alert per key
        assert result.unmatched == 1
