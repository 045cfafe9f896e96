"""visible_to(user): a user sees only their jurisdiction — every leak has a test."""

import pytest

from tests.conftest import LUOHU, NANSHAN
from zhiwang.accounts import services
from zhiwang.accounts.models import Role
from zhiwang.geo.models import AddressLevel, Division, Grid, StandardAddress

pytestmark = pytest.mark.django_db


def codes(qs):
    return set(qs.values_list("code", flat=True))


def test_district_dispatcher_sees_own_district_subtree_only(nanshan_dispatcher):
    visible = Division.objects.visible_to(nanshan_dispatcher)
    assert visible.filter(code=NANSHAN).exists()
    assert all(code.startswith("440305") for code in codes(visible))
    assert not visible.filter(code=LUOHU).exists()
    assert visible.count() == Division.objects.filter(code__startswith="440305").count()


def test_district_dispatcher_cannot_see_other_district_grids_or_addresses(nanshan_dispatcher):
    luohu_grids = Grid.objects.filter(code__startswith="440303")
    assert luohu_grids.exists()
    assert not Grid.objects.visible_to(nanshan_dispatcher).filter(code__startswith="440303").exists()
    assert (
        not StandardAddress.objects.visible_to(nanshan_dispatcher)
        .filter(community__code__startswith="440303")
        .exists()
    )
    assert Grid.objects.visible_to(nanshan_dispatcher).filter(code__startswith="440305").count() == (
        Grid.objects.filter(code__startswith="440305").count()
    )


def test_subdistrict_user_does_not_see_sibling_subdistricts(subdistrict_dispatcher):
    own = subdistrict_dispatcher.jurisdictions.get()
    sibling = Division.objects.filter(parent=own.parent).exclude(pk=own.pk).first()
    visible = Division.objects.visible_to(subdistrict_dispatcher)
    assert visible.filter(pk=own.pk).exists()
    assert not visible.filter(pk=sibling.pk).exists()
    assert not visible.filter(pk=own.parent_id).exists(), "the parent district is not inside the jurisdiction"
    assert not Grid.objects.visible_to(subdistrict_dispatcher).filter(community__parent=sibling).exists()


def test_grid_worker_sees_own_grids_and_their_addresses_only(grid_worker):
    own = set(grid_worker.grid_assignments.values_list("grid__code", flat=True))
    assert len(own) == 2
    assert codes(Grid.objects.visible_to(grid_worker)) == own
    addresses = StandardAddress.objects.visible_to(grid_worker)
    assert addresses.exists()
    assert set(addresses.values_list("grid__code", flat=True)) == own
    # Models without a grid field fall back to the grids' community.
    community = Grid.objects.get(code=sorted(own)[0]).community
    assert codes(Division.objects.visible_to(grid_worker)) == {community.code}


def test_citizen_and_anonymous_see_nothing(citizen):
    from django.contrib.auth.models import AnonymousUser

    for who in (citizen, AnonymousUser(), None):
        assert not Division.objects.visible_to(who).exists()
        assert not Grid.objects.visible_to(who).exists()
        assert not StandardAddress.objects.visible_to(who).exists()


def test_administrator_and_city_jurisdiction_see_everything(admin_user, city_leader):
    total = Grid.objects.count()
    assert Grid.objects.visible_to(admin_user).count() == total
    assert Grid.objects.visible_to(city_leader).count() == total


def test_inactive_user_sees_nothing(nanshan_dispatcher):
    nanshan_dispatcher.is_active = False
    nanshan_dispatcher.save()
    nanshan_dispatcher.__dict__.pop("scope", None)
    assert not Division.objects.visible_to(nanshan_dispatcher).exists()


def test_jurisdiction_change_applies_to_the_scope(nanshan_dispatcher):
    luohu = Division.objects.get(code=LUOHU)
    services.user_set_jurisdictions(user=nanshan_dispatcher, divisions=[luohu])
    visible = Division.objects.visible_to(nanshan_dispatcher)
    assert visible.filter(code=LUOHU).exists()
    assert not visible.filter(code=NANSHAN).exists()


def test_user_create_rejects_unknown_role_and_duplicate_username():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.user_create(username="x1", password="pw-x-123456", role="king")
    assert "role" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.user_create(username="demo_admin", password="pw-x-123456", role=Role.HANDLER)
    assert "username" in exc.value.message_dict


def test_rooms_of_a_building_are_scoped_like_the_building(luohu_dispatcher):
    nanshan_room = StandardAddress.objects.filter(
        level=AddressLevel.ROOM, community__code__startswith="440305"
    ).first()
    assert nanshan_room is not None
    assert not StandardAddress.objects.visible_to(luohu_dispatcher).filter(pk=nanshan_room.pk).exists()
