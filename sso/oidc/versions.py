"""What the OpenID Connect settings form of the connection page versions (``sso.connections.versions``)."""

from __future__ import annotations

from typing import Any

from orgsecurity.versions import form_labels
from sso.models import OIDCSettings, SSOConnection
from sso.oidc.forms import OIDCSettingsForm


def settings_values(connection: SSOConnection) -> dict[str, Any]:
    """The saved OIDC settings the form shows (issuer, client ID, when the secret was set, scopes, allowed
    algorithms, the email_verified choice and RP-initiated logout); empty for a connection without a provider."""
    oidc = OIDCSettings.objects.filter(connection=connection).first()
    if oidc is None:
        return {}
    return {
        "issuer": oidc.issuer,
        "client_id": oidc.client_id,
        "client_secret_set_at": oidc.client_secret_set_at.isoformat() if oidc.client_secret_set_at else None,
        "scopes": oidc.scopes,
        "allowed_algorithms": list(oidc.allowed_algorithms or []),
        "accept_missing_email_verified": oidc.accept_missing_email_verified,
        "rp_initiated_logout": oidc.rp_initiated_logout,
    }


def settings_labels() -> dict[str, str]:
    """The OIDC settings named as the form shows them."""
    return {**form_labels(OIDCSettingsForm), "client_secret_set_at": "Client secret (set at)"}
