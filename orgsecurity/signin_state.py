"""Sign-in state kept in the session: the one owner of its keys, in the manner of ``django.contrib.auth``'s
``SESSION_KEY``.

``orgsecurity.auth.sign_in`` writes the method a session signed in with; SSO notes which connections signed it in
(and the IdP's SAML SessionIndex, and the rollout's short test sessions) and, for a recovery sign-in, the
organization whose recovery code was used; re-authentication notes when the person last proved who they are.
Every app reads and writes these through the constants and accessors here, never through string literals. This
module is a leaf: it imports nothing of the product.
"""

from __future__ import annotations

from django.http import HttpRequest

# Sign-in methods (the values of sessions_policy.models.AuthMethod).
METHOD_PASSWORD = "password"  # noqa: S105 (a method name, not a password)
METHOD_RECOVERY = "recovery"
METHOD_PASSKEY = "passkey"  # a WebAuthn passkey as the first (and only) step: twofactor

AUTH_METHOD_SESSION_KEY = "auth_method"  # how this session signed in: password, saml, oidc or recovery
PASSWORD_PROVEN_SESSION_KEY = "password_proven"  # noqa: S105 (True once the session proved the account's password)
REAUTH_AT_SESSION_KEY = "reauth_at"  # Unix seconds (UTC, int) when the person last proved who they are
SSO_CONNECTION_SESSION_KEY = "sso_connection_id"  # pk of the SSO connection this session last signed in through
VERIFIED_SESSION_KEY = "sso_verified_connections"  # pks of every SSO connection this session signed in through
RECOVERY_SESSION_KEY = "sso_recovery_organization"  # pk of the organization whose recovery code signed it in
SSO_SESSION_INDEX_SESSION_KEY = "sso_session_index"  # the IdP's SAML SessionIndex (SAML Core §2.7.2), for logout
OIDC_ID_TOKEN_SESSION_KEY = "oidc_id_token"  # noqa: S105 (the raw ID token, the id_token_hint of RP-initiated logout)
SAML_LOGOUT_REQUEST_SESSION_KEY = "saml_logout_request_id"  # ID of the LogoutRequest we sent (SAML Core §3.7.1)
SSO_TEST_SESSION_KEY = "sso_test_session"  # a rollout test session: {"run", "connection", "deadline"}
SSO_TEST_TIMED_OUT_SESSION_KEY = "sso_test_timed_out"  # {"run", "connection"} of a test session that just timed out
# A half-signed-in session: the password (or recovery code) was right, a second factor is still to come (twofactor).
PENDING_SIGN_IN_SESSION_KEY = "pending_sign_in"  # {"user", "method", "backend", "next", "recovery", "at"}


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


def sso_connection_ids(request: HttpRequest) -> list[int]:
    """The pks of every SSO connection this session signed in through (in the order it did)."""
    return [pk for pk in request.session.get(VERIFIED_SESSION_KEY, []) if isinstance(pk, int)]


def note_sso_connection(request: HttpRequest, connection_id: int) -> None:
    """Note that this session (just) signed in through the SSO connection with pk ``connection_id``: it becomes
    the session's SSO connection, and is kept among every connection it signed in through."""
    verified = sso_connection_ids(request)
    if connection_id not in verified:
        verified.append(connection_id)
    request.session[VERIFIED_SESSION_KEY] = verified
    request.session[SSO_CONNECTION_SESSION_KEY] = connection_id


def set_recovery_organization(request: HttpRequest, organization_id: int) -> None:
    """Note that this session signed in with a recovery code of the organization with pk ``organization_id``."""
    request.session[RECOVERY_SESSION_KEY] = organization_id


def sso_session_index(request: HttpRequest) -> str | None:
    """The SAML SessionIndex the IdP gave this session's sign-in (SAML Core §2.7.2), or None."""
    return request.session.get(SSO_SESSION_INDEX_SESSION_KEY) or None


