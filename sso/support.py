"""SSO's section of an organization's page in the platform support console."""

from __future__ import annotations

from django.urls import reverse

from orgsecurity.models import Organization
from sso.models import RecoveryAccount, SSOConnection, SSOSetupLink, VerifiedDomain


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    """(label, value) rows: each connection's protocol and status, IdP set-up links still usable, recovery accounts,
    verified domains."""
    rows = [
        (
            f"Connection {connection.name or connection.pk}",
            f"{connection.get_protocol_display()}, {connection.get_status_display()}",
        )
        for connection in SSOConnection.objects.filter(organization=organization)
    ] or [("Connections", "None")]
    links = [
        link
        for link in SSOSetupLink.objects.filter(connection__organization=organization, revoked_at=None).select_related(
            "created_by"
        )
        if link.is_usable()
    ]
    rows.append(
        (
            "IdP set-up links usable now",
            "; ".join(
                f"{link.actor_label}: {link.state()}, until {link.expires_at:%Y-%m-%d %H:%M} UTC, made by "
                f"{link.created_by.email if link.created_by else '(deleted user)'}"
                for link in links
            )
            or "None",
        )
    )
    rows.append(("Recovery accounts", str(RecoveryAccount.objects.filter(organization=organization).count())))
    verified = VerifiedDomain.objects.filter(organization=organization, verified_at__isnull=False)
    rows.append(("Verified domains", ", ".join(domain.domain for domain in verified) or "None"))
    return rows


def actions(organization: Organization) -> list[tuple[str, str]]:
    """Support actions: review claimed email domains and mark one verified."""
    return [("Email domains (mark one verified)", reverse("support:sso_support:domains", args=[organization.slug]))]
