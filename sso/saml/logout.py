"""SAML 2.0 single logout started here (SP-initiated, SAML Profiles §4.4.3.1, HTTP-Redirect binding): signing out
also ends the session at the IdP.

Registered with ``orgsecurity.auth.register_idp_sign_out`` (``SsoConfig.ready``), so the plain "Sign out" (and
"Sign out everywhere") uses it. When the session signed in through a SAML connection whose IdP has a single logout
URL, the browser is sent there after the session here ends, with a signed LogoutRequest naming the identity it
signed in as (NameID, its format, and the assertion's SessionIndex). The request's ID is kept in the signed-out
session (``orgsecurity.signin_state.SAML_LOGOUT_REQUEST_SESSION_KEY``), so the IdP's LogoutResponse, which comes
back to the SLS endpoint (``sso.saml.views.sls``), is accepted only as the answer to it.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_Error

from orgsecurity import signin_state
from orgsecurity.auth import IdPSignOut
from orgsecurity.crypto import SecretDecryptionError
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOIdentity
from sso.saml.config import onelogin_settings, request_data, sp_endpoints

PROTOCOL = "SAML single logout"
logger = logging.getLogger(__name__)


def logout_request(connection: SSOConnection, identity: SSOIdentity, session_index: str | None) -> tuple[str, str]:
    """A signed LogoutRequest (HTTP-Redirect) from ``connection``'s SP to its IdP's SLO URL for ``identity``:
    returns (the URL to send the browser to, the request's ID)."""
    sp = sp_endpoints(connection.organization.slug)
    auth = OneLogin_Saml2_Auth(request_data(sp.slo_url), onelogin_settings(connection))
    url = auth.logout(
        return_to="",
        name_id=identity.subject,
        session_index=session_index,
        name_id_format=identity.subject_format,
    )
    return url, auth.get_last_request_id()


def sp_initiated_logout(request: HttpRequest) -> IdPSignOut | None:
    """The IdP sign-out of this session: a LogoutRequest to the IdP's SLO URL; without a ``url`` when the IdP has
    no SLO URL or the person's identity there is no longer linked (the IdP session stays open); None when this is
    not a SAML sign-in."""
    if signin_state.auth_method(request) != SSOConnection.Protocol.SAML:
        return None
    connection_id = signin_state.sso_connection_id(request)
    if connection_id is None:
        return None
    connection = (
        SSOConnection.objects.select_related("organization", "saml")
        .filter(pk=connection_id, protocol=SSOConnection.Protocol.SAML, saml__isnull=False)
        .first()
    )
    if connection is None:
        return None
    idp = connection.name or "your identity provider"
    identity = SSOIdentity.objects.filter(connection=connection, user=request.user).first()
    if identity is None or not connection.saml.idp_slo_url:
        return IdPSignOut(url="", idp=idp, protocol=PROTOCOL)
    try:
        url, request_id = logout_request(connection, identity, signin_state.sso_session_index(request))
    except (SSOSignInRefused, OneLogin_Saml2_Error, SecretDecryptionError, ValueError):
        # Signing out here never fails because the IdP's logout cannot be built (settings broken meanwhile, an SP
        # key that no longer decrypts): the session here ends, and the page says the IdP session stays open.
        logger.exception("SAML single logout could not be started for connection %s", connection.pk)
        return IdPSignOut(url="", idp=idp, protocol=PROTOCOL)
    return IdPSignOut(
        url=url,
        idp=idp,
        protocol=PROTOCOL,
        session_values={signin_state.SAML_LOGOUT_REQUEST_SESSION_KEY: request_id},
        confirmed_by_return=True,
    )
