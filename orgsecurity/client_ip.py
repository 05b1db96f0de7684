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

One canonical form of a client address everywhere (allowlist enforcement and its "check an IP" tool, API key
networks, lockouts, sessions, the audit log): ``canonical_address``. An IPv6 address that only carries an IPv4
client is that IPv4 client: IPv4-mapped (``::ffff:0:0/96``, RFC 4291 §2.5.5.2) and the NAT64 well-known prefix
(``64:ff9b::/96``, RFC 6052 §2.1), so ``64:ff9b::c000:280`` and ``::ffff:192.0.2.128`` are both ``192.0.2.128``; an
IPv6 zone (``fe80::1%eth0``) is dropped. Every other IPv6 address stays IPv6 (the deprecated IPv4-compatible
``::a.b.c.d`` and network-specific NAT64 prefixes included: nothing says they carry an IPv4 client). CIDR blocks
admins type get the same treatment from ``canonical_network``, so a block can match the clients it names.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from python_ipware.modern.parsers import forwarded_for, parse_ip, split_unquoted, unwrap_ipv4, unwrap_ipv4_network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The /96 prefixes whose last 32 bits are an IPv4 client (the ones python-ipware's unwrap_ipv4 unwraps), for code that
# matches integers rather than ipaddress objects (allowlist.matching).
EMBEDDED_IPV4_PREFIXES = (ipaddress.IPv6Network("::ffff:0:0/96"), ipaddress.IPv6Network("64:ff9b::/96"))


def canonical_address(value: str | IPAddress | None) -> IPAddress | None:
    """The one canonical form of a client address: IPv4-mapped (RFC 4291 §2.5.5.2) and NAT64 well-known-prefix
    (RFC 6052 §2.1) IPv6 addresses given as the IPv4 address they carry, an IPv6 zone dropped. Accepts text
    (surrounding whitespace ignored) or an ``ipaddress`` object; returns None for anything that is not an IP address.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = ipaddress.ip_address(value.strip().split("%", 1)[0])
        except ValueError:
            return None
    if isinstance(value, ipaddress.IPv6Address) and value.scope_id is not None:
        value = ipaddress.IPv6Address(int(value))
    return unwrap_ipv4(value)


def canonical_ip_text(value: str | IPAddress | None) -> str | None:
    """``canonical_address`` as the text that is stored and shown (``192.0.2.128``, ``2001:db8::1``), or None."""
    address = canonical_address(value)
    return str(address) if address is not None else None


def canonical_network(network: IPNetwork) -> IPNetwork:
    """A CIDR block (RFC 4632) as clients are matched: a /96-or-longer block inside ``::ffff:0:0/96`` or
    ``64:ff9b::/96`` becomes the IPv4 block it carries (``64:ff9b::c000:200/120`` → ``192.0.2.0/24``), since those
    clients arrive as IPv4 (``canonical_address``); any other block is returned as is."""
    return unwrap_ipv4_network(network)


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _is_trusted_proxy(address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in settings.TRUSTED_PROXIES)


def _parse(text: str | None) -> IPAddress | None:
    """One address as every consumer sees it (``canonical_address``): IPv4-mapped and NAT64 well-known-prefix IPv6
    as IPv4 (python-ipware's parser also reads brackets and ports) and an IPv6 zone (``fe80::1%eth0``) dropped. A
    zone names an interface of the machine that saw the address, not a client; the database stores addresses
    without it, so keeping it would make what is audited differ from what is stored."""
    return canonical_address(parse_ip(text))


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
    return resolve_client_ip_with_reason(meta)[0]


def resolve_client_ip_with_reason(meta: dict) -> tuple[IPAddress | None, str]:
    """``resolve_client_ip`` and one sentence saying why that is the address (for the person who sees it, e.g. on
    the allowlist page): the direct connection, or which header hop our proxy wrote and which proxy it was."""
    peer = _parse(meta.get("REMOTE_ADDR"))
    header = settings.CLIENT_IP_HEADER
    if peer is None:
        return None, "The connection carried no readable address."
    direct = f"It is the address of the connection itself ({peer})"
    if settings.TRUSTED_PROXIES:
        if not _is_trusted_proxy(peer):
            return peer, f"{direct}, which is not one of our proxies, so no forwarded header is believed."
        hops = _hops(meta.get(_meta_key(header)))
        for hop in reversed(hops):
            if hop is None:
                return peer, (
                    f"{direct}: our proxy {peer} sent an unreadable {header} hop, so nothing to its left is believed."
                )
            if not _is_trusted_proxy(hop):
                return hop, f"Our proxy {peer} forwarded it in the {header} header (the first hop that is not ours)."
        if hops:
            return hops[0], f"Every {header} hop is one of our proxies; it is the leftmost, forwarded by {peer}."
        return peer, f"{direct}: our proxy {peer} sent no {header} header."
    if settings.TRUSTED_PROXY_COUNT:
        count = settings.TRUSTED_PROXY_COUNT
        hops = _hops(meta.get(_meta_key(header)))
        if len(hops) >= count:
            hop = hops[-count]
            if hop is None:
                return peer, f"{direct}: hop {count} from the right of {header} is unreadable."
            return hop, (
                f"It is hop {count} from the right of the {header} header, written by the {count} proxy(ies) in "
                f"front of this server (the connection came from {peer})."
            )
        return peer, f"{direct}: the {header} header has fewer than {count} hop(s)."
    return peer, f"{direct}; no proxy is configured, so forwarded headers are ignored."


def client_ip(request: HttpRequest) -> str | None:
    """The client IP of ``request`` as a string in the canonical form (``canonical_address``: IPv4-mapped and NAT64
    well-known-prefix IPv6 given as IPv4, no IPv6 zone), cached on the request."""
    if not hasattr(request, "_orgsecurity_client_ip"):
        address = resolve_client_ip(request.META)
        request._orgsecurity_client_ip = str(address) if address is not None else None
    return request._orgsecurity_client_ip
