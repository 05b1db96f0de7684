"""Server-side HTTP requests to identity providers (SAML metadata, OIDC discovery, keys, tokens), guarded
against server-side request forgery.

Every URL fetched here was typed by an organization admin, or came from a document at such a URL, so:

- the host name is resolved once and EVERY address it resolves to must be a public internet address (not
  loopback, private, link-local, multicast, reserved...), unless ``settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS``
  lists a network holding it (development and tests); the socket then connects to that checked address, so DNS
  rebinding between check and use is impossible. Redirects, when allowed, are checked the same way on every hop;
- plain http is refused for public addresses (only https), so nobody on the path can swap the IdP's keys;
- no user names or passwords in URLs, no proxy or .netrc settings from the environment;
- one deadline for the whole exchange and a cap on the body size.

Errors raise ``FetchError`` with a sentence for the admin (never request bodies or credentials).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
USER_AGENT = "orgsecurity/1"

logger = logging.getLogger(__name__)


class FetchError(Exception):
    """A request to an identity provider was refused or failed; ``message`` says which and why, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Fetched:
    """An answer: the final URL, HTTP status, content type (lower case, no parameters), the body bytes and the
    cache validators the server sent (``etag``, ``last_modified``: RFC 9110 §8.8; "" when absent)."""

    url: str
    status: int
    content_type: str
    body: bytes
    etag: str = ""
    last_modified: str = ""

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object; raises FetchError when it is not one."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            raise FetchError(f"The {what} at {self.url} did not answer with JSON.") from None
        if not isinstance(value, dict):
            raise FetchError(f"The {what} at {self.url} answered with JSON that is not an object.")
        return value


def allowed_private_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The non-public networks fetches may reach anyway (``SSO_METADATA_ALLOW_PRIVATE_HOSTS``; empty in production)."""
    return [ipaddress.ip_network(item, strict=False) for item in settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS]


def _ip(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_SHORTHAND_IPV4 = frozenset("0123456789abcdefxABCDEFX.")


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` (a URL's host name, without brackets) spells literally, or None for a name.

    Besides the canonical forms, the shorthand IPv4 spellings the system resolver (``inet_aton``) reads as
    addresses are recognised: ``127.1``, decimal ``2130706433``, hex ``0x7f000001``, octal ``017700000001``, ``0``;
    ``localhost`` and ``*.localhost`` (RFC 6761 §6.3) count as 127.0.0.1. IPv4-mapped IPv6 is its IPv4 address."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return _ip(host)
    except ValueError:
        pass
    if host and set(host) <= _SHORTHAND_IPV4 and any(char.isdigit() for char in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the well-known prefix, an IPv4 address inside


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition address carries (6to4, RFC 3056; NAT64, RFC 6052), or None."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address (e.g. "a loopback address"), or None when it is one.

    IPv6 addresses that carry an IPv4 address (6to4, NAT64) are judged by it; Teredo tunnels (RFC 4380) and the
    deprecated site-local range (RFC 3879), which Python's ``is_global`` lets through, are refused."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return "a Teredo tunnel address"
        if address.is_site_local:
            return "a site-local address"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_problem(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private network address"
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        return "not a public internet address"
    return None


def _local_hint() -> str:
    """Tell operators (in the log, in development) how to reach a local test IdP; the sentence people read never
    names a setting (an IdP admin on a set-up link cannot change one). Returns the text to add to it: nothing."""
    if settings.DEBUG:
        logger.info("For a local test IdP, set SSO_METADATA_ALLOW_PRIVATE_HOSTS=1 (development only).")
    return ""


def vetted_address(
    host: str,
    port: int,
    *,
    allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None,
    purpose: str = "identity provider documents are fetched only from public addresses",
    hint: str | None = None,
) -> str:
    """Resolve ``host`` and return one address to connect to, after checking every address it resolves to.

    Raises FetchError for a name that does not resolve, or any resolved address that is not public and not in
    ``allowed`` (default ``allowed_private_networks()``). ``purpose`` and ``hint`` complete the refusal sentence
    (other outbound senders, e.g. audit streaming, pass their own rule and setting).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"The host name {host} does not resolve (DNS).") from None
    if allowed is None:
        allowed = allowed_private_networks()
    addresses = []
    for *_, sockaddr in infos:
        address = _ip(sockaddr[0])
        problem = address_problem(address)
        if problem is not None and not any(address in network for network in allowed):
            raise FetchError(
                f"{host} resolves to {address}, which is {problem}; {purpose}.{_local_hint() if hint is None else hint}"
            )
        addresses.append(str(address))
    if not addresses:
        raise FetchError(f"The host name {host} does not resolve (DNS).")
    return addresses[0]


class _VettedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        address = vetted_address(self.host, self.port)
        try:
            return socket.create_connection((address, self.port), self.timeout)
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to connect to {self.host}: {exc}") from exc


