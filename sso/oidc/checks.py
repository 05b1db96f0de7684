"""Deployment check: refuse to look production-ready while private provider addresses are allowed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def private_provider_hosts(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """``check --deploy`` warns when SSO_METADATA_ALLOW_PRIVATE_HOSTS is on (server-side request forgery)."""
    if not getattr(settings, "SSO_METADATA_ALLOW_PRIVATE_HOSTS", False):
        return []
    return [
        Warning(
            "SSO_METADATA_ALLOW_PRIVATE_HOSTS is on: organization admins can make this server fetch private, "
            "loopback and link-local addresses (and plain http) as OpenID Provider or metadata URLs.",
            hint="Turn it off outside local development and tests.",
            id="sso.W001",
        )
    ]
