"""Request and response shapes of the admin API (pydantic models through django-ninja): the OpenAPI schema at
``/api/v1/openapi.json`` is generated from these and the operations in ``adminapi.routes``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

AllowlistScope = Literal["dashboard", "api", "both"]


class Body(Schema):
    """A request body: strict types (``false`` is not a number, ``"5"`` not an integer), as the schema says."""

    model_config = ConfigDict(strict=True)


class ErrorBody(Schema):
    code: str = Field(description="A stable snake_case word, e.g. scope_missing, self_lockout.")
    message: str = Field(description="A sentence for the person.")
    fields: dict[str, str] | None = Field(None, description="Validation errors: field path → message (400 only).")


class Error(Schema):
    """Every error answer: ``{"error": {"code", "message"}}`` (+ ``fields`` for validation errors)."""

    error: ErrorBody


class OrganizationOut(Schema):
    slug: str
    name: str


class SSOConnectionSummary(Schema):
    id: int
    protocol: str = Field(description="saml or oidc")
    name: str
    status: str = Field(description="off, testing, on or enforced")


class SessionPolicyOut(Schema):
    idle_timeout_s: int = Field(description="Seconds without activity before a session ends.")
    absolute_timeout_s: int = Field(description="Seconds after sign-in before a session ends.")
    reauth_max_age_s: int = Field(description="Seconds a re-authentication stays fresh for security changes.")
    single_session: bool


class AllowlistSettings(Body):
    enabled: bool
    scope: AllowlistScope = Field(description="What an enabled list guards: dashboard pages, API keys, or both.")


class AllowlistOut(AllowlistSettings):
    entries: int = Field(description="How many entries the list holds.")
    etag: str = Field(description="The ETag of these settings (send it in If-Match to change them).")


class AllowlistPatch(Body):
    enabled: bool | None = None
    scope: AllowlistScope | None = None


class KeyPolicyOut(Schema):
    require_expiry: bool
    max_lifetime_days: int | None
    allow_unrestricted: bool
    allow_api_security_changes: bool = Field(description="Whether security:write keys may change anything.")


class TwoFactorOut(Schema):
    required: bool = Field(description="Password sign-ins need a second factor.")
    grace_ends_at: datetime | None = Field(description="Until then members without a factor are reminded (UTC).")


class DomainsSummary(Schema):
    claimed: int
    verified: int


class ScimSummary(Schema):
    default_role: str = Field(description="The role of provisioned members in no mapped group.")
    active_tokens: int


class AuditSummary(Schema):
    retention_days: int | None = Field(description="Events older than this are pruned; null keeps them forever.")
    stream_destinations: int
    paused_destinations: int


class SecurityOverview(Schema):
    """Every security setting of the organization in one document."""

    organization: OrganizationOut
    sso_connections: list[SSOConnectionSummary]
    session_policy: SessionPolicyOut
    ip_allowlist: AllowlistOut
    key_policy: KeyPolicyOut
    two_factor: TwoFactorOut
    verified_domains: DomainsSummary
    scim: ScimSummary
    audit: AuditSummary


class EntryIn(Body):
    cidr: str = Field(max_length=100, description="An IPv4/IPv6 address or CIDR block (RFC 4632), e.g. 203.0.113.0/24.")
    label: str = Field("", max_length=100)


class BulkEntriesIn(Body):
    text: str = Field(
        max_length=1_000_000,
        description="One address or CIDR block per line, a label after '#'; the page's bulk paste format.",
    )
    default_label: str = Field("", max_length=100)


class EntryOut(Schema):
    id: int
    cidr: str
    label: str
    added_at: datetime
    etag: str


class EntriesAdded(Schema):
    added: list[EntryOut]
    notices: list[str] = Field(description="Host bits normalised, duplicates skipped, overlaps with other entries.")


class EntryPage(Schema):
    entries: list[EntryOut]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null on the last page.")


class AuditActor(Schema):
    type: str
    id: str
    label: str


class AuditTarget(Schema):
    type: str
    id: str
    label: str


class AuditEventOut(Schema):
    id: int
    seq: int
    occurred_at: datetime
    action: str
    category: str
    sentence: str
    actor: AuditActor
    target: AuditTarget | None
    changes: dict[str, Any]
    details: dict[str, Any]
    ip: str | None
    request_id: str


class AuditPage(Schema):
    events: list[AuditEventOut]
    older: str | None = Field(description="Cursor of the next (older) page: pass as ?cursor=; null on the last.")
    newer: str | None = Field(description="Cursor of the previous (newer) page, null on the newest.")


class AuditQuery(Schema):
    actor: str = Field("", max_length=255, description="The actor's label exactly as shown (people: their email).")
    action: str = Field("", max_length=100, description="An action name (e.g. allowlist.enabled) or a category.")
    target: str = Field("", max_length=255, description="The start of the target's label.")
    since: date | None = Field(None, description="First day (UTC), YYYY-MM-DD.")
    until: date | None = Field(None, description="Last day (UTC, included), YYYY-MM-DD.")
    q: str = Field("", max_length=200, description="Words of the event's text.")
    ref: str = Field("", max_length=64, description="The request ID events were recorded with.")
    cursor: str = Field("", max_length=500)
    limit: int = Field(50, ge=1, le=200)


class SessionPolicyPatch(Body):
    idle_timeout_s: int | None = Field(None, ge=0, le=10**9)
    absolute_timeout_s: int | None = Field(None, ge=0, le=10**9)
    reauth_max_age_s: int | None = Field(None, ge=0, le=10**9)
    single_session: bool | None = None


class SessionPolicyIn(Body):
    idle_timeout_s: int = Field(ge=0, le=10**9)
    absolute_timeout_s: int = Field(ge=0, le=10**9)
    reauth_max_age_s: int = Field(ge=0, le=10**9)
    single_session: bool


class SessionPolicyWithEtag(SessionPolicyOut):
    etag: str


Role = Literal["owner", "admin", "billing", "member", "auditor"]


class MemberOut(Schema):
    id: int = Field(description="The membership's id.")
    email: str
    name: str
    role: Role
    joined_at: datetime
    etag: str


class MemberPage(Schema):
    members: list[MemberOut]
    next_after: int | None


class MemberPatch(Body):
    role: Role


class KeyPolicyValues(Body):
    require_expiry: bool
    max_lifetime_days: int | None = Field(description="1 to 3650, or null for no maximum (implies expiry).")
    allow_unrestricted: bool


class KeyPolicyPatch(Body):
    require_expiry: bool | None = None
    max_lifetime_days: int | None = Field(None, description="Send 0 to remove the maximum.")
    allow_unrestricted: bool | None = None


class KeyPolicyWithEtag(KeyPolicyValues):
    allow_api_security_changes: bool = Field(description="Changed only by owners on the key policy page.")
    etag: str


class KeyOut(Schema):
    id: int
    prefix: str = Field(description="The public part, e.g. osk_4fG7hQ2LxZ; never the secret.")
    name: str
    owner: str
    service_account: str | None
    permission: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    rotated_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyPage(Schema):
    keys: list[KeyOut]
    next_after: int | None


class RotateIn(Body):
    overlap_seconds: int = Field(0, ge=0, le=7 * 24 * 3600, description="How long the old secret keeps working.")


class RotatedKey(Schema):
    key: KeyOut
    token: str | None = Field(description="The new secret, shown once; null in a replay of the same Idempotency-Key.")


class RevokeIn(Body):
    reason: str = Field(min_length=1, max_length=255)


class ImpactItemOut(Schema):
    ref: str = Field(description="A stable id within its group (for people: the user id to acknowledge).")
    name: str = Field(description="How people know it (an email, a key's name).")
    detail: str = Field(description="What happens to it, e.g. 'Admin → Member'.")
    blocking: bool = Field(description="The change is refused while this item is neither resolved nor acknowledged.")


class ImpactGroupOut(Schema):
    key: str = Field(description="The kind of items, e.g. people.")
    label: str
    summary: str = Field(description="What happens to every item of the group.")
    count: int
    items: list[ImpactItemOut]


class ImpactOut(Schema):
    """What a change would do before it is made: the list the dashboard's confirmation page shows
    (``orgsecurity.impact.Impact.as_dict``), from the same ``preview_<change>`` function."""

    change: str = Field(description="The change previewed, e.g. member.remove, sso.domain_remove.")
    total: int = Field(description="How many items are affected, over every group.")
    notes: list[str]
    groups: list[ImpactGroupOut]
