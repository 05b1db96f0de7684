"""``GET /orgs/<org>/security``: every security setting of the organization in one document.

Two queries whatever the organization's size, three with the key's own lookup (``tests/adminapi/
test_security_queries.py`` holds the count; ``bench/admin_api.py`` the throughput, at least 0.4 times whoami's): the
SSO connections, and one row of the organization left-joined to its session policy, key policy, IP allowlist,
two-factor policy, SCIM settings and audit chain (each one-to-one, absent until first saved), with counts of
allowlist entries, verified domains, live SCIM tokens and audit stream destinations (correlated subqueries). Both
statements are compiled by the ORM once per process and then run with the organization's id: compiling them on every
request cost about 2.5 ms of CPU (running them precompiled, 0.4 ms), most of a whoami request's whole CPU time
(3.5 ms). Each section is the same document its own endpoint answers (the tests compare them): absent rows read as the
same defaults, through the same model code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Count, Model, OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from adminapi import schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of
from adminapi.core import ERRORS, api
from allowlist.models import IPAllowlist, IPAllowlistEntry, Scope
from audit.models import AuditChain
from audit_stream.models import Destination
from audit_stream.models import Status as StreamStatus
from keys import scopes
from keys.models import KeyPolicy
from orgsecurity.models import Organization
from orgsecurity.roles import Role
from scim.models import ProvisioningSettings, ScimToken
from sessions_policy.models import SessionPolicy
from sessions_policy.rules import SessionRules
from sso.models import SSOConnection, VerifiedDomain
from twofactor.models import TwoFactorPolicy

# (relation on Organization, model, fields read) of each one-to-one settings row.
SETTINGS_ROWS: tuple[tuple[str, type[Model], tuple[str, ...]], ...] = (
    ("session_policy", SessionPolicy, ("idle_timeout_s", "absolute_timeout_s", "reauth_max_age_s", "single_session")),
    (
        "key_policy",
        KeyPolicy,
        ("require_expiry", "max_lifetime_days", "allow_unrestricted", "allow_api_security_changes"),
    ),
    ("ip_allowlist", IPAllowlist, ("enabled", "scope")),
    ("two_factor_policy", TwoFactorPolicy, ("required", "grace_ends_at")),
    ("scim_settings", ProvisioningSettings, ("default_role",)),
    ("audit_chain", AuditChain, ("retention_days",)),
)
CONNECTION_FIELDS = ("pk", "protocol", "name", "status")
_ANY_ORGANIZATION = -1  # the id the statements are compiled with; each run passes the real one in its place


Statement = tuple[str, tuple[Any, ...]]


def _compiled(queryset: QuerySet[Any]) -> Statement:
    """The SQL of ``queryset`` and its parameters: the organization's id (``_ANY_ORGANIZATION``, replaced at each
    run) and constants (e.g. a status value)."""
    sql, params = queryset.query.sql_with_params()
    if _ANY_ORGANIZATION not in params:  # pragma: no cover - a change above that drops the organization
        raise AssertionError(f"the statement must take the organization's id, not only {params!r}")
    return sql, tuple(params)


@cache
def _statements(vendor: str) -> tuple[Statement, Statement]:
    """(settings row, connections) SQL for the default database's ``vendor``, each taking the organization id."""
    entries = (
        IPAllowlistEntry.objects.filter(organization_id=OuterRef("pk"))
        .order_by()
        .values("organization_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    columns = [f"{relation}__{name}" for relation, _, names in SETTINGS_ROWS for name in ("pk", *names)]
    settings_row = (
        Organization.objects.filter(pk=_ANY_ORGANIZATION)
        .annotate(
            allowlist_entries=Subquery(entries),
            **{name: Subquery(counted) for name, counted in _counts().items()},
        )
        .values_list(*columns, "allowlist_entries", *COUNTS)
    )
    connections = (
        SSOConnection.objects.filter(organization_id=_ANY_ORGANIZATION).order_by("pk").values_list(*CONNECTION_FIELDS)
    )
    return _compiled(settings_row), _compiled(connections)


COUNTS = (
    "domains_claimed",
    "domains_verified",
    "scim_tokens_active",
    "stream_destinations",
    "stream_destinations_paused",
)


def _counts() -> dict[str, QuerySet[Any]]:
    """One correlated ``COUNT`` subquery per name of ``COUNTS``, over the organization's rows of that kind."""

    def count(queryset: QuerySet[Any]) -> QuerySet[Any]:
        return (
            queryset.filter(organization_id=OuterRef("pk"))
            .order_by()
            .values("organization_id")
            .annotate(count=Count("pk"))
            .values("count")
        )

    return {
        "domains_claimed": count(VerifiedDomain.objects.all()),
        "domains_verified": count(VerifiedDomain.objects.filter(verified_at__isnull=False)),
        "scim_tokens_active": count(ScimToken.objects.filter(revoked_at__isnull=True)),
        "stream_destinations": count(Destination.objects.all()),
        "stream_destinations_paused": count(Destination.objects.filter(status=StreamStatus.PAUSED)),
    }


def _run(statement: Statement, organization_id: int) -> list[tuple[Any, ...]]:
    sql, template = statement
    params = [organization_id if value == _ANY_ORGANIZATION else value for value in template]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _value(model: type[Model], name: str, raw: Any) -> Any:
    """``raw`` as ``model``'s field ``name`` holds it: SQLite's raw rows give booleans as 0/1 and datetimes as naive
    text (stored in UTC), which the ORM's converters would have turned into ``bool`` and aware UTC datetimes."""
    value = model._meta.get_field(name).to_python(raw)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _settings(organization_id: int) -> tuple[dict[str, Model | None], int, dict[str, int]]:
    """The organization's saved settings rows by relation (unsaved instances with the read fields, or None when the
    row does not exist), its allowlist entry count and the ``COUNTS`` by name, in one query."""
    settings_sql, _ = _statements(connection.vendor)
    values = iter(_run(settings_sql, organization_id)[0])
    rows: dict[str, Model | None] = {}
    for relation, model, names in SETTINGS_ROWS:
        pk, *fields = (next(values) for _ in range(1 + len(names)))
        rows[relation] = None
        if pk is not None:
            # Raw rows skip the ORM's converters (SQLite answers 0/1 for booleans): each field converts its value.
            loaded = zip(names, fields, strict=True)
            rows[relation] = model(pk=pk, **{name: _value(model, name, v) for name, v in loaded})
    entries = next(values) or 0
    return rows, entries, {name: next(values) or 0 for name in COUNTS}


@api.get(
    "/orgs/{org_slug}/security",
    response={200: schemas.SecurityOverview, **ERRORS},
    summary="Every security setting of the organization",
    tags=["security"],
)
def security_overview(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. One document with the SSO connections, session policy, IP allowlist settings, key
    policy, two-factor requirement, verified domains, SCIM provisioning and audit retention and streaming; a fixed
    number of queries whatever the organization's size."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    organization = access.organization
    rows, entries, counts = _settings(organization.pk)
    _, connections_sql = _statements(connection.vendor)
    connections = _run(connections_sql, organization.pk)
    session = rows["session_policy"]
    rules = session.to_rules() if session else SessionRules.defaults()
    key_policy = rows["key_policy"] or KeyPolicy()
    allowlist = rows["ip_allowlist"]
    two_factor = rows["two_factor_policy"]
    scim_settings = rows["scim_settings"]
    chain = rows["audit_chain"]
    # As allowlist.actions.settings_values: the saved switch and scope, or the defaults.
    values = (
        {"enabled": allowlist.enabled, "scope": allowlist.scope}
        if allowlist
        else {"enabled": False, "scope": Scope.DASHBOARD}
    )
    return {
        "organization": {"slug": organization.slug, "name": organization.name},
        "sso_connections": [dict(zip(("id", *CONNECTION_FIELDS[1:]), row, strict=True)) for row in connections],
        "session_policy": {
            "idle_timeout_s": rules.idle_timeout_s,
            "absolute_timeout_s": rules.absolute_timeout_s,
            "reauth_max_age_s": rules.reauth_max_age_s,
            "single_session": rules.single_session,
        },
        "ip_allowlist": {**values, "entries": entries, "etag": etag_of(values)},
        "key_policy": {
            "require_expiry": key_policy.require_expiry,
            "max_lifetime_days": key_policy.max_lifetime_days,
            "allow_unrestricted": key_policy.allow_unrestricted,
            "allow_api_security_changes": key_policy.allow_api_security_changes,
        },
        "two_factor": {
            "required": bool(two_factor and two_factor.required),
            "grace_ends_at": two_factor.grace_ends_at if two_factor and two_factor.required else None,
        },
        "verified_domains": {"claimed": counts["domains_claimed"], "verified": counts["domains_verified"]},
        "scim": {
            "default_role": scim_settings.default_role if scim_settings else Role.MEMBER,
            "active_tokens": counts["scim_tokens_active"],
        },
        "audit": {
            "retention_days": chain.retention_days if chain else None,
            "stream_destinations": counts["stream_destinations"],
            "paused_destinations": counts["stream_destinations_paused"],
        },
    }
