"""``GET /orgs/<org>/security``: every security setting of the organization in one document.

Two queries whatever the organization's size (three with the key's own lookup; ``bench/admin_api.py`` holds it to
its throughput target and ``tests/adminapi/test_security_queries.py`` to its query count): the SSO connections, and
one row of the organization joined to its session policy, IP allowlist and key policy (each one-to-one, absent when
never saved) with the count of allowlist entries. Each section is the same document its own endpoint answers (the
tests compare them): the defaults come from the same places as there.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from adminapi import schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of
from adminapi.core import ERRORS, api
from allowlist.models import IPAllowlistEntry, Scope
from keys import scopes
from keys.models import KeyPolicy
from orgsecurity.models import Organization
from sessions_policy.rules import SessionRules
from sso.models import SSOConnection


def _settings_row(organization_id: int) -> Organization:
    """The organization with its one-to-one settings rows and ``allowlist_entries`` (the entry count), one query."""
    entries = (
        IPAllowlistEntry.objects.filter(organization_id=OuterRef("pk"))
        .order_by()
        .values("organization_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        Organization.objects.select_related("session_policy", "ip_allowlist", "key_policy")
        .annotate(allowlist_entries=Coalesce(Subquery(entries, output_field=IntegerField()), 0))
        .get(pk=organization_id)
    )


def _saved(row: Organization, relation: str) -> Any:
    """The one-to-one row ``relation`` of ``row`` (loaded by select_related), or None when never saved."""
    return getattr(row, relation, None)


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
    row = _settings_row(organization.pk)
    session = _saved(row, "session_policy")
    rules = session.to_rules() if session else SessionRules.defaults()
    allowlist = _saved(row, "ip_allowlist")
    # allowlist.actions.settings_values, from the loaded row.
    values = (
        {"enabled": allowlist.enabled, "scope": allowlist.scope}
        if allowlist
        else {"enabled": False, "scope": Scope.DASHBOARD}
    )
    key_policy = _saved(row, "key_policy") or KeyPolicy(organization=row)
    return {
        "organization": {"slug": row.slug, "name": row.name},
        "sso_connections": [
            {"id": c.pk, "protocol": c.protocol, "name": c.name, "status": c.status}
            for c in connections.only("pk", "protocol", "name", "status")
        ],
        "session_policy": {
            "idle_timeout_s": rules.idle_timeout_s,
            "absolute_timeout_s": rules.absolute_timeout_s,
            "reauth_max_age_s": rules.reauth_max_age_s,
            "single_session": rules.single_session,
        },
        "ip_allowlist": {**values, "entries": row.allowlist_entries, "etag": etag_of(values)},
        "key_policy": {
            "require_expiry": key_policy.require_expiry,
            "max_lifetime_days": key_policy.max_lifetime_days,
            "allow_unrestricted": key_policy.allow_unrestricted,
            "allow_api_security_changes": key_policy.allow_api_security_changes,
        },
    }
