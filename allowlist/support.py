"""The allowlist's section of an organization's page in the platform support console."""

from __future__ import annotations

from django.urls import reverse

from allowlist.models import IPAllowlist
from orgsecurity.models import Organization


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    """(label, value) rows: whether the list is on, for what, and how many entries it has."""
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    if allowlist is None:
        return [("Status", "Not configured")]
    return [
        ("Status", "On" if allowlist.enabled else "Off"),
        ("Scope", allowlist.get_scope_display()),
        ("Entries", str(organization.ip_allowlist_entries.count())),
    ]


def actions(organization: Organization) -> list[tuple[str, str]]:
    """Support actions: turn the list off when the organization's owners are locked out."""
    return [
        (
            "Turn this organization's IP allowlist off",
            reverse("support:allowlist_support:disable", args=[organization.slug]),
        )
    ]
