"""OpenID Connect RP-Initiated Logout 1.0: signing out here also ends the session at the provider.

Registered with ``orgsecurity.auth.register_idp_sign_out`` (``SsoConfig.ready``). When the session signed in
through an OIDC connection whose admins turned on "sign out at the provider too" and whose provider advertises an
``end_session_endpoint`` (OIDC Discovery), the browser is sent there after the session here ends, with
``id_token_hint`` (the ID token of that sign-in, §2), ``client_id`` and ``post_logout_redirect_uri`` (our sign-in
page, from ``settings.PUBLIC_BASE_URL``; it must be registered at the provider, §3).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from orgsecurity import signin_state
from orgsecurity.auth import IdPSignOut
from sso.models import SSOConnection


def post_logout_redirect_uri() -> str:
    """Where the provider sends the browser back after logout: the sign-in page, an absolute URL."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("login")


def end_session_url(end_session_endpoint: str, *, id_token: str, client_id: str) -> str:
    """``end_session_endpoint`` with the logout request's query parameters added to any it already has (§2)."""
    parts = urlsplit(end_session_endpoint)
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri()}
    if id_token:
        params = {"id_token_hint": id_token, **params}
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


PROTOCOL = "OpenID Connect RP-initiated logout"


def rp_initiated_logout(request: HttpRequest) -> IdPSignOut | None:
    """The provider sign-out of this session; without a ``url`` when the connection does not ask for it or the
    provider has no ``end_session_endpoint`` (the provider session stays open); None when this is not an OIDC
    sign-in."""
    if signin_state.auth_method(request) != SSOConnection.Protocol.OIDC:
        return None
    connection_id = signin_state.sso_connection_id(request)
    if connection_id is None:
        return None
    connection = (
        SSOConnection.objects.select_related("oidc")
        .filter(pk=connection_id, protocol=SSOConnection.Protocol.OIDC)
        .first()
    )
    oidc = getattr(connection, "oidc", None) if connection is not None else None
    if oidc is None:
        return None
    idp = connection.name or "your identity provider"
    if not oidc.rp_initiated_logout or not oidc.end_session_endpoint:
        return IdPSignOut(url="", idp=idp, protocol=PROTOCOL)
    url = end_session_url(
        oidc.end_session_endpoint, id_token=signin_state.oidc_id_token(request), client_id=oidc.client_id
    )
    return IdPSignOut(url=url, idp=idp, protocol=PROTOCOL)
