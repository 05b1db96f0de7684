"""Request and response shapes of the admin API's organization resources (pydantic models through django-ninja):
verified domains, recovery accounts, invitations, service accounts and their keys, and the members list's SSO and
two-factor status. Kept apart from ``adminapi.schemas`` (shared by the other resources) so each lands as its own
module; the OpenAPI schema at ``/api/v1/openapi.json`` is generated from both."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from adminapi.schemas import Body, KeyOut, Role

RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Scope = Literal["security:read", "security:write", "members:read", "members:write", "audit:read"]


# --- verified domains ------------------------------------------------------------------------------------------


class DomainVerification(Schema):
    """The DNS record that proves the domain (RFC 1035 §3.3.14 TXT record)."""

    type: Literal["TXT"]
    name: str = Field(description="Where to add it, e.g. _orgsecurity-challenge.example.com.")
    value: str = Field(description="The exact value, e.g. orgsecurity-verification=….")


class DomainIn(Body):
    domain: str = Field(max_length=300, description="The email domain, e.g. example.com (IDNA names allowed).")


class DomainOut(Schema):
    id: int
    domain: str = Field(description="Lower case, IDNA 2008 punycode.")
    verified: bool
    verified_at: datetime | None
    verified_via: str | None = Field(description="dns or support; null while only claimed.")
    created_at: datetime
    verification: DomainVerification
    etag: str


class DomainList(Schema):
    domains: list[DomainOut]


# --- recovery accounts -----------------------------------------------------------------------------------------


class RecoveryAccountIn(Body):
    membership_id: int = Field(ge=1, le=2**63 - 1, description="The member (owner or admin) to make one.")


class RecoveryAccountOut(Schema):
    id: int
    membership_id: int
    email: str
    role: Role
    designated_at: datetime
    codes_generated_at: datetime | None
    unused_codes: int
    usable: bool = Field(
        description="Can get someone in now: an owner or admin with a password and an unused recovery code."
    )
    etag: str


class RecoveryAccountList(Schema):
    accounts: list[RecoveryAccountOut]
    sso_enforced: bool = Field(description="While SSO is enforced, the last usable owner account cannot be removed.")


# --- invitations -----------------------------------------------------------------------------------------------


class InvitationIn(Body):
    email: str = Field(min_length=3, max_length=254)
    role: Role = Field(description="No API key invites an owner (403 owner_change_not_allowed).")


class InvitationOut(Schema):
    id: int
    email: str
    role: Role
    invited_by: str | None = Field(description="The email of the person vouching for it; null if deleted.")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    needs_reconfirmation: str | None = Field(
        description="Why its link does not work until an owner or admin re-confirms it; null when it works."
    )


class InvitationPage(Schema):
    invitations: list[InvitationOut]
    next_after: int | None


# --- service accounts ------------------------------------------------------------------------------------------


class ServiceAccountIn(Body):
    name: str = Field(min_length=1, max_length=50, description="Lower-case letters, digits and hyphens.")
    description: str = Field("", max_length=200)


class ServiceAccountOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    active_keys: int = Field(description="Keys neither revoked nor expired.")


class ServiceAccountList(Schema):
    service_accounts: list[ServiceAccountOut]


class ServiceKeyIn(Body):
    name: str = Field(min_length=1, max_length=100)
    permission: Literal["read", "read_write"] = "read"
    scopes: list[Scope] = Field(
        default_factory=list,
        max_length=5,
        description="Admin API scopes; write scopes only from an owner's key, and never more than the calling key "
        "holds.",
    )
    team_ids: list[RowId] = Field(default_factory=list, max_length=100, description="Restrict the key to these teams.")
    project_ids: list[RowId] = Field(default_factory=list, max_length=100, description="… or these projects.")
    workloads: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    allowed_cidrs: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50, description="Networks the key may be used from (CIDR blocks)."
    )
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Null: never (if the key policy allows).")


class CreatedKey(Schema):
    key: KeyOut
    token: str | None = Field(description="The secret, shown once; null in a replay of the same Idempotency-Key.")


# --- members with their SSO and two-factor status --------------------------------------------------------------


class MemberSSOLink(Schema):
    connection_id: int
    connection_name: str
    protocol: str = Field(description="saml or oidc")
    linked_at: datetime


class MemberTwoFactor(Schema):
    enabled: bool = Field(description="Has a second factor (an authenticator app or a passkey).")
    factors: list[Literal["totp", "passkey"]]


class MemberStatusOut(Schema):
    id: int = Field(description="The membership's id.")
    email: str
    name: str
    role: Role
    joined_at: datetime
    suspended: bool = Field(description="Deprovisioned by the identity provider (SCIM): counts as no member.")
    sso: list[MemberSSOLink] = Field(description="The SSO identities linked to the person, one per connection.")
    two_factor: MemberTwoFactor
    etag: str


class MemberStatusPage(Schema):
    members: list[MemberStatusOut]
    next_after: int | None
