"""Role-aware navigation for the shell: one table, read by the base template.

Later apps add their entries here (the web floor may import every app below it).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.accounts.roles import STAFF_ROLES  # defined with the roles; re-exported for the web floor
from zhiwang.disputes import selectors as dispute_selectors
from zhiwang.tickets.access import READER_ROLES

#: Not signed in: the public pages (report, track) and the sign-in page.
ANONYMOUS = "anonymous"

#: (label, url name, roles that see it; None = every signed-in user)
NAVIGATION = [
    (_("Home"), "web:home", None),
    (_("Report a problem"), "web:ticket_report", frozenset({ANONYMOUS, "citizen"})),
    (_("Track a request"), "web:ticket_track", frozenset({ANONYMOUS, "citizen"})),
    (_("My requests"), "web:my_tickets", frozenset({"citizen"})),
    (_("Record a call"), "web:ticket_intake", frozenset({"intake_operator", "administrator"})),
    (_("Import calls"), "web:ticket_import", frozenset({"intake_operator", "dispatcher", "administrator"})),
    (_("Dispatch queue"), "web:dispatch_queue", frozenset({"dispatcher", "administrator"})),
    (_("Inbox"), "web:handler_inbox", frozenset({"handler", "administrator"})),
    (_("Report an incident"), "web:patrol_report", frozenset({"grid_worker"})),
    (_("Verification"), "web:verify_list", frozenset({"grid_worker"})),
    # the roles the ticket pages and the tickets API admit (one rule, tickets.access)
    (_("Tickets"), "web:ticket_list", READER_ROLES),
    (
        _("City registry"),
        "registry:home",
        frozenset({"grid_worker", "data_steward", "leader", "administrator"}),
    ),
    (
        _("Disputes"),
        "disputes:home",
        frozenset({"intake_operator", "mediator", "dispatcher", "leader", "administrator"}),
    ),
    (
        _("Dashboards"),
        "analytics:dashboard",
        frozenset({"leader", "dispatcher", "data_steward", "administrator"}),
    ),
    (_("Smart dispatch"), "web:smart_dispatch", frozenset({"administrator"})),
    (_("Divisions and grids"), "web:division_root", STAFF_ROLES),
    (_("My grids"), "web:my_grids", frozenset({"grid_worker"})),
    (
        _("API documentation"),
        "api:openapi-view",
        frozenset({"dispatcher", "data_steward", "administrator", "leader"}),
    ),
    (_("Sign in"), "web:login", frozenset({ANONYMOUS})),
]

#: An intake operator of a service centre works the window, not the hotline: the intake page under
#: the window's name (it records the "window" channel for them), no call-file imports, and the
#: service window itself.
WINDOW_SWAPS = {"web:ticket_intake": pgettext_lazy("menu", "Record a request"), "web:ticket_import": None}


def works_a_window(user, role: str) -> bool:
    """Staff of a service centre's window (综治中心窗口): an intake operator whose unit runs a
    centre (``disputes.selectors.centres_for``, the window page's own check). Their menu and home
    page lead to the window, not the hotline's call intake."""
    return role == "intake_operator" and dispute_selectors.centres_for(user=user).exists()


def navigation_for(user, current_path: str) -> list[dict]:
    if user is None or not user.is_authenticated:
        role = ANONYMOUS
    else:
        role = "administrator" if user.is_superuser else getattr(user, "role", "")
    window = role != ANONYMOUS and works_a_window(user, role)
    items = []
    for label, url_name, roles in NAVIGATION:
        if roles is None and role == ANONYMOUS:
            continue
        if roles is not None and role not in roles:
            continue
        if window and url_name in WINDOW_SWAPS:
            label = WINDOW_SWAPS[url_name]
            if label is None:
                continue
        url = reverse(url_name)
        active = current_path == url if url == "/" else current_path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    if window:
        url = reverse("disputes:window")
        items.insert(
            1,
            {
                "label": pgettext_lazy("menu", "Service window"),
                "url": url,
                "active": current_path.startswith(url),
            },
        )
    if role != ANONYMOUS and user.is_staff:
        url = reverse("admin:index")
        items.append({"label": _("Administration"), "url": url, "active": current_path.startswith(url)})
    # one current item: the longest link the path is under (the window, /disputes/window/, is not
    # also "Disputes", /disputes/)
    current = max((item for item in items if item["active"]), key=lambda item: len(item["url"]), default=None)
    for item in items:
        item["active"] = item is current
    return items
