"""Core tenancy models: users (email login), organizations, memberships with roles, teams, projects."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from orgsecurity.roles import Role


def normalize_email(email: str) -> str:
    """Return the canonical login form of an email address: surrounding space removed, lower case."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    """Creates users whose login name is their (case-insensitive) email address."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        """Create an active user; ``password=None`` leaves the password unusable (SSO-only accounts)."""
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. ``email`` is the login name, unique without regard to case."""

    email = models.EmailField("email address", unique=True, max_length=254)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform support staff: may use the read-only support console."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lower-case letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Organization(models.Model):
    """A customer organization (tenant). Its pages live under /orgs/<slug>/."""

    class Plan(models.TextChoices):
        FREE = "free", "Free"
        TEAM = "team", "Team"
        BUSINESS = "business", "Business"
        ENTERPRISE = "enterprise", "Enterprise"

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    billing_email = models.EmailField(blank=True)
    plan_name = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    tax_id = models.CharField("tax ID", max_length=50, blank=True)

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    """Memberships, with the one way to ask for those that count (``active``)."""

    def active(self) -> MembershipQuerySet:
        """The memberships that count: not suspended. A suspended member (deprovisioned by SCIM) counts as no
        member everywhere (org pages, keys, owner counts, notifications) until reactivated."""
        return self.filter(suspended_at__isnull=True)

    def suspended(self) -> MembershipQuerySet:
        """The suspended memberships (kept, with their role and teams, for a reactivation)."""
        return self.filter(suspended_at__isnull=False)


# A lookup prefix for joins through ``memberships`` (``Organization.objects.filter(**ACTIVE_MEMBERSHIP)``...): the
# join form of ``MembershipQuerySet.active``.
ACTIVE_MEMBERSHIP = {"memberships__suspended_at__isnull": True}


class Membership(models.Model):
    """One user's role in one organization; a user may belong to several organizations.

    ``suspended_at`` (UTC) set means the member was deprovisioned (``orgsecurity.lifecycle.suspend_member``): the
    row keeps its role and teams for a reactivation, but counts as no membership anywhere; read memberships through
    ``Membership.objects.active()`` (or ``ACTIVE_MEMBERSHIP`` in joins) unless you mean suspended ones too.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    suspended_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member was suspended (deprovisioned); empty while active."
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")]
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user.email} ({self.get_role_display()})"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class Team(models.Model):
    """A group of members inside an organization; projects belong to teams."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.CharField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(Membership, related_name="teams", blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="team_slug_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    """A project owned by one team of an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="projects")
    slug = models.CharField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="project_slug_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def hash_token(token: str) -> str:
    """SHA-256 hex of a high-entropy token: what we store instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An emailed invitation to join an organization with a role; the link carries a one-time token."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()
