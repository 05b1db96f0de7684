"""Request and response shapes of the admin API's SSO connection operations (``adminapi.routes.sso``): connections
(SAML from IdP metadata, OIDC from an issuer), test runs, status moves and enforcement with its preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from adminapi import schemas
from adminapi.schemas import Body

Status = Literal["off", "testing", "on", "enforced"]
JitRole = Literal["admin", "billing", "member", "auditor"]


class SAMLOut(Schema):
    idp_entity_id: str
    idp_sso_url: str
    idp_sso_binding: str
    idp_slo_url: str
    idp_certificate_fingerprints: list[str] = Field(description="SHA-256 fingerprints of the IdP signing certificates.")
    metadata_url: str = Field(description="Where the IdP metadata was fetched from ('' when pasted).")
    metadata_fetched_at: datetime | None
    sp_entity_id: str = Field(description="Our entity ID (also our SP metadata URL), for the IdP.")
    sp_acs_url: str = Field(description="Our Assertion Consumer Service URL, for the IdP.")


class OIDCOut(Schema):
    issuer: str
    client_id: str
    scopes: str
    client_secret_set_at: datetime | None = Field(description="When the client secret was stored (never shown).")
    redirect_uri: str = Field(description="Register this redirect URI at the provider.")


class ConnectionOut(Schema):
    id: int
    protocol: Literal["saml", "oidc"]
    name: str
    status: Status
    admin_owner: str | None = Field(description="Email of the owner or admin responsible for testing and rollback.")
    allow_jit: bool
    jit_default_role: str
    attribute_map: dict[str, str]
    require_idp_mfa: bool
    idp_mfa_attribute: str
    idp_mfa_values: list[str]
    support_contact: str
    enforce_at: datetime | None = Field(description="Scheduled enforcement (UTC), null when none.")
    enforcement_postponed_at: datetime | None
    enforced_at: datetime | None
    created_at: datetime
    saml: SAMLOut | None
    oidc: OIDCOut | None
    etag: str = Field(description="Send it in If-Match to change or delete the connection.")


class ConnectionList(Schema):
    connections: list[ConnectionOut]


class ConnectionIn(Body):
    """A new connection (status off). SAML: exactly one of ``metadata_url`` (fetched by our server, public
    addresses only) and ``metadata_xml``. OIDC: ``issuer`` (its discovery document is read), ``client_id`` and
    ``client_secret``."""

    protocol: Literal["saml", "oidc"]
    name: str = Field("", max_length=100)
    admin_owner: str | None = Field(
        None, max_length=254, description="Email of an owner or admin; default: the key's own person, if any."
    )
    preset: str | None = Field(
        None, max_length=50, description="Attribute (SAML) or claim (OIDC) mapping preset, as on the dashboard."
    )
    metadata_url: str | None = Field(None, max_length=2000)
    metadata_xml: str | None = Field(None, max_length=1_000_000)
    issuer: str | None = Field(None, max_length=1024)
    client_id: str | None = Field(None, max_length=255)
    client_secret: str | None = Field(None, max_length=1024, description="Stored encrypted, never returned.")
    scopes: str | None = Field(None, max_length=500)


class ConnectionPatch(Body):
    """Fields to change; general settings as on the connection page, and the protocol's IdP side."""

    name: str | None = Field(None, max_length=100)
    admin_owner: str | None = Field(None, max_length=254, description="Email of an owner or admin.")
    allow_jit: bool | None = None
    jit_default_role: JitRole | None = None
    attribute_map: dict[str, str] | None = None
    require_idp_mfa: bool | None = None
    idp_mfa_attribute: str | None = Field(None, max_length=255)
    idp_mfa_values: list[str] | None = Field(None, max_length=20)
    metadata_url: str | None = Field(None, max_length=2000, description="SAML: replace the IdP side from this URL.")
    metadata_xml: str | None = Field(None, max_length=1_000_000, description="SAML: replace the IdP side.")
    issuer: str | None = Field(None, max_length=1024, description="OIDC: a new issuer (discovery is read again).")
    client_id: str | None = Field(None, max_length=255)
    client_secret: str | None = Field(None, max_length=1024, description="OIDC: replace the stored secret.")
    scopes: str | None = Field(None, max_length=500)


class StatusIn(Body):
    status: Literal["off", "testing", "on"] = Field(
        description="Enforcing has its own operation (POST …/enforcement) after its preview."
    )
    confirm: str | None = Field(
        None,
        max_length=100,
        description=(
            "The organization's slug, typed back after reading GET …/status/preview: required when the move takes "
            "SSO sign-in from anyone (a rollback from on or enforced, or turning a connection off)."
        ),
    )


class Problem(Schema):
    code: str = Field(description="e.g. no_recent_test, no_recovery_account, admins_locked_out.")
    message: str


class EnforcementPreview(Schema):
    """What enforcing would do now (the confirmation page's list) and every guard that does not hold yet."""

    impact: schemas.ImpactOut
    problems: list[Problem] = Field(description="Reasons enforcement is refused now (owners and admins listed apart).")
    acknowledge_required: list[int] = Field(description="User ids to send in acknowledge (blocking people).")
    confirm: str = Field(description="What to send as confirm: the organization's slug.")
    etag: str = Field(description="The connection's ETag.")


