"""The client's address as the rate limits see it, behind ``ZHIWANG_NUM_PROXIES`` trusted proxies.

One rule for every place that records or counts by address: the citizen look-up limits
(``tickets.lookup_limits``), sign-in attempts (``accounts.LoginAttempt.ip``) and online
confirmations of dispute agreements. ninja's throttles find the address the same way
(``NINJA_NUM_PROXIES`` = ``ZHIWANG_NUM_PROXIES``).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """The client's address as ninja's throttles see it (``ZHIWANG_NUM_PROXIES`` = ``NINJA_NUM_PROXIES``).

    0 proxies (the default): the connection's address, whatever ``X-Forwarded-For`` says. N
    proxies: the N-th address of ``X-Forwarded-For`` counted from the right (the one the
    outermost trusted proxy saw), or the leftmost when the header has fewer.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = getattr(settings, "ZHIWANG_NUM_PROXIES", 0) or 0
    if proxies > 0 and forwarded:
        hops = forwarded.split(",")
        remote = hops[-min(proxies, len(hops))].strip() or remote
    return remote or "unknown"


def client_ip(request) -> str | None:
    """``client_address`` when it is an IP address (for an IP column), else None.

    A header a client wrote can hold anything; an IP column (``inet`` on PostgreSQL) refuses
    what is not an address, so a bad value is stored as unknown rather than failing the request.
    """
    if request is None:
        return None
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
