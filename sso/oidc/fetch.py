"""Outbound HTTP to an OpenID Provider (discovery, JWKS, token and userinfo requests), guarded against SSRF.

Every URL here was typed by an organization admin or came from a document at such a URL, so each request:

- uses https (plain http only to a private or loopback address, and only with SSO_METADATA_ALLOW_PRIVATE_HOSTS);
- refuses private, loopback, link-local and other non-global addresses unless SSO_METADATA_ALLOW_PRIVATE_HOSTS
  is on (development and tests). The check runs on the address the socket actually connected to, after DNS
  resolution, so a host name that resolves (or re-resolves) to an internal address is refused too;
- follows no redirects, ignores proxy and .netrc settings from the environment, gives up after
  ``TIMEOUT_SECONDS`` in all and reads at most ``MAX_RESPONSE_BYTES``.

Errors raise ``ProviderFetchError`` with a sentence for the admin; it never contains request bodies or
credentials.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError

TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 512 * 1024
USER_AGENT = "orgsecurity-oidc/1"


class ProviderFetchError(Exception):
    """A request to the OpenID Provider failed or was refused; ``message`` says which and why, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _AddressRefused(Exception):
    """The socket connected to an address this service may not talk to (raised from inside urllib3)."""


def private_hosts_allowed() -> bool:
    """Whether SSO_METADATA_ALLOW_PRIVATE_HOSTS lets us reach private and loopback addresses (dev and tests)."""
    return bool(getattr(settings, "SSO_METADATA_ALLOW_PRIVATE_HOSTS", False))


def describe_address(address: str) -> str | None:
    """Why ``address`` (an IPv4/IPv6 literal) is not a public internet address, or None when it is one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public internet address"
    return None


def _check_peer(sock: socket.socket, host: str, *, plain_http: bool) -> None:
    address = sock.getpeername()[0]
    reason = describe_address(address)
    if reason is not None and not private_hosts_allowed():
        raise _AddressRefused(f"{host} resolves to {address}, which is {reason}")
    if plain_http and reason is None:
        raise _AddressRefused(f"{host} is on the public internet, and plain http is refused there; use https")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        try:
            _check_peer(sock, self.host, plain_http=True)
        except _AddressRefused:
            sock.close()
            raise
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        try:
            _check_peer(sock, self.host, plain_http=False)
        except _AddressRefused:
            sock.close()
            raise
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def check_url(url: str, what: str) -> None:
    """Refuse (ProviderFetchError) a URL this service would not fetch: not https (plain http only to a literal
    private or loopback host when private hosts are allowed), with credentials, or naming a non-public address
    literally. Host names are checked again, after resolution, when fetched."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise ProviderFetchError(f"The {what} {url!r} is not a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not hostname:
        raise ProviderFetchError(f"The {what} {url!r} is not an https:// URL.")
    if parts.username or parts.password:
        raise ProviderFetchError(f"The {what} {url!r} contains a user name or password; remove them.")
    reason = _literal_host_reason(hostname)
    if reason is not None and not private_hosts_allowed():
        raise ProviderFetchError(
            f"The {what} {url} points at {hostname}, which is {reason}. Only public providers can be used."
        )
    if parts.scheme == "http" and (reason is None or not private_hosts_allowed()):
        raise ProviderFetchError(f"The {what} {url} uses plain http. OpenID Providers must use https.")


def _literal_host_reason(hostname: str) -> str | None:
    hostname = hostname.rstrip(".")
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return "a loopback address"
    try:
        return describe_address(hostname)
    except ValueError:
        return None  # a host name: checked after resolution


@dataclass(frozen=True)
class Fetched:
    """A provider's answer: HTTP status, content type (lower case, without parameters) and the body bytes."""

    url: str
    status: int
    content_type: str
    body: bytes

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object; raises ProviderFetchError when it is not one."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            raise ProviderFetchError(f"The {what} at {self.url} did not answer with JSON.") from None
        if not isinstance(value, dict):
            raise ProviderFetchError(f"The {what} at {self.url} answered with JSON that is not an object.")
        return value


def send(
    method: str,
    url: str,
    *,
    what: str,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Fetched:
    """Send one guarded request (see the module docstring) and return the answer, whatever its status.

    ``what`` names the endpoint in messages ("discovery document", "token endpoint"). Raises ProviderFetchError
    when the URL is refused, the provider cannot be reached, redirects, times out, or sends too much.
    """
    check_url(url, what)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc credentials picked up from the environment
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        response = session.request(
            method,
            url,
            data=data,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=(CONNECT_TIMEOUT_SECONDS, TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        )
        try:
            body = _read_capped(response, url, what, deadline)
        finally:
            response.close()
    except _AddressRefused as exc:
        raise ProviderFetchError(f"The {what} {url} was not fetched: {exc}.") from None
    except requests.exceptions.Timeout:
        raise ProviderFetchError(f"The {what} at {url} did not answer within {TIMEOUT_SECONDS:.0f} seconds.") from None
    except requests.exceptions.SSLError:
        raise ProviderFetchError(
            f"The {what} at {url} could not be reached over a trusted TLS connection (certificate problem)."
        ) from None
    except requests.exceptions.ConnectionError as exc:
        raise ProviderFetchError(f"The {what} at {url} could not be reached: {_connection_problem(exc)}.") from None
    except requests.exceptions.RequestException as exc:
        raise ProviderFetchError(f"The {what} at {url} could not be reached ({type(exc).__name__}).") from None
    finally:
        session.close()
    if 300 <= response.status_code < 400:
        raise ProviderFetchError(
            f"The {what} at {url} redirected to {response.headers.get('Location', '(nowhere)')}; "
            "enter the final address instead (redirects are not followed)."
        )
    content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return Fetched(url=url, status=response.status_code, content_type=content_type, body=body)


def _connection_problem(exc: BaseException) -> str:
    """What went wrong connecting, in words (the exception chain holds urllib3's reason)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NameResolutionError):
            return "its host name could not be found (DNS)"
        if isinstance(seen, ConnectionRefusedError):
            return "nothing answers at that address and port (connection refused)"
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if isinstance(seen, str):
            break
    return "the connection failed"


def _read_capped(response: requests.Response, url: str, what: str, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise ProviderFetchError(f"The {what} at {url} is larger than {MAX_RESPONSE_BYTES // 1024} KiB.")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ProviderFetchError(f"The {what} at {url} is larger than {MAX_RESPONSE_BYTES // 1024} KiB.")
        if time.monotonic() > deadline:
            raise ProviderFetchError(
                f"The {what} at {url} did not finish answering within {TIMEOUT_SECONDS:.0f} seconds."
            )
        chunks.append(chunk)
    return b"".join(chunks)


def get_json(url: str, *, what: str) -> dict[str, Any]:
    """GET ``url`` and return its JSON object; a non-200 answer raises ProviderFetchError."""
    fetched = send("GET", url, what=what)
    if fetched.status != 200:
        raise ProviderFetchError(f"The {what} at {url} answered HTTP {fetched.status}.")
    return fetched.json_object(what)
