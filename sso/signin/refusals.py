"""The answer a person gets when an SSO sign-in is refused (``sso.errors.SSOSignInRefused``,
``sso.saml.response.SAMLResponseRejected``): audited per connection, client and reason, then rendered by the one
refusal renderer, ``orgsecurity.errors.render_refusal`` (the SSO refusal page, or JSON for programs)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from audit.recorder import Target, record_throttled
from orgsecurity.client_ip import client_ip
from orgsecurity.errors import render_refusal
from orgsecurity.refusals import Refusal
from sso.models import SSOConnection


def refusal_page(request: HttpRequest, refusal: Refusal, connection: SSOConnection | None = None) -> HttpResponse:
    """The answer to a refused SSO sign-in: what went wrong and what to do, never the product. With ``connection``
    (the one the round trip was for) the refusal is audited as ``sso.sign_in_refused`` (throttled per connection,
    client IP and code). SSO refusals carry ``sso.errors.SSO_REFUSAL_TEMPLATE``, so browsers get that page with
    the refusal's status and programs ``{"error": {"code", "message"}}``."""
    if connection is not None:
        record_throttled(
            "sso.sign_in_refused",
            throttle_key=f"{connection.pk}:{client_ip(request)}:{refusal.code}",
            organization=connection.organization,
            actor=None,
            target=Target("sso.ssoconnection", str(connection.pk), str(connection)),
            details={"reason": refusal.code, "message": refusal.message},
        )
    return render_refusal(request, refusal)