def set_sso_session_index(request: HttpRequest, session_index: str | None) -> None:
    """Keep the IdP's SAML SessionIndex of this sign-in (None for OIDC or an IdP that gave none), for logout."""
    request.session[SSO_SESSION_INDEX_SESSION_KEY] = session_index


def oidc_id_token(request: HttpRequest) -> str:
    """The raw ID token this session signed in with through OIDC ("" when none): the ``id_token_hint`` of
    RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2)."""
    return request.session.get(OIDC_ID_TOKEN_SESSION_KEY) or ""


def set_oidc_id_token(request: HttpRequest, id_token: str) -> None:
    """Remember (or, with "", forget) the ID token of this session's OIDC sign-in."""
    if id_token:
        request.session[OIDC_ID_TOKEN_SESSION_KEY] = id_token
    else:
        request.session.pop(OIDC_ID_TOKEN_SESSION_KEY, None)


def sso_test_session(request: HttpRequest) -> dict[str, int] | None:
    """The rollout test session this session is, ``{"run", "connection", "deadline"}`` (pks; deadline in Unix
    seconds, UTC), or None."""
    test = request.session.get(SSO_TEST_SESSION_KEY)
    return test if isinstance(test, dict) else None


def set_sso_test_session(request: HttpRequest, *, run_id: int, connection_id: int, deadline: int) -> None:
    """Mark this session as a test session of test run ``run_id`` through connection ``connection_id`` that ends
    at ``deadline`` (Unix seconds, UTC)."""
    request.session[SSO_TEST_SESSION_KEY] = {"run": run_id, "connection": connection_id, "deadline": deadline}


def note_sso_test_timed_out(request: HttpRequest, *, run_id: int | None, connection_id: int) -> None:
    """Note that a test session of run ``run_id`` through ``connection_id`` just timed out (kept after sign-out
    until the next SSO sign-in takes it: the test plan's session timeout step)."""
    request.session[SSO_TEST_TIMED_OUT_SESSION_KEY] = {"run": run_id, "connection": connection_id}


def sso_test_timed_out(request: HttpRequest) -> dict[str, int] | None:
    """What ``note_sso_test_timed_out`` kept (``{"run", "connection"}``), or None; left in place."""
    timed_out = request.session.get(SSO_TEST_TIMED_OUT_SESSION_KEY)
    return timed_out if isinstance(timed_out, dict) else None


def take_sso_test_timed_out(request: HttpRequest) -> dict[str, int] | None:
    """Remove and return what ``note_sso_test_timed_out`` kept (``{"run", "connection"}``), or None."""
    timed_out = request.session.pop(SSO_TEST_TIMED_OUT_SESSION_KEY, None)
    return timed_out if isinstance(timed_out, dict) else None


def pending_sign_in(request: HttpRequest) -> dict | None:
    """The half-finished sign-in of this session, ``{"user", "method", "backend", "next", "recovery", "at"}``
    (user pk, sign-in method, auth backend, where to go afterwards, the recovery organization's pk or None, Unix
    seconds UTC when the first step succeeded), or None. Nobody is signed in while it waits."""
    pending = request.session.get(PENDING_SIGN_IN_SESSION_KEY)
    return pending if isinstance(pending, dict) else None


def set_pending_sign_in(
    request: HttpRequest,
    *,
    user_id: int,
    method: str,
    backend: str,
    next_url: str,
    recovery_organization_id: int | None,
    at: int,
) -> None:
    """Note that ``user_id`` passed the first sign-in step with ``method`` at ``at`` (Unix seconds, UTC)."""
    request.session[PENDING_SIGN_IN_SESSION_KEY] = {
        "user": user_id,
        "method": method,
        "backend": backend,
        "next": next_url,
        "recovery": recovery_organization_id,
        "at": at,
    }


def clear_pending_sign_in(request: HttpRequest) -> None:
    """Forget the half-finished sign-in (done, abandoned or expired)."""
    request.session.pop(PENDING_SIGN_IN_SESSION_KEY, None)
