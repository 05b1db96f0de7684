"""OpenID Provider discovery (OpenID Connect Discovery 1.0): read ``<issuer>/.well-known/openid-configuration``.

The ``issuer`` in the document must be the issuer the admin entered (Discovery §4.3) and is stored verbatim;
ID tokens are later compared with it exactly. A templated issuer such as Microsoft Entra ID's multi-tenant
``https://login.microsoftonline.com/{tenantid}/v2.0`` is refused: it names no single issuer, and accepting it
would let any tenant of that provider sign in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sso.oidc import fetch
from sso.oidc.fetch import ProviderFetchError

WELL_KNOWN_PATH = "/.well-known/openid-configuration"
# Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037) an ID token may be signed with. HMAC (HS*) is never
# accepted: its key is the client secret, so anyone holding that secret, or a public value mistaken for it,
# could write ID tokens.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_ALGORITHMS = ("RS256", "ES256")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class DiscoveryError(Exception):
    """The discovery document could not be fetched or cannot be used; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ProviderMetadata:
    """What this service uses from a discovery document. URLs are absolute; ``issuer`` is verbatim.

    ``signing_algorithms``: the provider's ``id_token_signing_alg_values_supported``; ``token_auth_method``:
    how we authenticate at the token endpoint (client_secret_basic preferred, RFC 6749 §2.3.1).
    """

    issuer: str
    discovery_url: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""
    signing_algorithms: tuple[str, ...] = ("RS256",)
    token_auth_method: str = "client_secret_basic"  # noqa: S105 (a method name, not a secret)


def split_issuer_input(value: str) -> tuple[str, str]:
    """From what an admin typed (an issuer, or its full discovery URL) return (issuer as typed, discovery URL).

    Discovery §4: the discovery URL is the issuer without a trailing slash, plus ``/.well-known/openid-configuration``.
    Raises DiscoveryError for something that is not an http(s) URL, or has a query or fragment (Discovery §3).
    """
    typed = (value or "").strip()
    issuer = typed[: -len(WELL_KNOWN_PATH)] if typed.endswith(WELL_KNOWN_PATH) else typed
    try:
        parts = urlsplit(issuer)
    except ValueError:
        raise DiscoveryError(
            f"{typed!r} is not a URL. Enter the provider's issuer, e.g. https://idp.example.com"
        ) from None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise DiscoveryError(
            f"{typed!r} is not an https:// URL. Enter the provider's issuer, e.g. https://idp.example.com"
        )
    if parts.query or parts.fragment:
        raise DiscoveryError("An issuer has no query string or fragment (the part after ? or #). Remove it.")
    return issuer, issuer.rstrip("/") + WELL_KNOWN_PATH


def discover(value: str) -> ProviderMetadata:
    """Fetch and read the discovery document for the issuer ``value`` (see ``split_issuer_input``).

    Raises DiscoveryError with the reason when it cannot be fetched (see ``sso.oidc.fetch``) or used.
    """
    typed_issuer, url = split_issuer_input(value)
    try:
        document = fetch.get_json(url, what="discovery document")
    except ProviderFetchError as exc:
        raise DiscoveryError(exc.message) from None
    return parse_discovery(document, discovery_url=url, expected_issuer=typed_issuer)


