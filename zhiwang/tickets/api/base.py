"""The tickets API's router and what every endpoint module shares."""

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Router
from ninja.throttling import AnonRateThrottle

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.client_address import client_address, rate_limit_key
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.models import Channel

router = Router(tags=["tickets"])

#: Channels a citizen may submit through (the others are staff and system channels).
CITIZEN_CHANNELS = (Channel.WEB, Channel.APP, Channel.API)
PUBLIC_RATE = getattr(settings, "ZHIWANG_PUBLIC_LOOKUP_RATE", "30/m")


class PublicRateThrottle(AnonRateThrottle):
    """ninja's per-address rate for anonymous callers, counted as every per-address limit is
    (``core.client_address.rate_limit_key``): an IPv6 client by its /64, so rotating addresses
    inside one network does not escape it."""

    def get_ident(self, request) -> str:
        return rate_limit_key(client_address(request))


def require_staff(user) -> None:
    if not selectors.is_staff_viewer(user):
        raise PermissionDeniedError("auth.forbidden", _("You are not allowed to do this."))


def active_unit_by_code(code: str | None, field: str = "unit") -> OrgUnit | None:
    if not code:
        return None
    unit = OrgUnit.objects.filter(code=code.strip(), is_active=True).first()
    if unit is None:
        raise ServiceError(
            "tickets.unit_unknown", _("There is no active unit %(code)s.") % {"code": code}, field=field
        )
    return unit
