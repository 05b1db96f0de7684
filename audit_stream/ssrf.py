"""Where audit events may be sent: destination URLs checked against server-side request forgery.

A destination is typed by an organization owner, so the server must not become their way into our network:

- ``https://`` only for webhooks and HEC, ``tls://host:port`` for syslog; plain ``http://`` only with
  ``AUDIT_STREAM_ALLOW_HTTP=1`` (local tests); no user name or password in the URL;
- every address the host name resolves to must be a public internet address (not loopback, private,
  link-local — the cloud metadata service 169.254.169.254 is one —, multicast, reserved...) unless
  ``AUDIT_STREAM_ALLOW_PRIVATE_TARGETS=1`` (tests); the check is ``sso.fetch``'s, the one that guards IdP
  metadata fetches;
- the socket connects to the address that was checked (``connect``), so a DNS answer that changes between the
  check and the connection (DNS rebinding) changes nothing; redirects are never followed (``senders``).

Refusals raise ``TargetRefused`` with a sentence for the owner.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from sso.fetch import FetchError, address_problem, literal_address, vetted_address

ALL_NETWORKS = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
PURPOSE = "audit events are sent only to public addresses"
SYSLOG_TLS_PORT = 6514  # RFC 5425 §4.1

logger = logging.getLogger(__name__)


class TargetRefused(Exception):
    """A destination URL or host that audit events will not be sent to; ``message`` says why, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    """A checked destination: ``scheme`` (https, http or tls), ``host`` (no brackets), ``port`` and ``path``
    (with query; "/" when empty)."""

    scheme: str
    host: str
    port: int
    path: str


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return ALL_NETWORKS if getattr(settings, "AUDIT_STREAM_ALLOW_PRIVATE_TARGETS", False) else []


def _hint() -> str:
    return (
        " For a local test receiver, set AUDIT_STREAM_ALLOW_PRIVATE_TARGETS=1 (tests only)." if settings.DEBUG else ""
    )


def _http_hint() -> str:
    return " For a local test receiver, set AUDIT_STREAM_ALLOW_HTTP=1 (tests only)." if settings.DEBUG else ""


def check_target(url: str, kind: str) -> Target:
    """Parse and check ``url`` for a destination of ``kind`` (webhook, hec or syslog) without resolving it.

    Raises TargetRefused for a malformed URL, a scheme the kind does not allow, credentials in the URL, or a
    literal address (``sso.fetch.literal_address``: shorthand IPv4 spellings and ``localhost`` too) that is not
    public. Host names are checked again when resolved
    (``connect``)."""
    url = (url or "").strip()
    if kind == "syslog" and "://" not in url:
        url = f"tls://{url}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        raise TargetRefused(f"{url!r} is not a valid URL.") from None
    allowed_schemes = {"tls"} if kind == "syslog" else {"https"}
    if getattr(settings, "AUDIT_STREAM_ALLOW_HTTP", False) and kind != "syslog":
        allowed_schemes.add("http")
    if parts.scheme == "http" and kind != "syslog" and host and "http" not in allowed_schemes:
        # Owners read a plain sentence; operators find the setting in the log (and, in DEBUG, on the page).
        logger.info(
            "Audit stream destination %r refused: plain http:// needs AUDIT_STREAM_ALLOW_HTTP=1 (local tests only).",
            url,
        )
        raise TargetRefused(
            f"{url!r} is not an https:// URL: audit events are sent only over encrypted connections (https://)."
            f"{_http_hint()}"
        )
    if parts.scheme not in allowed_schemes or not host:
        shape = "tls://host:port" if kind == "syslog" else "an https:// URL"
        raise TargetRefused(f"{url!r} is not {shape}.")
    if parts.username or parts.password:
        raise TargetRefused(f"{url!r} contains a user name or password; remove them.")
    literal = literal_address(host)  # shorthand IPv4 too (127.1, 2130706433, 0x7f000001): the resolver reads them
    if literal is not None:
        problem = address_problem(literal)
        if problem is not None and not any(literal in network for network in _allowed_networks()):
            raise TargetRefused(f"{url} points at {host}, which is {problem}; {PURPOSE}.{_hint()}")
    default_port = {"https": 443, "http": 80, "tls": SYSLOG_TLS_PORT}[parts.scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port or default_port, path)


def resolve(host: str, port: int) -> str:
    """The address to connect to for ``host``, after checking every address it resolves to (TargetRefused)."""
    try:
        return vetted_address(host, port, allowed=_allowed_networks(), purpose=PURPOSE, hint=_hint())
    except FetchError as exc:
        raise TargetRefused(exc.message) from None


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to the checked address of ``host`` (see ``resolve``), Nagle's algorithm off (a request's
    headers and body go out without waiting for an ACK); OSError when it cannot be made."""
    sock = socket.create_connection((resolve(host, port), port), timeout)
    if sock.family in {socket.AF_INET, socket.AF_INET6}:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
