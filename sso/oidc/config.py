"""Where an organization's OIDC provider sends the browser back: the redirect URI (OIDC Core §3.1.2.1)."""

from __future__ import annotations

from django.urls import reverse

from sso.models import SSOConnection
from sso.signin import flow


def callback_url(org_slug: str) -> str:
    """The redirect URI of an organization: PUBLIC_BASE_URL + /sso/<org>/oidc/callback/ (never the Host header)."""
    return flow.public_url(reverse("sso_public:oidc:callback", args=[org_slug]))


def redirect_uri(connection: SSOConnection) -> str:
    """The redirect URI to register at the provider for ``connection`` (see ``callback_url``)."""
    return callback_url(connection.organization.slug)
