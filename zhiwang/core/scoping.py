"""The one scoping mechanism: ``Model.objects.visible_to(user)``.

Every selector starts from ``visible_to(user)``. The user object only has to
expose a ``scope`` attribute holding a :class:`Scope` (``accounts.User`` does),
so this module imports no app and every floor can use it.

A model opts in by using :class:`ScopedQuerySet` as its manager and naming, on
the queryset subclass or on the model, the lookups that lead to its division
and (optionally) its grid::

    class AddressQuerySet(ScopedQuerySet):
        scope_division_field = "community"   # FK to geo.Division
        scope_grid_field = "grid"            # FK to geo.Grid

Rules
- Anonymous or inactive users see nothing.
- A user with ``scope.everything`` (superuser, city-wide roles) sees everything.
- Otherwise a record is visible when its division is inside one of the user's
  division subtrees, or (for grid workers) when its grid is one of the user's
  grids. A model without a grid field falls back to the communities of those grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models


@dataclass(frozen=True)
class Scope:
    """What one user may see: whole city, or a set of divisions and grids.

    ``division_ids`` already contains every division *inside* the user's
    jurisdiction (the roots and all their descendants), so a filter is one
    ``IN`` over at most the ~900 divisions of a city.
    ``grid_community_ids`` holds the communities of ``grid_ids``.
    """

    everything: bool = False
    division_ids: frozenset[int] = field(default_factory=frozenset)
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    grid_community_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.division_ids and not self.grid_ids

    def allows_division(self, division_id: int | None) -> bool:
        if self.everything:
            return True
        return division_id is not None and (
            division_id in self.division_ids or division_id in self.grid_community_ids
        )

    def allows_grid(self, grid_id: int | None, community_id: int | None = None) -> bool:
        if self.everything:
            return True
        if grid_id is not None and grid_id in self.grid_ids:
            return True
        return community_id is not None and community_id in self.division_ids


NOBODY = Scope()
EVERYTHING = Scope(everything=True)


def scope_of(user) -> Scope:
    """The scope of any user-like object (anonymous users see nothing)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return NOBODY
    return getattr(user, "scope", NOBODY)


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to restrict itself to what a user may see."""

    #: lookup from this model to a ``geo.Division`` ("self" when the model *is* a division)
    scope_division_field: str | None = None
    #: lookup from this model to a ``geo.Grid`` ("self" when the model *is* a grid), optional
    scope_grid_field: str | None = None

    def _field(self, name: str) -> str | None:
        return getattr(self, name, None) or getattr(self.model, name, None)

    def visible_to(self, user) -> ScopedQuerySet:
        scope = scope_of(user)
        if scope.everything:
            return self
        if scope.is_empty:
            return self.none()
        division_field = self._field("scope_division_field")
        grid_field = self._field("scope_grid_field")
        if division_field is None:
            raise TypeError(f"{self.model.__name__} has no scope_division_field: it cannot be scoped")
        division_lookup = "pk__in" if division_field == "self" else f"{division_field}__in"
        condition = models.Q()
        if scope.division_ids:
            condition |= models.Q(**{division_lookup: scope.division_ids})
        if scope.grid_ids:
            if grid_field is not None:
                grid_lookup = "pk__in" if grid_field == "self" else f"{grid_field}__in"
                condition |= models.Q(**{grid_lookup: scope.grid_ids})
            else:
                condition |= models.Q(**{division_lookup: scope.grid_community_ids})
        return self.filter(condition)
