"""Turn a user's role, jurisdiction and grid assignments into a :class:`Scope`."""

from __future__ import annotations

from zhiwang.core.scoping import EVERYTHING, NOBODY, Scope
from zhiwang.geo.models import Division, Grid

#: Roles that see the whole city whatever their jurisdiction says.
CITY_WIDE_ROLES = frozenset({"administrator"})


def scope_for_user(user) -> Scope:
    """The scope of one user; computed once per request (``User.scope`` is cached)."""
    if not user.is_active:
        return NOBODY
    if user.is_superuser or user.role in CITY_WIDE_ROLES:
        return EVERYTHING
    roots = list(Division.objects.filter(pk__in=user.jurisdictions.values("pk")).only("code", "level"))
    division_ids: set[int] = set()
    for root in roots:
        if root.level == "city":
            return EVERYTHING
        division_ids.update(
            Division.objects.descendants_of(root, include_self=True).values_list("pk", flat=True)
        )
    grid_rows = list(Grid.objects.filter(assignments__user=user).values_list("pk", "community_id"))
    return Scope(
        division_ids=frozenset(division_ids),
        grid_ids=frozenset(pk for pk, _ in grid_rows),
        grid_community_ids=frozenset(community for _, community in grid_rows),
    )
