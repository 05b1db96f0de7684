"""mozilla-django-oidc's authentication backend, bound to one organization's connection instead of global settings.

The library reads one global set of ``OIDC_*`` settings and, by default, verifies only the ID token signature
and nonce: ``aud`` is not checked, the signing algorithm is one global value, the JWKS is fetched on every
sign-in with no refetch logic, userinfo claims are used without comparing their ``sub``, and users are matched
by email. This subclass keeps the library's shape (``get_token``, ``verify_token``, ``retrieve_matching_jwk``,
``get_userinfo``) but every value comes from the connection's ``OIDCSettings``, every request goes through
``sso.oidc.fetch`` (SSRF guards, timeouts, size caps), ID tokens are checked by ``sso.oidc.tokens``, and the
result is an ``AssertedIdentity`` keyed on (issuer, sub) for ``sso.signin`` to act on, never a user looked up
by email. It is not listed in AUTHENTICATION_BACKENDS: the shared SSO flow signs people in.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jwt
from django.core.exceptions import ImproperlyConfigured
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from orgsecurity.crypto import SecretDecryptionError, decrypt_secret
from sso.assertion import AssertedIdentity
from sso.errors import SSOSignInRefused
from sso.models import OIDCSettings
from sso.oidc import fetch, keys, tokens
from sso.oidc.fetch import ProviderFetchError
from sso.oidc.tokens import IDTokenRefused

SUBJECT_FORMAT = "oidc"
# Claims that only serve the protocol; they are not shown as profile attributes. ``_claim_sources`` may carry
# an access token for a distributed claim (OIDC Core §5.6.2): it is never stored.
PROTOCOL_CLAIMS = frozenset({"nonce", "at_hash", "c_hash", "s_hash", "_claim_sources"})


def client_secret(oidc: OIDCSettings) -> str:
    """The decrypted client secret; raises SSOSignInRefused (503) when it cannot be decrypted."""
    if not oidc.client_secret_encrypted:
        raise SSOSignInRefused(
            "This connection has no client secret yet. An admin must enter it on the SSO page.",
            code="oidc_no_secret",
            status=409,
        )
    try:
        return decrypt_secret(oidc.client_secret_encrypted)
    except SecretDecryptionError as exc:
        raise SSOSignInRefused(str(exc), code="secret_unreadable", status=503) from None


class ConnectionOIDCBackend(OIDCAuthenticationBackend):
    """The library's backend for one connection (see the module docstring). Methods raise SSOSignInRefused
    subclasses with messages for people; status 502 means the provider could not be reached."""

    def __init__(self, oidc: OIDCSettings) -> None:
        # The parent's __init__ reads the global OIDC_* settings (and fails without them): set the same
        # attributes from the connection instead.
        self.oidc = oidc
        self.OIDC_OP_TOKEN_ENDPOINT = oidc.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = oidc.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = oidc.jwks_uri
        self.OIDC_RP_CLIENT_ID = oidc.client_id
        self.OIDC_RP_SIGN_ALGO = None  # several per connection: see oidc.allowed_algorithms
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = None

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        """The library's setting lookups, answered per connection (never from django.conf.settings)."""
        values = {
            "OIDC_RP_CLIENT_ID": self.oidc.client_id,
            "OIDC_RP_SCOPES": self.oidc.scopes,
            "OIDC_OP_TOKEN_ENDPOINT": self.oidc.token_endpoint,
            "OIDC_OP_USER_ENDPOINT": self.oidc.userinfo_endpoint,
            "OIDC_OP_JWKS_ENDPOINT": self.oidc.jwks_uri,
            "OIDC_TOKEN_USE_BASIC_AUTH": self.oidc.token_auth_method == OIDCSettings.TokenAuthMethod.BASIC,
            "OIDC_USE_NONCE": True,
            "OIDC_ALLOW_UNSECURED_JWT": False,
            "OIDC_VERIFY_KID": True,
            "OIDC_CREATE_USER": False,
            "OIDC_STORE_ACCESS_TOKEN": False,
            "OIDC_STORE_ID_TOKEN": False,
            "OIDC_TIMEOUT": fetch.TIMEOUT_SECONDS,
        }
        if attr in values:
            return values[attr]
        if args:
            return args[0]
        raise ImproperlyConfigured(f"{attr} is not a per-connection OIDC setting.")

    # --- the library's steps, hardened -------------------------------------------------------------------

    def retrieve_matching_jwk(self, token: str) -> jwt.PyJWK:
        """The provider key for ``token`` from the shared, database-cached key set (refetched once on a miss)."""
        return keys.signing_key(self.oidc, tokens.check_header(token, self.oidc))

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """Validate an ID token fully (``sso.oidc.tokens.validate_id_token``); ``nonce`` is required."""
        return tokens.validate_id_token(
            token, self.oidc, nonce=kwargs.get("nonce") or "", require_auth_time=kwargs.get("require_auth_time", False)
        )

    def get_token(self, payload: dict[str, str]) -> dict[str, Any]:
        """Exchange the authorization code at the token endpoint (RFC 6749 §4.1.3, PKCE RFC 7636 §4.5)."""
        data = dict(payload)
        secret = data.pop("client_secret", "")
        auth = None
        if self.get_settings("OIDC_TOKEN_USE_BASIC_AUTH"):
            # RFC 6749 §2.3.1: client ID and secret are form-urlencoded before Basic encoding.
            auth = (quote(data.pop("client_id"), safe=""), quote(secret, safe=""))
        else:
            data["client_secret"] = secret
        try:
            answer = fetch.send("POST", self.oidc.token_endpoint, what="token endpoint", data=data, auth=auth)
        except ProviderFetchError as exc:
            raise SSOSignInRefused(exc.message, code="provider_unreachable", status=502) from None
        if answer.status >= 500:
            raise SSOSignInRefused(
                f"The provider's token endpoint failed (HTTP {answer.status}). Try again later.",
                code="provider_unreachable",
                status=502,
            )
        try:
            body = answer.json_object("token endpoint")
        except ProviderFetchError as exc:
            raise SSOSignInRefused(exc.message, code="bad_token_response", status=502) from None
        if answer.status != 200:
            raise SSOSignInRefused(_token_error_message(body, answer.status), code="token_refused", status=403)
        return body

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Claims from the userinfo endpoint (OIDC Core §5.3), used only when their ``sub`` equals the ID
        token's (§5.3.2); {} when the provider has no userinfo endpoint or gave no access token."""
        if not self.oidc.userinfo_endpoint or not access_token:
            return {}
        try:
            answer = fetch.send(
                "GET",
                self.oidc.userinfo_endpoint,
                what="userinfo endpoint",
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except ProviderFetchError as exc:
            raise SSOSignInRefused(exc.message, code="provider_unreachable", status=502) from None
        if answer.status != 200:
            raise IDTokenRefused(
                f"The provider's userinfo endpoint answered HTTP {answer.status}.",
                code="userinfo_failed",
                claims=payload,
            )
        if answer.content_type == "application/jwt":
            raise IDTokenRefused(
                "The provider answered userinfo as a signed or encrypted JWT, which this service does not read. "
                "Turn off userinfo signing and encryption for this client.",
                code="userinfo_failed",
                claims=payload,
            )
        try:
            userinfo = answer.json_object("userinfo endpoint")
        except ProviderFetchError as exc:
            raise IDTokenRefused(exc.message, code="userinfo_failed", claims=payload) from None
        tokens.check_claim_types(
            userinfo,
            source="userinfo answer",
            also=tokens.mapped_email_claim(self.oidc),
            context={**userinfo, **payload},
        )
        if userinfo.get("sub") != payload.get("sub"):
            raise IDTokenRefused(
                f"The userinfo endpoint answered for the subject {userinfo.get('sub')!r}, but the ID token is for "
                f"{payload.get('sub')!r}. Its claims were not used and the sign-in was refused.",
                code="userinfo_other_subject",
                claims=payload,
            )
        return userinfo

    def authenticate(self, request: Any, **kwargs: Any) -> None:
        """Not a Django authentication backend here: sign-ins go through ``sign_in_answer`` and sso.signin."""
        return None

    # --- the whole answer --------------------------------------------------------------------------------

    def sign_in_answer(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str, require_auth_time: bool
    ) -> AssertedIdentity:
        """Exchange ``code``, validate the ID token, add matching userinfo claims; return the asserted identity.

        Raises SSOSignInRefused (IDTokenRefused, KeyRefused) for an answer that fails a check.
        """
        token_info = self.get_token(
            {
                "client_id": self.oidc.client_id,
                "client_secret": client_secret(self.oidc),
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        id_token = token_info.get("id_token")
        claims = self.verify_token(id_token, nonce=nonce, require_auth_time=require_auth_time)
        access_token = token_info.get("access_token")
        userinfo = self.get_userinfo(access_token if isinstance(access_token, str) else "", id_token, claims)
        identity = asserted_identity(self.oidc, {**userinfo, **claims})
        return dataclasses.replace(identity, id_token=id_token if isinstance(id_token, str) else "")


def _token_error_message(body: dict[str, Any], status: int) -> str:
    error = str(body.get("error") or f"HTTP {status}")[:100]
    description = str(body.get("error_description") or "")[:300]
    if error == "invalid_client":
        return (
            "The provider did not accept this connection's client ID and secret (invalid_client). Check the client "
            "secret on the SSO page."
        )
    detail = f": {description}" if description else ""
    return f"The provider refused to exchange the sign-in code ({error}{detail}). Start the sign-in again."


def claim_values(value: Any) -> list[str]:
    """A claim's value as the list of strings AssertedIdentity.attributes holds (lists flattened, booleans as
    true/false, objects as JSON)."""
    if isinstance(value, list):
        return [item for element in value for item in claim_values(element)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, dict):
        return [json.dumps(value, sort_keys=True)]
    return [] if value is None else [str(value)]


def email_is_verified(oidc: OIDCSettings, claims: dict[str, Any]) -> bool:
    """Whether the provider vouches for the ``email`` claim: ``email_verified`` true (read by
    ``tokens.boolean_claim``, which already refused any other type), or missing when the connection is set to
    accept that. An explicit false is never trusted."""
    value = tokens.boolean_claim(claims.get("email_verified"))
    if value is None:
        return oidc.accept_missing_email_verified
    return value


def asserted_identity(oidc: OIDCSettings, claims: dict[str, Any]) -> AssertedIdentity:
    """The protocol-neutral identity for validated claims: (stored issuer, "oidc", sub), every claim as
    attributes, ``auth_time`` as ``authenticated_at`` (UTC)."""
    auth_time = claims.get("auth_time")
    return AssertedIdentity(
        issuer=oidc.issuer,
        subject=claims["sub"],
        subject_format=SUBJECT_FORMAT,
        attributes={name: claim_values(value) for name, value in sorted(claims.items()) if name not in PROTOCOL_CLAIMS},
        email_verified=email_is_verified(oidc, claims),
        authenticated_at=datetime.fromtimestamp(auth_time, UTC) if isinstance(auth_time, int | float) else None,
        session_index=str(claims.get("sid") or "")[:255],
        groups_not_sent=groups_not_sent(oidc, claims),
    )


def groups_not_sent(oidc: OIDCSettings, claims: dict[str, Any]) -> str:
    """How the claims say the person's groups were left out, for a person; "" when they were not.

    Microsoft Entra ID leaves the ``groups`` claim out when a person is in more groups than fit in a token (group
    overage) and instead names it as a distributed claim (``_claim_names: {"groups": "src1"}`` with
    ``_claim_sources``, OIDC Core §5.6.2), or sends ``hasgroups: true``. Both this connection's groups claim and
    ``groups`` are checked.
    """
    mapped = (oidc.connection.attribute_map or {}).get("groups")
    names = dict.fromkeys(name for name in (mapped, "groups") if isinstance(name, str) and name)
    distributed = claims.get("_claim_names")
    if isinstance(distributed, dict):
        for name in names:
            if name in distributed:
                sources = claims.get("_claim_sources")
                source = sources.get(distributed[name]) if isinstance(sources, dict) else None
                endpoint = source.get("endpoint") if isinstance(source, dict) else None
                where = f" from {endpoint[:200]}" if isinstance(endpoint, str) and endpoint else ""
                return (
                    f"The ID token does not list the {name} claim: it names it as a distributed claim "
                    f"(_claim_names) to be fetched{where}. Microsoft Entra ID does this when a person is in more "
                    "groups than fit in a token (group overage)."
                )
    try:
        has_groups = tokens.boolean_claim(claims.get("hasgroups"))
    except ValueError:
        has_groups = None
    if has_groups:
        return (
            "The ID token carries hasgroups: true instead of the groups claim. Microsoft Entra ID does this when a "
            "person's groups do not fit in the token (group overage)."
        )
    return ""
