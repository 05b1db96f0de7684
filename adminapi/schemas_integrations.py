"""Request and response shapes of the admin API's integrations: SCIM tokens and group mappings, audit stream
destinations and audit export links (pydantic models through django-ninja, in the generated OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from adminapi.schemas import Body

# "owner" is in the schema so that a mapping to it is refused by the action with the page's code (409
# owner_protected), not by validation.
MappedRole = Literal["", "owner", "admin", "billing", "member", "auditor"]
DestinationKind = Literal["webhook", "hec", "syslog"]
ExportFormat = Literal["csv", "jsonl"]
TeamId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Cidr = Annotated[str, Field(max_length=100)]


# --- SCIM tokens ------------------------------------------------------------------------------------------------


class ScimTokenOut(Schema):
    id: int
    prefix: str = Field(description="The public part, scim_…; never the secret.")
    name: str
    connection_id: int = Field(description="The SSO connection of the IdP that provisions with it.")
    connection: str
    allowed_cidrs: list[str]
    created_at: datetime
    created_by: str | None = Field(description="The owner who created it (email), null for a key or the system.")
    last_used_at: datetime | None
    last_used_ip: str | None
    revoked_at: datetime | None


class ScimTokenPage(Schema):
    tokens: list[ScimTokenOut]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null on the last page.")


class ScimTokenIn(Body):
    connection_id: int = Field(ge=1, le=2**63 - 1, description="The SSO connection of the IdP that provisions.")
    name: str = Field("", max_length=100, description="A name people recognize it by ('SCIM' when empty).")
    allowed_cidrs: list[Cidr] = Field(
        default_factory=list,
        max_length=100,
        description="Networks (CIDR, RFC 4632) the IdP calls from; empty for any.",
    )


class ScimTokenCreated(Schema):
    token: ScimTokenOut
    secret: str | None = Field(
        description="The bearer token for the IdP, shown once; null in a replay of the same Idempotency-Key."
    )
    base_url: str = Field(description="The SCIM base URL to configure in the IdP.")


# --- SCIM group mappings ----------------------------------------------------------------------------------------


class TeamRef(Schema):
    id: int
    slug: str
    name: str


class MappingOut(Schema):
    id: int
    group_ref: str = Field(description="The SCIM group's displayName or id.")
    role: MappedRole = Field(description="The role its members get ('' for teams only; never owner).")
    teams: list[TeamRef]
    created_at: datetime
    etag: str


class MappingPage(Schema):
    mappings: list[MappingOut]
    default_role: str = Field(description="The role of provisioned members in no mapped group.")


class MappingPreviewQuery(Schema):
    group_ref: str = Field(min_length=1, max_length=255, description="The SCIM group's displayName or id.")
    role: MappedRole = Field("", description="The role the mapping would give ('' for teams only).")
    teams: list[TeamId] = Field(default_factory=list, max_length=100, description="Team ids.")
    remove: bool = Field(False, description="Preview removing the group's mapping instead.")


class MappingIn(Body):
    group_ref: str = Field(min_length=1, max_length=255)
    role: MappedRole
    teams: list[TeamId] = Field(default_factory=list, max_length=100, description="Team ids.")
    confirm: str = Field(
        "", max_length=100, description="The organization's slug, needed when the change's preview is not empty."
    )


class MappingPut(Body):
    role: MappedRole
    teams: list[TeamId] = Field(default_factory=list, max_length=100)
    confirm: str = Field("", max_length=100)


class MappingPatch(Body):
    role: MappedRole | None = None
    teams: list[TeamId] | None = Field(None, max_length=100)
    confirm: str = Field("", max_length=100)


# --- audit stream destinations ----------------------------------------------------------------------------------


class DeliveryState(Schema):
    cursor_seq: int = Field(description="The last sequence number of the audit chain delivered.")
    delivered_at: datetime | None = Field(description="When the cursor last moved (UTC).")
    head_seq: int = Field(description="The newest sequence number of the organization's audit chain.")
    lag_events: int = Field(description="Events recorded but not delivered yet.")
    lag_seconds: float = Field(description="Age of the oldest undelivered event, in seconds (0 when caught up).")
    paused: bool = Field(description="Paused after failing for days; resume it once the receiver is fixed.")
    consecutive_failures: int
    failing_since: datetime | None
    last_error: str
    next_attempt_at: datetime | None


class DestinationOut(Schema):
    id: int
    kind: DestinationKind
    name: str
    url: str
    custom_ca: bool = Field(description="Whether a CA of its own is trusted instead of the system roots.")
    batch_size: int
    status: Literal["active", "paused"]
    created_at: datetime
    delivery: DeliveryState
    etag: str


class DestinationPage(Schema):
    destinations: list[DestinationOut]


class DestinationIn(Body):
    kind: DestinationKind
    url: str = Field(
        min_length=1,
        max_length=490,
        description="https://… for a webhook or Splunk HEC, tls://host:port for syslog; public addresses only.",
    )
    name: str = Field("", max_length=100)
    token: str = Field("", max_length=500, description="The Splunk HEC token (HEC only).")
    ca_pem: str = Field("", max_length=100_000, description="PEM CA certificate(s) to trust instead of the roots.")
    batch_size: int | None = Field(None, ge=1, le=5000)


class DestinationPatch(Body):
    name: str | None = Field(None, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=490)
    token: str | None = Field(None, min_length=1, max_length=500, description="A new HEC token (HEC only).")
    ca_pem: str | None = Field(None, max_length=100_000, description="'' to trust the system roots again.")
    batch_size: int | None = Field(None, ge=1, le=5000)


class DestinationCreated(Schema):
    destination: DestinationOut
    signing_secret: str | None = Field(
        description="A webhook's whsec_ signing secret, shown once (null for HEC and syslog, and in a replay)."
    )


class TestEventOut(Schema):
    accepted: bool = Field(description="Whether the receiver accepted the test event.")
    answer: str = Field(description="The receiver's answer, or why it could not be reached.")


# --- audit export links -----------------------------------------------------------------------------------------


class ExportIn(Body):
    format: ExportFormat = "csv"
    actor: str = Field("", max_length=255)
    action: str = Field("", max_length=100)
    target: str = Field("", max_length=255)
    since: str = Field("", max_length=10, description="First day (UTC), YYYY-MM-DD.")
    until: str = Field("", max_length=10, description="Last day (UTC, included), YYYY-MM-DD.")
    q: str = Field("", max_length=200)
    ref: str = Field("", max_length=64)


class ExportLink(Schema):
    url: str = Field(description="GET it with the same key (Authorization header) before expires_at.")
    format: ExportFormat
    expires_at: datetime
    filters: dict[str, str] = Field(description="The filters the export applies (the log viewer's).")
