"""Role-aware navigation for the shell: one table, read by the base template.

Later apps add their entries here (the web floor may import every app below it).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

STAFF_ROLES = frozenset(
    {
        "grid_worker",
        "intake_operator",
        "dispatcher",
        "handler",
        "mediator",
        "leader",
        "data_steward",
        "administrator",
    }
)

#: (label, url name, roles that see it; None = every signed-in user)
NAVIGATION = [
    (_("Home"), "web:home", None),
    (_("Divisions and grids"), "web:division_root", STAFF_ROLES),
    (_("My grids"), "web:my_grids", frozenset({"grid_worker"})),
    (
        _("API documentation"),
        "api:openapi-view",
        frozenset({"dispatcher", "data_steward", "administrator", "leader"}),
    ),
]


def navigation_for(user, current_path: str) -> list[dict]:
    if user is None or not user.is_authenticated:
        return []
    role = "administrator" if user.is_superuser else getattr(user, "role", "")
    items = []
    for label, url_name, roles in NAVIGATION:
        if roles is not None and role not in roles:
            continue
        url = reverse(url_name)
        active = current_path == url if url == "/" else current_path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    if user.is_staff:
        url = reverse("admin:index")
        items.append({"label": _("Administration"), "url": url, "active": current_path.startswith(url)})
    return items
