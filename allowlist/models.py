"""IP allowlists: per organization, the network locations allowed to reach administrative surfaces.

Changed only through ``allowlist.actions``. Every change bumps ``IPAllowlist.version`` in the same transaction,
which is how every process notices it on its next request (see ``allowlist.policy``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgsecurity.models import Organization


class Scope(models.TextChoices):
    """Which surfaces an enabled allowlist guards."""

    DASHBOARD = "dashboard", "Dashboard pages"
    API = "api", "API keys"
    BOTH = "both", "Dashboard pages and API keys"

    @classmethod
    def phrase(cls, scope: str) -> str:
        """The scope inside a sentence: "dashboard pages", "API keys", "dashboard pages and API keys"."""
        return {cls.DASHBOARD: "dashboard pages", cls.API: "API keys", cls.BOTH: "dashboard pages and API keys"}[scope]

    @classmethod
    def covers_dashboard(cls, scope: str) -> bool:
        """True when ``scope`` includes every page under /orgs/<slug>/."""
        return scope in {cls.DASHBOARD, cls.BOTH}

    @classmethod
    def covers_api(cls, scope: str) -> bool:
        """True when ``scope`` includes key-authenticated API requests."""
        return scope in {cls.API, cls.BOTH}


class IPAllowlist(models.Model):
    """One organization's allowlist settings. ``version`` increases with every change to the settings or the
    entries; compiled matchers are cached per (organization, version), so a bump invalidates them everywhere."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="ip_allowlist")
    enabled = models.BooleanField(default=False)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.DASHBOARD)
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"IP allowlist of {self.organization}"

    @property
    def guards_dashboard(self) -> bool:
        """Enabled, with a scope that includes dashboard pages."""
        return self.enabled and Scope.covers_dashboard(self.scope)

    @property
    def guards_api(self) -> bool:
        """Enabled, with a scope that includes API keys."""
        return self.enabled and Scope.covers_api(self.scope)


class IPAllowlistEntry(models.Model):
    """One IPv4 or IPv6 address or CIDR block on an organization's allowlist.

    ``cidr`` is canonical (``allowlist.networks``): network address with its prefix length, IPv6 compressed
    and lower-case, single addresses as /32 or /128. Unique per organization.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ip_allowlist_entries")
    cidr = models.CharField("CIDR block", max_length=49)
    label = models.CharField(max_length=100, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "cidr"], name="allowlist_entry_unique")]
        ordering = ["added_at", "pk"]
        verbose_name = "IP allowlist entry"
        verbose_name_plural = "IP allowlist entries"

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})" if self.label else self.cidr