class _VettedHTTPConnection(_VettedConnectionMixin, HTTPConnection):
    pass


class _VettedHTTPSConnection(_VettedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _VettedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _VettedHTTPSConnection


def _pool_manager() -> urllib3.PoolManager:
    manager = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=TIMEOUT_SECONDS), retries=False
    )
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


def check_url(url: str, what: str) -> None:
    """Refuse (FetchError) a URL that would never be fetched: not http(s), with credentials, plain http to a
    public host, or a literal address that is not allowed. Host names are checked again when resolved."""
    try:
        parts = urlsplit(url)
        hostname = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise FetchError(f"The {what} {url!r} is not a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not hostname:
        raise FetchError(f"The {what} {url!r} is not an https:// URL.")
    if parts.username or parts.password:
        raise FetchError(f"The {what} {url!r} contains a user name or password; remove them.")
    literal = literal_address(hostname)
    problem = address_problem(literal) if literal is not None else None
    allowed = literal is not None and any(literal in network for network in allowed_private_networks())
    if problem is not None and not allowed:
        raise FetchError(
            f"The {what} {url} points at {hostname}, which is {problem}; identity provider documents are fetched "
            f"only from public addresses.{_local_hint()}"
        )
    if parts.scheme == "http" and problem is None:
        raise FetchError(f"The {what} {url} uses plain http; identity providers must be reached over https.")


def fetch(
    method: str,
    url: str,
    *,
    what: str,
    max_bytes: int,
    max_redirects: int = 0,
    accept: str = "application/json",
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """Send one guarded request (see the module docstring) and return the answer, whatever its status.

    ``what`` names the document in messages ("discovery document", "metadata"). ``data`` is sent form-encoded,
    ``auth`` as HTTP Basic (RFC 7617). Redirects are followed up to ``max_redirects`` times (GET only), each hop
    checked again. Raises FetchError when a URL is refused, the host cannot be reached, it redirects too often,
    the exchange takes longer than TIMEOUT_SECONDS, or the body exceeds ``max_bytes``.
    """
    deadline = time.monotonic() + TIMEOUT_SECONDS
    request_headers = {"User-Agent": USER_AGENT, "Accept": accept, **(headers or {})}
    body = None
    if data is not None:
        body = urlencode(data)
        request_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None:
        request_headers.update(urllib3.util.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
    manager = _pool_manager()
    current = url.strip()
    for _hop in range(max_redirects + 1):
        check_url(current, what)
        try:
            response = manager.request(
                method, current, body=body, headers=request_headers, redirect=False, preload_content=False
            )
        except FetchError:
            raise
        except HTTPError as exc:
            raise FetchError(f"The {what} at {current} could not be reached: {_reason(exc)}.") from None
        try:
            if response.status in {301, 302, 303, 307, 308}:
                location = response.headers.get("Location", "")
                if max_redirects == 0 or method != "GET":
                    raise FetchError(
                        f"The {what} at {current} redirected to {location or '(nowhere)'}; "
                        "enter the final address instead (redirects are not followed)."
                    )
                if not location:
                    raise FetchError(f"The {what} at {current} redirects without saying where to.")
                current = urljoin(current, location)
                continue
            content = _read_capped(response, current, what, max_bytes, deadline)
            content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            return Fetched(
                url=current,
                status=response.status,
                content_type=content_type,
                body=content,
                etag=response.headers.get("ETag", "")[:500],
                last_modified=response.headers.get("Last-Modified", "")[:100],
            )
        finally:
            response.release_conn()
    raise FetchError(f"The {what} at {url} redirects more than {max_redirects} times.")


def _read_capped(response: Any, url: str, what: str, max_bytes: int, deadline: float) -> bytes:
    too_large = f"The {what} at {url} is larger than {max_bytes // 1024} KiB."
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(too_large)
    body = bytearray()
    try:
        for chunk in response.stream(16 * 1024):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise FetchError(too_large)
            if time.monotonic() > deadline:
                raise FetchError(f"The {what} at {url} did not finish answering within {TIMEOUT_SECONDS:g} seconds.")
    except HTTPError as exc:
        raise FetchError(f"Reading the {what} at {url} failed: {_reason(exc)}.") from None
    return bytes(body)


def _reason(exc: HTTPError) -> str:
    """What went wrong, in words (urllib3 wraps the cause: a timeout, a refused connection, a TLS problem)."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, FetchError):
        return reason.message
    text = str(reason)
    if "timed out" in text.lower():
        return f"it did not answer within {TIMEOUT_SECONDS:g} seconds"
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return "no trusted TLS connection (certificate problem)"
    if "Connection refused" in text:
        return "nothing answers at that address and port (connection refused)"
    return text.split(": ", 1)[-1][:200]
