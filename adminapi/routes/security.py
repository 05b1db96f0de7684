"""``GET /orgs/<org>/security``: every security setting of the organization in one document."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from adminapi import schemas
from adminapi.access import org_access
from adminapi.core import ERRORS, api
from adminapi.routes.allowlist import allowlist_document
from adminapi.routes.key_policy import key_policy_document
from adminapi.routes.session_policy import session_policy_document
from keys import scopes
from sso.models import SSOConnection


@api.get(
    "/orgs/{org_slug}/security",
    response={200: schemas.SecurityOverview, **ERRORS},
    summary="Every security setting of the organization",
    tags=["security"],
)
def security_overview(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. One document with the SSO connections, session policy, IP allowlist settings and key
    policy; a fixed number of queries whatever the organization's size."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    organization = access.organization
    connections = SSOConnection.objects.filter(organization_id=organization.pk).order_by("pk")
    return {
        "organization": {"slug": organization.slug, "name": organization.name},
        "sso_connections": [
            {"id": c.pk, "protocol": c.protocol, "name": c.name, "status": c.status}
            for c in connections.only("pk", "protocol", "name", "status")
        ],
        "session_policy": session_policy_document(organization),
        "ip_allowlist": allowlist_document(organization),
        "key_policy": key_policy_document(organization),
    }