class EnforceIn(Body):
    confirm: str = Field(max_length=100, description="The organization's slug, typed as on the confirmation page.")
    support_contact: str = Field(max_length=254, description="An email address or https:// URL members are told.")
    acknowledge: list[int] = Field(
        default_factory=list, max_length=1000, description="User ids of owners and admins accepted to be locked out."
    )
    enforce_at: datetime | None = Field(
        None,
        strict=False,  # a JSON string in RFC 3339 form (strict mode would want a Python datetime)
        description="A future time (RFC 3339, with its UTC offset) to schedule enforcement; null enforces now.",
    )


class EnforcementOut(Schema):
    connection: ConnectionOut
    still_missing: list[Problem] = Field(
        description="For a schedule: what must still be done by then, or enforcement is postponed."
    )


class TestRunIn(Body):
    session_seconds: int = Field(
        0, ge=0, le=3600, description="Also sign the tester in through SSO for this long (0: only check the answer)."
    )


class TestRunOut(Schema):
    id: int
    connection_id: int
    state: Literal["waiting_for_tester", "in_progress", "passed", "failed", "abandoned"] = Field(
        description="waiting_for_tester until a person opens open_url; passed or failed once the IdP answered."
    )
    open_url: str | None = Field(description="The URL a signed-in owner or admin opens to sign in at the IdP.")
    result_url: str = Field(description="The dashboard page of the result.")
    tester: str | None = Field(description="Email of the person who signed in at the IdP.")
    session_seconds: int
    started_at: datetime
    finished_at: datetime | None
    reason: str = Field(description="What went wrong (failed), else ''.")
    issuer: str | None
    subject: str | None
    subject_format: str | None
    attributes: dict[str, Any] = Field(description="Every attribute or claim the IdP sent.")
    mapped: dict[str, Any] = Field(description="How the attribute map read them (email, names, groups).")
    link: str = Field(description="What happened to the tester's link, as the result page says.")


class TestRunList(Schema):
    runs: list[TestRunOut]


# --- the rollout page's other forms (``adminapi.routes.sso_rollout``) ---------------------------------------------


class MemberRef(Schema):
    membership_id: int
    email: str
    role: str


class TeamRef(Schema):
    id: int
    name: str


class TestGroupOut(Schema):
    """Who may sign in through the connection while its status is testing."""

    members: list[MemberRef] = Field(description="Members chosen one by one.")
    teams: list[TeamRef] = Field(description="Teams chosen: their members are in the group too.")
    in_group: list[MemberRef] = Field(description="Everyone in the group now: the members plus the teams' members.")
    etag: str = Field(description="Send it in If-Match to replace the test group.")


class TestGroupIn(Body):
    """The whole test group (it replaces the current one), as the rollout page's form sends it."""

    member_ids: list[int] = Field(default_factory=list, max_length=1000, description="Membership ids.")
    team_ids: list[int] = Field(default_factory=list, max_length=1000, description="Team ids.")


class PasswordExceptionOut(Schema):
    id: int
    membership_id: int
    email: str
    role: str
    reason: str
    created_at: datetime
    created_by: str | None = Field(description="Email of the person who listed it (null: a service account's key).")
    etag: str = Field(description="Send it in If-Match to remove the exception.")


class PasswordExceptionIn(Body):
    membership_id: int = Field(ge=1, le=2**63 - 1, description="The member who keeps password sign-in.")
    reason: str = Field(max_length=200, description="Why, e.g. 'outside contractor, no IdP account'.")


class FallbackPolicyOut(Schema):
    """Who keeps password sign-in once SSO is enforced, and whether that was confirmed as it is now."""

    recovery_accounts: list[str] = Field(description="Emails of the recovery accounts (sign in with a code).")
    exceptions: list[PasswordExceptionOut] = Field(description="Listed members who keep password sign-in.")
    confirmed: bool = Field(description="Confirmed, and unchanged since: an enforcement guard.")
    confirmed_at: datetime | None
    confirmed_by: str | None = Field(description="Email of the person who confirmed it (null: a service account).")
    changed_since_confirmed: bool = Field(description="It was confirmed, then the list changed: confirm it again.")
    etag: str = Field(description="Send it in If-Match to confirm exactly this policy.")


class TestPlanStep(Schema):
    item: Literal["login", "logout", "session_timeout", "failed_login"]
    label: str
    seen: bool
    seen_at: datetime | None
    seen_by: str | None = Field(description="Email of the person who saw it (null when not seen or not a person).")
    via: Literal["test_run", "ticked"] | None = Field(description="Seen in a test run, or ticked by the admin owner.")
    note: str
    test_run_id: int | None


class TestPlanOut(Schema):
    steps: list[TestPlanStep]
    complete: bool = Field(description="Every step seen: an enforcement guard.")
    admin_owner: str | None = Field(description="Email of the admin owner, the only person who ticks steps.")


class TickIn(Body):
    note: str = Field(max_length=500, description="What you saw and how, e.g. 'timed out after 15 min in Okta'.")
