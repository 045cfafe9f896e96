"""Who may open which ticket page: signed in and in one of the page's roles (administrators: all)."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import render

# One answer to a signed-out user for every app's pages (``core.signed_out``); re-exported here,
# where the ticket pages and ``web.views`` have always found them.
from zhiwang.core.signed_out import REFUSAL_HEADER, signed_out
from zhiwang.tickets.access import READER_ROLES

__all__ = ["REFUSAL_HEADER", "role_of", "role_required", "signed_out"]

INTAKE_ROLES = frozenset({"intake_operator"})
DISPATCH_ROLES = frozenset({"dispatcher"})
HANDLER_ROLES = frozenset({"handler"})
GRID_ROLES = frozenset({"grid_worker"})
#: Roles that read tickets at all (the list and the detail page): the tickets app's one rule, which
#: every endpoint of the tickets API keeps too (``tickets.access.READER_ROLES``); scoping does the rest.
TICKET_READER_ROLES = READER_ROLES


def role_of(user) -> str:
    if user is None or not user.is_authenticated:
        return "anonymous"
    return "administrator" if user.is_superuser else getattr(user, "role", "")


def role_required(roles: frozenset[str]):
    """Anonymous → the sign-in page (an htmx request: 401, ``signed_out``); a signed-in user of
    another role → 403 with a page that says so."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return signed_out(request)
            role = role_of(request.user)
            if role != "administrator" and role not in roles:
                return render(request, "web/tickets/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
