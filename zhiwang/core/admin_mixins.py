"""Admin behaviours shared by the apps' admin pages.

* ``FixedOnceSavedMixin``: fields other records, files and models refer to by value (a code, a
  year, a place in the division tree) are set when the row is created and read-only after. A
  category code edited in place would cut its tickets off from the classifier's labels, the
  routing history and every exported file keyed by the code; a unit code from filters, routing
  rules and integrations; a year from its calendar days.
* ``ServiceWrittenMixin``: rows written only by services (with their timeline) are shown, never
  added, changed or deleted here: a status flipped in the admin would move no ticket and leave
  no history.
"""

from __future__ import annotations


class FixedOnceSavedMixin:
    """``fixed_once_saved`` fields: editable on the add form, read-only on the change form."""

    fixed_once_saved: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, *self.fixed_once_saved) if obj is not None else fields


class ServiceWrittenMixin:
    """View-only in the admin: the services write these rows."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
