"""Public OIDC endpoints: /sso/<org>/oidc/login/ (start) and /sso/<org>/oidc/callback/ (the redirect URI).

The callback consumes the pending login named by ``state`` before anything else (single use, expiry, this
organization's OIDC connection only), so a replayed or forged answer never reaches the token endpoint. Then it
handles an ``error`` from the provider with a page that says what happened (no automatic retry, so no loop),
checks the RFC 9207 ``iss`` parameter when the provider sends it, exchanges the code with the PKCE verifier,
validates the ID token and userinfo, and hands the identity to the shared finishing step.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin
from sso.oidc.backend import PROTOCOL_CLAIMS, ConnectionOIDCBackend, claim_values
from sso.oidc.config import redirect_uri
from sso.oidc.handler import settings_for
from sso.oidc.tokens import IDTokenRefused
from sso.protocols import handler_for, sign_in_connection
from sso.signin import flow
from sso.signin.public_views import refused_answer, sign_in_start
from sso.signin.refusals import refusal_page

logger = logging.getLogger(__name__)

# RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 error codes, explained for the person who was signing in.
PROVIDER_ERRORS = {
    "access_denied": (
        "The sign-in was cancelled or refused at your identity provider (access_denied). If you did not cancel "
        "it, ask your IdP administrator whether you are assigned to this application."
    ),
    "login_required": (
        "Your identity provider needs you to sign in there first (login_required). Start the sign-in again and "
        "complete the provider's sign-in page."
    ),
    "interaction_required": (
        "Your identity provider needs you to do something on its pages first (interaction_required). Start the "
        "sign-in again and follow the provider's pages."
    ),
    "consent_required": (
        "Your identity provider needs your consent for this application (consent_required). Start the sign-in "
        "again and accept, or ask your IdP administrator to grant consent for everyone."
    ),
    "account_selection_required": (
        "Your identity provider needs you to choose an account (account_selection_required). Start the sign-in "
        "again and pick your work account."
    ),
    "temporarily_unavailable": "Your identity provider is temporarily unavailable. Try again in a few minutes.",
    "server_error": "Your identity provider had an internal error. Try again in a few minutes.",
}


def _printable(value: str, limit: int) -> str:
    return "".join(char for char in value[:limit] if char.isprintable())


def provider_error(error: str, description: str) -> SSOSignInRefused:
    """The refusal for an ``error`` answer from the provider (shown as a page, never retried automatically)."""
    code = _printable(error, 64)
    message = PROVIDER_ERRORS.get(code)
    if message is None:
        detail = _printable(description, 300)
        message = f"Your identity provider refused the sign-in ({code}{': ' + detail if detail else ''})."
    return SSOSignInRefused(message, code=f"provider_{code}" if code in PROVIDER_ERRORS else "provider_error")


@require_safe
@sign_in_start
def login(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Start an OIDC sign-in with the organization's provider (``?next=`` a same-origin path to land on)."""
    connection = sign_in_connection(org_slug, SSOConnection.Protocol.OIDC)
    if connection is None:
        return refusal_page(
            request,
            SSOSignInRefused(
                "Single sign-on with OpenID Connect is not available for this organization. Sign in with your "
                "password.",
                code="sso_unavailable",
                status=404,
            ),
        )
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.LOGIN,
            next_url=flow.safe_next_url(request.GET.get("next"), ""),
        )
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)


def _pending_connection(org_slug: str, state: str) -> SSOConnection | None:
    if not state or len(state) > 255:
        return None
    pending = (
        SSOPendingLogin.objects.filter(
            key=state, connection__organization__slug=org_slug, connection__protocol=SSOConnection.Protocol.OIDC
        )
        .select_related("connection__organization")
        .first()
    )
    return pending.connection if pending else None


@require_safe
def callback(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The redirect URI: validate the provider's answer and send the browser to the shared finishing step."""
    state = request.GET.get("state", "")
    error = request.GET.get("error", "")
    connection = _pending_connection(org_slug, state)
    if connection is None:
        if error:
            return refusal_page(request, provider_error(error, request.GET.get("error_description", "")))
        return refusal_page(
            request,
            SSOSignInRefused(
                "This sign-in answer does not match any sign-in started here. Start the sign-in again.",
                code="unknown_request",
                status=400,
            ),
        )
    try:
        pending = flow.claim(connection, state)
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)
    try:
        if error:
            raise provider_error(error, request.GET.get("error_description", ""))
        identity = _validate_answer(request, pending)
    except SSOSignInRefused as exc:
        return _refused(request, pending, exc)
    return redirect(flow.answer(pending, identity))


def _validate_answer(request: HttpRequest, pending: SSOPendingLogin):
    oidc = settings_for(pending.connection)
    answered_issuer = request.GET.get("iss")
    if answered_issuer is not None and answered_issuer != oidc.issuer:
        # RFC 9207 §2.4: an authorization response from another issuer is a mix-up attack.
        raise SSOSignInRefused(
            f"The answer says it came from the issuer {answered_issuer!r} but this connection expects {oidc.issuer!r}.",
            code="wrong_issuer",
        )
    code = request.GET.get("code", "")
    if not code or len(code) > 2048:
        raise SSOSignInRefused(
            "The provider's answer has no authorization code. Start the sign-in again.", code="no_code", status=400
        )
    return ConnectionOIDCBackend(oidc).sign_in_answer(
        code=code,
        redirect_uri=redirect_uri(pending.connection),
        code_verifier=pending.data.get("code_verifier", ""),
        nonce=pending.data.get("nonce", ""),
        require_auth_time=pending.data.get("max_age") is not None,
    )


def _refused(request: HttpRequest, pending: SSOPendingLogin, exc: SSOSignInRefused) -> HttpResponse:
    logger.info("OIDC sign-in through connection %s refused: %s", pending.connection_id, exc.code)
    claims = exc.claims if isinstance(exc, IDTokenRefused) else {}
    details = {}
    if claims:  # what a failed connection test shows of the ID token
        details = {
            "issuer": str(claims.get("iss", "")),
            "subject": str(claims.get("sub", "")) or "(none)",
            "subject_format": "oidc",
            "attributes": {
                name: claim_values(value) for name, value in sorted(claims.items()) if name not in PROTOCOL_CLAIMS
            },
        }
    return refused_answer(request, pending.connection, pending, exc, details=details)
