"""Fixed-window rate limits in the shared cache: how often one client network may do something per window.

A counter per (bucket, window) lives in Django's cache (``CACHE_URL``): with Redis every process counts together;
with the per-process local-memory cache each process counts on its own (so N processes allow N times the limit).
Nothing is written to the database, so a refused request costs one cache increment.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from orgsecurity.client_ip import canonical_address


@dataclass(frozen=True)
class Decision:
    """The outcome of one ``hit``: ``allowed``, the ``count`` in this window so far (this hit included), and
    ``retry_after`` — whole seconds until the window ends (for the HTTP ``Retry-After`` header, RFC 9110 §10.2.3)."""

    allowed: bool
    count: int
    retry_after: int


clock: Callable[[], float] = time.time
"""Where ``hit`` reads the time (seconds since the epoch) when it is given none; tests pin it inside one window."""


def network_of(ip: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network one client counts as, for every per-client limit (sign-in lockouts, SSO sign-in starts): its
    IPv4 address (a /32), or the ``IPV6_CLIENT_PREFIX``-bit network of its IPv6 address (a /64 by default: one
    IPv6 customer or LAN gets a whole /64, RFC 4291 §2.5.4 and RFC 6177, and can take a new address in it for every
    request). The address is read in its canonical form first (``orgsecurity.client_ip.canonical_address``: a
    NAT64 or IPv4-mapped address counts as the IPv4 client it carries, not as one /64 shared by every IPv4 client).
    None when ``ip`` is not an address."""
    address = canonical_address(ip)
    if address is None:
        return None
    if address.version == 6:
        return ipaddress.IPv6Network(f"{address}/{settings.IPV6_CLIENT_PREFIX}", strict=False)
    return ipaddress.IPv4Network(address)


def client_network(ip: str | None) -> str:
    """The bucket a client address counts in (``network_of``) as text: the IPv4 address itself, the IPv6 network
    as CIDR (``2001:db8:1:2::/64``), or ``"unknown"`` when there is no usable address."""
    network = network_of(ip)
    if network is None:
        return "unknown"
    return str(network.network_address) if network.version == 4 else str(network)


def hit(bucket: str, *, limit: int, window_seconds: int, now: float | None = None) -> Decision:
    """Count one event for ``bucket`` (e.g. ``"sso-start:198.51.100.7"``) in the current fixed window of
    ``window_seconds`` (aligned to the Unix epoch, ``now`` in seconds) and say whether it is within ``limit``.

    Refused events count too: a client that keeps trying stays refused until the window ends.
    """
    now = clock() if now is None else now
    window = int(now // window_seconds)
    key = f"ratelimit:{bucket}:{window}"
    retry_after = max(1, int((window + 1) * window_seconds - now))
    # add() then incr(): atomic in Redis; a key that expires in between is simply started again.
    if cache.add(key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.add(key, 1, timeout=window_seconds + 1)
            count = 1
    return Decision(allowed=count <= limit, count=count, retry_after=retry_after)
