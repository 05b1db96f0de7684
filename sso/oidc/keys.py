"""The provider's signing keys (JWK Set, RFC 7517), cached in the database and picked by ``kid`` and algorithm.

The cache lives on ``OIDCSettings.jwks`` so every process shares it. It is fetched again when older than
``JWKS_MAX_AGE`` (a key the provider withdrew stops being trusted within that time) and, once per sign-in,
when an ID token names a ``kid`` we do not have: that is how a key rotation at the provider is picked up on
the next sign-in, without a restart. A sign-in needs a pending login and a code the provider accepted, so this
refetch cannot be triggered in bulk by a stranger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.utils import timezone

from sso.flow import SSOSignInRefused
from sso.models import OIDCSettings
from sso.oidc import fetch
from sso.oidc.fetch import ProviderFetchError

logger = logging.getLogger(__name__)

JWKS_MAX_AGE = timedelta(hours=1)
# Which key type (and curve) each accepted JWS algorithm needs (RFC 7518 §3, RFC 8037 §3.1).
KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
_TENANT_TEMPLATE = "{tenantid}"


class KeyRefused(SSOSignInRefused):
    """No usable provider key for an ID token; the message names the ``kid`` and what was tried."""

    def __init__(self, message: str, *, code: str = "unknown_key") -> None:
        super().__init__(message, code=code, status=403)


def parse_jwks(document: Any) -> list[dict[str, Any]]:
    """The key objects of a JWK Set document (``{"keys": [...]}``); entries that are not objects are dropped.

    Raises ProviderFetchError when the document is not a JWK Set at all.
    """
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ProviderFetchError("The provider's key set (jwks_uri) is not a JWK Set: it has no list of keys.")
    return [key for key in keys if isinstance(key, dict) and isinstance(key.get("kty"), str)]


def key_issuer_matches(key_issuer: str, issuer: str) -> bool:
    """Whether a key's own ``issuer`` member (Microsoft Entra ID publishes one per key) allows ``issuer``.

    Exact equality, or Entra's ``{tenantid}`` template standing for exactly one non-empty path segment, so
    ``https://login.microsoftonline.com/{tenantid}/v2.0`` covers ``https://login.microsoftonline.com/<id>/v2.0``
    and nothing wider. This only narrows which keys may sign for the stored issuer; ``iss`` is still compared
    exactly.
    """
    if key_issuer == issuer:
        return True
    if key_issuer.count(_TENANT_TEMPLATE) != 1:
        return False
    prefix, suffix = key_issuer.split(_TENANT_TEMPLATE)
    if not (issuer.startswith(prefix) and issuer.endswith(suffix)) or len(issuer) <= len(prefix) + len(suffix):
        return False
    tenant = issuer[len(prefix) : len(issuer) - len(suffix)]
    return "/" not in tenant and "{" not in tenant


def _fits(key: dict[str, Any], alg: str, issuer: str) -> bool:
    key_type, curves = KEY_TYPES[alg]
    if key.get("kty") != key_type or (curves is not None and key.get("crv") not in curves):
        return False
    if key.get("use") not in (None, "sig"):
        return False
    if "key_ops" in key and (not isinstance(key["key_ops"], list) or "verify" not in key["key_ops"]):
        return False
    if "alg" in key and key["alg"] != alg:
        return False
    key_issuer = key.get("issuer")
    return not isinstance(key_issuer, str) or key_issuer_matches(key_issuer, issuer)


@dataclass(frozen=True)
class Selection:
    """The outcome of looking for a key: ``key`` (a JWK object) or None with ``reason`` for a person."""

    key: dict[str, Any] | None
    reason: str = ""
    retry_may_help: bool = True


def select_key(keys: list[dict[str, Any]], *, alg: str, kid: str | None, issuer: str) -> Selection:
    """Pick the key for an ID token signed with ``alg`` naming ``kid`` (None: the header has no kid).

    Without a kid, the provider must publish exactly one key of the right type (RFC 7515 §4.1.4 leaves kid
    optional); with several, there is no safe way to choose and the token is refused.
    """
    fitting = [key for key in keys if _fits(key, alg, issuer)]
    if kid is not None:
        for key in fitting:
            if key.get("kid") == kid:
                return Selection(key)
        named = [key for key in keys if key.get("kid") == kid]
        if named:
            return Selection(
                None,
                f"The provider's key {kid!r} cannot verify this ID token: it is not a {alg} signing key "
                f"for the issuer {issuer} (its type, curve, use or issuer differ).",
            )
        return Selection(None, f"The ID token was signed with the key {kid!r}, which the provider does not publish.")
    if len(fitting) == 1:
        return Selection(fitting[0])
    if not fitting:
        return Selection(None, f"The provider publishes no {alg} signing key for the issuer {issuer}.")
    return Selection(
        None,
        f"The ID token does not say which key signed it (no kid), and the provider publishes {len(fitting)} "
        f"{alg} keys. Ask your provider to include the kid header in ID tokens.",
        retry_may_help=False,
    )


def _fetch(oidc: OIDCSettings, now: datetime) -> list[dict[str, Any]]:
    try:
        keys = parse_jwks(fetch.get_json(oidc.jwks_uri, what="key set (jwks_uri)"))
    except ProviderFetchError as exc:
        raise SSOSignInRefused(exc.message, code="provider_unreachable", status=502) from None
    OIDCSettings.objects.filter(pk=oidc.pk).update(jwks={"keys": keys}, jwks_fetched_at=now)
    oidc.jwks, oidc.jwks_fetched_at = {"keys": keys}, now
    logger.info(
        "Fetched the key set of %s: kids %s", oidc.issuer, ", ".join(str(key.get("kid")) for key in keys) or "none"
    )
    return keys


def _cached(oidc: OIDCSettings, now: datetime) -> list[dict[str, Any]] | None:
    if oidc.jwks_fetched_at is None or now - oidc.jwks_fetched_at > JWKS_MAX_AGE:
        return None
    keys = (oidc.jwks or {}).get("keys")
    return keys if isinstance(keys, list) else None


def signing_key(oidc: OIDCSettings, header: dict[str, Any], *, now: datetime | None = None) -> jwt.PyJWK:
    """The provider key that verifies an ID token with this (unverified) JOSE ``header``.

    Uses the cached key set; on a miss that a new key set could fix (an unknown ``kid``), fetches the key set
    once more, then refuses. Raises KeyRefused (or SSOSignInRefused with status 502 when the provider cannot be
    reached).
    """
    now = now or timezone.now()
    alg = header["alg"]
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise KeyRefused("The ID token's kid header is not a string.", code="bad_token")
    cached = _cached(oidc, now)
    keys = cached if cached is not None else _fetch(oidc, now)
    selection = select_key(keys, alg=alg, kid=kid, issuer=oidc.issuer)
    if selection.key is None and selection.retry_may_help and cached is not None:
        keys = _fetch(oidc, now)
        selection = select_key(keys, alg=alg, kid=kid, issuer=oidc.issuer)
    if selection.key is None:
        refetched = " (checked again just now)" if selection.retry_may_help else ""
        raise KeyRefused(f"{selection.reason}{refetched} Key set: {oidc.jwks_uri}.")
    try:
        return jwt.PyJWK(selection.key, algorithm=alg)
    except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError, ValueError, TypeError):
        raise KeyRefused(
            f"The provider's key {selection.key.get('kid', '(without kid)')!r} could not be read as a {alg} key.",
            code="bad_key",
        ) from None
