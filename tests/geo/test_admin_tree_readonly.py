"""The admin cannot move a division or a grid: the tree changes only through load-divisions."""

from __future__ import annotations

import pytest

from zhiwang.geo.models import Division, DivisionLevel, Grid

pytestmark = pytest.mark.django_db


def test_a_divisions_code_and_parent_are_read_only_in_the_admin(client, admin_user, city):
    client.force_login(admin_user)
    community = Division.objects.filter(level=DivisionLevel.COMMUNITY).order_by("code").first()
    other = Division.objects.filter(level=DivisionLevel.SUBDISTRICT).exclude(pk=community.parent_id).first()
    page = client.get(f"/admin/geo/division/{community.pk}/change/").content.decode()
    assert 'name="parent"' not in page and 'name="code"' not in page
    assert 'name="name"' in page  # the rest stays editable
    response = client.post(
        f"/admin/geo/division/{community.pk}/change/",
        {
            "name": community.name,
            "short_name": community.short_name,
            "code": "440399999999",
            "parent": other.pk,
            "level": DivisionLevel.SUBDISTRICT,
            "aliases-TOTAL_FORMS": "0",
            "aliases-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code in (200, 302)
    moved = Division.objects.get(pk=community.pk)
    assert (moved.code, moved.parent_id, moved.level) == (
        community.code,
        community.parent_id,
        community.level,
    )


def test_a_grids_community_is_read_only_in_the_admin(client, admin_user, city):
    client.force_login(admin_user)
    grid = Grid.objects.order_by("code").first()
    page = client.get(f"/admin/geo/grid/{grid.pk}/change/").content.decode()
    assert 'name="community"' not in page and 'name="code"' not in page
