"""The client's address as the rate limits see it, behind ``ZHIWANG_NUM_PROXIES`` trusted proxies.

One rule for every place that records or counts by address: the citizen look-up limits
(``tickets.lookup_limits``), sign-in attempts (``accounts.LoginAttempt.ip``) and online
confirmations of dispute agreements. ninja's throttles find the address the same way
(``NINJA_NUM_PROXIES`` = ``ZHIWANG_NUM_PROXIES``).

What is recorded (logs, ``LoginAttempt.ip``) is the full address; what is counted is
``rate_limit_key`` of it, the network one client holds: an IPv6 client is given a /64 and picks
any address in it, so counting the full address would give it 2^64 fresh counters.
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


#: The prefix length of one IPv6 client's network: a subnet is a /64 (SLAAC and the temporary
#: "privacy" addresses a host rotates through live in it), so a single host may use any address
#: of it. A site often gets a /56 or /48, several /64s, which this does not join.
IPV6_CLIENT_PREFIX = 64


def rate_limit_key(address: str) -> str:
    """The value a per-address limit counts ``address`` under: the IPv4 address as it is (an
    IPv4-mapped IPv6 address ``::ffff:a.b.c.d`` as ``a.b.c.d``, the same client seen by a
    dual-stack socket), an IPv6 address as its /64 (``"2001:db8:1:2::/64"``), anything else (a
    forwarded header's junk, ``"unknown"``) as it is.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    host_bits = 128 - IPV6_CLIENT_PREFIX
    network = ipaddress.IPv6Address(int(ip) >> host_bits << host_bits)  # the zone (%eth0) dropped too
    return f"{network}/{IPV6_CLIENT_PREFIX}"


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
