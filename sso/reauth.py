"""Re-authentication for SSO sessions: back to the IdP the session signed in through, with a forced fresh login."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from orgsecurity.signin_state import SSO_CONNECTION_SESSION_KEY
from sso.flow import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin
from sso.protocols import handler_for


def start_reauthentication(request: HttpRequest, next_url: str) -> HttpResponse:
    """Send the person to the IdP of the connection they signed in through (SAML ForceAuthn, OIDC prompt=login).

    When that connection is gone or cannot start a sign-in, show the refusal page (the person can sign out and in).
    """
    from sso.public_views import refusal_page

    connection = SSOConnection.objects.filter(pk=request.session.get(SSO_CONNECTION_SESSION_KEY)).first()
    if connection is None:
        exc = SSOSignInRefused(
            "The SSO connection you signed in through no longer exists. Sign out and sign in again.",
            code="reauth_no_connection",
        )
        return refusal_page(request, exc)
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.REAUTH,
            next_url=next_url,
            user=request.user,
            force_authn=True,
        )
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)
