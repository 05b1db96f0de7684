"""Fixed-window rate limits in the shared cache: how often one client network may do something per window.

A counter per (bucket, window) lives in Django's cache (``CACHE_URL``): with Redis every process counts together;
with the per-process local-memory cache each process counts on its own (so N processes allow N times the limit).
Nothing is written to the database, so a refused request costs one cache increment.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from django.core.cache import cache

# One IPv6 client gets a whole /64 (RFC 4291 §2.5.4, RFC 6177), and can take a new address in it per request.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Decision:
    """The outcome of one ``hit``: ``allowed``, the ``count`` in this window so far (this hit included), and
    ``retry_after`` — whole seconds until the window ends (for the HTTP ``Retry-After`` header, RFC 9110 §10.2.3)."""

    allowed: bool
    count: int
    retry_after: int


def client_network(ip: str | None) -> str:
    """The bucket a client address counts in: the IPv4 address itself, the /64 of an IPv6 address (as CIDR), or
    ``"unknown"`` when there is no usable address."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def hit(bucket: str, *, limit: int, window_seconds: int, now: float | None = None) -> Decision:
    """Count one event for ``bucket`` (e.g. ``"sso-start:198.51.100.7"``) in the current fixed window of
    ``window_seconds`` (aligned to the Unix epoch, ``now`` in seconds) and say whether it is within ``limit``.

    Refused events count too: a client that keeps trying stays refused until the window ends.
    """
    now = time.time() if now is None else now
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
