"""Session policies per organization, tracked sign-in sessions, revocations and stashed re-authentication POSTs.

Everything here lives in the database, so any number of app processes make the same decision: a policy
change or a revocation written by one process is enforced by every other on its next request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from orgsecurity.models import Organization
from sessions_policy import rules
from sessions_policy.rules import SessionRules


class SessionPolicy(models.Model):
    """One organization's session rules (seconds). Organizations without a row use ``SessionRules.defaults()``.

    Changed only through ``sessions_policy.actions.update_session_policy``, which validates the bounds of
    ``sessions_policy.rules.validate``; the check constraints are the database's second guard.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="session_policy")
    idle_timeout_s = models.PositiveIntegerField("idle timeout (seconds)", default=rules.DEFAULT_IDLE)
    absolute_timeout_s = models.PositiveIntegerField("absolute lifetime (seconds)", default=rules.DEFAULT_ABSOLUTE)
    reauth_max_age_s = models.PositiveIntegerField(
        "re-authentication window (seconds)", default=rules.default_reauth_max_age
    )
    single_session = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "session policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(idle_timeout_s__gte=rules.IDLE_MIN, idle_timeout_s__lte=rules.IDLE_MAX),
                name="session_policy_idle_bounds",
            ),
            models.CheckConstraint(
                condition=Q(absolute_timeout_s__gte=F("idle_timeout_s")),
                name="session_policy_absolute_not_below_idle",
            ),
            models.CheckConstraint(
                condition=Q(reauth_max_age_s__gte=rules.REAUTH_MIN, reauth_max_age_s__lte=rules.REAUTH_MAX),
                name="session_policy_reauth_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"Session policy of {self.organization}"

    def to_rules(self) -> SessionRules:
        return SessionRules(
            idle_timeout_s=self.idle_timeout_s,
            absolute_timeout_s=min(self.absolute_timeout_s, rules.absolute_max()),
            reauth_max_age_s=self.reauth_max_age_s,
            single_session=self.single_session,
        )


class AuthMethod(models.TextChoices):
    """How a session was signed in."""

    PASSWORD = "password", "Password"
    SAML = "saml", "SAML SSO"
    OIDC = "oidc", "OIDC SSO"
    RECOVERY = "recovery", "Recovery account"
    PASSKEY = "passkey", "Passkey"


class UserSession(models.Model):
    """One signed-in browser session of a user, tied to Django's session by ``session_key``.

    Created by ``orgsecurity.auth.sign_in`` for every sign-in. ``last_seen_at`` is written at most once a
    minute (``LAST_SEEN_INTERVAL``), so activity does not cost a write per request. ``revoked_at`` set means
    the session ended everywhere (sign-out, expiry, revocation); ``OrgSessionRevocation`` bars it from one
    organization only. A Django session without a row here is refused on organization pages.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    auth_method = models.CharField(max_length=10, choices=AuthMethod.choices)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The organization whose IdP or recovery path signed this session in, if any.",
    )
    authenticated_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ip = models.GenericIPAddressField("sign-in IP", null=True, blank=True)
    last_ip = models.GenericIPAddressField("last seen IP", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at", "authenticated_at"], name="usersession_user_active")]

    def __str__(self) -> str:
        from sessions_policy.devices import describe_user_agent

        return f"{describe_user_agent(self.user_agent)} from {self.last_ip or self.ip or 'unknown IP'}"

    @property
    def device(self) -> str:
        from sessions_policy.devices import describe_user_agent

        return describe_user_agent(self.user_agent)


class OrgSessionRevocation(models.Model):
    """A session barred from one organization's pages (ended by that organization's owners or admins).

    The session keeps working in the person's other organizations until it opens this organization's
    pages; then it ends, and the person signs in again.
    """

    user_session = models.ForeignKey(UserSession, on_delete=models.CASCADE, related_name="org_revocations")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    revoked_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_session", "organization"], name="org_session_revocation_unique")
        ]

    def __str__(self) -> str:
        return f"Session {self.user_session_id} ended in {self.organization}"


class SuspendedRequest(models.Model):
    """A POST interrupted by re-authentication, kept until the person confirms it or it expires.

    The form data is encrypted at rest (``orgsecurity.crypto``), bound to one tracked session (and so to one
    user), single use, and only found by the hash of a random token.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    user_session = models.ForeignKey(UserSession, on_delete=models.CASCADE, related_name="suspended_requests")
    path = models.CharField(max_length=2048)
    form_page = models.CharField(max_length=2048)
    encrypted_post = models.TextField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Suspended POST to {self.path}"
