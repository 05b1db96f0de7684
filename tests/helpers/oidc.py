"""OIDC test helpers: the OIDC settings of a connection (``oidc_of``)."""

from __future__ import annotations

from sso.models import OIDCSettings, SSOConnection


def oidc_of(connection: SSOConnection) -> OIDCSettings:
    return OIDCSettings.objects.get(connection=connection)
