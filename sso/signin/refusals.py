"""The page a person sees when an SSO sign-in is refused (``sso.errors.SSOSignInRefused``), audited per
connection, client and reason."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.recorder import Target, record_throttled
from orgsecurity.client_ip import client_ip
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection


def refusal_page(request: HttpRequest, exc: SSOSignInRefused, connection: SSOConnection | None = None) -> HttpResponse:
    """The page a person sees when an SSO sign-in is refused: what went wrong and what to do, never the product."""
    if connection is not None:
        record_throttled(
            "sso.sign_in_refused",
            throttle_key=f"{connection.pk}:{client_ip(request)}:{exc.code}",
            organization=connection.organization,
            actor=None,
            target=Target("sso.ssoconnection", str(connection.pk), str(connection)),
            details={"reason": exc.code, "message": exc.message},
        )
    return render(request, "sso/refused.html", {"message": exc.message, "code": exc.code}, status=exc.status)
