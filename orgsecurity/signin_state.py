"""Sign-in state kept in the session: the one owner of its keys, in the manner of ``django.contrib.auth``'s
``SESSION_KEY``.

``orgsecurity.auth.sign_in`` writes the method a session signed in with; SSO notes which connections signed it in
and, for a recovery sign-in, the organization whose recovery code was used; re-authentication notes when the
person last proved who they are. Every app reads and writes these through the constants and accessors here, never
through string literals. This module is a leaf: it imports nothing of the product.
"""

from __future__ import annotations

from django.http import HttpRequest

# Sign-in methods (the values of sessions_policy.models.AuthMethod).
METHOD_PASSWORD = "password"  # noqa: S105 (a method name, not a password)
METHOD_RECOVERY = "recovery"

AUTH_METHOD_SESSION_KEY = "auth_method"  # how this session signed in: password, saml, oidc or recovery
PASSWORD_PROVEN_SESSION_KEY = "password_proven"  # noqa: S105 (True once the session proved the account's password)
REAUTH_AT_SESSION_KEY = "reauth_at"  # Unix seconds (UTC, int) when the person last proved who they are
SSO_CONNECTION_SESSION_KEY = "sso_connection_id"  # pk of the SSO connection this session last signed in through
VERIFIED_SESSION_KEY = "sso_verified_connections"  # pks of every SSO connection this session signed in through
RECOVERY_SESSION_KEY = "sso_recovery_organization"  # pk of the organization whose recovery code signed it in
SSO_SESSION_INDEX_SESSION_KEY = "sso_session_index"  # the IdP's SAML SessionIndex (SAML Core §2.7.2), for logout
SAML_LOGOUT_REQUEST_SESSION_KEY = "saml_logout_request_id"  # ID of the LogoutRequest we sent (SAML Core §3.7.1)


def auth_method(request: HttpRequest) -> str:
    """How this session signed in (``"password"``, ``"saml"``, ``"oidc"``, ``"recovery"``), or "" when it did not."""
    return request.session.get(AUTH_METHOD_SESSION_KEY, "")


def set_auth_method(request: HttpRequest, method: str) -> None:
    """Note how this session signed in (``orgsecurity.auth.sign_in`` calls it)."""
    request.session[AUTH_METHOD_SESSION_KEY] = method


def password_proven(request: HttpRequest) -> bool:
    """True when this session proved the account's own password (sign-in, recovery code or password re-entry)."""
    return bool(request.session.get(PASSWORD_PROVEN_SESSION_KEY))


def mark_password_proven(request: HttpRequest) -> None:
    """Note that this session proved the account's own password."""
    request.session[PASSWORD_PROVEN_SESSION_KEY] = True


def signed_in_by_recovery_for(request: HttpRequest, organization_id: int) -> bool:
    """True when this session signed in with a recovery code of the organization with pk ``organization_id``."""
    return auth_method(request) == METHOD_RECOVERY and request.session.get(RECOVERY_SESSION_KEY) == organization_id


def sso_connection_id(request: HttpRequest) -> int | None:
    """The pk of the SSO connection this session last signed in through, or None."""
    return request.session.get(SSO_CONNECTION_SESSION_KEY)


def reauthenticated_at(request: HttpRequest) -> int | None:
    """Unix seconds (UTC) when the person last proved who they are in this session, or None."""
    at = request.session.get(REAUTH_AT_SESSION_KEY)
    return at if isinstance(at, int) else None


def set_reauthenticated_at(request: HttpRequest, at: int) -> None:
    """Note that the person proved who they are at ``at`` (Unix seconds, UTC)."""
    request.session[REAUTH_AT_SESSION_KEY] = at
