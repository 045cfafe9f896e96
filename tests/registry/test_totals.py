"""Registry home page totals: stored per (community, grid), summed over the viewer's jurisdiction."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zhiwang.accounts.models import User
from zhiwang.registry.models import Housing, LegalEntity, Person, RegistryTotals
from zhiwang.registry.selectors import counts
from zhiwang.registry.services.totals import totals_refresh


def _live(user) -> dict:
    return {
        "people": Person.objects.visible_to(user).count(),
        "entities": LegalEntity.objects.visible_to(user).count(),
        "housing": Housing.objects.visible_to(user).count(),
        "rentals": Housing.objects.visible_to(user).filter(is_rental=True).count(),
    }


@pytest.fixture
def dispatcher(db):
    return User.objects.get(username="demo_ns_dispatcher")  # Nanshan district only


def test_stored_totals_equal_live_counts_per_scope(registry_demo, steward, dispatcher, grid_worker):
    assert RegistryTotals.objects.exists()  # the demo leaves them as the periodic task would
    for user in (steward, dispatcher, grid_worker):
        stored = counts(user=user)
        assert stored["as_of"] is not None
        assert {k: v for k, v in stored.items() if k != "as_of"} == _live(user), user.username
    # The district user's totals leave out the Luohu community the demo also filled; the grid
    # worker's only their grids.
    assert (
        counts(user=grid_worker)["people"]
        <= counts(user=dispatcher)["people"]
        < counts(user=steward)["people"]
    )


def test_totals_lag_until_refresh_and_count_unplaced_records_city_wide(registry_demo, steward, dispatcher):
    before_city, before_district = counts(user=steward), counts(user=dispatcher)
    Person.objects.filter(pk=Person.objects.filter(community__isnull=False).order_by("pk").first().pk).update(
        community=None, grid=None
    )
    assert counts(user=steward)["people"] == before_city["people"]  # stored: unchanged until the refresh
    totals_refresh()
    assert counts(user=steward)["people"] == before_city["people"]  # unplaced records count city-wide
    assert RegistryTotals.objects.get(community__isnull=True).people == 1
    after_district = counts(user=dispatcher)["people"]
    assert after_district in (before_district["people"], before_district["people"] - 1)
    assert after_district == Person.objects.visible_to(dispatcher).count()


def test_before_the_first_refresh_counts_are_live(registry_demo, steward):
    RegistryTotals.objects.all().delete()
    live = counts(user=steward)
    assert live["as_of"] is None and live["people"] == Person.objects.count() > 0


def test_home_page_says_when_the_totals_were_computed(client, registry_demo, steward):
    client.force_login(steward)
    page = client.get(reverse("registry:home"))
    assert page.status_code == 200
    assert 'data-testid="registry-totals-as-of"' in page.content.decode()