def parse_discovery(document: dict[str, Any], *, discovery_url: str, expected_issuer: str) -> ProviderMetadata:
    """Check a discovery document (Discovery §3 and §4.3) and return what we use from it.

    ``expected_issuer`` is the issuer the document was fetched for; the document's ``issuer`` must equal it
    (a trailing slash typed or left out by the admin is forgiven; the stored value is the document's).
    Raises DiscoveryError naming the first problem.
    """
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise DiscoveryError(f"The discovery document at {discovery_url} has no issuer.")
    if "{" in issuer or "}" in issuer:
        raise DiscoveryError(_templated_issuer_message(issuer))
    if issuer.rstrip("/") != expected_issuer.rstrip("/"):
        raise DiscoveryError(
            f"The discovery document at {discovery_url} names the issuer {issuer}, not {expected_issuer}. "
            "A provider's document must name its own issuer; enter the issuer exactly as the provider states it."
        )
    _check(issuer, "issuer")
    endpoints = {}
    for member in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        endpoints[member] = _url_member(document, member, discovery_url, required=True)
    for member in ("userinfo_endpoint", "end_session_endpoint"):
        endpoints[member] = _url_member(document, member, discovery_url, required=False)
    _require_listed(document, "response_types_supported", "code", "the authorization code flow", discovery_url)
    _require_listed(
        document, "grant_types_supported", "authorization_code", "the authorization code grant", discovery_url
    )
    _require_listed(document, "code_challenge_methods_supported", "S256", "PKCE with S256", discovery_url)
    return ProviderMetadata(
        issuer=issuer,
        discovery_url=discovery_url,
        signing_algorithms=_signing_algorithms(document, discovery_url),
        token_auth_method=_token_auth_method(document, discovery_url),
        **endpoints,
    )


def _templated_issuer_message(issuer: str) -> str:
    if "login.microsoftonline.com" in issuer or "{tenantid}" in issuer.lower():
        return (
            f"This is a multi-tenant discovery document: its issuer {issuer} is a template that would match every "
            "Microsoft Entra ID tenant, so it cannot be used to check who signed an ID token. Enter your own "
            "tenant's issuer instead: https://login.microsoftonline.com/<your tenant ID>/v2.0 (Entra admin center "
            "→ Overview → Tenant ID)."
        )
    return (
        f"The issuer {issuer} is a template, not an issuer. Enter the issuer of your own tenant or realm, "
        "exactly as the provider states it."
    )


def _check(url: str, what: str) -> None:
    try:
        fetch.check_url(url, what)
    except ProviderFetchError as exc:
        raise DiscoveryError(exc.message) from None


def _url_member(document: dict[str, Any], member: str, discovery_url: str, *, required: bool) -> str:
    value = document.get(member)
    if value is None or value == "":
        if required:
            raise DiscoveryError(f"The discovery document at {discovery_url} has no {member}; it cannot be used.")
        return ""
    if not isinstance(value, str) or len(value) > 1024:
        raise DiscoveryError(f"The {member} in the discovery document at {discovery_url} is not a URL.")
    _check(value, member.replace("_", " "))
    return value


def _string_list(document: dict[str, Any], member: str, discovery_url: str) -> list[str] | None:
    value = document.get(member)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DiscoveryError(f"The {member} in the discovery document at {discovery_url} is not a list of names.")
    return value


def _require_listed(document: dict[str, Any], member: str, needed: str, what: str, discovery_url: str) -> None:
    listed = _string_list(document, member, discovery_url)
    if listed is not None and needed not in listed:
        raise DiscoveryError(
            f"The provider does not support {what} ({member} lists {', '.join(listed) or 'nothing'}), which "
            "this service requires."
        )


def _signing_algorithms(document: dict[str, Any], discovery_url: str) -> tuple[str, ...]:
    # Discovery §3: REQUIRED, and RS256 MUST be included; a document without it gets the spec's baseline.
    listed = _string_list(document, "id_token_signing_alg_values_supported", discovery_url) or ["RS256"]
    usable = tuple(alg for alg in listed if alg in SIGNING_ALGORITHMS)
    if not usable:
        raise DiscoveryError(
            f"The provider signs ID tokens only with {', '.join(listed)}. This service accepts public-key "
            f"signatures ({', '.join(SIGNING_ALGORITHMS)}); shared-secret (HS*) and unsigned tokens are refused."
        )
    return tuple(listed)


def _token_auth_method(document: dict[str, Any], discovery_url: str) -> str:
    # Discovery §3: the default when the member is absent is client_secret_basic.
    listed = _string_list(document, "token_endpoint_auth_methods_supported", discovery_url) or ["client_secret_basic"]
    for method in CLIENT_AUTH_METHODS:
        if method in listed:
            return method
    raise DiscoveryError(
        f"The provider's token endpoint accepts only {', '.join(listed)} client authentication; this service "
        "authenticates with a client secret (client_secret_basic or client_secret_post)."
    )
