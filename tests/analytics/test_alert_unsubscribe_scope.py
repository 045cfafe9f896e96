"""Removing an alert subscription follows the unit rule of subscribing: the unit must be the
user's own or serve a division of their jurisdiction (else 403 ``analytics.unit_not_allowed``)."""

import pytest

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics import services
from zhiwang.analytics.models import AlertSubscription
from zhiwang.core.errors import NotFound, PermissionDeniedError
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"


def subscription(unit_code: str, division_code: str = NANSHAN) -> AlertSubscription:
    """A subscription as the city (or an administrator) would have made it."""
    return AlertSubscription.objects.create(
        unit=OrgUnit.objects.get(code=unit_code), division=Division.objects.get(code=division_code), kinds=[]
    )


def test_a_district_analyst_cannot_remove_the_city_command_centres_subscription(nanshan_dispatcher):
    # given the city command centre subscribed to Nanshan (the review's reproduction)
    city = subscription("DEMO-CITY-CC")
    # when Nanshan's dispatcher removes it
    with pytest.raises(PermissionDeniedError) as refused:
        services.alert_unsubscribe(user=nanshan_dispatcher, subscription_id=city.pk)
    # then it is refused, as subscribing that unit would be, and the subscription stays
    assert (refused.value.code, refused.value.field, refused.value.status) == (
        "analytics.unit_not_allowed",
        "unit",
        403,
    )
    assert AlertSubscription.objects.filter(pk=city.pk).exists()


def test_the_api_answers_403_with_the_code(client, nanshan_dispatcher):
    city = subscription("DEMO-CITY-CC")
    client.force_login(nanshan_dispatcher)
    answer = client.delete(f"/api/v1/analytics/subscriptions/{city.pk}")
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("analytics.unit_not_allowed", "unit")
    assert AlertSubscription.objects.filter(pk=city.pk).exists()


def test_own_unit_and_units_of_the_jurisdiction_may_be_removed(nanshan_dispatcher):
    own = subscription(nanshan_dispatcher.org_unit.code)  # 南山区指挥中心
    department = subscription("DEMO-NS-URBAN")  # serves Nanshan
    for sub in (own, department):
        services.alert_unsubscribe(user=nanshan_dispatcher, subscription_id=sub.pk)
    assert not AlertSubscription.objects.exists()


def test_a_subdistrict_analyst_cannot_remove_the_district_units_subscription(subdistrict_dispatcher):
    subdistrict = next(iter(subdistrict_dispatcher.jurisdictions.all()))
    district = subscription("DEMO-NS-CC", subdistrict.code)
    with pytest.raises(PermissionDeniedError):
        services.alert_unsubscribe(user=subdistrict_dispatcher, subscription_id=district.pk)
    own = subscription(subdistrict_dispatcher.org_unit.code, subdistrict.code)
    services.alert_unsubscribe(user=subdistrict_dispatcher, subscription_id=own.pk)
    assert list(AlertSubscription.objects.all()) == [district]


def test_city_wide_users_remove_any(city_leader, admin_user):
    for user in (city_leader, admin_user):
        sub = subscription("DEMO-CITY-CC")
        services.alert_unsubscribe(user=user, subscription_id=sub.pk)
        assert not AlertSubscription.objects.filter(pk=sub.pk).exists()


def test_outside_the_jurisdiction_is_still_not_found(luohu_dispatcher):
    """The division comes first: a subscription of another district is not there for them (404),
    whoever its unit is, so the unit rule reveals nothing about it."""
    sub = subscription("DEMO-NS-CC")
    with pytest.raises(NotFound):
        services.alert_unsubscribe(user=luohu_dispatcher, subscription_id=sub.pk)


def test_the_page_offers_remove_only_where_allowed_and_refuses_a_forged_post(client, nanshan_dispatcher):
    city = subscription("DEMO-CITY-CC")
    own = subscription(nanshan_dispatcher.org_unit.code)
    client.force_login(nanshan_dispatcher)
    page = client.get("/analytics/alerts/").content.decode()
    assert f'data-testid="subscription-{city.pk}"' in page  # seen (it subscribes their district)…
    assert f'data-testid="unsubscribe-{city.pk}"' not in page  # …but not theirs to remove
    assert f'data-testid="unsubscribe-{own.pk}"' in page
    # a forged post gets the refusal as a message on the page, not a server error
    answer = client.post("/analytics/alerts/subscribe", {"remove": str(city.pk)}, follow=True)
    assert answer.status_code == 200
    assert any("unit" in str(m) or "单位" in str(m) for m in answer.context["messages"])
    assert AlertSubscription.objects.filter(pk=city.pk).exists()
