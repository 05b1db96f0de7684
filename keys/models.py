"""API keys per organization, who owns them (members or service accounts), the workloads they may serve,
and the organization's key policy. Changed only through ``keys.actions``."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from keys.tokens import display_prefix
from orgsecurity.models import Organization, slug_validator


class Workload(models.Model):
    """A named consumer the organization defines (e.g. ``ci``, ``batch-export``). A request declares its
    workload in the ``X-Workload`` header; a key restricted to other workloads is refused."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="workloads")
    name = models.CharField(max_length=50, validators=[slug_validator])
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="workload_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceAccount(models.Model):
    """A non-person owner of API keys inside one organization, so automation keeps working when the people
    who set it up leave (their personal keys are revoked; a service account's are not)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="service_accounts")
    name = models.CharField(max_length=50, validators=[slug_validator])
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="service_account_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (service account)"


class KeyPolicy(models.Model):
    """An organization's rules for new and rotated keys, set by owners. No row means the defaults:
    expiry optional, no maximum lifetime, unrestricted keys allowed."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="key_policy")
    require_expiry = models.BooleanField(default=False)
    max_lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    allow_unrestricted = models.BooleanField(default=True)
    # "Allow security changes through the API": off until an owner turns it on; no security:write key works before.
    allow_api_security_changes = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"Key policy of {self.organization}"

    @classmethod
    def for_organization(cls, organization: Organization) -> KeyPolicy:
        """The saved policy, or an unsaved one with the defaults."""
        return cls.objects.filter(organization=organization).first() or cls(organization=organization)


class APIKey(models.Model):
    """One API key of one organization.

    The token is ``osk_<key_id><secret><checksum>`` (see ``keys.tokens``); only its HMAC is stored.
    Owner: exactly one of ``owner_user`` (a member's personal key) or ``owner_service_account``; both are
    empty only when the owning user account itself was deleted. Restrictions are lists stored on the row so
    one indexed query loads everything a request needs, and so deleting a team or project never widens a
    key (an id that no longer exists matches nothing): ``team_ids``, ``project_ids``, ``workloads`` (names),
    ``allowed_cidrs`` (RFC 4632 CIDR strings); an empty list means "not restricted by this". ``scopes`` lists the
    admin API scopes (``keys.scopes``); empty means the key reaches no admin API endpoint.
    Times are UTC. ``last_used_*`` is written at most once a minute.
    """

    class Permission(models.TextChoices):
        READ = "read", "Read"
        READ_WRITE = "read_write", "Read and write"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    # After a rotation the old secret keeps working until previous_valid_until (the chosen overlap).
    previous_secret_hash = models.CharField(max_length=64, blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    # Who was shown the current secret (created the key or last rotated it): when that person leaves or loses the
    # right to manage keys, a service account's key they saw is flagged for rotation.
    secret_shown_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys"
    )
    owner_service_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="api_keys"
    )
    # Who owned it, kept when the owning account is deleted.
    owner_label = models.CharField(max_length=255)

    permission = models.CharField(max_length=20, choices=Permission.choices, default=Permission.READ)
    team_ids = models.JSONField(default=list, blank=True)
    project_ids = models.JSONField(default=list, blank=True)
    workloads = models.JSONField(default=list, blank=True)
    allowed_cidrs = models.JSONField(default=list, blank=True)
    # Admin API scopes (keys.scopes); empty for keys that reach only whoami and projects.
    scopes = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=255, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flagged_reason = models.CharField(max_length=255, blank=True)
    # The expires_at value the owner was last told about (keys.notices: once per expiry date, 7 days ahead).
    expiry_notice_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(owner_user__isnull=False, owner_service_account__isnull=False),
                name="api_key_one_owner",
            )
        ]
        indexes = [models.Index(fields=["organization", "revoked_at"], name="api_key_org_active_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    @property
    def prefix(self) -> str:
        """The public part people and audit events see, e.g. ``osk_4fG7hQ2LxZ``."""
        return display_prefix(self.key_id)

    @property
    def is_personal(self) -> bool:
        return self.owner_service_account_id is None

    @property
    def is_unrestricted(self) -> bool:
        """True when no team, project or workload restriction limits what the key reaches (a CIDR list limits
        where it may be used from, not what it reaches)."""
        return not (self.team_ids or self.project_ids or self.workloads)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_active(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    @property
    def owner_display(self) -> str:
        if self.owner_service_account_id is not None:
            return str(self.owner_service_account)
        return self.owner_label


class StaleDigestSubscription(models.Model):
    """An owner who asked for the weekly stale-credentials digest of their organization by email
    (``keys.notices``); ``last_sent_at`` makes each week's digest go out once."""

    membership = models.OneToOneField(
        "orgsecurity.Membership", on_delete=models.CASCADE, related_name="stale_digest_subscription"
    )
    subscribed_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"stale-credentials digest for {self.membership}"
