"""SCIM 2.0 provisioning state (RFC 7643, RFC 7644): the bearer tokens an IdP provisions with, the SCIM users and
groups it created in one organization, and how groups map to roles and teams.

- ``ScimToken``: one per IdP integration; belongs to an organization and one SSO connection (the IdP that
  provisions), stored as HMAC-SHA-256 like API keys (``scim.tokens``), with last use (UTC time and client IP) and
  optional allowed CIDRs (RFC 4632).
- ``ScimUser``: the link between a SCIM ``User`` resource (``id`` = ``scim_id``, a UUID) and an account of the
  organization. ``user_name`` is unique per organization without regard to case (index on
  ``(organization, Lower(user_name))``, which ``userName eq`` filters use). ``data`` keeps the resource's other
  attributes (name, emails, phone numbers, the enterprise extension) as the IdP sent them.
- ``ScimGroup`` / ``GroupMapping``: SCIM ``Group`` resources with their member users, and the owners' mapping of a
  group (by ``displayName`` or SCIM id) to a role and teams.
- ``ProvisioningSettings``: per organization, the role of members in no mapped group; per SSO connection, which
  attribute of a later SSO sign-in is compared with ``externalId`` (``ConnectionLinkSetting``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from orgsecurity.models import Organization, Team
from orgsecurity.roles import Role
from scim.tokens import display_prefix
from sso.models import SSOConnection


class ScimToken(models.Model):
    """A SCIM bearer token (RFC 6750) of one organization's IdP. Only its keyed hash is stored; ``key_id`` is the
    public part shown as ``scim_<key_id>``."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_tokens")
    connection = models.ForeignKey(SSOConnection, on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=20, unique=True)
    secret_hash = models.CharField(max_length=64)
    allowed_cidrs = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prefix

    @property
    def prefix(self) -> str:
        """What people and audit events see: ``scim_<key_id>``, never the secret."""
        return display_prefix(self.key_id)


class ScimUser(models.Model):
    """A SCIM ``User`` resource of one organization, linked to the account it provisions."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_users")
    # None while the IdP has sent no email: the SCIM user then has no account and no access.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="scim_links"
    )
    connection = models.ForeignKey(
        SSOConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="scim_users"
    )
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    user_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    active = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("user_name"), name="scim_user_name_ci_unique"),
            models.UniqueConstraint(fields=["organization", "user"], name="scim_user_one_per_member"),
        ]
        indexes = [models.Index(fields=["organization", "external_id"], name="scim_user_external_id")]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(models.Model):
    """A SCIM ``Group`` resource of one organization and its member users."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_groups")
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255)
    members = models.ManyToManyField(ScimUser, related_name="groups", blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("display_name"), name="scim_group_name_ci_unique"),
        ]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.display_name


class GroupMapping(models.Model):
    """Owners' rule: members of the SCIM group named ``group_ref`` (its displayName, or its SCIM id) get ``role``
    (never owner) and belong to ``teams``."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_group_mappings")
    group_ref = models.CharField(max_length=255, help_text="The group's displayName or SCIM id.")
    role = models.CharField(max_length=20, choices=[c for c in Role.choices if c[0] != Role.OWNER], blank=True)
    teams = models.ManyToManyField(Team, related_name="+", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("group_ref"), name="scim_mapping_ref_ci_unique"),
        ]
        ordering = ["group_ref"]

    def __str__(self) -> str:
        return self.group_ref


class ProvisioningSettings(models.Model):
    """Per organization: the role of provisioned members in no mapped group."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="scim_settings")
    default_role = models.CharField(
        max_length=20, choices=[c for c in Role.choices if c[0] != Role.OWNER], default=Role.MEMBER
    )

    def __str__(self) -> str:
        return f"SCIM settings ({self.default_role})"


class ConnectionLinkSetting(models.Model):
    """Per SSO connection: which sign-in attribute ties a later SSO sign-in to the SCIM user's ``externalId``."""

    class Attribute(models.TextChoices):
        SUBJECT = "subject", "OIDC sub / SAML NameID (Okta's default)"
        ENTRA_OBJECT_ID = "entra_oid", "Entra ID object id (oid claim / objectidentifier SAML attribute)"

    connection = models.OneToOneField(SSOConnection, on_delete=models.CASCADE, related_name="scim_link_setting")
    attribute = models.CharField(max_length=20, choices=Attribute.choices, default=Attribute.SUBJECT)

    def __str__(self) -> str:
        return self.get_attribute_display()
