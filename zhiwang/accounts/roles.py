"""Who is staff: the roles of the people who work the city's cases.

One definition for every floor: the web shell's navigation and pages, and the staff inbox
(``tickets.notification_selectors``), which the API serves too. Citizens are not staff, and
neither is an integration client's service user: another system reads and writes through the
API with its token's scope, it has no inbox (its org unit only scopes what it may see).
"""

from __future__ import annotations

from zhiwang.accounts.models import Role

#: The roles of staff members (every role but ``citizen`` and ``integration``).
STAFF_ROLES = frozenset(
    {
        Role.GRID_WORKER.value,
        Role.INTAKE_OPERATOR.value,
        Role.DISPATCHER.value,
        Role.HANDLER.value,
        Role.MEDIATOR.value,
        Role.LEADER.value,
        Role.DATA_STEWARD.value,
        Role.ADMINISTRATOR.value,
    }
)


def is_staff_member(user) -> bool:
    """Signed in, active, and of a staff role; a superuser counts as an administrator."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in STAFF_ROLES
