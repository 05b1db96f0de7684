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
from python_ipware.modern.parsers import parse_ip, split_proxy_chain

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _is_trusted_proxy(address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in settings.TRUSTED_PROXIES)


def resolve_client_ip(meta: dict) -> IPAddress | None:
    """Return the client address for a WSGI ``META`` mapping under the current settings, or None."""
    peer = parse_ip(meta.get("REMOTE_ADDR"))
    if peer is None:
        return None
    if settings.TRUSTED_PROXIES:
        if not _is_trusted_proxy(peer):
            return peer
        chain = split_proxy_chain(meta.get(_meta_key(settings.CLIENT_IP_HEADER)), strict=True) or []
        for hop in reversed(chain):
            if not _is_trusted_proxy(hop):
                return hop
        return chain[0] if chain else peer
    if settings.TRUSTED_PROXY_COUNT:
        chain = split_proxy_chain(meta.get(_meta_key(settings.CLIENT_IP_HEADER)), strict=True) or []
        if len(chain) >= settings.TRUSTED_PROXY_COUNT:
            return chain[-settings.TRUSTED_PROXY_COUNT]
        return peer
    return peer


def client_ip(request: HttpRequest) -> str | None:
    """The client IP of ``request`` as a string (IPv4-mapped IPv6 given as IPv4), cached on the request."""
    if not hasattr(request, "_orgsecurity_client_ip"):
        address = resolve_client_ip(request.META)
        request._orgsecurity_client_ip = str(address) if address is not None else None
    return request._orgsecurity_client_ip
