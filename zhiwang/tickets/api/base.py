"""The tickets API's router and what every endpoint module shares."""

from functools import wraps

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Router
from ninja.throttling import AnonRateThrottle

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.client_address import client_address, rate_limit_key
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import access

router = Router(tags=["tickets"])

PUBLIC_RATE = getattr(settings, "ZHIWANG_PUBLIC_LOOKUP_RATE", "30/m")


class PublicRateThrottle(AnonRateThrottle):
    """ninja's per-address rate for anonymous callers, counted as every per-address limit is
    (``core.client_address.rate_limit_key``): an IPv6 client by its /64, so rotating addresses
    inside one network does not escape it."""

    def get_ident(self, request) -> str:
        return rate_limit_key(client_address(request))


# --- who each endpoint admits (``tickets.access``, the web's ticket pages' rule) ------------------

#: ``admits(...)`` values: who an endpoint admits besides ticket users (``access.uses_tickets``:
#: the staff reader roles, and citizens for what they reported). Unmarked endpoints admit ticket
#: users only; those for staff readers alone check ``require_reader`` themselves.
ANYONE = "anyone"  # the public lookup and rating (no sign-in)
SIGNED_IN = "signed_in"  # the category catalogue; submitting, where the channel rule decides


def admits(who: str):
    """Mark an endpoint open to more than ticket users (``ANYONE`` or ``SIGNED_IN``); put it
    under the ``@router`` line."""

    def mark(operation):
        operation.ticket_admits = who
        return operation

    return mark


def ticket_users_only(operation):
    """Every endpoint of this router admits the roles the web's ticket pages admit
    (``access.uses_tickets``) unless marked with ``admits``: a mediator or any other role has a
    jurisdiction too, and ``visible_to`` alone would list its tickets — descriptions, addresses,
    the staff timeline — to them."""
    who = getattr(operation, "ticket_admits", "")

    @wraps(operation)
    def wrapper(request, *args, **kwargs):
        if who not in (ANYONE, SIGNED_IN):
            access.check_user(request.user)
        return operation(request, *args, **kwargs)

    return wrapper


# After authentication (the token's user is known) and after the request was parsed (a malformed
# request is 422 before it is 403), as the registry's router does.
router.add_decorator(ticket_users_only)


def require_reader(user) -> None:
    """403 ``auth.forbidden`` unless a staff role that reads tickets (``access.reads_tickets``):
    the queues, the histories, duplicates and batches are no citizen's."""
    access.check_reader(user)


def active_unit_by_code(code: str | None, field: str = "unit") -> OrgUnit | None:
    if not code:
        return None
    unit = OrgUnit.objects.filter(code=code.strip(), is_active=True).first()
    if unit is None:
        raise ServiceError(
            "tickets.unit_unknown", _("There is no active unit %(code)s.") % {"code": code}, field=field
        )
    return unit
