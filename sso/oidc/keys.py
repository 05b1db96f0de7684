"""The provider's signing keys (JWK Set, RFC 7517), cached in the database and picked by ``kid`` when the token
and the key both have one, otherwise by key type, algorithm and use (``select_key``).

The cache lives on ``OIDCSettings.jwks`` so every process shares it. It is fetched again when older than
``JWKS_MAX_AGE`` (a key the provider withdrew stops being trusted within that time) and, once per sign-in,
when an ID token names a ``kid`` we do not have: that is how a key rotation at the provider is picked up on
the next sign-in, without a restart. A sign-in needs a pending login and a code the provider accepted, so this
refetch cannot be triggered in bulk by a stranger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.utils import timezone

from sso.errors import SSOSignInRefused
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
    """The outcome of looking for a key: ``key`` (a JWK object) or None with ``reason`` for a person.

    ``by_kid``: the key was chosen because its ``kid`` equals the token's; False when it was chosen by type,
    algorithm and use alone (one of the two has no kid).
    """

    key: dict[str, Any] | None
    reason: str = ""
    retry_may_help: bool = True
    by_kid: bool = False


def select_key(keys: list[dict[str, Any]], *, alg: str, kid: str | None, issuer: str) -> Selection:
    """Pick the key for an ID token signed with ``alg`` naming ``kid`` (None: the header has no kid).

    ``kid`` is optional on both sides (RFC 7515 §4.1.4, RFC 7517 §4.5), so keys are matched by kid only when both
    the token and the key have one; otherwise by what the key can do (type, curve, ``alg``, ``use``/``key_ops``,
    Entra's per-key ``issuer``):

    - the token names a kid: the fitting key with that kid; if no published key has that kid, the one fitting key
      that has no kid (a provider publishing a single kid-less key while naming it in tokens); never a key whose
      kid differs, and never a key with that kid that cannot verify ``alg``;
    - the token names no kid: the one fitting key, with or without a kid.

    Several candidates and no kid to choose between them is refused rather than tried one after another.
    """
    fitting = [key for key in keys if _fits(key, alg, issuer)]
    if kid is not None:
        for key in fitting:
            if key.get("kid") == kid:
                return Selection(key, by_kid=True)
        if any(key.get("kid") == kid for key in keys):
            return Selection(
                None,
                f"The provider's key {kid!r} cannot verify this ID token: it is not a {alg} signing key "
                f"for the issuer {issuer} (its type, curve, use or issuer differ).",
            )
        kidless = [key for key in fitting if "kid" not in key]
        if len(kidless) == 1:
            return Selection(kidless[0])
        if kidless:
            return Selection(
                None,
                f"The ID token was signed with the key {kid!r}, which the provider does not publish, and the "
                f"provider publishes {len(kidless)} {alg} keys without a kid, so there is no safe way to choose. "
                "Ask your provider to give its keys a kid.",
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


def signing_keys(oidc: OIDCSettings, header: dict[str, Any], *, now: datetime | None = None) -> Iterator[jwt.PyJWK]:
    """The provider keys to verify an ID token with this (unverified) JOSE ``header``, in order; normally one.

    Uses the cached key set; on a miss that a new key set could fix (an unknown ``kid``), fetches the key set
    once more, then refuses. When the token names a kid and the cached set's only fitting key has none (chosen
    by type, see ``select_key``), a second key is yielded only if the caller asks for one because the first did
    not verify: the key set is fetched once more, since the provider may have rotated to a key with that kid.
    At most one fetch per sign-in beyond an expired cache. Raises KeyRefused (or SSOSignInRefused with status
    502 when the provider cannot be reached).
    """
    now = now or timezone.now()
    alg = header["alg"]
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise KeyRefused("The ID token's kid header is not a string.", code="bad_token")
    cached = _cached(oidc, now)
    keys = cached if cached is not None else _fetch(oidc, now)
    selection = select_key(keys, alg=alg, kid=kid, issuer=oidc.issuer)
    refetched = cached is None
    if selection.key is None and selection.retry_may_help and not refetched:
        keys, refetched = _fetch(oidc, now), True
        selection = select_key(keys, alg=alg, kid=kid, issuer=oidc.issuer)
    if selection.key is None:
        checked = " (checked again just now)" if selection.retry_may_help else ""
        raise KeyRefused(f"{selection.reason}{checked} Key set: {oidc.jwks_uri}.")
    yield _as_pyjwk(selection.key, alg)
    if kid is None or selection.by_kid or refetched:
        return
    fresh = select_key(_fetch(oidc, now), alg=alg, kid=kid, issuer=oidc.issuer)
    if fresh.key is None:
        raise KeyRefused(f"{fresh.reason} (checked again just now) Key set: {oidc.jwks_uri}.")
    if fresh.key != selection.key:
        yield _as_pyjwk(fresh.key, alg)


def signing_key(oidc: OIDCSettings, header: dict[str, Any], *, now: datetime | None = None) -> jwt.PyJWK:
    """The first key ``signing_keys`` offers for this header (what mozilla-django-oidc's
    ``retrieve_matching_jwk`` returns). Raises KeyRefused, or SSOSignInRefused (502)."""
    return next(signing_keys(oidc, header, now=now))


def _as_pyjwk(key: dict[str, Any], alg: str) -> jwt.PyJWK:
    try:
        return jwt.PyJWK(key, algorithm=alg)
    except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError, ValueError, TypeError):
        raise KeyRefused(
            f"The provider's key {key.get('kid', '(without kid)')!r} could not be read as a {alg} key.",
            code="bad_key",
        ) from None
