"""The extension cap is a setting: ``ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS`` (default 30 days).

The service, its error message and the case page's date input all follow it; a value that is
not a whole number of at least one day is a configuration error naming the setting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.services import (
    EXTENSION_MAX_DAYS,
    case_extend,
    extension_last_day,
    extension_max_days,
)

pytestmark = pytest.mark.django_db


def test_the_default_is_thirty_days(settings):
    if hasattr(settings, "ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS"):
        del settings.ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS
    assert EXTENSION_MAX_DAYS == 30 and extension_max_days() == 30


@pytest.mark.parametrize(("value", "days"), [(10, 10), ("45", 45), (" 7 ", 7)])
def test_the_setting_is_read_as_a_number_of_days(settings, value, days):
    settings.ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS = value
    assert extension_max_days() == days


@pytest.mark.parametrize("value", [0, -5, "abc", "", 1.5, True, None, "²"])
def test_a_bad_value_names_the_setting(settings, value):
    settings.ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS = value
    with pytest.raises(ImproperlyConfigured, match="ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS"):
        extension_max_days()


def test_a_shorter_cap_limits_the_extension_its_message_and_the_page(settings, client, world, assigned_case):
    settings.ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS = 10
    case = assigned_case()
    target = timezone.localdate(case.target_at)
    last = target + timedelta(days=10)
    assert extension_last_day(case) == last
    with pytest.raises(ServiceError) as caught:
        case_extend(
            case=case, actor=world.mediator, until=(last + timedelta(days=1)).isoformat(), reason="同意"
        )
    assert caught.value.code == "disputes.extension_too_long" and caught.value.field == "until"
    assert last.isoformat() in caught.value.message and "10" in caught.value.message
    client.force_login(world.mediator)
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert f'max="{last.isoformat()}"' in page
    case.refresh_from_db()
    case = case_extend(case=case, actor=world.mediator, until=last.isoformat(), reason="双方同意")
    assert timezone.localdate(case.target_at) == last and case.extended


def test_a_longer_cap_allows_a_later_target(settings, world, assigned_case):
    settings.ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS = 60
    case = assigned_case()
    later = timezone.localdate(case.target_at) + timedelta(days=45)
    case = case_extend(case=case, actor=world.mediator, until=later.isoformat(), reason="双方同意")
    assert timezone.localdate(case.target_at) == later
