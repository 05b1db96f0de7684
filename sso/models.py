"""SSO connections per organization, the identities linked through them, test-connection runs, and what the rollout
needs so enforcement cannot lock an organization out (test group, fallback login policy, recovery accounts, verified
domains).

Protocol-specific fields (SAML IdP metadata and SP keys; OIDC issuer and client) are added by the SAML and
OIDC parts of this app; what is here is shared by both.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgsecurity.models import Organization
from orgsecurity.roles import Role

# How long a pending login waits for the IdP's answer (sso.signin.flow); a test run still pending after that was
# abandoned.
PENDING_TTL = timedelta(minutes=10)


class SSOConnection(models.Model):
    """One organization's connection to its identity provider (IdP).

    Status moves off → testing → on → enforced (SSO-only), changed only through action functions. The model
    does not forbid several connections per organization; the product uses one active connection for now.
    """

    class Protocol(models.TextChoices):
        SAML = "saml", "SAML 2.0"
        OIDC = "oidc", "OpenID Connect"

    class Status(models.TextChoices):
        OFF = "off", "Off"
        TESTING = "testing", "Testing"
        ON = "on", "On"
        ENFORCED = "enforced", "Enforced (SSO only)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_connections")
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFF)
    name = models.CharField(max_length=100, blank=True, help_text="What your people call the IdP, e.g. 'Okta'.")
    admin_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person responsible for testing and rollback.",
    )
    # {"email": "...", "first_name": "...", "last_name": "...", "display_name": "...", "groups": "..."}:
    # which assertion attribute or ID-token claim feeds each profile field.
    attribute_map = models.JSONField(default=dict, blank=True)
    allow_jit = models.BooleanField(
        "just-in-time provisioning", default=False, help_text="Create members on their first SSO sign-in."
    )
    jit_default_role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    # "Require MFA at the IdP": a sign-in answer must carry one of idp_mfa_values among its OIDC amr/acr values,
    # its SAML AuthnContextClassRef values, or the values of the attribute idp_mfa_attribute (sso.assertion).
    require_idp_mfa = models.BooleanField(default=False)
    idp_mfa_attribute = models.CharField(max_length=255, blank=True)
    idp_mfa_values = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # --- rollout (see sso.rollout.scheduling): the test group, scheduled enforcement, the fallback login policy ---
    test_members = models.ManyToManyField(
        "orgsecurity.Membership",
        blank=True,
        related_name="sso_test_groups",
        help_text="Members who may sign in through SSO while its status is testing.",
    )
    test_teams = models.ManyToManyField(
        "orgsecurity.Team",
        blank=True,
        related_name="sso_test_groups",
        help_text="Teams whose members may sign in through SSO while its status is testing.",
    )
    # When the status last entered "testing": the rollout went through a test group, so the member sign-in that
    # enforcement needs must come from that group.
    testing_started_at = models.DateTimeField(null=True, blank=True)
    enforced_at = models.DateTimeField(null=True, blank=True)
    # Scheduled enforcement takes effect by itself at ``enforce_at`` (UTC) when the guards still hold; otherwise
    # it is postponed (``enforcement_postponed_at`` and the reasons) until an admin schedules it again.
    enforce_at = models.DateTimeField(null=True, blank=True, db_index=True)
    enforcement_postponed_at = models.DateTimeField(null=True, blank=True)
    enforcement_postponed_reasons = models.JSONField(default=list, blank=True)
    # Owners and admins the scheduling person accepted, by name on the confirmation page, to lose access when the
    # scheduled enforcement takes effect: [{"user_id": 7, "email": "..."}]. Anyone else locked out by then
    # postpones it (sso.rollout.readiness.enforcement_problems).
    enforcement_acknowledged = models.JSONField(default=list, blank=True)
    support_contact = models.CharField(
        max_length=254,
        blank=True,
        help_text="Where members get help with the switch to SSO: an email address or a URL.",
    )
    # The fallback login policy as confirmed: {"recovery": [user ids], "exceptions": [user ids]}. It counts as
    # confirmed only while it still equals the current policy.
    fallback_confirmed_at = models.DateTimeField(null=True, blank=True)
    fallback_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fallback_confirmed_policy = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} connection {self.name or self.pk}"


class SSOIdentity(models.Model):
    """A user's identity at one connection's IdP: (issuer, subject format, subject) → user.

    SAML: issuer is the IdP entity ID, subject the NameID value, format the NameID format.
    OIDC: issuer is the ``iss`` value, subject the ``sub`` claim, format ``oidc``.
    Never linked on email alone.
    """

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="identities")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=1024)
    subject_format = models.CharField(max_length=255)
    subject = models.CharField(max_length=1024)
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # The email the IdP asserted for this identity (mapped with the connection's attribute map; '' when it sent
    # none) when it was linked, refreshed at each SSO sign-in (``asserted_email_at``, UTC). Links made before it
    # was kept have no ``asserted_email_at`` ("unknown email"). One that differs from the account's email is
    # listed for review (sso.signin.linking).
    asserted_email = models.CharField(max_length=254, blank=True)
    asserted_email_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "issuer", "subject_format", "subject"], name="sso_identity_unique_subject"
            ),
            models.UniqueConstraint(fields=["connection", "user"], name="sso_identity_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.subject_format})"


class SSOTestRun(models.Model):
    """One run of "Test SSO": a real sign-in through the IdP by an admin, and what came back."""

    class Result(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCESS = "success", "Succeeded"
        FAILURE = "failure", "Failed"

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="test_runs")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.PENDING)
    # What the IdP sent and how it mapped (subject, format, attributes), or what went wrong.
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # A test run may sign the admin in through SSO for this many seconds, so logout and the session timeout can be
    # seen as members would see them (0: the test only checks the IdP's answer).
    session_seconds = models.PositiveIntegerField(default=0)
    # A run started by the customer's IdP administrator through a set-up link (no account here, so no ``actor``):
    # shown to the owners, never counted toward enforcement (sso.rollout.readiness reads ``actor`` only).
    setup_link = models.ForeignKey(
        "SSOSetupLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="test_runs"
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_result_display()} test at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def status_label(self) -> str:
        """The result as people read it: a run still pending after its round trip could have expired
        (``PENDING_TTL``, 10 minutes) was abandoned, e.g. the IdP showed an error on its own page."""
        if self.result == self.Result.PENDING and self.started_at + PENDING_TTL < timezone.now():
            return "Not finished (no answer from the IdP)"
        return self.get_result_display()


class SSOSetupLink(models.Model):
    """A set-up link for the customer's IdP administrator, who has no account here (like WorkOS's Admin Portal):
    it opens a guided set-up of ONE connection of ONE organization, until ``expires_at`` (UTC) or revocation.

    The link's secret is shown once to the owner or admin who made it; only its keyed hash (``token_hash``,
    HMAC-SHA-256 under ``settings.KEY_HASH_SECRET``, RFC 2104) is stored. The first browser that starts the set-up
    binds it (``browser_binding``: the SHA-256 of a random value kept in that browser's signed cookie); any other
    browser is refused. Through it the IdP admin can read the SP details, enter the IdP's details and run test
    sign-ins, never change the status, enforce, link identities or see members (``sso.setup_links``).
    """

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="setup_links")
    token_hash = models.CharField(max_length=64, unique=True)
    # Who the link is for, as the maker wrote it (e.g. "Jane at Contoso IT"): shown in the list and the audit log.
    recipient = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    browser_binding = models.CharField(max_length=64, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    test_passed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"IdP set-up link #{self.pk}" + (f" for {self.recipient}" if self.recipient else "")

    @property
    def actor_label(self) -> str:
        """How the audit log names what was done through this link: "IdP set-up link #7 (Jane, Contoso IT)"."""
        return (f"IdP set-up link #{self.pk}" + (f" ({self.recipient})" if self.recipient else ""))[:255]

    def state(self, now=None) -> str:
        """``revoked``, ``expired``, ``unused`` (not opened yet) or ``open`` (bound to a browser), at ``now``."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open" if self.browser_binding else "unused"

    def is_usable(self, now=None) -> bool:
        return self.state(now) in ("open", "unused")


class SSOPendingLogin(models.Model):
    """A sign-in we started at the IdP and have not finished: the server-side state of one round trip.

    ``key`` is what the IdP hands back (the SAML AuthnRequest ID, answered as InResponseTo; the OIDC ``state``),
    unique and usable once. ``browser_binding`` is the SHA-256 of a random value kept in the session of the browser
    that started it, so an answer carried to another browser (login CSRF) is refused at the finishing step.
    ``data`` holds protocol state (OIDC nonce, PKCE verifier) and, after the IdP answered, the asserted identity.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", "Sign in"
        TEST = "test", "Test connection"
        LINK = "link", "Link account"
        REAUTH = "reauth", "Re-authenticate"

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="pending_logins")
    key = models.CharField(max_length=255, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    test_run = models.ForeignKey(SSOTestRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    next_url = models.CharField(max_length=2000, blank=True)
    browser_binding = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    finish_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="sso_pending_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} via {self.connection_id} ({self.key[:12]}…)"


class SSOPendingLink(models.Model):
    """An IdP identity waiting for the signed-in person to confirm linking it to their account (sso.signin.linking).

    Made when a "Link SSO" or Test SSO round trip came back with an identity whose asserted email is not the
    account's: nothing is linked until that person, in the browser that started the round trip
    (``browser_binding``, the same hash as the pending login's), confirms on a page that shows both emails. Used
    once (``resolved_at``, with ``outcome``) and only until ``expires_at`` (UTC).
    """

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", "Linked after confirmation"
        DECLINED = "declined", "Not linked (declined)"
        REFUSED = "refused", "Not linked (refused)"

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="pending_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    test_run = models.ForeignKey(SSOTestRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The validated answer as sso.assertion.AssertedIdentity stores it, and the email mapped from it then (shown
    # on the confirmation page; the link is refused if the answer maps to another email when confirmed).
    identity = models.JSONField(default=dict)
    asserted_email = models.CharField(max_length=254, blank=True)
    browser_binding = models.CharField(max_length=64)
    next_url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)

    def __str__(self) -> str:
        return f"pending link of {self.identity.get('subject', '')} to user {self.user_id}"

    @property
    def subject(self) -> str:
        return str(self.identity.get("subject", ""))

    @property
    def subject_format(self) -> str:
        return str(self.identity.get("subject_format", ""))


class OIDCSettings(models.Model):
    """The OpenID Connect side of one SSO connection: the provider (from discovery) and our client there.

    ``issuer`` is the ``issuer`` member of the provider's discovery document, stored verbatim: every ID token's
    ``iss`` must equal it exactly (OIDC Core §3.1.3.7 step 2). The endpoints come from the same document
    (OIDC Discovery §3). The client secret is stored encrypted (``orgsecurity.crypto``) and never shown again.
    ``jwks`` caches the provider's signing keys (RFC 7517 JWK Set) in the database, so every process shares it;
    it is refetched when older than ``sso.oidc.keys.JWKS_MAX_AGE`` and, once per sign-in, on an unknown ``kid``.
    """

    class TokenAuthMethod(models.TextChoices):
        BASIC = "client_secret_basic", "HTTP Basic (client_secret_basic)"
        POST = "client_secret_post", "Form body (client_secret_post)"

    connection = models.OneToOneField(SSOConnection, on_delete=models.CASCADE, related_name="oidc")
    issuer = models.CharField(max_length=1024)
    discovery_url = models.URLField(max_length=1024)
    authorization_endpoint = models.URLField(max_length=1024)
    token_endpoint = models.URLField(max_length=1024)
    userinfo_endpoint = models.URLField(max_length=1024, blank=True)
    jwks_uri = models.URLField(max_length=1024)
    end_session_endpoint = models.URLField(max_length=1024, blank=True)
    # What the provider advertises, kept to explain refusals (e.g. no algorithm in common).
    provider_signing_algorithms = models.JSONField(default=list, blank=True)
    discovered_at = models.DateTimeField(default=timezone.now)
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(blank=True)
    client_secret_set_at = models.DateTimeField(null=True, blank=True)
    token_auth_method = models.CharField(max_length=30, choices=TokenAuthMethod.choices, default=TokenAuthMethod.BASIC)
    scopes = models.CharField(max_length=500, default="openid email profile")
    allowed_algorithms = models.JSONField(default=list)
    accept_missing_email_verified = models.BooleanField(
        "accept a missing email_verified claim",
        default=False,
        help_text="Trust the email for JIT provisioning even when the provider does not send email_verified.",
    )
    jwks = models.JSONField(default=dict, blank=True)
    jwks_fetched_at = models.DateTimeField(null=True, blank=True)
    rp_initiated_logout = models.BooleanField(
        "sign out at the provider too",
        default=False,
        help_text="Signing out here also ends the provider session (OpenID Connect RP-Initiated Logout 1.0), "
        "when the provider advertises an end_session_endpoint.",
    )

    class Meta:
        verbose_name = "OIDC settings"
        verbose_name_plural = "OIDC settings"

    def __str__(self) -> str:
        return f"OIDC {self.issuer} ({self.client_id})"


class SAMLSettings(models.Model):
    """The SAML side of a connection: the IdP as its metadata describes it, and our SP key pair.

    ``idp_certificates`` holds every signing certificate the IdP uses (PEM, rollover keeps several); only these
    are trusted for response signatures. The SP private key is stored encrypted (``orgsecurity.crypto``).
    """

    class Binding(models.TextChoices):
        REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "HTTP-Redirect"
        POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "HTTP-POST"

    connection = models.OneToOneField(SSOConnection, on_delete=models.CASCADE, related_name="saml")
    idp_entity_id = models.CharField("IdP entity ID", max_length=1024)
    idp_sso_url = models.URLField("IdP SSO URL", max_length=2000)
    idp_sso_binding = models.CharField(max_length=100, choices=Binding.choices, default=Binding.REDIRECT)
    idp_slo_url = models.URLField("IdP SLO URL", max_length=2000, blank=True)
    idp_certificates = models.JSONField(default=list, blank=True)
    metadata_url = models.URLField(max_length=2000, blank=True)
    metadata_fetched_at = models.DateTimeField(null=True, blank=True)
    allow_idp_initiated = models.BooleanField(
        "allow IdP-initiated sign-in",
        default=False,
        help_text="Accept responses the IdP sends without a request from us (unsolicited). Off is safer.",
    )
    want_authn_requests_signed = models.BooleanField("sign AuthnRequests", default=False)
    # Off by default: an IdP that keeps signing with a certificate past its notAfter still signs people in (SAML
    # trusts the pinned key, not the validity period), with a warning on the dashboard and the connection list.
    refuse_expired_certificates = models.BooleanField(
        "refuse expired IdP certificates",
        default=False,
        help_text="Refuse sign-ins signed with an IdP certificate past its expiry date.",
    )
    sp_certificate = models.TextField()
    sp_private_key_encrypted = models.TextField()
    # The daily metadata refresh (sso.saml.refresh): validators for a conditional GET (RFC 9110 §13.1), when it
    # last asked, and the current run of failures (since when, how many, the last error, whether the admin owner
    # was told). A success clears the failures.
    metadata_etag = models.CharField(max_length=500, blank=True)
    metadata_last_modified = models.CharField(max_length=100, blank=True)
    metadata_checked_at = models.DateTimeField(null=True, blank=True)
    metadata_failures = models.PositiveIntegerField(default=0)
    metadata_failing_since = models.DateTimeField(null=True, blank=True)
    metadata_last_error = models.CharField(max_length=500, blank=True)
    metadata_failure_notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SAML settings of {self.connection}"


class CertificateExpiryNotice(models.Model):
    """An expiry notice sent (by email, to the connection's admin owner and the organization's owners) for one
    certificate of a SAML connection at one threshold (30, 14, 7 or 1 days before its notAfter): the unique
    constraint makes each notice go out once, whichever worker gets there first (``sso.saml.expiry``)."""

    class Kind(models.TextChoices):
        IDP = "idp", "IdP signing certificate"
        SP = "sp", "SP certificate"

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="certificate_notices")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    fingerprint = models.CharField(max_length=95)
    not_after = models.DateTimeField()
    threshold_days = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()
    recipients = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "fingerprint", "threshold_days"], name="sso_cert_notice_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.fingerprint[:11]} expiry notice ({self.threshold_days} days)"


class SAMLConsumedAssertion(models.Model):
    """An assertion ID accepted once at a connection's ACS, kept until its NotOnOrAfter plus the allowed clock skew
    so a replay is refused in every process (the unique constraint decides). The worker purges expired rows."""

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "assertion_id"], name="saml_assertion_used_once"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="saml_assertion_expiry_idx")]

    def __str__(self) -> str:
        return self.assertion_id


# --- rollout and enforcement: what keeps an organization from locking itself out ---------------------------


class SSOPasswordException(models.Model):
    """A listed exception of the fallback login policy: this member keeps password sign-in while SSO is
    enforced (e.g. an outside contractor without an account at the IdP)."""

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="password_exceptions")
    membership = models.ForeignKey(
        "orgsecurity.Membership", on_delete=models.CASCADE, related_name="sso_password_exceptions"
    )
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "membership"], name="sso_password_exception_unique")
        ]
        ordering = ["membership__user__email"]

    def __str__(self) -> str:
        return f"password exception for {self.membership.user.email}"


class SSOTestPlanItem(models.Model):
    """One step of the rollout's test plan (login, logout, session timeout, failed login) as last seen: in a
    test run, or ticked by the admin owner with a note."""

    class Item(models.TextChoices):
        LOGIN = "login", "Login"
        LOGOUT = "logout", "Logout"
        SESSION_TIMEOUT = "session_timeout", "Session timeout"
        FAILED_LOGIN = "failed_login", "Failed login"

    class Via(models.TextChoices):
        TEST_RUN = "test_run", "seen in a test run"
        TICKED = "ticked", "ticked by the admin owner"

    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="test_plan_items")
    item = models.CharField(max_length=20, choices=Item.choices)
    seen_at = models.DateTimeField(default=timezone.now)
    seen_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(max_length=10, choices=Via.choices)
    note = models.CharField(max_length=500, blank=True)
    test_run = models.ForeignKey(SSOTestRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "item"], name="sso_test_plan_item_unique")]

    def __str__(self) -> str:
        return f"{self.get_item_display()} {self.get_via_display()}"


class RecoveryAccount(models.Model):
    """A break-glass account: this owner or admin may sign in at /accounts/recovery/ with their password and a
    single-use recovery code even while SSO is enforced and the IdP is down."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="recovery_accounts")
    membership = models.OneToOneField(
        "orgsecurity.Membership", on_delete=models.CASCADE, related_name="recovery_account"
    )
    designated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    codes_generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["membership__user__email"]

    def __str__(self) -> str:
        return f"recovery account {self.membership.user.email}"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as the SHA-256 of its normalized form (codes carry 80 random bits,
    so a fast hash is enough; the plain code is shown once when generated)."""

    account = models.ForeignKey(RecoveryAccount, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.account_id} ({'used' if self.used_at else 'unused'})"


class VerifiedDomain(models.Model):
    """An email domain an organization claims, and once proven (DNS TXT record, or platform support), owns:
    routes email-first sign-in to its IdP and allows JIT provisioning and linking by email. A domain can be
    verified by one organization only."""

    class Via(models.TextChoices):
        DNS = "dns", "DNS TXT record"
        SUPPORT = "support", "platform support"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="email_domains")
    domain = models.CharField(max_length=253)
    challenge = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_via = models.CharField(max_length=10, choices=Via.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain"], name="sso_domain_claim_unique"),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(verified_at__isnull=False), name="sso_domain_verified_once"
            ),
        ]
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None
