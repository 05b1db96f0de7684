"""The one client-IP resolver for the whole product (allowlists, lockouts, audit, sessions).

Built on django-ipware's header parsing (python-ipware: X-Forwarded-For and RFC 7239 ``Forwarded``
tokens, ports, brackets, IPv4-mapped IPv6 unwrapped to IPv4). Which hops are believed comes from
settings:

- nothing configured: ``REMOTE_ADDR`` only; forwarded headers are ignored, since any client can send them.
- ``TRUSTED_PROXIES`` (CIDRs of our own proxies): only when the direct peer is one of them, read
  ``CLIENT_IP_HEADER`` right to left, skipping hops that are also our proxies; the first other hop is
  the client.
- ``TRUSTED_PROXY_COUNT`` = N (e.g. one cloud load balancer: 1): the N-th entry from the right of
  ``CLIENT_IP_HEADER`` is the client; a shorter header falls back to ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from python_ipware.modern.parsers import forwarded_for, parse_ip, split_unquoted

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _is_trusted_proxy(address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in settings.TRUSTED_PROXIES)


def _parse(text: str | None) -> IPAddress | None:
    """One address as every consumer sees it: IPv4-mapped IPv6 as IPv4 (python-ipware) and an IPv6 zone
    (``fe80::1%eth0``) dropped. A zone names an interface of the machine that saw the address, not a client; the
    database stores addresses without it, so keeping it would make what is audited differ from what is stored."""
    address = parse_ip(text)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return ipaddress.IPv6Address(int(address))
    return address


def _hops(raw: str | None) -> list[IPAddress | None]:
    """The hops of a forwarded header, left to right, each parsed on its own (None for a malformed one), so
    positions are kept: X-Forwarded-For tokens or RFC 7239 ``for=`` values."""
    if not raw:
        return []
    return [_parse(forwarded_for(token) if "=" in token else token) for token in split_unquoted(raw, ",")]


def resolve_client_ip(meta: dict) -> IPAddress | None:
    """Return the client address for a WSGI ``META`` mapping under the current settings, or None.

    Only the hops our own proxies wrote are read, from the right. Everything left of the client was written by
    the client and may be anything: a malformed hop there is never read, so it cannot make the client look like
    one of our proxies (the whole header used to be dropped for it, leaving the proxy's own address).
    """
    peer = _parse(meta.get("REMOTE_ADDR"))
    if peer is None:
        return None
    if settings.TRUSTED_PROXIES:
        if not _is_trusted_proxy(peer):
            return peer
        hops = _hops(meta.get(_meta_key(settings.CLIENT_IP_HEADER)))
        for hop in reversed(hops):
            if hop is None:
                return peer  # our proxy did not write a usable hop: nothing to its left can be believed
            if not _is_trusted_proxy(hop):
                return hop
        return hops[0] if hops else peer
    if settings.TRUSTED_PROXY_COUNT:
        hops = _hops(meta.get(_meta_key(settings.CLIENT_IP_HEADER)))
        if len(hops) >= settings.TRUSTED_PROXY_COUNT:
            return hops[-settings.TRUSTED_PROXY_COUNT] or peer
        return peer
    return peer


def client_ip(request: HttpRequest) -> str | None:
    """The client IP of ``request`` as a string (IPv4-mapped IPv6 given as IPv4, no IPv6 zone), cached on the
    request."""
    if not hasattr(request, "_orgsecurity_client_ip"):
        address = resolve_client_ip(request.META)
        request._orgsecurity_client_ip = str(address) if address is not None else None
    return request._orgsecurity_client_ip
