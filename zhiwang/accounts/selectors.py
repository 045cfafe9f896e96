"""Reads of the accounts app, always scoped to who is asking."""

from __future__ import annotations

from django.db.models import QuerySet

from zhiwang.accounts.models import ApiToken, GridAssignment, User
from zhiwang.core.scoping import scope_of


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def grid_members(*, user, grid) -> QuerySet[GridAssignment]:
    """Members of a grid (一格多员), if the grid is visible to ``user``."""
    scope = scope_of(user)
    if not scope.allows_grid(grid.pk, grid.community_id):
        return GridAssignment.objects.none()
    return (
        GridAssignment.objects.filter(grid=grid)
        .select_related("user", "user__org_unit")
        .order_by("duty", "user__username")
    )


def user_list(*, user) -> QuerySet[User]:
    """Staff visible to ``user``: those whose jurisdiction lies inside the asker's."""
    scope = scope_of(user)
    qs = User.objects.exclude(role="integration").select_related("org_unit")
    if scope.everything:
        return qs
    if scope.is_empty:
        return qs.none()
    return qs.filter(jurisdictions__in=scope.division_ids).distinct()
