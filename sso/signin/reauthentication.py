"""Re-authentication for SSO sessions: back to the IdP the session signed in through, with a forced fresh login
(``start_reauthentication``, the provider ``sessions_policy.reauth`` calls), and the answer that proves it
(``complete_reauthentication``)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse

from orgsecurity.signin_state import sso_connection_id
from sessions_policy.reauth import mark_reauthenticated
from sso.assertion import AssertedIdentity
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin
from sso.protocols import handler_for
from sso.signin.answer import Outcome, find_identity, refuse
from sso.signin.refusals import refusal_page

# How long before the re-authentication request an IdP login may have happened and still count as fresh.
REAUTH_CLOCK_SKEW = timedelta(seconds=120)


def start_reauthentication(request: HttpRequest, next_url: str) -> HttpResponse:
    """Send the person to the IdP of the connection they signed in through (SAML ForceAuthn, OIDC prompt=login).

    When that connection is gone or cannot start a sign-in, show the refusal page (the person can sign out and in).
    """
    connection = SSOConnection.objects.filter(pk=sso_connection_id(request)).first()
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


def complete_reauthentication(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    """Mark the session re-authenticated when the IdP signed in the same linked person with a login fresher than
    the request (``REAUTH_CLOCK_SKEW`` allowed); raises ``SSOSignInRefused`` otherwise."""
    user = pending.user
    linked = find_identity(pending.connection, identity)
    if user is None or linked is None or linked.user_id != user.pk or request.user.pk != user.pk:
        raise refuse(
            "The IdP signed in a different person than the one signed in here. Re-authentication was refused.",
            "reauth_other_user",
        )
    fresh_after = pending.created_at - REAUTH_CLOCK_SKEW
    if identity.authenticated_at is None or identity.authenticated_at < fresh_after:
        raise refuse(
            "The IdP did not ask you to sign in again (it reused an earlier login), so this does not count as "
            "re-authentication. Ask your IdP administrator to honour forced re-authentication.",
            "reauth_not_fresh",
        )
    mark_reauthenticated(request)
    return Outcome("reauthenticated", pending.next_url or "/", user=user)
