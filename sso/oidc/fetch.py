"""Outbound HTTP to an OpenID Provider (discovery, JWKS, token and userinfo requests).

The SSRF guard, https rule, deadline and size cap are ``sso.fetch``'s, shared with SAML metadata fetches. Here:
OIDC's limits (no redirects, a 512 KiB cap) and its error type.
"""

from __future__ import annotations

from typing import Any

from sso.fetch import TIMEOUT_SECONDS, Fetched, FetchError
from sso.fetch import check_url as _check_url
from sso.fetch import fetch as _fetch

MAX_RESPONSE_BYTES = 512 * 1024

ProviderFetchError = FetchError
__all__ = ["MAX_RESPONSE_BYTES", "TIMEOUT_SECONDS", "Fetched", "ProviderFetchError", "check_url", "get_json", "send"]


def check_url(url: str, what: str) -> None:
    """Refuse (ProviderFetchError) a URL that would never be fetched; see ``sso.fetch.check_url``."""
    _check_url(url, what)


def send(
    method: str,
    url: str,
    *,
    what: str,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Fetched:
    """Send one guarded request to the provider (no redirects) and return the answer, whatever its status.

    ``what`` names the endpoint in messages ("discovery document", "token endpoint"). Raises ProviderFetchError
    when the URL is refused, the provider cannot be reached, redirects, times out, or sends too much.
    """
    return _fetch(method, url, what=what, max_bytes=MAX_RESPONSE_BYTES, data=data, headers=headers, auth=auth)


def get_json(url: str, *, what: str) -> dict[str, Any]:
    """GET ``url`` and return its JSON object; a non-200 answer raises ProviderFetchError."""
    fetched = send("GET", url, what=what)
    if fetched.status != 200:
        raise ProviderFetchError(f"The {what} at {url} answered HTTP {fetched.status}.")
    return fetched.json_object(what)
